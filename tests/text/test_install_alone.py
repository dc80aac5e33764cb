"""A text attack runs with only mi-core and mi-text installed (fresh virtual environment, wheels
built from the workspace, versions pinned by the lock file)."""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UV = shutil.which("uv")

pytestmark = [
    pytest.mark.packaging,
    pytest.mark.slow,
    pytest.mark.skipif(UV is None, reason="uv is needed to build and install wheels"),
]

SCRIPT = textwrap.dedent(
    """
    import importlib.util, torch
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
    for m in ("torchvision", "torch_geometric", "diffusers", "mi_vision"):
        assert importlib.util.find_spec(m) is None, m
    print("ok", res.queries)
    """
)


def _uv(*args):
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    proc = subprocess.run([UV, *args], cwd=ROOT, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, f"uv {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_text_attack_runs_with_only_core_and_text(tmp_path):
    dist = tmp_path / "dist"
    for pkg in ("mi-core", "mi-text"):
        _uv("build", "--package", pkg, "--wheel", "--out-dir", str(dist), "--quiet")
    constraints = tmp_path / "constraints.txt"
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
    venv = tmp_path / "venv"
    _uv("venv", "--python", sys.executable, str(venv), "--quiet")
    py = venv / "bin" / "python"
    wheels = [str(next(dist.glob(f"{p}-*.whl"))) for p in ("mi_core", "mi_text")]
    _uv(
        "pip", "install", "--python", str(py), "--constraints", str(constraints), *wheels, "--quiet"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"}
    proc = subprocess.run([str(py), "-c", SCRIPT], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("ok")
    mi = subprocess.run(
        [str(venv / "bin" / "mi"), "list", "attacks"], capture_output=True, text=True
    )
    assert mi.returncode == 0 and "logit-bias-inversion" in mi.stdout and "mi-face" not in mi.stdout
