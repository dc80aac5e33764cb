"""Each modality package installs alone, against the oldest mi-core its requirement allows,
and pulls no other modality's stack; mi-tabular installs without torch, in a venv that stays
small, and audits a user's fitted sklearn model with ``mi audit``.

The oldest mi-core is read from the modality wheel's ``Requires-Dist`` and chosen among this
tree's mi-core and its release tags ``mi-core-vX.Y.Z`` (a tag's wheel is built from the tag).
"""

import email.parser
import io
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
UV = shutil.which("uv")
sys.path.insert(0, str(ROOT / "scripts"))

import versioning  # noqa: E402

FORBIDDEN = {
    "mi-vision": ["torch_geometric", "transformers"],
    "mi-text": ["torchvision", "torch_geometric", "diffusers"],
    "mi-graph": ["torchvision", "diffusers", "transformers"],
    # tabular audits of sklearn models need no torch (nor its CUDA libraries)
    "mi-tabular": [
        "torch",
        "triton",
        "nvidia",
        "torchvision",
        "torch_geometric",
        "diffusers",
        "transformers",
    ],
    "mi-defense": ["torchvision", "torch_geometric", "diffusers", "transformers"],
}

# the largest a venv of the package alone may be (torch with its CUDA libraries is ~5 GB)
MAX_VENV_BYTES = {"mi-tabular": 1_000_000_000}

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


def wheel_of(folder, package):
    return next(Path(folder).glob(f"{package.replace('-', '_')}-*.whl"))


def core_requirement(wheel):
    """The ``mi-core`` requirement in a wheel's metadata (``Requires-Dist``)."""
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(zf.read(name).decode())
    reqs = [Requirement(r) for r in meta.get_all("Requires-Dist") or []]
    [core] = [r for r in reqs if r.name == "mi-core" and not r.marker]
    return core


def venv_bytes(venv):
    """Bytes of the files under ``venv`` (hard links counted once, as ``du`` does)."""
    seen, total = set(), 0
    for folder, _, files in os.walk(venv):
        for f in files:
            st = os.lstat(os.path.join(folder, f))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total


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


@pytest.fixture(scope="module")
def core_wheels(wheels, tmp_path_factory):
    """``wheel(version)``: the mi-core wheel of a version, this tree's or a release tag's."""
    current = versioning.read_version(ROOT, "mi-core")
    tags = versioning.release_tags(ROOT, "mi-core") if (ROOT / ".git").exists() else {}
    built = {current: wheel_of(wheels, "mi-core")}

    def wheel(version):
        if version not in built:
            out = tmp_path_factory.mktemp(f"mi-core-{version}")
            archive = subprocess.run(
                ["git", "archive", "--format=tar", tags[version], "packages/mi-core"],
                cwd=ROOT,
                capture_output=True,
                check=True,
            ).stdout
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(out / "src", filter="data")
            _uv("build", str(out / "src/packages/mi-core"), "--wheel", "--out-dir", str(out))
            built[version] = wheel_of(out, "mi-core")
        return built[version]

    wheel.versions = sorted({current, *tags})
    return wheel


@pytest.mark.parametrize("package", list(FORBIDDEN))
def test_package_installs_alone(package, wheels, core_wheels, tmp_path):
    venv = tmp_path / "venv"
    _uv("venv", "--python", sys.executable, str(venv), "--quiet")
    py = venv / "bin" / "python"
    pkg_wheel = wheel_of(wheels, package)
    requirement = core_requirement(pkg_wheel)
    oldest = versioning.oldest_allowed(str(requirement.specifier), core_wheels.versions)
    assert oldest is not None, (
        f"{package} requires {requirement}; no mi-core of {core_wheels.versions} fits"
    )
    _uv(
        "pip",
        "install",
        "--python",
        str(py),
        "--constraints",
        str(wheels / "constraints.txt"),
        str(core_wheels(oldest)),
        str(pkg_wheel),
        "--quiet",
    )
    module = package.replace("-", "_")
    check = (
        "import importlib.metadata, importlib.util, sys\n"
        f"import {module}\n"
        f"assert importlib.metadata.version('mi-core') == {oldest!r}\n"
        f"bad = [m for m in {FORBIDDEN[package]!r} if importlib.util.find_spec(m)]\n"
        "print('forbidden installed:', bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([str(py), "-c", check], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    size = venv_bytes(venv)
    print(f"\n{package} venv with mi-core {oldest}: {size / 1e6:.0f} MB")
    if package in MAX_VENV_BYTES:
        assert size < MAX_VENV_BYTES[package], f"{package} venv is {size / 1e6:.0f} MB"
    if package == "mi-tabular":
        _tabular_without_torch(py)
    mi = subprocess.run([str(venv / "bin" / "mi"), "--help"], capture_output=True, text=True)
    assert mi.returncode == 0 and "audit" in mi.stdout, mi.stderr
    # `mi list attacks` (loads every installed attack), then the smoke run, in one process:
    # torch is imported once per venv
    listing = (
        "import contextlib, io\n"
        "from mi_core.cli import main\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n"
        "    assert main(['list', 'attacks']) == 0\n"
        f"assert {EXPECTED_ATTACK.get(package, '')!r} in buf.getvalue(), buf.getvalue()\n"
    )
    run = subprocess.run(
        [str(py), "-c", listing + SMOKE.get(package, "print('ok')")],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0 and "ok" in run.stdout, run.stdout + run.stderr
    if package == "mi-tabular":
        _tabular_audit(venv, tmp_path / "audit")


def _tabular_without_torch(py):
    """What a tabular audit needs of mi-core imports in the torch-less venv."""
    code = (
        "import mi_core, mi_core.io, mi_core.result, mi_core.metrics, mi_core.report, "
        "mi_core.audit.runner, mi_core.audit.config, mi_core.cli, mi_tabular"
    )
    proc = subprocess.run([str(py), "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    views = subprocess.run([str(py), "-c", "import mi_core.views"], capture_output=True, text=True)
    if views.returncode != 0:
        # mi_core/views.py is made torch-lazy in its own change; until it lands, the attacks
        # (which take views) cannot load here (this branch is dead code once it has landed)
        assert "No module named 'torch'" in views.stderr, views.stderr
        pytest.xfail("mi_core.views still imports torch at module level")


TABULAR_MODEL = """
    from pathlib import Path

    import pandas as pd
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder
    from sklearn.tree import DecisionTreeClassifier


    def fitted_tree():
        frame = pd.read_csv(Path(__file__).parent / "train.csv")
        pre = make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["region"]), remainder="passthrough"
        )
        model = make_pipeline(pre, DecisionTreeClassifier(random_state=0))
        return model.fit(frame.drop(columns="disease"), frame["disease"])
"""

TABULAR_AUDIT = """
    [audit]
    out = "out"

    [attacks]
    names = ["csmia"]
    [attacks.config.csmia]
    progress = false

    [[targets]]
    case = "tabular-model"
    access = ["black-box-scores"]
    [targets.options]
    model = "user_model:fitted_tree"
    data = "records.csv"
    sensitive = "smoker"
    label = "disease"
    member = "member"
    auxiliary = "public.csv"
"""


def _tabular_audit(venv, folder):
    """``mi audit`` of a user's fitted decision tree (CSV files beside the audit file)."""
    import json

    from mi_tabular.data import make_cohort, split_for_attack

    folder.mkdir()
    (folder / "user_model.py").write_text(textwrap.dedent(TABULAR_MODEL))
    (folder / "audit.toml").write_text(textwrap.dedent(TABULAR_AUDIT))
    sp = split_for_attack(
        make_cohort(3000, seed=0).frame, auxiliary=400, attacked_in=300, attacked_out=300, seed=0
    )
    sp.train.to_csv(folder / "train.csv", index=False)
    sp.auxiliary.to_csv(folder / "public.csv", index=False)
    sp.attacked.assign(member=sp.member.astype(int)).to_csv(folder / "records.csv", index=False)
    proc = subprocess.run(
        [str(venv / "bin" / "mi"), "audit", "audit.toml"],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [cell] = (folder / "out" / "cells").glob("*/cell.json")
    rec = json.loads(cell.read_text())
    assert rec["status"] == "ok", rec
    fig = next(f for f in rec["figures"] if f["metric"] == "accuracy_in_training")
    assert fig["value"] >= fig["baseline"]["value"] + 0.05, fig  # the tree leaks its records
    assert list((folder / "out").rglob("*.html")), "no HTML report written"
