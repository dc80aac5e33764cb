"""Vision benchmark: every GAN attack of mi-vision on two private/public splits.

Cases (the GMI protocol: private classes train the target, disjoint public data trains the
prior):

* ``fashion-mnist``: Fashion-MNIST (Debian package ``dataset-fashion-mnist``), classes 0-4
  private (T-shirt, trouser, pullover, dress, coat), 5-9 public, 32x32;
* ``att-faces``: AT&T / ORL faces (``../shared/data/images/att_faces.npz``), identities 0-19
  private, 20-39 public, 32x32.

Per case: a target CNN and an evaluation model of another architecture (a small ResNet) are
trained on the private data; three priors are trained once on the public data and cached as
safetensors under ``benchmarks/cache/`` (git-ignored): a WGAN-GP generator with a mapping
network (searched in Z by GMI / BREP-MI / RLB-MI and in W by PPA / Mirror), KEDMI's
inversion-specific GAN and PLG-MI's conditional GAN. Every attack then runs on all private
classes in one batch; its figures sit beside the same figures for unoptimised samples of the
general prior. A second run of GMI one class at a time gives the batching speed-up.

``--quick`` runs the Fashion-MNIST case only, with priors of a few dozen steps and short
searches: a smoke test of the whole pipeline, not the figures the README reports.
``uv run python benchmarks/vision.py prepare [--quick] [CASE ...]`` trains the caches only.
Torch runs single-threaded (on the shared 2-core machine two OpenMP threads were ~10x slower on
these small networks).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
CACHE = HERE / "cache"
RESULTS = HERE / "results"
FASHION_ROOT = Path("/usr/share/datasets/fashion-mnist")
FASHION_NAMES = ["T-shirt", "trouser", "pullover", "dress", "coat"]


# ----------------------------------------------------------------------------------------------
# cases
# ----------------------------------------------------------------------------------------------


def _fashion(quick: bool):
    from mi_vision.data import load_fashion_mnist, split_classes

    if not (FASHION_ROOT / "train-images-idx3-ubyte.gz").exists():
        print(
            f"[skip] fashion-mnist: {FASHION_ROOT} is missing; install it with "
            "`apt-get install dataset-fashion-mnist` (Debian) or put the idx files there"
        )
        return None
    x, y = load_fashion_mnist(FASHION_ROOT, "train", size=32)
    xt, yt = load_fashion_mnist(FASHION_ROOT, "test", size=32)
    (px, py), (ux, _) = split_classes(x, y, range(5))
    (tx, ty), _ = split_classes(xt, yt, range(5))
    g = torch.Generator().manual_seed(0)
    keep = torch.randperm(px.shape[0], generator=g)[: 3000 if quick else 6000]
    return {
        "train": (px[keep], py[keep]),
        "test": (tx, ty),
        "public": ux,
        "classes": FASHION_NAMES,
        "target_epochs": 4 if quick else 6,
        "eval_epochs": 5 if quick else 10,
    }


def _att(quick: bool):
    sys.path.insert(0, str(HERE))
    from common import shared_file

    from mi_vision.data import load_att_faces, split_classes

    path = shared_file("images/att_faces.npz")
    if path is None:
        return None
    x, y = load_att_faces(path, size=32)
    (px, py), (ux, _) = split_classes(x, y, range(20))
    test = torch.zeros(px.shape[0], dtype=torch.bool)
    for c in range(20):
        test[torch.nonzero(py == c).flatten()[-2:]] = True  # 8 train / 2 test images per identity
    return {
        "train": (px[~test], py[~test]),
        "test": (px[test], py[test]),
        "public": ux,
        "classes": [f"id {i}" for i in range(20)],
        "target_epochs": 40,
        "eval_epochs": 80,
    }


CASES = {"fashion-mnist": _fashion, "att-faces": _att}


def _cached_model(model, path: Path, train) -> torch.nn.Module:
    from mi_core.io import load_state_dict, save_state_dict

    if path.exists():
        model.load_state_dict(load_state_dict(path))
        return model.eval()
    train(model)
    save_state_dict(path, model.state_dict())
    return model.eval()


def _evaluation_model(cache: Path, px: torch.Tensor, py: torch.Tensor, epochs: int):
    """The judge: a ResNet (another architecture than the SmallCNN target) trained with
    augmentation on 80% of the private training images and temperature-calibrated on the other
    20% (mi_vision.evaluation_model); cached with its calibration report."""
    from mi_vision.evaluation_model import EvalModelConfig, load_or_train_evaluation_model

    cfg = EvalModelConfig(arch="resnet", width=16, epochs=epochs, augment="standard", seed=1)
    return load_or_train_evaluation_model(cache / "eval-calibrated.safetensors", px, py, cfg)


def prior_configs(case: str, quick: bool) -> dict[str, dict[str, Any]]:
    """Prior training of each case (steps chosen for the shared 2-core CPU: 15-35 minutes per
    prior, trained once and cached)."""
    common = {"batch_size": 64, "latent_dim": 100, "g_width": 32, "d_width": 16, "progress": True}
    gmi = {**common, "kind": "gmi", "steps": 2000, "lr": 5e-4, "n_critic": 2, "mapping_layers": 2}
    if case == "att-faces":  # 200 public faces: a wider critic, a slower and longer schedule
        gmi.update(steps=1500, lr=2e-4, betas=(0.5, 0.9), d_width=32)
    cfgs = {
        "gmi": gmi,
        "kedmi": {**common, "kind": "kedmi", "steps": 2000, "lr": 5e-4},
        "plg-mi": {
            **common,
            "kind": "plg-mi",
            "steps": 600,
            "lr": 5e-4,
            "n_critic": 2,
            "top_n": 200 if case == "fashion-mnist" else 20,
        },
    }
    if quick:
        for kind, steps in (("gmi", 60), ("kedmi", 60), ("plg-mi", 50)):
            cfgs[kind]["steps"] = steps
    return cfgs


def prepare(case: str, quick: bool) -> dict[str, Any] | None:
    """Data, target, evaluation model and the three priors of ``case`` (cached)."""
    from mi_core import TargetInfo, make_view
    from mi_vision.evaluation_model import expected_calibration_error
    from mi_vision.models import SmallCNN
    from mi_vision.priors import GeneratorPrior, load_or_train_prior
    from mi_vision.training import TrainConfig, accuracy, train_classifier

    data = CASES[case](quick)
    if data is None:
        return None
    cache = CACHE / (f"{case}-quick" if quick else case)
    (px, py), (tx, ty) = data["train"], data["test"]
    k = int(py.max()) + 1
    t0 = time.perf_counter()
    torch.manual_seed(0)
    target = _cached_model(
        SmallCNN(1, k, width=32, feature_dim=128),
        cache / "target.safetensors",
        lambda m: train_classifier(
            m, px, py, TrainConfig(epochs=data["target_epochs"], lr=2e-3), seed=0, desc="target"
        ),
    )
    evaluator, eval_report = _evaluation_model(cache, px, py, data["eval_epochs"])
    info = TargetInfo(modality="image", input_shape=(1, 32, 32), num_classes=k, input_range=(0, 1))
    white = make_view(target, "white-box", info=info)
    priors: dict[str, GeneratorPrior] = {}
    prior_seconds: dict[str, float] = {}
    for kind, cfg in prior_configs(case, quick).items():
        t = time.perf_counter()
        priors[kind] = load_or_train_prior(
            cache / f"prior-{kind}",
            data["public"],
            cfg,
            target=white if kind in ("kedmi", "plg-mi") else None,
            seed=0,
        )
        prior_seconds[kind] = priors[kind].info.get("seconds", time.perf_counter() - t)
    gen = priors["gmi"]
    priors["gmi-z"] = GeneratorPrior.from_networks(
        gen.modules["generator"], gen.discriminator, kind="gmi", space="z"
    )
    out = {
        **data,
        "k": k,
        "target": target,
        "eval": evaluator,
        "info": info,
        "priors": priors,
        "prior_seconds": prior_seconds,
        "utility": {
            "target_test_accuracy": accuracy(target, tx, ty),
            "eval_test_accuracy": accuracy(evaluator, tx, ty),
            "target_test_ece": expected_calibration_error(target, tx, ty),
            "eval_test_ece": expected_calibration_error(evaluator, tx, ty),
            "eval_calibration": eval_report,
        },
        "prepare_seconds": time.perf_counter() - t0,
    }
    # the third slice's prior: LOKT's T-ACGAN, trained through a label-only view (counted)
    import vision_slice3

    for kind, facts in vision_slice3.extra_priors(out, cache, quick, case).items():
        prior_seconds[kind] = facts["seconds"]
        out.setdefault("prior_queries", {})[kind] = facts["queries"]
    out["prepare_seconds"] = time.perf_counter() - t0
    return out


# ----------------------------------------------------------------------------------------------
# attacks
# ----------------------------------------------------------------------------------------------


def attack_plan(k: int, quick: bool) -> list[tuple[str, str, str, str, dict[str, Any]]]:
    """(label, attack, prior, access, config) of every run."""
    spc = (4 if k <= 5 else 2) if quick else (8 if k <= 5 else 4)
    s = 0.15 if quick else 1.0

    def n(x: int) -> int:
        return max(5, int(x * s))

    gmi = {"steps": n(600), "samples_per_class": spc, "lr": 0.02, "prior_weight": 0.01}
    kedmi = {"steps": n(600), "samples_per_class": spc, "samples": 4, "lr": 0.05}
    return [
        ("gmi", "gmi", "gmi-z", "white-box", gmi),
        ("kedmi", "kedmi", "kedmi", "white-box", kedmi),
        ("plg-mi", "plg-mi", "plg-mi", "white-box", {"steps": n(400), "samples_per_class": spc}),
        (
            "lomma+gmi",
            "lomma",
            "gmi-z",
            "white-box",
            {"base": "gmi", "base_config": gmi, "distill_epochs": 2 if quick else 6},
        ),
        (
            "lomma+kedmi",
            "lomma",
            "kedmi",
            "white-box",
            {"base": "kedmi", "base_config": kedmi, "distill_epochs": 2 if quick else 6},
        ),
        (
            "ppa",
            "ppa",
            "gmi",
            "white-box",
            {
                "steps": n(200),
                "samples_per_class": 2 * spc,
                "keep": spc,
                "candidates": 2000,
                "n_aug_init": 2,
                "n_aug_final": 8,
            },
        ),
        (
            "mirror-w",
            "mirror-w",
            "gmi",
            "white-box",
            {"steps": n(200), "samples_per_class": spc, "candidates": 2000},
        ),
        (
            "mirror-b",
            "mirror-b",
            "gmi",
            "black-box-scores",
            {
                "steps": n(60),
                "samples_per_class": spc,
                "candidates": 2000,
                "population": 32,
                "elite": 4,
            },
        ),
        (
            "brep-mi",
            "brep-mi",
            "gmi-z",
            "label-only",
            {"steps": n(300), "samples_per_class": max(1, spc // 2), "patience": 100},
        ),
        (
            "rlb-mi",
            "rlb-mi",
            "gmi-z",
            "black-box-scores",
            {"steps": n(1500), "samples_per_class": spc, "hidden": 128},
        ),
    ]


def _figures(case: dict[str, Any], result, general: torch.Tensor) -> dict[str, Any]:
    """Every figure of one run, each beside the attack's own prior samples (general prior
    samples in ``details["general"]``)."""
    from mi_vision.evaluate import ImageEvaluator

    ev = ImageEvaluator(
        case["eval"], *case["train"], baseline=general, baseline_name="general prior samples"
    )
    return {f.metric: f for f in ev.evaluate(result, evidence=False)}


def aggregate(per_seed: list[dict[str, Any]], seeds: list[int]) -> dict[str, dict[str, Any]]:
    """Per metric: mean and spread over seeds of the attack, of its own-prior baseline and of the
    general baseline, the search's contribution and the leakage verdict (mi_core.leakage)."""
    from mi_core.leakage import assess_seeds, seed_stats

    out: dict[str, dict[str, Any]] = {}
    for metric in per_seed[0]:
        figs = [p[metric] for p in per_seed if metric in p]
        if len(figs) != len(per_seed):
            continue
        vals = [f.value for f in figs]
        bases = [f.baseline for f in figs if f.baseline is not None]
        gen = [f.details["general"]["value"] for f in figs if "general" in f.details]
        on = [f.on_manifold for f in figs if f.on_manifold is not None]
        manifold = None if not on else all(on) if len(on) == len(figs) else None
        if on and not all(on):
            manifold = False
        lk, st, sb = assess_seeds(
            vals,
            bases or None,
            higher_is_better=figs[0].higher_is_better,
            unit_interval=figs[0].unit_interval,
            on_manifold=manifold,
        )
        sg = seed_stats(gen) if gen else None
        out[metric] = {
            "value": st.mean,
            "spread": st.std,
            "per_seed": vals,
            "seeds": seeds,
            "higher": figs[0].higher_is_better,
            "baseline": (figs[0].baseline_name, sb.mean) if sb else None,
            "baseline_spread": sb.std if sb else None,
            "general_baseline": {
                "name": figs[0].details["general"]["name"],
                "value": sg.mean,
                "spread": sg.std,
            }
            if sg
            else None,
            "search_adds": None if sb is None else st.mean - sb.mean,
            "on_manifold": manifold,
            "off_manifold_by": sorted({m for f in figs for m in f.details.get("off_manifold", [])}),
            "leakage": lk.level,
            "leakage_reason": lk.reason,
            "details_seed0": {k: v for k, v in figs[0].details.items() if k not in ("general",)},
        }
    return out


def run_attack(
    case: dict[str, Any],
    label: str,
    attack: str,
    prior: str,
    access: str,
    config: dict[str, Any],
    classes: list[int] | None = None,
    seed: int = 0,
):
    import vision_slice3

    from mi_core import Knowledge, make_view
    from mi_core.registry import get_attack

    view = make_view(case["target"], access, info=case["info"])
    knowledge = Knowledge(
        target_labels=classes if classes is not None else list(range(case["k"])),
        prior=case["priors"][prior] if prior else None,
        auxiliary=case["public"],
        extra=vision_slice3.knowledge_extra(case, attack),
    )
    cfg = {**config}
    if attack == "lomma":
        cfg["base_config"] = {**cfg["base_config"], "progress": True}
    return get_attack(attack)({**cfg, "progress": True}).run(view, knowledge, seed=seed)


def _speed(case: dict[str, Any], quick: bool) -> dict[str, Any]:
    """GMI on every class of the case: one batch vs one class at a time (the same steps and one
    row per class in both)."""
    classes = list(range(case["k"]))
    cfg = {"steps": 30 if quick else 150, "samples_per_class": 1}
    batched = run_attack(case, "gmi", "gmi", "gmi-z", "white-box", cfg, classes)
    single = sum(
        run_attack(case, "gmi", "gmi", "gmi-z", "white-box", cfg, [c]).seconds for c in classes
    )
    k = len(classes)
    return {"batched": batched.seconds / k, "single": single / k, "steps": cfg["steps"], "k": k}


def _grid(case_name: str, case: dict[str, Any], results: dict[str, Any], quick: bool) -> Path:
    """One row per class: a private image, a general-prior sample, then each attack."""
    from PIL import Image, ImageDraw

    from mi_core.io import atomic_write_bytes
    from mi_core.report.images import grid_image, png_bytes

    px, py = case["train"]
    base = case["priors"]["gmi"].sample(case["k"], torch.Generator().manual_seed(3))
    cols = ["private", "prior", *results]
    rows = []
    for c in range(case["k"]):
        cells = [px[py == c][0], base[c]]
        for res in results.values():
            rec, tgt = res.reconstructions, torch.as_tensor(res.targets)
            cells.append(rec[tgt == c][0])
        rows.append(torch.stack(cells))
    scale = 2
    img = grid_image(rows, scale=scale)
    header = 14
    canvas = Image.new("L", (img.width, img.height + header), 255)
    canvas.paste(img.convert("L"), (0, header))
    draw = ImageDraw.Draw(canvas)
    step = (32 + 2) * scale
    for i, name in enumerate(cols):
        draw.text((2 * scale + i * step, 1), name[:9], fill=0)
    path = RESULTS / f"vision-{case_name}{'-quick' if quick else ''}.png"
    return atomic_write_bytes(path, png_bytes(canvas))


SEEDS = [0, 1, 2]
SEEDS_QUICK = [0]


def _seeds_option(argv: list[str], default: list[int]) -> list[int]:
    """``--seeds N`` (attack seeds 0..N-1) from the suite options; anything else is refused."""
    if not argv:
        return list(default)
    if len(argv) == 2 and argv[0] == "--seeds" and argv[1].isdigit() and int(argv[1]) >= 1:
        return list(range(int(argv[1])))
    raise SystemExit(
        f"vision: unknown options {argv}; the suite takes --seeds N (N >= 1) or --preset paper"
    )


def digits_mi_face(quick: bool) -> list[dict[str, Any]]:
    """MI-Face (Algorithm 1 of Fredrikson et al. 2015, 3000 steps from the zero image) on the
    built-in digits-softmax case, the case retrained with each seed (target, judge and split take
    seconds): the figures the root README quotes for the Quick start."""
    import tempfile

    from common import record

    from mi_core import Knowledge, make_view
    from mi_vision.attacks.mi_face import MIFace
    from mi_vision.cases import DigitsSoftmaxCase

    seeds = [0, 1, 2] if quick else [0, 1, 2, 3, 4]
    per_seed, accs, secs = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            case = DigitsSoftmaxCase()
            case.prepare(Path(tmp) / str(seed), seed=seed)
            view = make_view(case.target(), "white-box", info=case.target_info())
            res = MIFace(max_iter=3000, gamma=0.0, progress=False).run(
                view, Knowledge(target_labels=list(range(10))), seed=seed
            )
            per_seed.append({f.metric: f for f in case.evaluate(res)})
            accs.append(case.utility()["test_accuracy"])
            secs.append(res.seconds)
    agg = aggregate(per_seed, seeds)
    out = []
    for metric in ("leak_rate", "eval_top1", "eval_top5", "knn_distance"):
        a = agg[metric]
        out.append(
            record(
                "digits",
                "mi-face",
                metric,
                a["value"],
                access="white-box",
                higher=a["higher"],
                seconds=sum(secs) / len(secs),
                baseline=a["baseline"],
                seed=seeds,
                notes="softmax regression on sklearn's 8x8 digits retrained per seed; judged by a "
                "calibrated CNN; baseline: as many uniform-noise images",
                spread=a["spread"],
                per_seed=a["per_seed"],
                baseline_spread=a["baseline_spread"],
                leakage=a["leakage"],
                on_manifold=a["on_manifold"],
                target_test_accuracy=sum(accs) / len(accs),
            )
        )
    return out


def extra_plans(k: int, quick: bool) -> list[tuple[str, str, str | None, str, dict[str, Any]]]:
    """The third slice's attacks (``benchmarks/vision_slice3.py``), in the shape of
    :func:`attack_plan` (their prior may be None: DeepInversion, the inversion model)."""
    import vision_slice3

    return vision_slice3.attack_plan(k, quick)


def run(quick: bool, argv: list[str] | None = None) -> list[dict[str, Any]]:
    """The CPU benchmark; ``--preset paper`` (in ``argv``) runs the paper-scale GPU preset of
    ``benchmarks/vision_paper.py`` instead."""
    sys.path.insert(0, str(HERE))
    if _preset(argv) == "diffusion":
        import vision_diffusion

        return vision_diffusion.run(quick, argv)
    if argv and "--preset" in argv:
        import vision_paper

        return vision_paper.run(quick, argv)
    seeds = _seeds_option(argv or [], SEEDS_QUICK if quick else SEEDS)
    from common import record

    torch.set_num_threads(1)
    records: list[dict[str, Any]] = digits_mi_face(quick)
    # --quick (< 10 minutes on 2 cores): the Fashion-MNIST case only, small priors and searches
    for case_name in ["fashion-mnist"] if quick else list(CASES):
        case = prepare(case_name, quick)
        if case is None:
            continue
        k = case["k"]
        base_prior = case["priors"]["gmi"]
        for kind, secs in case["prior_seconds"].items():
            resumed = bool(case["priors"][kind].info.get("resumed"))
            records.append(
                record(
                    case_name,
                    f"prior:{kind}",
                    "train_seconds",
                    round(secs, 1),
                    access="public data",
                    higher=False,
                    seconds=secs,
                    notes="GAN prior training on the public split (cached afterwards)"
                    + ("; resumed from a checkpoint: the last leg only" if resumed else ""),
                    resumed=resumed,
                )
            )
        records.append(
            record(
                case_name,
                "target",
                "test_accuracy",
                case["utility"]["target_test_accuracy"],
                access="-",
                notes=f"evaluation model (ResNetSmall, augmented, temperature-calibrated) test "
                f"accuracy {case['utility']['eval_test_accuracy']:.3f}",
                target_ece=case["utility"]["target_test_ece"],
                eval_accuracy=case["utility"]["eval_test_accuracy"],
                eval_ece=case["utility"]["eval_test_ece"],
                eval_calibration=case["utility"]["eval_calibration"],
            )
        )
        results = {}
        t_case = time.perf_counter()
        for label, attack, prior, access, cfg in attack_plan(k, quick) + extra_plans(k, quick):
            per_seed, runs = [], []
            for seed in seeds:
                res = run_attack(case, label, attack, prior, access, cfg, seed=seed)
                rows = res.reconstructions.shape[0]
                general = base_prior.sample(rows, torch.Generator().manual_seed(11 + seed))
                per_seed.append(_figures(case, res, general))
                runs.append(res)
            results[label] = runs[0]
            agg = aggregate(per_seed, seeds)
            top1 = per_seed[0]["eval_top1"]
            secs = [r.seconds for r in runs]
            extra = {
                "per_class_top1": top1.details["per_class"],
                "per_class_top5": per_seed[0]["eval_top5"].details["per_class"]
                if "eval_top5" in per_seed[0]
                else None,
                "baseline_per_class_top1": top1.details["baseline_per_class"],
                "eval_histogram": top1.details["histogram"],
                "baseline_eval_histogram": top1.details["baseline_histogram"],
                "seconds_per_class": round(sum(secs) / len(secs) / k, 3),
                "queries_per_class": round(sum(r.queries for r in runs) / len(runs) / k, 1),
                "reconstructions": rows,
                "prior": prior,
                "config": runs[0].config,
                "info": {key: v for key, v in runs[0].info.items() if key not in ("classes",)},
            }
            for metric, a in agg.items():
                records.append(
                    record(
                        case_name,
                        label,
                        metric,
                        a["value"],
                        access=access,
                        higher=a["higher"],
                        seconds=sum(secs) / len(secs),
                        queries=runs[0].queries if access != "white-box" else None,
                        baseline=a["baseline"],
                        seed=seeds,
                        notes=f"{rows} reconstructions per seed, {k} classes in one batch; "
                        f"mean over seeds {seeds}",
                        spread=a["spread"],
                        per_seed=a["per_seed"],
                        baseline_spread=a["baseline_spread"],
                        general_baseline=a["general_baseline"],
                        search_adds=a["search_adds"],
                        on_manifold=a["on_manifold"],
                        off_manifold_by=a["off_manifold_by"],
                        leakage=a["leakage"],
                        leakage_reason=a["leakage_reason"],
                        **(
                            {**extra, "details": a["details_seed0"]}
                            if metric == "eval_top1"
                            else {"details": a["details_seed0"]}
                            if metric == "leak_rate"
                            else {}
                        ),
                    )
                )
        sp = _speed(case, quick)
        records.append(
            record(
                case_name,
                "gmi (batched vs one class at a time)",
                "seconds_per_class",
                sp["batched"],
                access="white-box",
                higher=False,
                seconds=sp["batched"] * sp["k"],
                anchor={
                    "name": "one class at a time",
                    "value": sp["single"],
                    "seconds": sp["single"] * sp["k"],
                },
                notes=f"{sp['k']} classes x 1 row, {sp['steps']} steps; speed-up "
                f"{sp['single'] / sp['batched']:.1f}x",
                speedup=sp["single"] / sp["batched"],
            )
        )
        attack_seconds = sum(r.seconds for r in results.values())
        records.append(
            record(
                case_name,
                "all attacks",
                "seconds",
                round(attack_seconds, 1),
                access="-",
                higher=False,
                seconds=attack_seconds,
                notes=f"sum of the {len(results)} attack runs; with evaluation and the speed "
                f"runs {time.perf_counter() - t_case:.0f} s; data, target, evaluation model and "
                f"priors {case['prepare_seconds']:.0f} s (cached priors load in seconds)",
                case_seconds=round(time.perf_counter() - t_case, 1),
            )
        )
        _grid(case_name, case, results, quick)
    return records


def _preset(argv: list[str] | None) -> str | None:
    if argv and "--preset" in argv:
        i = argv.index("--preset")
        return argv[i + 1] if i + 1 < len(argv) else None
    return None


def result_name(argv: list[str]) -> str | None:
    """The result file of a run with suite options (None: the default ``vision.json``)."""
    if _preset(argv) == "diffusion":
        return "vision-diffusion-quick.json" if "--quick" in sys.argv else "vision-diffusion.json"
    return "vision-paper.json" if argv and "--preset" in argv else None


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "prepare":
        torch.set_num_threads(1)
        q = "--quick" in sys.argv
        for name in [a for a in sys.argv[2:] if not a.startswith("--")] or list(CASES):
            c = prepare(name, q)
            if c is not None:
                print(name, c["utility"], {k: round(v, 1) for k, v in c["prior_seconds"].items()})
