"""The device matrix on CUDA (``pytest -m gpu``; reported as skipped on a machine without a
GPU): every attack, prior-training step and training defense of ``matrix.py`` runs a step or two
with ``device="cuda"``, results come back on the CPU; CPU and GPU agree within the tolerance the
README states; mixed precision runs."""

import pytest
import torch
from matrix import ENTRIES, FIXTURES, Entry, check

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

#: |reconstruction on CPU - on GPU| after a few fp32 steps with deterministic algorithms (the
#: README's tolerance); random draws are the same on both (made on the CPU generator)
TOLERANCE = 1e-3


def _gpu_fixtures(fx):
    """The fixtures with a copy of the target on the GPU (a white-box attack computes where its
    target lives; priors are moved by the attacks themselves)."""
    import copy

    out = dict(fx)
    if "target" in fx:
        out["target"] = copy.deepcopy(fx["target"]).cuda()
    return out


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_runs_on_cuda(entry: Entry):
    out = entry.run("cuda", _gpu_fixtures(FIXTURES[entry.fixtures]()))
    check(out, "cuda")


@pytest.mark.parametrize("name", ["attack:mi-face", "attack:gmi", "attack:kedmi", "attack:ppa"])
def test_cpu_and_gpu_agree_within_the_tolerance(name):
    from mi_core.device import deterministic

    entry = next(e for e in ENTRIES if e.name == name)
    fx = FIXTURES[entry.fixtures]()
    with deterministic(True):
        cpu = entry.run("cpu", fx)
        gpu = entry.run("cuda", _gpu_fixtures(fx))
    gap = float((cpu.reconstructions - gpu.reconstructions).abs().max())
    assert gap <= TOLERANCE, f"{name}: CPU and GPU differ by {gap:.2e}"


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_searches_and_prior_training_run(precision):
    from mi_core import make_view
    from mi_core.registry import get_attack
    from mi_vision.priors import train_prior

    fx = FIXTURES["vision"]()
    gpu = _gpu_fixtures(fx)
    prior = train_prior(
        fx["public"], {**fx["tiny_prior"], "steps": 2, "device": "cuda", "precision": precision}
    )
    check(prior, "cuda")
    from matrix import _knowledge

    view = make_view(gpu["target"], "white-box", info=fx["info"])
    result = get_attack("gmi")(steps=3, precision=precision, progress=False).run(
        view, _knowledge(gpu), seed=0
    )
    check(result, "cuda")
