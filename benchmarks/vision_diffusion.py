"""Vision benchmark, diffusion preset: ``benchmarks/run.py vision --preset diffusion [--quick]
[--seeds N]`` writes ``results/vision-diffusion[-quick].json``.

Two parts, on the Fashion-MNIST case of ``benchmarks/vision.py`` (its cached target, calibrated
evaluation model and GAN priors; private classes 0-4, public 5-9, 32x32):

1. **Diffusion attacks on a classifier.** One class-conditional diffusion prior is trained on
   the public images labelled by the target through a *label-only* view (Liu 2023; every image
   a counted query) and cached beside the GAN priors. ``diffusion-mi`` (label-only),
   ``diffusion-guidance`` and ``diff-mi`` (white-box) run on it, beside the best GAN attack of
   each access level of the quick vision table (BREP-MI label-only; Mirror-W and KEDMI
   white-box) run in the same process, with the evaluation protocol of the vision suite
   (recognised-and-on-manifold leak rate, KNN, eval-feature FID, own-prior baseline, mean and
   spread over seeds). Diff-MI shares the hard-label prior (the paper pseudo-labels the top-n
   images with scores; one prior keeps the quick run inside its budget).
2. **Extraction from generative models.** A small unconditional DDPM and a small WGAN-GP are
   trained on private images of which some are repeated (x1, x10, x50);
   ``diffusion-extraction``, ``side`` (DDPM) and ``gan-extraction`` (GAN) flag images, judged by
   :class:`mi_vision.extraction.ExtractionEvaluator`: precision of the flagged images and
   distinct training images extracted per repetition level, each beside as many unfiltered
   random samples of the same generator.

Torch runs single-threaded. Sizes were chosen for the 2-core CPU (see ``PRIOR`` and ``DDPM``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

#: the conditional prior of part 1: a 1.1M-parameter UNet at 32x32 (channels 32/64/64,
#: attention at 8x8), cosine schedule, min-SNR weighting, EMA; the quick run trains 500 steps
#: of batch 32 (about 8 minutes on one core), the full run 1,500 of batch 64 (the issue's
#: 20-minute budget on 2 cores)
PRIOR = {
    "conditional": True,
    "channels": (32, 64, 64),
    "attention": True,
    "lr": 1e-3,
    "sampler": "ddim",
    "sample_steps": 20,
    "guidance_scale": 3.0,
    "progress": True,
}
PRIOR_STEPS = {True: (500, 32), False: (1500, 64)}

#: the DDPM of part 2: smaller (no attention), trained longer relative to its data
DDPM = {
    "conditional": False,
    "channels": (32, 64, 64),
    "attention": False,
    "lr": 2e-3,
    "warmup": 50,
    "sampler": "ddim",
    "sample_steps": 20,
    "progress": True,
}
DDPM_STEPS = {True: (700, 32), False: (2000, 64)}
#: distinct private images per repetition level (n, copies)
LEVELS = [(200, 1), (10, 10), (5, 50)]
THRESHOLD = 0.1  # normalised l2 on [0, 1] images


def _seeds(argv: list[str], quick: bool) -> list[int]:
    rest = [a for a in argv if a not in ("--preset", "diffusion")]
    if not rest:
        return [0, 1, 2]
    if len(rest) == 2 and rest[0] == "--seeds" and rest[1].isdigit() and int(rest[1]) >= 1:
        return list(range(int(rest[1])))
    raise SystemExit(f"vision --preset diffusion: unknown options {rest}; it takes --seeds N")


def attack_plan(k: int, quick: bool) -> list[tuple[str, str, str, str, dict[str, Any]]]:
    """(label, attack, prior, access, config): the diffusion attacks and their GAN peers."""
    import vision

    spc = 4 if quick else 8
    gan = {row[0]: row for row in vision.attack_plan(k, quick)}
    return [
        (
            "diffusion-mi",
            "diffusion-mi",
            "diffusion",
            "label-only",
            {"samples_per_class": spc, "candidates": 8 * spc, "n_aug": 4},
        ),
        gan["brep-mi"],
        (
            "diffusion-guidance",
            "diffusion-guidance",
            "diffusion",
            "white-box",
            {"samples_per_class": spc, "sample_steps": 25, "strength": 0.3, "t_max": 0.6},
        ),
        (
            "diff-mi",
            "diff-mi",
            "diffusion",
            "white-box",
            {
                "samples_per_class": spc,
                "finetune_steps": 20 if quick else 60,
                "finetune_batch": 10,
                "steps": 30,
                "top_n": 30,
            },
        ),
        gan["mirror-w"],
        gan["kedmi"],
    ]


def diffusion_prior(case: dict[str, Any], quick: bool):
    """The conditional prior of part 1 (cached): trained on the public images with the
    target's hard labels, queried through a label-only view."""
    import vision

    from mi_core import make_view
    from mi_vision.priors.diffusion import load_or_train_diffusion_prior

    steps, batch = PRIOR_STEPS[quick]
    view = make_view(case["target"], "label-only", info=case["info"])
    t = time.perf_counter()
    cache = vision.CACHE / ("fashion-mnist-quick" if quick else "fashion-mnist")
    prior = load_or_train_diffusion_prior(
        cache / "prior-diffusion",
        case["public"],
        {**PRIOR, "steps": steps, "batch_size": batch},
        target=view,
        seed=0,
    )
    return prior, time.perf_counter() - t, view.queries


def classifier_part(quick: bool, seeds: list[int]) -> tuple[list[dict[str, Any]], dict]:
    import vision
    from common import record

    case = vision.prepare("fashion-mnist", quick)
    if case is None:
        return [], {}
    prior, prior_s, prior_q = diffusion_prior(case, quick)
    case["priors"]["diffusion"] = prior
    k = case["k"]
    records = [
        record(
            "fashion-mnist",
            "prior:diffusion",
            "train_seconds",
            round(prior.info.get("seconds", prior_s), 1),
            access="label-only",
            higher=False,
            seconds=prior.info.get("seconds", prior_s),
            queries=prior.info.get("queries", prior_q),
            notes=f"{prior!r}; {prior.info.get('config', {}).get('steps')} steps, trained on "
            "the public split with the target's hard labels (cached afterwards)",
            parameters=prior.info.get("parameters"),
        )
    ]
    results: dict[str, Any] = {}
    for label, attack, pname, access, cfg in attack_plan(k, quick):
        per_seed, runs = [], []
        for seed in seeds:
            res = vision.run_attack(case, label, attack, pname, access, cfg, seed=seed)
            rows = res.reconstructions.shape[0]
            general = case["priors"]["gmi"].sample(rows, torch.Generator().manual_seed(11 + seed))
            per_seed.append(vision._figures(case, res, general))
            runs.append(res)
        results[label] = runs[0]
        agg = vision.aggregate(per_seed, seeds)
        secs = [r.seconds for r in runs]
        for metric, a in agg.items():
            records.append(
                record(
                    "fashion-mnist",
                    label,
                    metric,
                    a["value"],
                    access=access,
                    higher=a["higher"],
                    seconds=sum(secs) / len(secs),
                    queries=runs[0].queries if access != "white-box" else None,
                    baseline=a["baseline"],
                    seed=seeds,
                    notes=f"{runs[0].reconstructions.shape[0]} reconstructions per seed, prior "
                    f"{pname}; mean over seeds {seeds}",
                    spread=a["spread"],
                    per_seed=a["per_seed"],
                    baseline_spread=a["baseline_spread"],
                    general_baseline=a["general_baseline"],
                    search_adds=a["search_adds"],
                    on_manifold=a["on_manifold"],
                    off_manifold_by=a["off_manifold_by"],
                    leakage=a["leakage"],
                    leakage_reason=a["leakage_reason"],
                    prior=pname,
                    family="diffusion" if pname == "diffusion" else "gan",
                    info={
                        key: v
                        for key, v in runs[0].info.items()
                        if key in ("prior_queries", "selection_queries", "finetune_steps_run")
                    },
                )
            )
    return records, {"case": case, "results": results}


# ----------------------------------------------------------------------------------------------
# part 2: extraction


def private_set(case: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Distinct private training images per level, their copy counts, and the training set
    with the repetitions."""
    px, _ = case["train"]
    perm = torch.randperm(px.shape[0], generator=torch.Generator().manual_seed(0))
    uniq, copies, data, i = [], [], [], 0
    for n, c in LEVELS:
        imgs = px[perm[i : i + n]]
        i += n
        uniq.append(imgs)
        copies += [c] * n
        data.append(imgs.repeat(c, 1, 1, 1))
    return torch.cat(uniq), torch.tensor(copies), torch.cat(data)


def extraction_part(
    case: dict[str, Any], quick: bool, seeds: list[int]
) -> tuple[list[dict[str, Any]], dict]:
    import vision
    from common import record

    from mi_core import Knowledge
    from mi_core.registry import get_attack
    from mi_vision.extraction import ExtractionEvaluator, generator_view, l2_distances
    from mi_vision.priors import load_or_train_prior
    from mi_vision.priors.diffusion import load_or_train_diffusion_prior

    uniq, copies, data = private_set(case)
    cache = vision.CACHE / ("fashion-mnist-quick" if quick else "fashion-mnist")
    steps, batch = DDPM_STEPS[quick]
    ddpm = load_or_train_diffusion_prior(
        cache / "extraction-ddpm", data, {**DDPM, "steps": steps, "batch_size": batch}, seed=0
    )
    gan_cfg = dict(vision.prior_configs("fashion-mnist", quick)["gmi"])
    gan_cfg.update(steps=600 if quick else 2000, mapping_layers=0)
    gan = load_or_train_prior(cache / "extraction-gan", data, gan_cfg, seed=0)
    ev = ExtractionEvaluator(uniq, THRESHOLD, copies)
    d = l2_distances(uniq, uniq)
    d.fill_diagonal_(float("inf"))
    close = int((d.min(1).values < THRESHOLD).sum())
    n = 500 if quick else 2000
    plan = [
        (
            "diffusion-extraction",
            ddpm,
            "black-box-scores",
            {"n_samples": n, "tiles": 4, "min_size": 10, "threshold": THRESHOLD},
        ),
        (
            "side",
            ddpm,
            "white-box",
            {
                "n_samples": n,
                "tiles": 4,
                "min_size": 10,
                "threshold": THRESHOLD,
                "n_cluster_samples": n,
                "clusters": 10,
                "classifier_steps": 200 if quick else 500,
                "sample_steps": 20,
            },
        ),
        (
            "gan-extraction",
            gan,
            "black-box-scores",
            {"n_samples": n, "tiles": 4, "min_size": 10, "threshold": THRESHOLD, "crowd": 0.7},
        ),
    ]
    records = []
    for name, kind, secs in (
        ("extraction-ddpm", "diffusion", ddpm.info.get("seconds")),
        ("extraction-gan", "gan", gan.info.get("seconds")),
    ):
        records.append(
            record(
                "fashion-mnist-extraction",
                f"prior:{name}",
                "train_seconds",
                secs,
                access="private data",
                higher=False,
                seconds=secs,
                notes=f"{kind} generator trained on {data.shape[0]} private images: "
                + ", ".join(f"{n_} x{c}" for n_, c in LEVELS),
            )
        )
    shown: dict[str, Any] = {}
    for attack, prior, access, cfg in plan:
        figs, runs = [], []
        for seed in seeds:
            view = generator_view(prior, access)
            res = get_attack(attack)({**cfg, "progress": True}).run(view, Knowledge(), seed=seed)
            figs.append({f.metric: f for f in ev.evaluate(res)})
            runs.append(res)
        shown[attack] = runs[0]
        for metric in ("flagged_precision", "distinct_extracted"):
            vals = [f[metric].value for f in figs if metric in f]
            bases = [f[metric].baseline for f in figs if metric in f]
            if not vals:
                continue
            mean = sum(vals) / len(vals)
            base = sum(bases) / len(bases)
            spread = (sum((v - mean) ** 2 for v in vals) / max(1, len(vals) - 1)) ** 0.5
            per_level = [f["distinct_extracted"].details["per_level"] for f in figs]
            base_level = [f["distinct_extracted"].details["baseline_per_level"] for f in figs]
            records.append(
                record(
                    "fashion-mnist-extraction",
                    attack,
                    metric,
                    mean,
                    access=access,
                    higher=True,
                    seconds=sum(r.seconds for r in runs) / len(runs),
                    queries=runs[0].queries,
                    baseline=(figs[0][metric].baseline_name, base),
                    seed=seeds,
                    notes=f"{runs[0].info.get('generated')} generations per seed; threshold "
                    f"{THRESHOLD} (normalised l2); {close} of {uniq.shape[0]} distinct private "
                    "images have another within the threshold",
                    spread=spread,
                    per_seed=vals,
                    baseline_per_seed=bases,
                    flagged=[f["distinct_extracted"].details["flagged"] for f in figs],
                    per_level={
                        lv: sum(p.get(lv, 0.0) for p in per_level) / len(per_level)
                        for lv in per_level[0]
                    },
                    baseline_per_level={
                        lv: sum(p.get(lv, 0.0) for p in base_level) / len(base_level)
                        for lv in base_level[0]
                    },
                    family="diffusion" if attack != "gan-extraction" else "gan",
                )
            )
    return records, {"uniq": uniq, "shown": shown, "ev": ev}


# ----------------------------------------------------------------------------------------------
# grids


def _save(canvas, name: str) -> Path:
    from mi_core.io import atomic_write_bytes
    from mi_core.report.images import png_bytes

    return atomic_write_bytes(RESULTS / name, png_bytes(canvas))


def _labelled(rows: list[torch.Tensor], cols: list[str], scale: int = 2):
    from PIL import Image, ImageDraw

    from mi_core.report.images import grid_image

    img = grid_image(rows, scale=scale)
    header = 14
    canvas = Image.new("L", (img.width, img.height + header), 255)
    canvas.paste(img.convert("L"), (0, header))
    draw = ImageDraw.Draw(canvas)
    step = (rows[0].shape[-1] + 2) * scale
    for i, name in enumerate(cols):
        draw.text((2 * scale + i * step, 1), name[:9], fill=0)
    return canvas


def classifier_grid(part: dict, quick: bool) -> Path | None:
    """One row per class: a private image, then each attack's first reconstruction."""
    if not part:
        return None
    case, results = part["case"], part["results"]
    px, py = case["train"]
    rows = []
    for c in range(case["k"]):
        cells = [px[py == c][0]]
        for res in results.values():
            cells.append(res.reconstructions[torch.as_tensor(res.targets) == c][0])
        rows.append(torch.stack(cells))
    canvas = _labelled(rows, ["private", *results])
    return _save(canvas, f"vision-diffusion{'-quick' if quick else ''}.png")


def extraction_grid(part: dict, quick: bool) -> Path | None:
    """Per attack, up to 8 flagged images (top row) above their nearest training image."""
    if not part:
        return None
    rows, cols = [], []
    for attack, res in part["shown"].items():
        flagged = res.reconstructions[:8]
        if flagged.shape[0] == 0:
            continue
        _, idx = part["ev"].nearest(flagged)
        rows += [flagged, part["uniq"][idx]]
        cols.append(attack)
    if not rows:
        return None
    canvas = _labelled(rows, [])
    return _save(canvas, f"vision-extraction{'-quick' if quick else ''}.png")


def run(quick: bool, argv: list[str] | None = None) -> list[dict[str, Any]]:
    sys.path.insert(0, str(HERE))
    seeds = _seeds(argv or [], quick)
    torch.set_num_threads(1)
    records, part1 = classifier_part(quick, seeds)
    classifier_grid(part1, quick)
    if part1:
        more, part2 = extraction_part(part1["case"], quick, seeds)
        records += more
        extraction_grid(part2, quick)
    return records
