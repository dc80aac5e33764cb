"""Run the reference MC-GRA code (AndrewZhou924/MC-GRA, folder ``MC-GRA``) side by side, unchanged.

    MI_MCGRA_REF=/path/to/MC-GRA/MC-GRA python benchmarks/graph_mcgra_reference.py cora

The reference is never part of this repository: give the path of the ``MC-GRA`` folder of a
checkout outside it in ``MI_MCGRA_REF``. It runs ``main.py`` with the paper's command for the
full prior set K = {X, H_A, Y_A, Y} (its README), in a temporary working directory holding:

* ``dataset/<name>.npz``: a link to ``../shared/data/graphs/<name>.npz`` (the same file the
  reference ships);
* ``saved_data/<name>.npy``: the same-label matrix it reads (its ``saved_data.zip``, or its
  ``--mode prepare``, makes the same N x N matrix; written here with NumPy).

Its code predates NumPy 1.24 (``np.int`` / ``np.float`` / ``np.bool``): the wrapper restores those
aliases. It imports ``torchmetrics.AUROC`` at module level but the path ``main.py`` runs scores
with scikit-learn; when torchmetrics is not installed a stand-in module is provided. The wrapper
prints the resident memory after those imports (the process floor) and the peak (``VmHWM``) at
exit. The reference relaxes all N^2 pairs densely and attacks all nodes (``--nlabel 1.0``): its
AUC is over all ordered node pairs (the diagonal too), the setting of our 100% row.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

COMMANDS = {
    # MC-GRA/README.md, "prior knowledge K = {X, H_A, Y_hat, Y}"
    "cora": "--w1=0.01 --w6=10 --w7=10 --w9=10 --w10=1000 --lr=-2 --useH_A --useY_A --useY "
    "--measure=MSELoss",
    "polblogs": "--w1=0.01 --w2=0.01 --w6=10000 --w7=100 --w9=0.001 --w10=1000 --lr=-2.5 "
    "--useH_A --useY_A --useY",
}

SHIM = """
import atexit, runpy, sys, types
import numpy as np
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
import matplotlib, networkx, scipy.sparse, sklearn.metrics, torch, tqdm  # noqa
try:
    import torchmetrics  # noqa
except ImportError:  # imported by the reference, unused on the path main.py runs
    mod = types.ModuleType("torchmetrics")
    class AUROC:
        def __init__(self, *a, **k):
            pass
        def __call__(self, preds, target):
            from sklearn.metrics import roc_auc_score
            return torch.tensor(roc_auc_score(np.asarray(target), np.asarray(preds)))
    mod.AUROC = AUROC
    sys.modules["torchmetrics"] = mod
print("IMPORT_RSS_MB", hwm(), flush=True)
atexit.register(lambda: print("PEAK_RSS_MB", hwm(), flush=True))
for name, typ in (("int", int), ("float", float), ("bool", bool)):
    if not hasattr(np, name):
        setattr(np, name, typ)
script = sys.argv[1]
sys.path.insert(0, script.rsplit("/", 1)[0])
sys.argv = sys.argv[1:]
runpy.run_path(script, run_name="__main__")
"""


def label_matrix(data_file: Path, out: Path) -> None:
    """The N x N same-label matrix the reference reads from ``saved_data/<name>.npy``."""
    with np.load(data_file, allow_pickle=False) as z:
        y = np.asarray(z["labels"])
    np.save(out, (y[:, None] == y[None, :]).astype(np.float32))


def run_reference(ref_dir: str | Path, data_file: Path, *, threads: int = 1) -> dict:
    """Run the reference's ``main.py`` on ``data_file``; returns AUC, seconds, peak RSS."""
    from graph_reference import measured_run

    ref = Path(ref_dir)
    if not (ref / "main.py").exists() or not (ref / "topology_attack.py").exists():
        raise FileNotFoundError(
            f"MI_MCGRA_REF={ref} holds no main.py / topology_attack.py of the MC-GRA folder of "
            "AndrewZhou924/MC-GRA"
        )
    name = data_file.stem
    if name not in COMMANDS:
        raise ValueError(f"no reference command for {name!r}; known: {sorted(COMMANDS)}")
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    env["CUDA_VISIBLE_DEVICES"] = ""  # the CPU run the benchmark compares with
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "dataset").mkdir()
        (root / "dataset" / f"{name}.npz").symlink_to(data_file.resolve())
        (root / "saved_data").mkdir()
        label_matrix(data_file, root / "saved_data" / f"{name}.npy")
        shim = root / "shim.py"
        shim.write_text(SHIM)
        cmd = [sys.executable, str(shim), str(ref / "main.py"), f"--dataset={name}"]
        cmd += COMMANDS[name].split()
        code, out, seconds, rss = measured_run(cmd, cwd=tmp, env=env)
        log = root / "results" / "result.txt"
        text = log.read_text() if log.exists() else ""
    if code != 0:
        raise RuntimeError(f"reference MC-GRA failed ({code}):\n{out[-3000:]}")
    m = re.search(r"In attack graph: AUC=([0-9.]+)", text)
    if m is None:
        raise RuntimeError(f"reference MC-GRA wrote no AUC:\n{out[-2000:]}\n{text[-1000:]}")
    floor = re.search(r"IMPORT_RSS_MB ([0-9.]+)", out)
    peak = re.search(r"PEAK_RSS_MB ([0-9.]+)", out)
    return {
        "auc": float(m.group(1)),
        "seconds": seconds,
        "peak_rss_mb": float(peak.group(1)) if peak else rss,
        "import_rss_mb": float(floor.group(1)) if floor else None,
        "command": COMMANDS[name],
    }


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here))
    data = here.parent.parent / "shared" / "data" / "graphs" / f"{sys.argv[1]}.npz"
    print(run_reference(os.environ["MI_MCGRA_REF"], data))
