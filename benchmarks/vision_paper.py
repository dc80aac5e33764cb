"""Paper-scale vision preset: ``uv run python benchmarks/run.py vision --preset paper [options]``.

The GMI / KEDMI / PLG-MI protocol at the papers' scale, on a GPU:

* ``celeba``: CelebA aligned faces at 64x64 (GMI's face crop), the 1,000 identities with the
  most images private (the target's training set), the images of every other identity public;
* ``facescrub``: FaceScrub aligned faces at 64x64, its 530 identities private, public faces
  from ``--public`` (FFHQ thumbnails in PLG-MI; any image folder).

A pretrained generator is loaded by path (``--generator DIR``: a prior saved by
``GeneratorPrior.save``, safetensors, e.g. GMI's WGAN-GP trained on the public split by
``uv run python benchmarks/vision_paper.py train-prior``). The target (a ResNet) and the
evaluation model (a CNN of another architecture) are trained on the private split and cached
under ``benchmarks/cache/paper-<dataset>/``. Attacks run with the papers' step counts (the
bracketed values of each attack's config, from the papers and their code) on every private
identity in one batch, on ``--device`` (default: CUDA). Before anything runs, the preset names
the data it needs, checks they are there (and refuses with what to get otherwise) and prints
the expected GPU time. Records go to ``benchmarks/results/vision-paper.json``.

Options: ``--dataset celeba|facescrub``, ``--data DIR``, ``--public DIR`` (facescrub),
``--generator DIR``, ``--attacks gmi,ppa,...``, ``--identities N`` (the first N private
identities, for a partial run), ``--seeds N``, ``--device``, ``--precision``, ``--dry-run``
(check and estimate only).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data" / "images"
CACHE = HERE / "cache"

DATASETS: dict[str, dict[str, Any]] = {
    "celeba": {
        "identities": 1000,
        "size": 64,
        "default": SHARED / "celeba",
        "needs": (
            "CelebA aligned faces: DIR/img_align_celeba/*.jpg and DIR/identity_CelebA.txt "
            "(lines `file identity`), from the CelebA site (Liu et al. 2015; 202,599 images of "
            "10,177 identities); at least 1,000 identities"
        ),
    },
    "facescrub": {
        "identities": 530,
        "size": 64,
        "default": SHARED / "facescrub",
        "needs": (
            "FaceScrub aligned faces: one sub-folder per identity under DIR (or DIR/actors, "
            "DIR/actresses), 530 identities (Ng & Winkler 2014); and public faces (--public "
            "DIR, e.g. FFHQ thumbnails, any image folder)"
        ),
    },
}

#: attack -> (access, config at the papers' step counts, source of the numbers)
ATTACKS: dict[str, tuple[str, dict[str, Any], str]] = {
    "gmi": (
        "white-box",
        {"steps": 1500, "lr": 0.02, "momentum": 0.9, "prior_weight": 0.01, "samples_per_class": 5},
        "Zhang et al. 2020 code: 1500 iterations, lr 0.02, lambda_iden 100, 5 restarts",
    ),
    "ppa": (
        "white-box",
        {"candidates": 5000, "samples_per_class": 50, "keep": 25, "steps": 70, "lr": 0.005},
        "Struppek et al. 2022: 5000 candidates, 50 per class, 25 kept, 70 epochs, lr 0.005",
    ),
    "mirror-w": (
        "white-box",
        {"candidates": 5000, "steps": 200, "samples_per_class": 5},
        "An et al. 2022: initial selection over 5000 latents, Adam in W with P-space clipping",
    ),
    "brep-mi": (
        "label-only",
        {"steps": 1000, "points": 32, "radius": 2.0, "expansion": 1.3, "patience": 1000},
        "Kahla et al. 2022 code: 32 sphere points, radius 2, x1.3, patience 1000",
    ),
    "rlb-mi": (
        "black-box-scores",
        {"steps": 40000, "reward_weights": (2.0, 2.0, 8.0), "samples_per_class": 1},
        "Han et al. 2023 code: 40000 episodes per identity, rewards 2, 2, 8",
    ),
    "if-gmi": (
        "white-box",
        {"steps": (70, 25, 25), "samples_per_class": 5},
        "Qiu et al. 2024: 70 steps in the latent, 25 in each intermediate space",
    ),
}
DEFAULT_ATTACKS = ("gmi", "ppa", "brep-mi")

#: rough GPU milliseconds per search step with every identity in one batch, on one modern
#: data-centre GPU (A100 / H100 class) with a 64x64 DCGAN-size generator and a ResNet target.
#: Assumed, not measured (no GPU was available where this preset was written): the printed
#: estimate is an order of magnitude; the records hold the measured seconds.
MS_PER_STEP = {
    "gmi": 60.0,
    "ppa": 400.0,
    "mirror-w": 60.0,
    "brep-mi": 120.0,
    "rlb-mi": 15.0,
    "if-gmi": 80.0,
}
PREPARE_MINUTES = 45.0  # target + evaluation model on ~27k private images (rough)


class PresetRefused(SystemExit):
    """The preset cannot run here: the message says what is missing and how to get it."""


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="run.py vision --preset paper", description=__doc__)
    p.add_argument("--preset", choices=["paper"], default="paper")
    p.add_argument("--dataset", choices=sorted(DATASETS), default="celeba")
    p.add_argument("--data", help="the dataset's folder (default ../shared/data/images/NAME)")
    p.add_argument("--public", help="public faces for facescrub (an image folder)")
    p.add_argument("--generator", help="a saved GeneratorPrior folder (prior.json + safetensors)")
    p.add_argument("--attacks", default=",".join(DEFAULT_ATTACKS))
    p.add_argument("--identities", type=int, help="run on the first N private identities")
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--device", default="cuda")
    p.add_argument("--precision", default="fp32")
    p.add_argument("--dry-run", action="store_true", help="check the data, print the estimate")
    return p.parse_args(argv)


def data_problems(dataset: str, root: Path, public: str | None) -> list[str]:
    """What is missing of the data ``dataset`` needs (empty: all there)."""
    problems = []
    if not root.is_dir():
        problems.append(f"--data: {root} does not exist")
    elif dataset == "celeba":
        if not ((root / "img_align_celeba").is_dir() or any(root.glob("*.jpg"))):
            problems.append(f"--data: no img_align_celeba/*.jpg under {root}")
        if not (root / "identity_CelebA.txt").exists():
            problems.append(f"--data: {root / 'identity_CelebA.txt'} is missing")
    elif not public or not Path(public).is_dir():
        problems.append(f"--public: {public or '(not given)'} is not an image folder")
    return problems


def refuse(dataset: str, problems: list[str]) -> None:
    if problems:
        raise PresetRefused(
            "vision --preset paper cannot run here:\n  "
            + "\n  ".join(problems)
            + f"\nIt needs {DATASETS[dataset]['needs']}, and a pretrained generator "
            "(--generator). Nothing is downloaded: put the data under ../shared/data/images/ "
            "or pass --data."
        )


def check(args: argparse.Namespace) -> dict[str, Any]:
    """Name the data the preset needs and check they are there; refuse otherwise."""
    root = Path(args.data) if args.data else DATASETS[args.dataset]["default"]
    problems = data_problems(args.dataset, root, args.public)
    if not args.generator:
        problems.append("--generator: not given (a folder written by GeneratorPrior.save)")
    elif not (Path(args.generator) / "prior.json").exists():
        problems.append(f"--generator: {Path(args.generator) / 'prior.json'} does not exist")
    attacks = [a.strip() for a in args.attacks.split(",") if a.strip()]
    unknown = [a for a in attacks if a not in ATTACKS]
    if unknown:
        problems.append(f"--attacks: unknown {unknown}; the preset has {sorted(ATTACKS)}")
    refuse(args.dataset, problems)
    return {"root": root, "attacks": attacks}


def estimate(args: argparse.Namespace, attacks: list[str]) -> str:
    """The expected GPU time, attack by attack (rough: :data:`MS_PER_STEP`)."""
    n = args.identities or DATASETS[args.dataset]["identities"]
    scale = n / DATASETS[args.dataset]["identities"]
    lines, total = [], PREPARE_MINUTES * 60 * scale
    for a in attacks:
        steps = ATTACKS[a][1].get("steps", 1)
        steps = sum(steps) if isinstance(steps, tuple) else steps
        secs = MS_PER_STEP[a] / 1000 * steps * max(scale, 0.05) * args.seeds
        total += secs
        lines.append(f"  {a:<10} {steps:>6} steps x {args.seeds} seed(s): ~{secs / 60:.0f} min")
    head = (
        f"expected GPU time for {n} identities of {args.dataset} (rough, assumed "
        "per-step costs on one A100/H100-class GPU; not measured):"
    )
    prep = f"  prepare    target + evaluation model: ~{PREPARE_MINUTES * scale:.0f} min"
    return "\n".join([head, prep, *lines, f"  total      ~{total / 3600:.1f} h"])


def load_split(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    """Private images (the identities of the preset) and public images, 64x64 in [0, 1]."""
    import torch

    from mi_vision.data import ImageFolderDataset, load_celeba, load_facescrub

    size = DATASETS[args.dataset]["size"]
    want = DATASETS[args.dataset]["identities"]
    ds = load_celeba(root, size) if args.dataset == "celeba" else load_facescrub(root, size)
    targets = torch.tensor(ds.targets, device="cpu")
    ids, counts = torch.unique(targets, return_counts=True)
    if ids.numel() < want:
        raise PresetRefused(
            f"--data: {root} holds {ids.numel()} identities; the {args.dataset} preset needs {want}"
        )
    private_ids = ids[counts.argsort(descending=True, stable=True)[:want]].sort().values
    if args.identities:
        private_ids = private_ids[: args.identities]
    remap = {int(c): i for i, c in enumerate(private_ids.tolist())}
    private = [i for i, t in enumerate(ds.targets) if int(t) in remap]
    x = torch.stack([ds[i][0] for i in private])
    y = torch.tensor([remap[int(ds.targets[i])] for i in private], device="cpu")
    if args.dataset == "celeba":
        public_idx = [i for i, t in enumerate(ds.targets) if int(t) not in remap]
        public: Any = torch.utils.data.Subset(ds, public_idx)
    else:
        public = ImageFolderDataset(args.public, size, 3, labels=None)
    return {"x": x, "y": y, "k": len(remap), "public": public}


def prepare(args: argparse.Namespace, split: dict[str, Any], device: Any) -> dict[str, Any]:
    """Target and evaluation model, trained on the private split on ``device`` (cached)."""
    import torch

    from mi_core.io import load_state_dict, save_state_dict
    from mi_vision.data import train_test_split
    from mi_vision.evaluation_model import EvalModelConfig, load_or_train_evaluation_model
    from mi_vision.models import ResNetSmall
    from mi_vision.training import TrainConfig, accuracy, train_classifier

    cache = CACHE / f"paper-{args.dataset}-{split['k']}"
    cache.mkdir(parents=True, exist_ok=True)
    (xtr, ytr), (xte, yte) = train_test_split(split["x"], split["y"], 0.1, 0)
    torch.manual_seed(0)
    target = ResNetSmall(3, split["k"], width=64).to(device)
    path = cache / "target.safetensors"
    if path.exists():
        target.load_state_dict(load_state_dict(path))
    else:
        train_classifier(target, xtr, ytr, TrainConfig(epochs=40, lr=1e-3, augment="standard"))
        save_state_dict(path, target.state_dict())
    target.eval()
    eval_model, report = load_or_train_evaluation_model(
        cache / "eval.safetensors",
        xtr,
        ytr,
        EvalModelConfig(arch="cnn", width=64, epochs=40, augment="standard", seed=1),
        progress=True,
        device=device,
    )
    return {
        "target": target,
        "eval": eval_model,
        "train": (xtr, ytr),
        "accuracy": accuracy(target, xte, yte),
        "eval_report": report,
    }


def run(quick: bool, argv: list[str]) -> list[dict[str, Any]]:
    """The preset (``quick`` is ignored: the paper scale has no quick form)."""
    sys.path.insert(0, str(HERE))
    from common import record

    args = parse(argv)
    checked = check(args)
    print(estimate(args, checked["attacks"]), flush=True)
    if args.dry_run:  # nothing ran: no result file
        raise SystemExit(0)
    import torch

    from mi_core import Knowledge, TargetInfo, make_view
    from mi_core.device import describe, get_device
    from mi_core.registry import get_attack
    from mi_vision.evaluate import ImageEvaluator
    from mi_vision.priors import GeneratorPrior

    device = get_device(args.device, "--device")
    print(f"device: {describe(device)}", flush=True)
    split = load_split(args, checked["root"])
    case = prepare(args, split, device)
    prior = GeneratorPrior.load(args.generator, device)
    info = TargetInfo(
        modality="image", input_shape=(3, 64, 64), num_classes=split["k"], input_range=(0, 1)
    )
    name = f"{args.dataset}-{split['k']}"
    records = [
        record(name, "target", "test_accuracy", case["accuracy"], access=None, notes="ResNet")
    ]
    for attack in checked["attacks"]:
        access, config, source = ATTACKS[attack]
        for seed in range(args.seeds):
            view = make_view(case["target"], access, info=info)
            knowledge = Knowledge(
                target_labels=list(range(split["k"])), prior=prior, auxiliary=split["public"]
            )
            cfg = {**config, "device": str(device), "precision": args.precision}
            t0 = time.perf_counter()
            result = get_attack(attack)(cfg).run(view, knowledge, seed=seed)
            seconds = time.perf_counter() - t0
            ev = ImageEvaluator(case["eval"], *case["train"], seed=seed, diversity=False, fid=False)
            for fig in ev.evaluate(result, evidence=False):
                records.append(
                    record(
                        name,
                        attack,
                        fig.metric,
                        fig.value,
                        access=access,
                        higher=fig.higher_is_better,
                        seconds=seconds,
                        queries=result.queries,
                        baseline=(fig.baseline_name, fig.baseline)
                        if fig.baseline is not None
                        else None,
                        seed=seed,
                        notes=f"{source}; {describe(device)}, {args.precision}",
                    )
                )
            print(f"{attack} seed {seed}: {seconds / 60:.1f} min on {describe(device)}", flush=True)
            del result
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return records


def train_prior_main(argv: list[str]) -> int:
    """``python benchmarks/vision_paper.py train-prior --dataset D --data DIR --out DIR``: GMI's
    WGAN-GP on the public split at 64x64 (the generator the preset loads)."""
    p = argparse.ArgumentParser(prog="vision_paper.py train-prior")
    p.add_argument("--dataset", choices=sorted(DATASETS), default="celeba")
    p.add_argument("--data")
    p.add_argument("--public")
    p.add_argument("--out", required=True)
    p.add_argument("--steps", type=int, default=30000)
    p.add_argument("--device", default="cuda")
    p.add_argument("--precision", default="fp32")
    args = p.parse_args(argv)
    args.identities = None
    root = Path(args.data) if args.data else DATASETS[args.dataset]["default"]
    refuse(args.dataset, data_problems(args.dataset, root, args.public))
    split = load_split(args, root)
    from mi_vision.priors import load_or_train_prior

    cfg = {"kind": "gmi", "steps": args.steps, "batch_size": 64, "device": args.device}
    cfg["precision"] = args.precision
    load_or_train_prior(args.out, split["public"], cfg, seed=0)
    print(f"prior saved to {args.out}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "train-prior":
        sys.exit(train_prior_main(sys.argv[2:]))
    print(__doc__)
