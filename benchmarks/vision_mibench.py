"""Speed anchor: MIBench's GMI, KEDMI and PLG-MI attack loops beside ours, side by side in one
process, on the same target, the same prior weights and the same per-step objective.

MIBench (the survey's toolbox, ``ffhibnese/Model-Inversion-Attack-ToolBox``) is not a
dependency and none of its code is in this repository: check its ``src/`` out into a scratch
folder and pass it, e.g. ``--mibench /tmp/mibench/src``. Its package imports metrics that need
``pytorch_fid`` / ``kornia``; the loops timed here do not use them, so the names are stubbed in
``sys.modules`` when they are missing (nothing is installed).

What is timed, per attack, at equal steps and the same rows (``rows_per_class`` per class, all
classes of a case in one batch, as MIBench's attacker batches ``optimize_batch_size`` rows):

* GMI: MIBench's ``SimpleWhiteBoxOptimization`` (SGD, momentum 0.9) vs ``mi_vision``'s ``gmi``;
* KEDMI: ``VarienceWhiteboxOptimization`` (Adam on mu, logvar) vs ``kedmi``;
* PLG-MI: ``SimpleWhiteBoxOptimization`` (Adam) vs ``plg-mi``.

The loss MIBench's loop calls is the same objective as ours (identity loss of the target on
the generated images, the discriminator's realism term for GMI / KEDMI, two augmented copies
with the max-margin loss for PLG-MI), computed by our functions, so the ratio measures the
search machinery, not the objective. Seconds per class at 5 and 20 classes: the Fashion-MNIST
(5 classes) and AT&T (20) cases of ``vision.py`` (cached models and priors), or the built-in
``digits-gan`` case (5 classes, 8x8) with ``--digits``.

    uv run python benchmarks/vision_mibench.py --mibench /tmp/mibench/src [--digits] [--steps N]
"""

from __future__ import annotations

import argparse
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
#: MIBench's dependencies that the timed loops never use
STUBS = (
    "pytorch_fid",
    "kornia",
    "piq",
    "facenet_pytorch",
    "timm",
    "lpips",
    "cv2",
    "monai",
    "ml_collections",
    "dlib",
    "tensorboardX",
    "wandb",
    "seaborn",
    "adjustText",
    "lmdb",
)


def _placeholder(attr: str) -> Any:
    if attr.startswith("__"):
        raise AttributeError(attr)
    return type(attr, (), {})


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Empty modules for ``roots`` and all their submodules."""

    def __init__(self, roots: list[str]) -> None:
        self.roots = roots

    def find_spec(self, name, path=None, target=None):  # type: ignore[no-untyped-def]
        if name.split(".")[0] in self.roots:
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):  # type: ignore[no-untyped-def]
        mod = types.ModuleType(spec.name)
        mod.__path__ = []
        mod.__getattr__ = _placeholder  # type: ignore[method-assign]
        return mod

    def exec_module(self, module):  # type: ignore[no-untyped-def]
        pass


def _stub_missing() -> list[str]:
    """Stub MIBench's metric / model dependencies that are not installed (nothing is installed)."""
    missing = [n for n in STUBS if importlib.util.find_spec(n) is None]
    sys.meta_path.append(_StubFinder(missing))
    return missing


def _mibench(path: str) -> Any:
    sys.path.insert(0, str(Path(path).resolve()))
    stubbed = _stub_missing()
    from modelinversion.attack.optimize import base  # the loops only

    return base, stubbed


def _objective(case: dict[str, Any], attack: str):  # type: ignore[no-untyped-def]
    """Our per-row objective of ``attack`` on images (what both loops minimise), summed."""
    from mi_vision.augment import get_augment
    from mi_vision.losses import cross_entropy, discriminator_realism, max_margin
    from mi_vision.targets import TargetInput

    target, prior = case["target"], case["priors"][case["prior_of"][attack]]
    to_input = TargetInput(case["info"].input_shape, (0.0, 1.0))
    aug, g = get_augment("noflip"), torch.Generator().manual_seed(0)

    def loss(fake: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if attack == "plg-mi":
            total = sum(max_margin(target(to_input(aug(fake, g))), labels) for _ in range(2)) / 2
        else:
            total = cross_entropy(target(to_input(fake)), labels)
            d = prior.discriminator
            total = total + 0.01 * discriminator_realism(d(fake), prior.kind)
        return total.sum()

    return loss


def _generator(prior: Any):  # type: ignore[no-untyped-def]
    def gen(z: torch.Tensor, labels: torch.Tensor | None = None, **kw: Any) -> torch.Tensor:
        return prior.generate(z, labels if prior.num_classes is not None else None)

    return gen


def time_mibench(base: Any, case: dict[str, Any], attack: str, rows: torch.Tensor, steps: int):
    prior = case["priors"][case["prior_of"][attack]]
    z = prior.sample_z(rows.shape[0], torch.Generator().manual_seed(0))
    with tempfile.TemporaryDirectory() as d:
        if attack == "kedmi":
            cfg = base.VarienceWhiteboxOptimizationConfig(
                experiment_dir=d,
                device=torch.device("cpu"),
                optimizer="Adam",
                optimizer_kwargs={"lr": 0.02},
                iter_times=steps,
                generate_num=1,
            )
            fn = base.VarienceWhiteboxOptimization(cfg, _generator(prior), _objective(case, attack))
        else:
            opt, kw = (
                ("SGD", {"lr": 0.02, "momentum": 0.9}) if attack == "gmi" else ("Adam", {"lr": 0.1})
            )
            cfg = base.SimpleWhiteBoxOptimizationConfig(
                experiment_dir=d,
                device=torch.device("cpu"),
                optimizer=opt,
                optimizer_kwargs=kw,
                iter_times=steps,
            )
            fn = base.SimpleWhiteBoxOptimization(cfg, _generator(prior), _objective(case, attack))
        t = time.perf_counter()
        fn(z, rows)
        return time.perf_counter() - t


def time_ours(case: dict[str, Any], attack: str, per_class: int, steps: int) -> float:
    from mi_core import Knowledge, make_view
    from mi_core.registry import get_attack

    view = make_view(case["target"], "white-box", info=case["info"])
    k = Knowledge(
        target_labels=list(range(case["k"])), prior=case["priors"][case["prior_of"][attack]]
    )
    cfg: dict[str, Any] = {"steps": steps, "samples_per_class": per_class, "progress": False}
    if attack == "kedmi":
        cfg.update(samples=1, samples_per_class=1)
    if attack == "plg-mi":
        cfg.update(augment="noflip")
    res = get_attack(attack)(cfg).run(view, k, seed=0)
    return res.seconds


def digits_case() -> dict[str, Any]:
    from mi_vision.cases import DigitsGANCase

    c = DigitsGANCase()
    c.prepare(Path(tempfile.gettempdir()) / "mi-digits-gan", seed=0)
    return {"k": 5, "target": c.model, "info": c.target_info(), "priors": c.priors}


def vision_cases() -> dict[str, dict[str, Any]]:
    sys.path.insert(0, str(HERE))
    import vision

    out = {}
    for name in vision.CASES:
        case = vision.prepare(name, quick=False)
        if case is not None:
            out[name] = case
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mibench", required=True, help="MIBench's src/ folder (a scratch checkout)")
    ap.add_argument("--digits", action="store_true", help="the built-in 8x8 digits-gan case")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--rows", type=int, default=4, help="rows per class")
    args = ap.parse_args()
    torch.set_num_threads(1)
    base, stubbed = _mibench(args.mibench)
    cases = {"digits-gan": digits_case()} if args.digits else vision_cases()
    print(f"MIBench loops from {args.mibench} (stubbed, unused: {stubbed or 'none'})")
    for name, case in cases.items():
        case["prior_of"] = {"gmi": "gmi-z", "kedmi": "kedmi", "plg-mi": "plg-mi"}
        k = case["k"]
        for attack in ("gmi", "kedmi", "plg-mi"):
            per_class = 1 if attack == "kedmi" else args.rows
            rows = torch.arange(k).repeat_interleave(per_class)
            time_ours(case, attack, per_class, 2)  # warm-up (first Adam import, caches)
            ours = time_ours(case, attack, per_class, args.steps)
            theirs = time_mibench(base, case, attack, rows, args.steps)
            print(
                f"{name:14s} {k:2d} classes  {attack:7s} {args.steps} steps: mi-vision "
                f"{ours / k:.3f} s/class, MIBench loop {theirs / k:.3f} s/class "
                f"(ratio {theirs / ours:.2f}x)"
            )


if __name__ == "__main__":
    main()
