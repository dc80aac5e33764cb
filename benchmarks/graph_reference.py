"""Run the reference GraphMI code (zaixizhang/GraphMI) side by side, without changing it.

    MI_GRAPHMI_REF=/path/to/GraphMI python benchmarks/graph_reference.py cora

The reference is never part of this repository: give the path of a checkout outside it in
``MI_GRAPHMI_REF``. It reads ``<dataset>.npz`` from its working directory, so this wrapper runs
it in a temporary directory holding a link to ``../shared/data/graphs/<dataset>.npz``. Its code
predates NumPy 1.24, which removed the ``np.int`` / ``np.float`` / ``np.bool`` aliases; the
wrapper restores those aliases before running ``main.py`` unchanged (``runpy``). It also imports
what ``main.py`` imports first and prints the resident memory then: the process floor, so that
the attack's working memory (peak minus floor) can be compared as well as the whole process;
at exit it prints the process's own peak (``VmHWM``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHIM = """
import atexit, runpy, sys
import numpy as np
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
# what main.py imports, loaded first to measure the process floor before any data
import networkx, scipy.io, scipy.sparse, sklearn.metrics, torch, tqdm  # noqa
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


def measured_run(cmd: list[str], *, cwd: str | Path | None = None, env: dict | None = None):
    """Run ``cmd``; returns ``(returncode, output, wall seconds, ru_maxrss in MB)``. On Linux
    ``ru_maxrss`` includes the parent's size at fork, so the scripts report their own ``VmHWM``
    too, which the benchmark prefers."""
    with tempfile.TemporaryFile(mode="w+") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        out = log.read()
    return proc.returncode, out, seconds, usage.ru_maxrss / 1024.0


def run_reference(ref_dir: str | Path, data_file: Path, *, threads: int = 1) -> dict:
    """Run ``main.py --dataset <name>`` of the reference; returns AUC, AP, seconds, peak RSS."""
    ref = Path(ref_dir)
    if not (ref / "main.py").exists():
        raise FileNotFoundError(f"MI_GRAPHMI_REF={ref} holds no main.py of zaixizhang/GraphMI")
    name = data_file.stem
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / f"{name}.npz").symlink_to(data_file.resolve())
        shim = Path(tmp) / "shim.py"
        shim.write_text(SHIM)
        code, out, seconds, rss = measured_run(
            [sys.executable, str(shim), str(ref / "main.py"), "--dataset", name], cwd=tmp, env=env
        )
    if code != 0:
        raise RuntimeError(f"reference GraphMI failed ({code}):\n{out[-2000:]}")
    m = re.search(r"Inference attack AUC: ([0-9.]+) AP: ([0-9.]+)", out)
    if m is None:
        raise RuntimeError(f"reference GraphMI printed no AUC/AP:\n{out[-2000:]}")
    auc, ap = float(m.group(1)), float(m.group(2))
    floor = re.search(r"IMPORT_RSS_MB ([0-9.]+)", out)
    peak = re.search(r"PEAK_RSS_MB ([0-9.]+)", out)
    return {
        "auc": auc,
        "ap": ap,
        "seconds": seconds,
        "peak_rss_mb": float(peak.group(1)) if peak else rss,
        "import_rss_mb": float(floor.group(1)) if floor else None,
    }


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    data = here.parent.parent / "shared" / "data" / "graphs" / f"{sys.argv[1]}.npz"
    print(run_reference(os.environ["MI_GRAPHMI_REF"], data))
