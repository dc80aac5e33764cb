"""Benchmark plan of mi-vision's third slice of attacks, for ``benchmarks/vision.py``.

``attack_plan(k, quick)`` has the shape of ``vision.attack_plan``: ``(label, attack, prior,
access, config)`` per run, ``prior`` a key of the case's priors or ``None`` (no generator:
DeepInversion, the inversion model). What the plan needs beyond the three priors of
``vision.prepare``:

* ``extra_priors(case, cache, quick)``: LOKT's T-ACGAN, trained through a *label-only* view of
  the target (its queries counted and returned), cached beside the other priors;
* ``knowledge_extra(case, attack)``: ``knowledge.extra`` of a run: SecretGen's corrupted private
  images (the first two training images of each class, centre masked);
* ``own_baseline(result, attack)``: the array of the result each attack stands beside (its own
  prior's unoptimised samples; DeepInversion's initial noise; SecretGen's model-free fit; the
  inversion model's mean public image).

``uv run python benchmarks/vision_slice3.py [--quick]`` runs the plan on the Fashion-MNIST case
of ``vision.py`` (its cached target, evaluation model and priors) and prints each attack beside
its own baseline; it writes no result file (the vision suite owns ``results/vision.json``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent

#: the array of ``result.arrays`` each attack is judged against (``prior_samples`` otherwise)
OWN_BASELINE = {"deep-inversion": "initial", "secretgen": "no_model"}


def attack_plan(k: int, quick: bool) -> list[tuple[str, str, str | None, str, dict[str, Any]]]:
    """(label, attack, prior, access, config) of every run of the third slice."""
    spc = (4 if k <= 5 else 2) if quick else (8 if k <= 5 else 4)
    s = 0.15 if quick else 1.0

    def n(x: int) -> int:
        return max(5, int(x * s))

    return [
        (
            "if-gmi",
            "if-gmi",
            "gmi-z",
            "white-box",
            {"steps": (n(200), n(100), n(100)), "samples_per_class": spc, "l1_ball": (0.5,)},
        ),
        (
            "if-gmi (w, selection)",
            "if-gmi",
            "gmi",
            "white-box",
            {
                "steps": (n(200), n(100)),
                "samples_per_class": 2 * spc,
                "keep": spc,
                "candidates": 2000,
            },
        ),
        ("dmmia", "dmmia", "gmi-z", "white-box", {"steps": n(600), "samples_per_class": spc}),
        (
            "vmi",
            "vmi",
            "gmi-z",
            "white-box",
            {"steps": n(600), "samples_per_class": max(spc, 8), "samples": 8},
        ),
        (
            "secretgen",
            "secretgen",
            "gmi-z",
            "white-box",
            {"steps": n(600), "samples_per_class": 1, "candidates": 32, "inpaint_steps": n(300)},
        ),
        (
            "deep-inversion",
            "deep-inversion",
            None,
            "white-box",
            {"steps": n(2000), "samples_per_class": spc},
        ),
        (
            "bmi-s",
            "bmi-s",
            "gmi",
            "black-box-scores",
            {"steps": n(200), "samples_per_class": spc, "candidates": 2000},
        ),
        (
            "c2fmi",
            "c2fmi",
            "gmi",
            "black-box-scores",
            {
                "steps": n(60),
                "samples_per_class": spc,
                "population": 32,
                "elite": 4,
                "coarse_steps": n(100),
                "public_samples": 5000,
            },
        ),
        (
            "p2i-mi",
            "p2i-mi",
            "gmi",
            "black-box-scores",
            {
                "samples_per_class": spc,
                "train_samples": 5000,
                "public_samples": 5000,
                "epochs": n(40),
                "top_n": 4 * spc,
            },
        ),
        (
            "inversion-model",
            "inversion-model",
            None,
            "black-box-scores",
            {"epochs": n(60), "truncate": 3},
        ),
        (
            "inversion-model (amplification)",
            "inversion-model",
            None,
            "black-box-scores",
            {"epochs": n(60), "truncate": 3, "amplification": True},
        ),
        (
            "lokt",
            "lokt",
            "lokt",
            "label-only",
            {
                "steps": n(400),
                "samples_per_class": spc,
                "surrogates": 3,
                "students": ("cnn", "resnet", "mlp"),
                "surrogate_samples": 10000 if not quick else 2000,
                "surrogate_epochs": 10 if not quick else 3,
            },
        ),
    ]


def lokt_prior_config(case: str, quick: bool) -> dict[str, Any]:
    """LOKT's T-ACGAN: the PLG-MI prior's size and optimiser (a conditional DCGAN)."""
    cfg = {
        "kind": "lokt",
        "steps": 600,
        "batch_size": 64,
        "latent_dim": 100,
        "g_width": 32,
        "d_width": 16,
        "lr": 5e-4,
        "inv_weight": 1.5,
        "progress": True,
    }
    if quick:
        cfg["steps"] = 50
    return cfg


def extra_priors(case: dict[str, Any], cache: Path, quick: bool, name: str = "") -> dict[str, Any]:
    """Train (or load) LOKT's prior through a label-only view of the case's target; adds it to
    ``case["priors"]`` and returns ``{"lokt": {"seconds", "queries"}}``."""
    from mi_core import make_view
    from mi_vision.priors import load_or_train_prior

    view = make_view(case["target"], "label-only", info=case["info"])
    t = time.perf_counter()
    prior = load_or_train_prior(
        cache / "prior-lokt", case["public"], lokt_prior_config(name, quick), target=view, seed=0
    )
    case["priors"]["lokt"] = prior
    return {
        "lokt": {
            "seconds": prior.info.get("seconds", time.perf_counter() - t),
            "queries": view.queries,  # 0 when loaded from the cache
        }
    }


def knowledge_extra(case: dict[str, Any], attack: str) -> dict[str, Any]:
    """``knowledge.extra`` of a run (SecretGen's corrupted private images)."""
    if attack != "secretgen":
        return {}
    from mi_vision.attacks.secretgen import corrupt

    px, py = case["train"]
    idx = torch.cat([torch.nonzero(py == c).flatten()[:2] for c in range(case["k"])])
    return {"corrupted": corrupt(px[idx], py[idx], "mask")}


def own_baseline(result: Any, attack: str) -> torch.Tensor:
    """The images ``result`` stands beside: its own starting point."""
    return result.arrays[OWN_BASELINE.get(attack, "prior_samples")]


def run_attack(
    case: dict[str, Any],
    attack: str,
    prior: str | None,
    access: str,
    config: dict[str, Any],
    seed: int = 0,
):
    from mi_core import Knowledge, make_view
    from mi_core.registry import get_attack

    view = make_view(case["target"], access, info=case["info"])
    knowledge = Knowledge(
        target_labels=list(range(case["k"])),
        prior=case["priors"][prior] if prior else None,
        auxiliary=case["public"],
        extra=knowledge_extra(case, attack),
    )
    return get_attack(attack)({**config, "progress": True}).run(view, knowledge, seed=seed)


def main(quick: bool) -> None:
    sys.path.insert(0, str(HERE))
    import vision

    from mi_vision.evaluate import ImageEvaluator

    torch.set_num_threads(1)
    name = "fashion-mnist"
    case = vision.prepare(name, quick)
    if case is None:
        return
    cache = vision.CACHE / (f"{name}-quick" if quick else name)
    print(extra_priors(case, cache, quick, name))
    for label, attack, prior, access, cfg in attack_plan(case["k"], quick):
        res = run_attack(case, attack, prior, access, cfg)
        ev = ImageEvaluator(case["eval"], *case["train"], baseline=own_baseline(res, attack))
        figs = {f.metric: f for f in ev.evaluate(res, evidence=False)}
        top1, knn = figs["eval_top1"], figs["knn_distance"]
        print(
            f"{label:34s} {access:17s} top-1 {top1.value:.3f} (own {top1.baseline:.3f})  "
            f"knn {knn.value:.1f} (own {knn.baseline:.1f})  {res.seconds / case['k']:.1f} s/class"
            f"  {res.queries / case['k']:.0f} queries/class"
        )


if __name__ == "__main__":
    main("--quick" in sys.argv)
