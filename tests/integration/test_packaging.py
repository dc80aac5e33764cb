"""Each modality package installs alone (with mi-core) and pulls no other modality's stack."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UV = shutil.which("uv")

FORBIDDEN = {
    "mi-vision": ["torch_geometric", "transformers"],
    "mi-text": ["torchvision", "torch_geometric", "diffusers"],
    "mi-graph": ["torchvision", "diffusers", "transformers"],
    "mi-tabular": ["torchvision", "torch_geometric", "diffusers", "transformers"],
    "mi-defense": ["torchvision", "torch_geometric", "diffusers", "transformers"],
}

# A small attack per package, run inside the fresh environment: the package works alone.
SMOKE = {
    "mi-vision": """
import torch
from mi_core import Knowledge, TargetInfo, make_view
from mi_core.registry import get_attack
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
view = make_view(model, "white-box", info=TargetInfo(input_shape=(1, 4, 4), num_classes=3))
res = get_attack("mi-face")(max_iter=50, progress=False).run(view, Knowledge(target_labels=[2]))
assert res.reconstructions.shape == (1, 1, 4, 4)
print("ok")
""",
    "mi-text": """
import torch
from mi_core import Knowledge, make_view
from mi_core.registry import get_attack
from mi_text.models import CausalLM, LMTrainConfig, tiny_gpt2, train_causal_lm
from mi_text.tokenizers import WordTokenizer
torch.set_num_threads(1)
docs = ["the code of ann is 4 1 7 9 ."] * 20 + ["a plain sentence about the sea ."] * 20
tok = WordTokenizer.fit(docs)
lm = CausalLM(tiny_gpt2(tok.vocab_size, n_layer=1, n_embd=32, n_positions=32), tok)
train_causal_lm(lm, docs, LMTrainConfig(epochs=20, lr=5e-3), progress=False)
attack = get_attack("perplexity-extraction")(n_samples=20, max_new_tokens=12, progress=False)
res = attack.run(make_view(lm, "black-box-scores", postprocess=None),
                 Knowledge(extra={"tokenizer": tok}), seed=0)
assert any("4179" in r.replace(" ", "") for r in res.reconstructions[:5]), res.reconstructions
print("ok")
""",
    "mi-graph": """
import torch
from mi_core.registry import get_attack
from mi_graph.data import sample_nodes, sbm_graph
from mi_graph.knowledge import graph_knowledge
from mi_graph.metrics import LinkEvaluator
from mi_graph.models import build_model
from mi_graph.targets import GraphTarget, graph_view
from mi_graph.training import train_node_classifier
torch.set_num_threads(1)
torch.manual_seed(0)
data = sbm_graph(seed=0)
model = build_model("gcn", data.x.shape[1], 4)
train_node_classifier(model, data, seed=0, progress=False)
view = graph_view(GraphTarget(model, data), "black-box-scores")
res = get_attack("link-stealing")(progress=False).run(
    view, graph_knowledge(sample_nodes(data.num_nodes, 80, seed=1)), seed=0)
auc = {f.metric: f for f in LinkEvaluator(data).evaluate(res)}["link_auc"]
assert auc.value > auc.baseline + 0.1, (auc.value, auc.baseline)
print("ok")
""",
    "mi-tabular": """
import tempfile
from mi_core.audit.runner import CellSpec, run_cells
with tempfile.TemporaryDirectory() as d:
    [rec] = run_cells([CellSpec("cohort-tree", "csmia", "black-box-scores")], d, progress=False)
assert rec["status"] == "ok", rec.get("traceback")
acc = next(f for f in rec["figures"] if f["metric"] == "accuracy")
assert acc["value"] > 0.5 and acc["baseline"]["value"] > 0.5, acc
print("ok")
""",
    "mi-defense": """
import torch
from mi_core import TargetInfo, make_view
from mi_core.registry import get_defense
torch.manual_seed(0)
model = torch.nn.Linear(4, 5)
view = make_view(model, "black-box-scores", info=TargetInfo(num_classes=5), budget=100)
defended = get_defense("top-k")(k=1).wrap(view)
x = torch.randn(8, 4)
out, ref = torch.as_tensor(defended(x)), torch.as_tensor(view(x))
assert int((out > 0).sum(1).max()) == 1, out  # one score released per row
assert torch.equal(out.argmax(1), ref.argmax(1))  # the label is kept
assert view.queries == 16  # the defended view spends the target's budget
print("ok")
""",
}

EXPECTED_ATTACK = {
    "mi-vision": "mi-face",
    "mi-text": "logit-bias-inversion",
    "mi-tabular": "fredrikson-map",
    "mi-graph": "graphmi",
}

pytestmark = [
    pytest.mark.packaging,
    pytest.mark.slow,
    pytest.mark.skipif(UV is None, reason="uv is needed to build and install wheels"),
]


def _uv(*args, **kw):
    env = {**os.environ, "VIRTUAL_ENV": ""}
    env.pop("VIRTUAL_ENV")
    proc = subprocess.run([UV, *args], cwd=ROOT, capture_output=True, text=True, env=env, **kw)
    assert proc.returncode == 0, f"uv {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    for pkg in ["mi-core", *FORBIDDEN]:
        _uv("build", "--package", pkg, "--wheel", "--out-dir", str(out), "--quiet")
    constraints = out / "constraints.txt"
    constraints.write_text(
        _uv(
            "export",
            "--all-packages",
            "--no-hashes",
            "--no-emit-workspace",
            "--no-dev",
            "--no-header",
            "--frozen",
            "--all-extras",
        )
    )
    return out


@pytest.mark.parametrize("package", list(FORBIDDEN))
def test_package_installs_alone(package, wheels, tmp_path):
    venv = tmp_path / "venv"
    _uv("venv", "--python", sys.executable, str(venv), "--quiet")
    py = venv / "bin" / "python"
    files = [str(next(wheels.glob(f"{p.replace('-', '_')}-*.whl"))) for p in ("mi-core", package)]
    _uv(
        "pip",
        "install",
        "--python",
        str(py),
        "--constraints",
        str(wheels / "constraints.txt"),
        *files,
        "--quiet",
    )
    module = package.replace("-", "_")
    check = (
        "import importlib.util, sys\n"
        f"import {module}\n"
        f"bad = [m for m in {FORBIDDEN[package]!r} if importlib.util.find_spec(m)]\n"
        "print('forbidden installed:', bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([str(py), "-c", check], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    mi = subprocess.run(
        [str(venv / "bin" / "mi"), "list", "attacks"], capture_output=True, text=True
    )
    assert mi.returncode == 0, mi.stderr
    if package in EXPECTED_ATTACK:
        assert EXPECTED_ATTACK[package] in mi.stdout, mi.stdout
    if package in SMOKE:
        run = subprocess.run([str(py), "-c", SMOKE[package]], capture_output=True, text=True)
        assert run.returncode == 0 and "ok" in run.stdout, run.stdout + run.stderr
