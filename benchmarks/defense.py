"""Defense benchmark: each defense against the attacks it targets, on the cases the modality
packages use, with the attack figure and the utility undefended vs defended and a privacy-utility
curve over the defense's strength.

    uv run python benchmarks/run.py defense [--quick]

Records (../shared/BENCHMARKS.md): one per (defense, strength, attack); ``value`` is the attack's
figure under the defense, ``undefended`` the same attack without it, ``baseline`` the attack's
no-model baseline, ``utility`` ``{"metric", "value", "undefended"}``. Seeds (``SEEDS``): the
image MLP and cohort-tree rows retrain the target per seed (seconds) and rerun the attack; a
record then holds the mean, ``spread`` / ``per_seed`` (also of the undefended figure, the
baseline and the utility) and two verdicts of ``mi_core.leakage``: ``leakage`` (defended figure
against the no-model baseline) and ``defense_effect`` (undefended against defended figure,
paired seeds). ``--quick`` runs a sweep's headline points on all seeds and the others on seed 0.
Plots: ``benchmarks/results/defense[-quick]-<modality>.png`` (attack figure against utility per
defense).

Cases (everything offline; sklearn's digits, generated cohorts and graphs, Fashion-MNIST from the
Debian package ``dataset-fashion-mnist`` for the DP-SGD anchor):

* ``digits-mlp`` (image): an MLP on 8x8 digits. Output defenses against a black-box
  training-based inversion (the attacker queries the defended view on 270 public digits, trains
  an inversion model on the released vectors, inverts what the view releases for 300 private
  training images; figure ``leakage = 1 - MSE / MSE(public mean image)``, 0 = no better than the
  no-model guess). Training defenses against MI-Face (white-box; figure: mean squared distance of
  each class's reconstruction to the private class mean, uniform noise as baseline).
* ``fashion-mnist`` (image): DP-SGD through opacus at epsilon 0.5 / 2 / 8 (8 / 0.5 in
  ``--quick``), test accuracy beside opacus' own training loop on the same network, data and
  hyper-parameters (the anchor, run side by side) and two controls: plain SGD, and clipping with
  no noise (at the DP rows' learning rate and a lower one).
* ``cohort-tree`` (tabular): CSMIA (scores) and LOMIA (labels) of mi-tabular on a decision tree.
* ``canary-lm`` (text): the benchmarks' canary LM (``canary_lm.py``: SmolLM2-135M fine-tuned on
  WikiText-2 with planted PII canaries, a real LM whose held-out perplexity stands beside the
  base model's and the uniform guess); perplexity extraction on the model fine-tuned on the raw
  vs the deduplicated documents, counted on distinct secrets beside the base model; prompted
  PII extraction from its generation API with and without the PII filter.
* ``sbm-gcn`` (graph): link inference from a GCN's posteriors (He et al. 2021, attack-0) on a
  stochastic block model, against edge-DP training graphs (EdgeRand, LapGraph), edge flipping /
  rewiring, top-k posteriors and DP-SGD for GNNs.
* ``digits-gan`` (image): mi-vision's built-in case (the GMI protocol at digit scale: digits
  0-4 private, GAN priors on digits 5-9); GMI, KEDMI and PLG-MI (white-box) against negative
  label smoothing, BiDO-HSIC, MID and DP-SGD; the case retrains the target under each defense
  and the target-distilled priors (KEDMI's, PLG-MI's) against it. Figure: evaluation-model top-1
  accuracy of the reconstructions beside unoptimised general-prior samples.
* ``cora-gcn`` (graph, needs ``../shared/data/graphs/cora.npz``): mi-graph's attacks on Cora's
  GCN (GraphMI's setting): GraphMI (white-box) against DP-SGD for GNNs, EdgeRand and LapGraph
  (the GCN retrained and served on the randomised graph, judged against the TRUE edges); link
  stealing attack-0 and LinkTeller against top-1 posteriors and EdgeRand; inverse mapping on
  released embeddings against Laplace feature noise.

``MI_DEFENSE_ONLY=image_gan,graph_cora uv run python benchmarks/run.py defense --quick`` runs
only the named sections and merges their records into the existing results file.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from common import record

HERE = Path(__file__).resolve().parent
SEED = 0
#: seeds of the headline rows: each retrains the target (where that takes seconds) and reruns
#: the attack; ``--quick`` runs the other strengths of a sweep on seed 0 only
SEEDS = (0, 1, 2)
#: metrics whose leakage thresholds are relative (distances), not absolute (mi_core.leakage)
UNIT_INTERVAL = {"centroid_mse": False, "leakage": True}


def _r(v: Any) -> Any:
    return None if v is None else round(float(v), 4)


def _per_seed(v: Any) -> tuple[float | None, float | None, list[float] | None]:
    """``(mean, sd, per-seed values)`` of a per-seed list; ``(v, None, None)`` of a scalar."""
    from mi_core.leakage import seed_stats

    if isinstance(v, list | tuple):
        st = seed_stats(v)
        return st.mean, (st.std if st.n > 1 else None), [_r(x) for x in v]
    return (None if v is None else float(v)), None, None


def _rec(
    case,
    defense,
    strength,
    attack,
    metric,
    value,
    undefended,
    *,
    access,
    higher,
    baseline,
    utility_metric,
    utility,
    utility_undefended,
    seconds,
    modality,
    notes="",
    anchor=None,
    seeds=None,
    on_manifold=None,
    **extra,
):
    """One (defense, strength, attack) record. ``value``, ``undefended``, the baseline's value
    and the utilities are numbers, or lists over ``seeds`` (paired: seed ``s`` of the defended
    and the undefended run share the data, the training seed and the attack seed). With seeds the
    record carries ``spread`` / ``per_seed`` of each and two verdicts of ``mi_core.leakage``:
    ``leakage`` (the defended figure against the attack's no-model baseline: does the defended
    model still leak?) and ``defense_effect`` (the undefended figure against the defended one:
    a change inside the seed spread is "not shown")."""
    from mi_core.errors import MetricError
    from mi_core.leakage import assess_seeds

    v, v_sd, v_ps = _per_seed(value)
    u, u_sd, u_ps = _per_seed(undefended)
    b_name, b_val = (None, None) if baseline is None else baseline
    b, b_sd, b_ps = _per_seed(b_val)
    ut, ut_sd, ut_ps = _per_seed(utility)
    uu, uu_sd, _ = _per_seed(utility_undefended)
    unit = UNIT_INTERVAL.get(metric)
    fields: dict[str, Any] = {}
    if "leakage" not in extra and v is not None:
        try:
            lk, _, _ = assess_seeds(
                v_ps or [v],
                b_ps or (None if b is None else [b]),
                higher_is_better=higher,
                unit_interval=unit,
                on_manifold=on_manifold,
            )
            fields.update(leakage=lk.level, leakage_reason=lk.reason, gap=_r(lk.gap))
        except MetricError as exc:  # a non-finite figure: no verdict, say why
            fields.update(leakage=None, leakage_reason=str(exc))
    if v_ps is not None:
        fields.update(spread=_r(v_sd), per_seed=v_ps, baseline_spread=_r(b_sd))
        fields.update(baseline_per_seed=b_ps)
        fields.update(undefended_spread=_r(u_sd), undefended_per_seed=u_ps)
        if defense != "none" and u_ps is not None and len(u_ps) == len(v_ps):
            eff, _, _ = assess_seeds(u_ps, v_ps, higher_is_better=higher, unit_interval=unit)
            fields["defense_effect"] = {
                "gap": _r(eff.gap),
                "spread": _r(eff.spread),
                "level": eff.level,
                "reason": eff.reason,
            }
    if on_manifold is not None:
        fields["on_manifold"] = on_manifold
    return record(
        case,
        defense,
        metric,
        _r(v),
        access=access,
        higher=higher,
        seconds=seconds,
        baseline=None if baseline is None else (b_name, _r(b)),
        anchor=anchor,
        seed=list(seeds) if seeds is not None else SEED,
        notes=notes,
        attack=attack,
        strength=strength,
        modality=modality,
        undefended=_r(u),
        utility={
            "metric": utility_metric,
            "value": _r(ut),
            "undefended": _r(uu),
            **(
                {"spread": _r(ut_sd), "undefended_spread": _r(uu_sd), "per_seed": ut_ps}
                if ut_ps is not None
                else {}
            ),
        },
        **fields,
        **extra,
    )


def _seeds(quick: bool, headline: bool) -> tuple[int, ...]:
    """Seeds of one sweep point: all of ``SEEDS``, or seed 0 alone for a non-headline point in
    ``--quick``."""
    return SEEDS if headline or not quick else (SEED,)


def _pick(quick: bool, full: Any, short: Any) -> Any:
    """The strengths swept: all of them, or two for ``--quick``."""
    return short if quick else full


def _threads():
    torch.set_num_threads(1)  # small models: one thread is fastest on a shared machine


# ----------------------------------------------------------------------------------- images
def _digits():
    from mi_vision.data import load_digits, train_test_split

    x, y = load_digits()
    (xtr, ytr), (xte, yte) = train_test_split(x, y, 0.3, SEED)
    return xtr, ytr, xte[:270], xte[270:], yte[270:]


def _mlp(hidden=128, seed=SEED):
    from mi_vision.models import MLP

    torch.manual_seed(seed)
    return MLP((1, 8, 8), 10, hidden=hidden, activation="relu")


def _acc(out, y):
    return float((torch.as_tensor(out).argmax(1) == y).float().mean())


def _defense(cls: Any, strength: dict, seed: int) -> Any:
    """``cls(**strength)``, seeded with ``seed`` where the defense draws randomness."""
    import dataclasses

    cfg = getattr(cls, "Config", None)
    names = {f.name for f in dataclasses.fields(cfg)} if dataclasses.is_dataclass(cfg) else set()
    return cls(**strength, **({"seed": seed} if "seed" in names else {}))


def image_output(quick: bool) -> list[dict]:
    """Output defenses of the digits MLP against the black-box training-based inversion. Per
    seed the target MLP is retrained (seconds) and the attack (and any trained defense) reruns
    with that seed; headline points (undefended, label-only, top-1) over ``SEEDS`` always."""
    from mi_core import TargetInfo, make_view
    from mi_defense.inversion import inversion_attack
    from mi_defense.output.adversarial_noise import AdversarialNoise
    from mi_defense.output.dp_exponential import DPExponential
    from mi_defense.output.label_only import LabelOnly
    from mi_defense.output.purifier import Purifier
    from mi_defense.output.purifier_cvae import PurifierCVAE
    from mi_defense.output.rounding import Rounding
    from mi_defense.output.score_noise import GaussianNoise, LaplaceNoise
    from mi_defense.output.topk import TopK
    from mi_defense.training._common import PlainTraining

    xtr, ytr, xaux, xte, yte = _digits()
    info = TargetInfo(
        modality="image", input_shape=(1, 8, 8), num_classes=10, input_range=(0.0, 1.0)
    )
    priv = xtr[:300]
    epochs = 40 if quick else 60
    targets: dict[int, Any] = {}

    def target(seed: int) -> Any:
        if seed not in targets:
            targets[seed] = PlainTraining().fit(
                _mlp(seed=seed), xtr, ytr, epochs=30, seed=seed, progress=False
            )
        return targets[seed]

    def attack(view, seed):
        return inversion_attack(view, xaux, priv, epochs=epochs, seed=seed)

    t0 = time.perf_counter()
    und: dict[int, tuple[float, float]] = {}  # seed -> (leakage, test accuracy)
    und_mse = []
    for s in SEEDS:
        view = make_view(target(s), "black-box-scores", info=info)
        res = attack(view, s)
        und[s] = (res["leakage"], _acc(view(xte), yte))
        und_mse.append(res["mse"])
    common = dict(
        access="black-box-scores",
        higher=True,
        utility_metric="test_accuracy",
        modality="image",
    )

    def rec(name, strength, seeds, figs, secs, mse):
        return _rec(
            "digits-mlp",
            name,
            strength,
            "training-based inversion (black-box)",
            "leakage",
            [f[0] for f in figs],
            [und[s][0] for s in seeds],
            baseline=("public mean image", [0.0] * len(seeds)),
            utility=[f[1] for f in figs],
            utility_undefended=[und[s][1] for s in seeds],
            seconds=secs / len(seeds),
            seeds=seeds,
            mse=_r(float(np.mean(mse))),
            notes=f"mean over seeds {list(seeds)}: each retrains the target MLP and reruns the "
            "attack (and a trained defense) with that seed",
            **common,
        )

    out = [rec("none", {}, SEEDS, [und[s] for s in SEEDS], time.perf_counter() - t0, und_mse)]
    sweeps: list[tuple[str, Any, list[dict]]] = [
        (
            "rounding",
            Rounding,
            [{"step": s} for s in _pick(quick, (0.01, 0.05, 0.1, 0.2, 0.5), (0.05, 0.2))],
        ),
        ("top-k", TopK, [{"k": k} for k in _pick(quick, (5, 3, 2, 1), (3, 1))]),
        ("label-only", LabelOnly, [{"release": "one-hot"}]),
        (
            "gaussian-noise",
            GaussianNoise,
            [{"sigma": s} for s in _pick(quick, (0.02, 0.05, 0.1, 0.2, 0.4), (0.05, 0.2))],
        ),
        (
            "laplace-noise",
            LaplaceNoise,
            [{"epsilon": e} for e in _pick(quick, (100.0, 40.0, 20.0, 10.0, 5.0), (40.0, 10.0))],
        ),
        (
            "dp-exponential",
            DPExponential,
            [{"epsilon": e} for e in _pick(quick, (8.0, 4.0, 2.0, 1.0, 0.5), (4.0, 0.5))],
        ),
        (
            "adversarial-noise",
            AdversarialNoise,
            [{"epsilon": e} for e in _pick(quick, (0.02, 0.05, 0.1, 0.2, 0.4), (0.2,))],
        ),
        (
            "purifier",
            Purifier,
            [{"lambda_inv": v} for v in _pick(quick, (0.0, 0.5, 1.0, 2.0, 4.0), (1.0,))],
        ),
        (
            "purifier-cvae",
            PurifierCVAE,
            [{"lambda_inv": v} for v in _pick(quick, (0.0, 0.5, 1.0, 2.0, 4.0), (1.0,))],
        ),
    ]
    headline = {("label-only", "one-hot"), ("top-k", 1)}
    for name, cls, points in sweeps:
        for strength in points:
            t0 = time.perf_counter()
            seeds = _seeds(quick, (name, next(iter(strength.values()))) in headline)
            figs, mse = [], []
            for s in seeds:
                d = _defense(cls, strength, s)
                if hasattr(d, "fit"):
                    d.fit(target(s), xtr)
                view = d.wrap(make_view(target(s), "black-box-scores", info=info))
                res = attack(view, s)
                figs.append((res["leakage"], _acc(view(xte), yte)))
                mse.append(res["mse"])
            out.append(rec(name, strength, seeds, figs, time.perf_counter() - t0, mse))
            print(
                f"  digits output {name} {strength}: leakage {out[-1]['value']:.3f} "
                f"(sd {out[-1]['spread'] or 0:.3f}, seeds {list(seeds)}) "
                f"acc {out[-1]['utility']['value']:.3f}",
                flush=True,
            )
    return out


def _centroid_mse(rec, x, y):
    cent = torch.stack([x[y == c].mean(0) for c in range(rec.shape[0])])
    return float(((rec - cent) ** 2).flatten(1).mean(1).mean())


def image_training(quick: bool) -> list[dict]:
    """Training defenses of a digits MLP against MI-Face (white-box). Per seed the MLP is
    retrained under the defense (seconds) and MI-Face reruns with that seed; headline points
    over ``SEEDS`` always, the rest of a ``--quick`` sweep on seed 0."""
    from sklearn.linear_model import LogisticRegression

    from mi_core import Knowledge, TargetInfo, make_view
    from mi_defense.training._common import PlainTraining
    from mi_defense.training.bido import BiDO
    from mi_defense.training.dp_sgd import DPSGD
    from mi_defense.training.label_smoothing import NegativeLabelSmoothing
    from mi_defense.training.mid import MID
    from mi_vision.attacks.mi_face import MIFace

    xtr, ytr, _, xte, yte = _digits()
    info = TargetInfo(
        modality="image", input_shape=(1, 8, 8), num_classes=10, input_range=(0.0, 1.0)
    )
    judge = LogisticRegression(max_iter=3000).fit(xtr.flatten(1).numpy(), ytr.numpy())
    steps = 300 if quick else 1000

    def noise(seed: int) -> float:
        g = torch.Generator().manual_seed(seed)
        return _centroid_mse(torch.rand((10, 1, 8, 8), generator=g), xtr, ytr)

    def evaluate(model, seed):
        res = MIFace(max_iter=steps, gamma=0.0, progress=False).run(
            make_view(model, "white-box", info=info),
            Knowledge(target_labels=list(range(10))),
            seed=seed,
        )
        rec = res.reconstructions
        judged = float((judge.predict(rec.flatten(1).numpy()) == np.arange(10)).mean())
        return _centroid_mse(rec, xtr, ytr), judged

    def train(d, lr, seed):
        return d.fit(
            _mlp(hidden=64, seed=seed), xtr, ytr, epochs=20, lr=lr, seed=seed, progress=False
        )

    t0 = time.perf_counter()
    und: dict[int, tuple[float, float, float]] = {}  # seed -> (mse, judge top-1, accuracy)
    for s in SEEDS:
        plain = train(PlainTraining(), 1e-3, s)
        und[s] = (*evaluate(plain, s), _acc(plain(xte), yte))

    def rec(name, strength, seeds, figs, secs, **extra):
        return _rec(
            "digits-mlp",
            name,
            strength,
            "mi-face",
            "centroid_mse",
            [f[0] for f in figs],
            [und[s][0] for s in seeds],
            access="white-box",
            higher=False,
            baseline=("uniform noise", [noise(s) for s in seeds]),
            utility_metric="test_accuracy",
            utility=[f[2] for f in figs],
            utility_undefended=[und[s][2] for s in seeds],
            seconds=secs / len(seeds),
            modality="image",
            seeds=seeds,
            judge_top1=_r(float(np.mean([f[1] for f in figs]))),
            notes=f"mean over seeds {list(seeds)}: each retrains the MLP under the defense and "
            "reruns MI-Face with that seed",
            **extra,
        )

    out = [rec("none", {}, SEEDS, [und[s] for s in SEEDS], time.perf_counter() - t0)]
    sweeps: list[tuple[str, Any, list[dict], float]] = [
        (
            "negative-label-smoothing",
            NegativeLabelSmoothing,
            [{"alpha": a} for a in _pick(quick, (0.2, 0.1, -0.05, -0.1, -0.2, -0.3), (0.1, -0.2))],
            1e-3,
        ),
        (
            "mid",
            MID,
            [{"beta": b} for b in _pick(quick, (0.001, 0.01, 0.1, 0.3, 1.0), (0.01, 0.1))],
            1e-3,
        ),
        (
            "bido",
            BiDO,
            [
                {"lambda_x": a, "lambda_y": 10 * a}
                for a in _pick(quick, (0.05, 0.5, 1.0, 2.0, 4.0), (0.5, 2.0))
            ],
            1e-3,
        ),
        (
            "bido-coco",
            BiDO,
            [
                {"lambda_x": a, "lambda_y": 10 * a, "measure": "coco"}
                for a in _pick(quick, (0.05, 0.5, 2.0), (2.0,))
            ],
            1e-3,
        ),
        (
            "dp-sgd",
            DPSGD,
            [{"epsilon": e} for e in _pick(quick, (8.0, 4.0, 2.0, 1.0, 0.5), (8.0, 1.0))],
            5e-3,
        ),
    ]
    headline = {
        ("negative-label-smoothing", -0.2),
        ("mid", 0.1),
        ("bido", 0.5),
        ("dp-sgd", 1.0),
    }
    for name, cls, points, lr in sweeps:
        for strength in points:
            t0 = time.perf_counter()
            seeds = _seeds(quick, (name, next(iter(strength.values()))) in headline)
            figs, eps = [], []
            for s in seeds:
                d = cls(**strength)
                model = train(d, lr, s)
                figs.append((*evaluate(model, s), _acc(model(xte), yte)))
                if name == "dp-sgd":
                    eps.append(d.epsilon())
            extra = {"epsilon_spent": _r(max(eps))} if eps else {}
            out.append(rec(name, strength, seeds, figs, time.perf_counter() - t0, **extra))
            r = out[-1]
            print(
                f"  digits training {name} {strength}: mse {r['value']:.4f} (sd "
                f"{r['spread'] or 0:.4f}, seeds {list(seeds)}) acc {r['utility']['value']:.3f}",
                flush=True,
            )
    out += tl_dmi(quick)
    return out


#: the GAN attacks of :func:`image_gan` and their configs
GAN_CELLS = {
    "gmi": {"steps": 200, "samples_per_class": 8},
    "kedmi": {"steps": 200, "samples_per_class": 8},
    "plg-mi": {"steps": 200, "samples_per_class": 8},
}


def image_gan(quick: bool, control_only: bool = False) -> list[dict]:
    """GAN-based white-box attacks (GMI, KEDMI, PLG-MI) on mi-vision's ``digits-gan`` case (the
    GMI protocol at digit scale) against training defenses: the case retrains the target under
    each defense (``with_defense``: retrained by the current code, never read from a cache) and
    retrains the priors that distil the target (KEDMI's, PLG-MI's); the public GMI prior and the
    evaluation model are shared. Figures: the evaluation model's top-1 accuracy on the
    reconstructions and the leak rate (recognised AND on the image manifold, mi_vision.evaluate),
    each beside the attack's own unoptimised prior samples (the general prior's samples in
    ``general_baseline``); utility: the target's test accuracy. Mean and spread over three
    attack seeds on one retrained target per strength (retraining the target and its GAN priors
    takes minutes, not seconds).

    Control (``plain-retrain``): the same retraining path without a defense (plain
    cross-entropy, training seeds 0 and 1; the priors distilled from it retrained too), i.e. how
    far the figures move from retraining alone; a defense's effect is only the part beyond it."""
    import tempfile

    from mi_core import make_view
    from mi_core.registry import get_attack
    from mi_defense.training._common import PlainTraining
    from mi_defense.training.bido import BiDO
    from mi_defense.training.dp_sgd import DPSGD
    from mi_defense.training.label_smoothing import NegativeLabelSmoothing
    from mi_defense.training.mid import MID
    from mi_vision.cases import DigitsGANCase

    seeds = SEEDS
    metrics = ("eval_top1", "leak_rate")
    cells = GAN_CELLS
    work = Path(tempfile.mkdtemp(prefix="mi-defense-gan-"))

    def attack_all(case) -> dict[str, dict[str, Any]]:
        """Per attack: per metric the per-seed values, own-prior and general-prior baselines,
        the manifold flags, and the attack's seconds."""
        out = {}
        for name, cfg in cells.items():
            t0 = time.perf_counter()
            per: dict[str, dict[str, list]] = {
                m: {"value": [], "own": [], "general": [], "on": [], "name": []} for m in metrics
            }
            for s in seeds:
                view = make_view(case.target(), "white-box", info=case.target_info())
                res = get_attack(name)({**cfg, "progress": False}).run(
                    view, case.knowledge(view.access), seed=s
                )
                figs = {x.metric: x for x in case.evaluate(res)}
                for m in metrics:
                    f = figs.get(m)
                    if f is None:  # e.g. no leak rate without own prior samples
                        continue
                    per[m]["value"].append(f.value)
                    per[m]["own"].append(f.baseline)
                    per[m]["name"].append(f.baseline_name)
                    per[m]["general"].append((f.details.get("general") or {}).get("value"))
                    per[m]["on"].append(f.on_manifold)
            out[name] = {"per": per, "seconds": (time.perf_counter() - t0) / len(seeds)}
        return out

    t0 = time.perf_counter()
    case = DigitsGANCase()
    case.prepare(work / "none", SEED)
    prep = time.perf_counter() - t0
    und = attack_all(case)
    und_acc = case.utility()["test_accuracy"]
    out: list[dict] = []

    def emit(defense, strength, figs, acc, extra_secs, **extra):
        from mi_core.leakage import seed_stats

        for name, fig in figs.items():
            for m in metrics:
                p, u = fig["per"][m], und[name]["per"][m]
                if len(p["value"]) != len(seeds) or len(u["value"]) != len(seeds):
                    continue
                on = [x for x in p["on"] if x is not None]
                manifold = None if not on else all(on)
                general = [x for x in p["general"] if x is not None]
                gs = seed_stats(general) if general else None
                out.append(
                    _rec(
                        "digits-gan",
                        defense,
                        strength,
                        name,
                        m,
                        p["value"],
                        u["value"],
                        access="white-box",
                        higher=True,
                        baseline=(p["name"][0] or "own prior samples", p["own"]),
                        utility_metric="test_accuracy",
                        utility=acc,
                        utility_undefended=und_acc,
                        seconds=fig["seconds"] + extra_secs,
                        modality="image",
                        seeds=seeds,
                        on_manifold=manifold,
                        general_baseline=None
                        if gs is None
                        else {
                            "name": "general prior samples",
                            "value": _r(gs.mean),
                            "spread": _r(gs.std),
                        },
                        notes=f"mean over attack seeds {list(seeds)} on one target retrained "
                        f"under the defense; {cells[name]}; digits 0-4 private (small CNN "
                        "target), GAN priors on digits 5-9; KEDMI / PLG-MI priors retrained "
                        "against the defended target; baseline: the attack's own unoptimised "
                        "prior samples",
                        **extra,
                    )
                )
        text = " ".join(
            f"{k} {np.mean(v['per']['eval_top1']['value']):.3f}"
            f"/{np.mean(v['per']['leak_rate']['value']):.3f}"
            for k, v in figs.items()
        )
        print(f"  digits-gan {defense} {strength}: top1/leak {text} acc {acc:.3f}", flush=True)

    emit("none", {}, und, und_acc, prep / len(seeds))
    sweeps: list[tuple[str, Any, list[dict]]] = [
        (
            "negative-label-smoothing",
            NegativeLabelSmoothing,
            [
                {"alpha": a}
                for a in _pick(quick, (0.2, 0.1, -0.05, -0.1, -0.2), (0.1, -0.05, -0.1, -0.2))
            ],
        ),
        (
            "bido",
            BiDO,
            [
                {"lambda_x": a, "lambda_y": 10 * a}
                for a in _pick(quick, (0.5, 2.0, 4.0), (0.5, 2.0))
            ],
        ),
        ("mid", MID, [{"beta": b} for b in _pick(quick, (0.01, 0.1, 0.3), (0.01, 0.1))]),
        (
            "dp-sgd",
            DPSGD,
            [{"epsilon": e, "fix_module": True} for e in _pick(quick, (8.0, 1.0), (8.0,))],
        ),
    ]
    control = ("plain-retrain", PlainTraining, [{"seed": 0}, {"seed": 1}])
    sweeps = [control] if control_only else [control, *sweeps]
    for name, cls, points in sweeps:
        for i, strength in enumerate(points):
            t0 = time.perf_counter()
            if cls is PlainTraining:
                d, seed = cls(), strength["seed"]
            else:
                d, seed = cls(**strength), SEED
            dcase = case.with_defense(d, work / f"{name}-{i}", seed)
            retrain = time.perf_counter() - t0
            extra = {"epsilon_spent": _r(d.epsilon())} if name == "dp-sgd" else {}
            shown = {k: v for k, v in strength.items() if k != "fix_module"}
            emit(
                name,
                shown,
                attack_all(dcase),
                dcase.utility()["test_accuracy"],
                retrain / len(seeds),
                retrain_seconds=_r(retrain),
                **extra,
            )
    return out


def image_gan_control(quick: bool) -> list[dict]:
    """Only the retraining control of :func:`image_gan` (``MI_DEFENSE_ONLY``)."""
    return [r for r in image_gan(quick, control_only=True) if r["method"] != "none"]


def tl_dmi(quick: bool) -> list[dict]:
    """TL-DMI: public digits 0-4 pre-train a 4-layer MLP, private digits 5-9 fine-tune it. Seeds
    as in :func:`image_training` (no headline point: ``--quick`` runs seed 0 only)."""
    from torch import nn

    from mi_core import Knowledge, TargetInfo, make_view
    from mi_defense.training._common import PlainTraining
    from mi_defense.training.tl_dmi import TLDMI
    from mi_vision.attacks.mi_face import MIFace

    xtr, ytr, _, xte, yte = _digits()
    pub, pri = ytr < 5, ytr >= 5
    xq, yq = xtr[pri], ytr[pri] - 5
    xt, yt = xte[yte >= 5], yte[yte >= 5] - 5
    info = TargetInfo(
        modality="image", input_shape=(1, 8, 8), num_classes=5, input_range=(0.0, 1.0)
    )
    seeds = _seeds(quick, False)

    def mlp(seed):
        torch.manual_seed(seed)
        return nn.Sequential(
            nn.Flatten(),
            nn.Linear(64, 128),
            nn.ReLU(),
            nn.Linear(128, 128),
            nn.ReLU(),
            nn.Linear(128, 64),
            nn.ReLU(),
            nn.Linear(64, 5),
        )

    def evaluate(m, seed):
        res = MIFace(max_iter=300 if quick else 1000, gamma=0.0, progress=False).run(
            make_view(m, "white-box", info=info), Knowledge(target_labels=list(range(5))), seed=seed
        )
        return _centroid_mse(res.reconstructions, xq, yq)

    def noise(seed):
        g = torch.Generator().manual_seed(seed)
        return _centroid_mse(torch.rand((5, 1, 8, 8), generator=g), xq, yq)

    t0 = time.perf_counter()
    und = {}
    for s in seeds:
        scratch = PlainTraining().fit(mlp(s), xq, yq, epochs=20, seed=s, progress=False)
        und[s] = (evaluate(scratch, s), _acc(scratch(xt), yt))

    def rec(strength, figs, secs, **extra):
        return _rec(
            "digits-5-9",
            "tl-dmi" if strength else "none",
            strength,
            "mi-face",
            "centroid_mse",
            [f[0] for f in figs],
            [und[s][0] for s in seeds],
            access="white-box",
            higher=False,
            baseline=("uniform noise", [noise(s) for s in seeds]),
            utility_metric="test_accuracy",
            utility=[f[1] for f in figs],
            utility_undefended=[und[s][1] for s in seeds],
            seconds=secs / len(seeds),
            modality="image",
            seeds=seeds,
            notes=f"public digits 0-4 pre-train; private 5-9 fine-tune; seeds {list(seeds)}",
            **extra,
        )

    out = [rec({}, [und[s] for s in seeds], time.perf_counter() - t0)]
    for strength in _pick(
        quick,
        [{"freeze": 0}, {"freeze": 1}, {"fisher_share": 0.5}, {"freeze": 3}],
        [{"freeze": 0}, {"fisher_share": 0.5}],
    ):
        t0 = time.perf_counter()
        figs, frozen = [], []
        for s in seeds:
            d = TLDMI(**strength)
            m = d.fit(
                mlp(s),
                xq,
                yq,
                x_public=xtr[pub],
                y_public=ytr[pub],
                epochs=20,
                seed=s,
                progress=False,
            )
            figs.append((evaluate(m, s), _acc(m(xt), yt)))
            frozen.append(d.frozen)
        out.append(rec(strength, figs, time.perf_counter() - t0, frozen=frozen[0]))
        r = out[-1]
        print(
            f"  tl-dmi {strength}: mse {r['value']:.4f} acc {r['utility']['value']:.3f} "
            f"frozen {frozen[0]}",
            flush=True,
        )
    return out


#: learning rate of the DP-SGD rows on Fashion-MNIST (SGD, momentum 0.9). At 0.1 (the earlier
#: setting) per-sample clipping alone held accuracy at ~0.72 whatever the noise: the clipped
#: steps were too short for 3-6 epochs; at 0.5 clipping without noise matches plain SGD
DP_LR = 0.5
#: the earlier learning rate, kept as a clipping-only control
DP_LR_LOW = 0.1


def dp_anchor(quick: bool) -> list[dict]:
    """DP-SGD (mi-defense's ``DPSGD``) on Fashion-MNIST with opacus' own training loop run side
    by side as the anchor (``opacus.PrivacyEngine.make_private_with_epsilon`` on the same
    network, data, epochs and hyper-parameters; its accuracy and seconds fill ``anchor``), and
    controls that say what bounds the accuracy: the same SGD without clipping or noise, and
    DP-SGD's per-sample clipping with no noise (``noise_multiplier=0``) at the DP rows' learning
    rate and at the earlier, lower one. One training seed (each run takes about a minute);
    ``--quick`` trains on 10,000 images for 3 epochs at epsilon 8 and 0.5."""
    import torch.nn.functional as F
    from torch import nn

    from mi_defense.training._common import PlainTraining, tensor_loader
    from mi_defense.training.dp_sgd import DPSGD
    from mi_vision.data import load_fashion_mnist

    root = Path("/usr/share/datasets/fashion-mnist")
    if not root.exists():
        print(f"[skip] {root} is missing: apt-get install dataset-fashion-mnist")
        return []
    x, y = load_fashion_mnist(root, "train")
    xt, yt = load_fashion_mnist(root, "test")
    n = 10_000 if quick else 30_000
    x, y = x[:n], y[:n]
    epochs = 3 if quick else 6
    batch, lr, clip = 256, DP_LR, 1.0
    delta = 1.0 / (10 * n)  # DPSGD's default
    epsilons = (8.0, 0.5) if quick else (8.0, 2.0, 0.5)
    setup = (
        f"{n} training images, {epochs} epochs, batch {batch} (Poisson sampling under DP), "
        f"SGD momentum 0.9 at lr {lr} unless the row says otherwise, clipping C = {clip}, "
        f"delta {delta:.0e}; one training seed"
    )

    def cnn():
        torch.manual_seed(SEED)
        return nn.Sequential(
            nn.Conv2d(1, 16, 8, 2, padding=3),
            nn.Tanh(),
            nn.MaxPool2d(2, 1),
            nn.Conv2d(16, 32, 4, 2),
            nn.Tanh(),
            nn.MaxPool2d(2, 1),
            nn.Flatten(),
            nn.Linear(32 * 4 * 4, 32),
            nn.Tanh(),
            nn.Linear(32, 10),
        )  # opacus' MNIST example network

    def acc(m):
        with torch.no_grad():
            return float(
                sum(
                    (m(xt[i : i + 1000]).argmax(1) == yt[i : i + 1000]).sum()
                    for i in range(0, len(xt), 1000)
                )
                / len(xt)
            )

    def sigma(engine) -> float | None:
        hist = getattr(engine.accountant, "history", None)
        return _r(hist[0][0]) if hist else None

    def opacus_loop(eps: float) -> tuple[float, float, float | None, float]:
        """opacus' own loop (its README / MNIST example): PrivacyEngine on a plain SGD loop."""
        from opacus import PrivacyEngine

        t0 = time.perf_counter()
        torch.manual_seed(SEED)
        model = cnn()
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        loader = tensor_loader(x, y, batch, SEED)
        engine = PrivacyEngine(accountant="rdp")
        model, opt, loader = engine.make_private_with_epsilon(
            module=model,
            optimizer=opt,
            data_loader=loader,
            target_epsilon=eps,
            target_delta=delta,
            epochs=epochs,
            max_grad_norm=clip,
        )
        model.train()
        for _ in range(epochs):
            for xb, yb in loader:
                if xb.shape[0] == 0:
                    continue
                opt.zero_grad()
                F.cross_entropy(model(xb), yb).backward()
                opt.step()
        model.eval()
        spent = float(engine.get_epsilon(delta))
        return acc(model), spent, sigma(engine), time.perf_counter() - t0

    torch.set_num_threads(2)
    t0 = time.perf_counter()
    plain = PlainTraining().fit(
        cnn(), x, y, epochs=epochs, lr=1e-3, batch_size=batch, progress=False
    )
    und = acc(plain)
    und_s = time.perf_counter() - t0
    common = dict(
        access=None,
        higher=True,
        baseline=None,
        utility_metric="test_accuracy",
        utility_undefended=und,
        modality="image",
    )

    def rec(defense, strength, a, secs, notes, **extra):
        return _rec(
            "fashion-mnist",
            defense,
            strength,
            "-",
            "test_accuracy",
            a,
            und,
            utility=a,
            seconds=secs,
            notes=notes,
            **common,
            **extra,
        )

    out = [rec("none", {}, und, und_s, f"non-private Adam lr 1e-3; {setup}")]
    # control 1: the DP rows' optimiser without clipping or noise
    t0 = time.perf_counter()
    sgd = PlainTraining().fit(
        cnn(), x, y, epochs=epochs, lr=lr, batch_size=batch, optimizer="sgd", progress=False
    )
    a = acc(sgd)
    out.append(
        rec(
            "control: sgd",
            {"clip": None, "noise_multiplier": 0.0, "lr": lr},
            a,
            time.perf_counter() - t0,
            f"control, not a defense: the DP rows' SGD without clipping or noise; {setup}",
        )
    )
    print(f"  fashion control sgd: acc {a:.3f} (Adam {und:.3f})", flush=True)
    # control 2: per-sample clipping with no noise (opacus with noise multiplier 0), at the DP
    # rows' learning rate and at the lower one
    for clip_lr in (lr, DP_LR_LOW):
        t0 = time.perf_counter()
        d = DPSGD(epsilon=None, noise_multiplier=0.0, max_grad_norm=clip)
        m = d.fit(
            cnn(),
            x,
            y,
            epochs=epochs,
            lr=clip_lr,
            batch_size=batch,
            optimizer="sgd",
            progress=False,
        )
        a = acc(m)
        out.append(
            rec(
                "control: clipping only",
                {"clip": clip, "noise_multiplier": 0.0, "lr": clip_lr},
                a,
                time.perf_counter() - t0,
                "control, not a defense: DP-SGD's per-sample clipping and Poisson sampling with "
                f"no noise (no privacy) at lr {clip_lr}; {setup}",
            )
        )
        print(f"  fashion control clipping only, lr {clip_lr}: acc {a:.3f}", flush=True)
    for eps in epsilons:
        t0 = time.perf_counter()
        d = DPSGD(epsilon=eps, max_grad_norm=clip)
        m = d.fit(
            cnn(), x, y, epochs=epochs, lr=lr, batch_size=batch, optimizer="sgd", progress=False
        )
        a, secs = acc(m), time.perf_counter() - t0
        o_acc, o_eps, o_sigma, o_secs = opacus_loop(eps)
        out.append(
            rec(
                "dp-sgd",
                {"epsilon": eps},
                a,
                secs,
                f"mi-defense DPSGD.fit; {setup}",
                lr=lr,
                epsilon_spent=_r(d.epsilon()),
                noise_multiplier=sigma(d.engine),
                anchor={
                    "name": "opacus' own loop (PrivacyEngine.make_private_with_epsilon), same "
                    "network, data, epochs and hyper-parameters",
                    "value": _r(o_acc),
                    "seconds": _r(o_secs),
                    "epsilon_spent": _r(o_eps),
                    "noise_multiplier": o_sigma,
                },
            )
        )
        print(
            f"  dp-sgd fashion eps {eps}: acc {a:.3f} (opacus loop {o_acc:.3f}; clipping only "
            f"{out[2]['value']:.3f}, sgd {out[1]['value']:.3f}, non-private {und:.3f})",
            flush=True,
        )
    _threads()
    return out


# ----------------------------------------------------------------------------------- tabular
def tabular(quick: bool) -> list[dict]:
    """Output defenses of the cohort tree against CSMIA (scores) and LOMIA (labels). Every
    point over ``SEEDS``: each seed draws the cohort, re-splits it, retrains the tree (a
    second), rebuilds the no-model baseline and reruns the attacks and the defense's noise."""
    from mi_core import make_view
    from mi_defense.output.dp_exponential import DPExponential
    from mi_defense.output.label_only import LabelOnly
    from mi_defense.output.rounding import Rounding
    from mi_defense.output.score_noise import GaussianNoise
    from mi_defense.output.topk import TopK
    from mi_tabular import AttributeEvaluator, make_cohort, split_for_attack
    from mi_tabular.attacks.csmia import CSMIA
    from mi_tabular.attacks.lomia import LOMIA
    from mi_tabular.cases import cohort_tree

    attacks = {
        "csmia": (CSMIA, "black-box-scores", "auc"),
        "lomia": (LOMIA, "label-only", "accuracy"),
    }
    seeds = SEEDS

    def setup(seed: int) -> dict[str, Any]:
        ds = make_cohort(6000, seed)
        sp = split_for_attack(
            ds.frame, train=0.5, auxiliary=400, attacked_in=500, attacked_out=500, seed=seed
        )
        tree = cohort_tree(ds.features, seed, min_samples_leaf=10).fit(
            sp.train[ds.features], sp.train[ds.label]
        )
        ak = ds.knowledge(sp.attacked, sp.auxiliary)
        ev = AttributeEvaluator.build(
            ak,
            sp.attacked[ds.sensitive],
            member=sp.member,
            private=sp.train,
            label_column=ds.label,
            seed=seed,
        )
        xh, yh = sp.holdout[ds.features], sp.holdout[ds.label].to_numpy()
        return {"tree": tree, "ak": ak, "ev": ev, "xh": xh, "yh": yh, "base": None}

    cases = {s: setup(s) for s in seeds}

    def utility(c, view):
        out = np.asarray(view(c["xh"]))
        pred = c["tree"].classes_[out.argmax(1)] if out.ndim == 2 else out
        return float((pred == c["yh"]).mean())

    def measure(wrap, seed):
        """Per attack ``(figure, no-model baseline, baseline name)`` and the utility."""
        c = cases[seed]
        view = make_view(c["tree"], "black-box-scores")
        if wrap is not None:
            view = wrap(view)
        figs = {}
        for attack, (cls, access, metric) in attacks.items():
            v = view if access == "black-box-scores" else view.restrict("label-only")
            res = cls(progress=False).run(v, c["ak"].to_knowledge(), seed=seed)
            f = {x.metric: x for x in c["ev"].evaluate(res)}[metric]
            figs[attack] = (f.value, f.baseline, f.baseline_name or "no-model")
        return figs, utility(c, view)

    t0 = time.perf_counter()
    und = {s: measure(None, s) for s in seeds}
    secs0 = (time.perf_counter() - t0) / len(seeds)
    out = []

    def emit(name, strength, runs, secs):
        for attack, (_, access, metric) in attacks.items():
            out.append(
                _rec(
                    "cohort-tree",
                    name,
                    strength,
                    attack,
                    metric,
                    [runs[s][0][attack][0] for s in seeds],
                    [und[s][0][attack][0] for s in seeds],
                    access=access,
                    higher=True,
                    baseline=(und[0][0][attack][2], [und[s][0][attack][1] for s in seeds]),
                    utility_metric="test_accuracy",
                    utility=[runs[s][1] for s in seeds],
                    utility_undefended=[und[s][1] for s in seeds],
                    seconds=secs,
                    modality="tabular",
                    seeds=seeds,
                    notes=f"mean over seeds {list(seeds)}: each draws the cohort, re-splits it, "
                    "retrains the tree and reruns the attacks (and the defense's noise)",
                )
            )

    emit("none", {}, und, secs0)
    sweeps = [
        ("label-only", LabelOnly, [{"release": "one-hot"}]),
        ("top-k", TopK, [{"k": 1}]),
        ("rounding", Rounding, [{"step": s} for s in (0.05, 0.1, 0.25, 0.5)]),
        ("gaussian-noise", GaussianNoise, [{"sigma": s} for s in (0.05, 0.1, 0.2, 0.4)]),
        (
            "gaussian-noise+label",
            GaussianNoise,
            [{"sigma": s, "keep_label": True} for s in (0.1, 0.2, 0.4)],
        ),
        ("dp-exponential", DPExponential, [{"epsilon": e} for e in (8.0, 2.0, 0.5)]),
    ]
    for name, cls, points in sweeps:
        for strength in points:
            t0 = time.perf_counter()
            runs = {s: measure(_defense(cls, strength, s).wrap, s) for s in seeds}
            emit(name.split("+")[0], strength, runs, (time.perf_counter() - t0) / len(seeds))
            print(
                f"  cohort {name} {strength}: csmia {out[-2]['value']} lomia {out[-1]['value']}"
                f" acc {out[-1]['utility']['value']:.3f}",
                flush=True,
            )
    return out


# -------------------------------------------------------------------------------------- text
#: sizes of the text section (the canary LM's own sizes live in canary_lm.SIZES)
TEXT_SIZES = {
    True: {"samples": 32, "gen_tokens": 28, "top_n": 10, "ref_samples": 32, "candidates": 20},
    False: {"samples": 200, "gen_tokens": 32, "top_n": 20, "ref_samples": 100, "candidates": 50},
}


def text(quick: bool) -> list[dict]:
    """The canary LM of ``canary_lm.py`` (a real LM: SmolLM2 fine-tuned on WikiText-2 with
    planted canaries) fine-tuned on the raw vs the deduplicated documents; perplexity-metric
    extraction against each, judged on distinct secrets beside the base model (which never saw
    the canaries); utility = held-out perplexity (beside the base model's and the uniform
    guess). Then prompted PII extraction from its generation API with and without the PII
    filter; utility = public answers unchanged."""
    import canary_lm
    from common import shared_file

    from mi_core import Knowledge, make_view
    from mi_core.views import TargetInfo
    from mi_defense.data.dedup import Deduplication
    from mi_defense.filtering.pii import PIIFilter
    from mi_text.attacks.perplexity_extraction import PerplexityExtraction
    from mi_text.extraction_eval import ExtractionEvaluator
    from mi_text.metrics import contains_secret

    _threads()
    wiki = shared_file("text/wikitext-2/valid.txt")
    if wiki is None or shared_file("text/wikitext-2/test.txt") is None:
        return []
    sz = TEXT_SIZES[quick]
    case = "canary-lm (SmolLM2, WikiText-2)"
    t0 = time.perf_counter()
    raw = canary_lm.build(quick, wiki.parent)
    raw_secs = time.perf_counter() - t0
    t0 = time.perf_counter()
    ded = canary_lm.build(quick, wiki.parent, base=raw.base, defense=Deduplication())
    dedup_secs = time.perf_counter() - t0
    reps = sorted({c.repetitions for c in raw.canaries})
    ev = ExtractionEvaluator(
        raw.tuned,
        raw.canaries,
        reference=raw.base,
        reference_name="SmolLM2 base (canaries unseen)",
        top_n=sz["top_n"],
        seed=SEED,
        samples=sz["ref_samples"],
        sample_tokens=sz["gen_tokens"],
        exposure_candidates=sz["candidates"],
        groups={f"x{r}": [c.secret for c in raw.canaries if c.repetitions == r] for r in reps},
        random_generation=False,
        per_canary=False,
    ).prepare()
    n = sz["top_n"]
    keep = [f"secret_recall@{n}", f"extraction_precision@{n}", "canaries_in_output"]
    keep += [f"secret_recall@{n} x{r}" for r in reps if r > 1]
    keep += ["mean_exposure_bits", "mean_exposure_normal_bits"]
    results = {}
    for name, lm, build_secs in (("none", raw, raw_secs), ("dedup", ded, dedup_secs)):
        t0 = time.perf_counter()
        e = ev if lm is raw else ev.with_target(lm.tuned)
        res = PerplexityExtraction(
            n_samples=sz["samples"],
            max_new_tokens=sz["gen_tokens"],
            ranking="reference",
            progress=False,
        ).run(
            make_view(lm.tuned, "black-box-scores", postprocess=None),
            Knowledge(prior=raw.base),
            seed=SEED,
        )
        figs = {f.metric: f for f in e.figures(res.reconstructions)}
        results[name] = (lm, figs, time.perf_counter() - t0 + build_secs)
        print(f"  canary-lm {name}: {lm.note()}", flush=True)
    und = results["none"][1]
    out = []
    for name, (lm, figs, secs) in results.items():
        for metric in keep:
            f = figs[metric]
            out.append(
                _rec(
                    case,
                    name,
                    {},
                    "perplexity-extraction (reference ratio)",
                    metric,
                    f.value,
                    und[metric].value,
                    access="black-box-scores",
                    higher=True,
                    baseline=(f.baseline_name, f.baseline),
                    utility_metric="heldout_perplexity",
                    utility=lm.perplexity["tuned"],
                    utility_undefended=raw.perplexity["tuned"],
                    seconds=secs,
                    modality="text",
                    notes=lm.note(),
                    documents=len(lm.docs),
                    base_perplexity=lm.perplexity["base"],
                    uniform_perplexity=lm.perplexity["uniform"],
                    baseline_uses_target=False,
                    details={k: v for k, v in f.details.items() if k != "per_canary"},
                )
            )
    # prompted PII extraction from a generation API (Huang et al. 2022): the attacker prompts
    # with the text before each canary's secret and reads the greedy continuation
    lm = raw.tuned
    public_prompts = [" ".join(t.split()[:6]) for t in raw.heldout[:20]]

    def generate(prompts: list[str]) -> list[str]:
        outs = []
        for p in prompts:
            ids = lm.encode(p)
            new: list[int] = []
            with torch.no_grad():
                for _ in range(16):
                    nxt = int(lm([ids + new])["next_logprobs"][0].argmax())
                    if nxt == lm.eos_id:
                        break
                    new.append(nxt)
            outs.append(lm.decode(new))
        return outs

    prompts = [c.prefix.strip() for c in raw.canaries]
    t0 = time.perf_counter()
    raw_out = generate(prompts)
    raw_public = generate(public_prompts)
    gen_secs = time.perf_counter() - t0

    def recovered(texts):
        return float(np.mean([contains_secret(t, c.secret) for t, c in zip(texts, raw.canaries)]))

    und_rec = recovered(raw_out)
    guess = ("random guess of the canary format", 0.0)
    ppl = {"base_perplexity": raw.perplexity["base"], "heldout_perplexity": raw.perplexity["tuned"]}
    out.append(
        _rec(
            case,
            "none",
            {},
            "prompted extraction (generation API)",
            "secrets_recovered",
            und_rec,
            und_rec,
            access="black-box-scores",
            higher=True,
            baseline=guess,
            utility_metric="answers_unchanged",
            utility=1.0,
            utility_undefended=1.0,
            seconds=gen_secs,
            modality="text",
            notes=raw.note(),
            **ppl,
        )
    )
    for strength in ({"action": "mask"}, {"action": "refuse"}):
        t0 = time.perf_counter()
        f = PIIFilter(**strength)
        view = f.wrap(
            make_view(
                lambda ps: raw_out if ps == prompts else raw_public,
                "black-box-scores",
                info=TargetInfo(modality="text"),
            )
        )
        filtered, filtered_public = view(prompts), view(public_prompts)
        unchanged = float(np.mean([a == b for a, b in zip(filtered_public, raw_public)]))
        detected = [d["type"] for t in raw_out for d in f.detect(t)]
        out.append(
            _rec(
                case,
                "pii-filter",
                strength,
                "prompted extraction (generation API)",
                "secrets_recovered",
                recovered(filtered),
                und_rec,
                access="black-box-scores",
                higher=True,
                baseline=guess,
                utility_metric="answers_unchanged",
                utility=unchanged,
                utility_undefended=1.0,
                seconds=time.perf_counter() - t0,
                modality="text",
                detected=sorted(set(detected)),
                secrets_in_raw=int(
                    sum(contains_secret(t, c.secret) for t, c in zip(raw_out, raw.canaries))
                ),
                notes="an output filter leaves the model's perplexity unchanged; " + raw.note(),
                **ppl,
            )
        )
        print(
            f"  pii-filter {strength}: recovered {recovered(filtered):.2f} (raw {und_rec:.2f}), "
            f"public answers unchanged {unchanged:.2f}",
            flush=True,
        )
    return out


# ------------------------------------------------------------------------------------- graphs
def graph(quick: bool) -> list[dict]:
    sys.path.insert(0, str(HERE.parent / "tests" / "defense"))
    from graph_helpers import DenseGCN, link_auc, sbm, train_gcn

    from mi_core import TargetInfo, make_view
    from mi_defense.data.edge_rand import EdgeRand, LapGraph
    from mi_defense.data.edge_rewiring import EdgeFlip, EdgeRewire
    from mi_defense.output.graph_topk import GraphTopK
    from mi_defense.training.dp_gnn import DPGNN

    x, ei, y, adj = sbm(blocks=4, size=100 if not quick else 50, seed=SEED)
    n = x.shape[0]
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(SEED))
    tr, te, nodes = perm[: n // 5], perm[n // 2 :], perm[: int(0.6 * n)].sort().values
    feat = link_auc(x[nodes], adj, nodes)

    def served(model, e):
        with torch.no_grad():
            o = torch.softmax(model(x, e), 1)
        return o, float((o[te].argmax(1) == y[te]).float().mean())

    t0 = time.perf_counter()
    o, und_acc = served(train_gcn(x, ei, y, tr), ei)
    und = link_auc(o[nodes], adj, nodes)
    common = dict(
        access="black-box-scores",
        higher=True,
        baseline=("feature similarity", feat),
        utility_metric="node_accuracy",
        utility_undefended=und_acc,
        modality="graph",
    )
    attack = "link stealing attack-0 (posterior similarity)"
    out = [
        _rec(
            "sbm-gcn",
            "none",
            {},
            attack,
            "auc",
            und,
            und,
            utility=und_acc,
            seconds=time.perf_counter() - t0,
            **common,
        )
    ]
    for name, cls, points in [
        ("edge-rand", EdgeRand, [{"epsilon": e} for e in (8.0, 4.0, 2.0, 1.0)]),
        ("lap-graph", LapGraph, [{"epsilon": e} for e in (8.0, 4.0, 2.0, 1.0)]),
        ("edge-flip", EdgeFlip, [{"ratio": r} for r in (0.1, 0.3, 0.5, 0.9)]),
        ("edge-rewire", EdgeRewire, [{"ratio": r} for r in (0.1, 0.3, 0.5, 0.9)]),
    ]:
        for strength in points:
            t0 = time.perf_counter()
            pei, _ = cls(**strength).transform((ei, n))
            o2, acc = served(train_gcn(x, pei, y, tr), pei)
            auc = link_auc(o2[nodes], adj, nodes)
            out.append(
                _rec(
                    "sbm-gcn",
                    name,
                    strength,
                    attack,
                    "auc",
                    auc,
                    und,
                    utility=acc,
                    seconds=time.perf_counter() - t0,
                    **common,
                )
            )
            print(f"  graph {name} {strength}: auc {auc:.3f} acc {acc:.3f}", flush=True)
    view = make_view(
        lambda q: o[q], "black-box-scores", info=TargetInfo(modality="graph", num_classes=4)
    )
    for k in (3, 2, 1):
        t0 = time.perf_counter()
        rel = GraphTopK(k=k).wrap(view)(nodes)
        out.append(
            _rec(
                "sbm-gcn",
                "graph-topk",
                {"k": k},
                attack,
                "auc",
                link_auc(rel, adj, nodes),
                und,
                utility=und_acc,
                seconds=time.perf_counter() - t0,
                **common,
            )
        )

    class G:
        pass

    g = G()
    g.x, g.edge_index, g.y = x, ei, y
    for nm in (0.01, 0.05, 0.2, 1.0, 4.0):
        t0 = time.perf_counter()
        dp = DPGNN(noise_multiplier=nm)
        torch.manual_seed(SEED)
        model = dp.fit(DenseGCN(x.shape[1], 4), g, tr, epochs=100, progress=False)
        o3, acc = served(model, ei)
        auc = link_auc(o3[nodes], adj, nodes)
        out.append(
            _rec(
                "sbm-gcn",
                "dp-gnn",
                {"noise_multiplier": nm},
                attack,
                "auc",
                auc,
                und,
                utility=acc,
                seconds=time.perf_counter() - t0,
                epsilon_spent=_r(dp.epsilon()),
                **common,
            )
        )
        print(f"  dp-gnn {nm}: auc {auc:.3f} acc {acc:.3f} eps {dp.epsilon():.1f}", flush=True)
    return out


# ---------------------------------------------------------------------- graphs: mi-graph on Cora
def graph_cora(quick: bool) -> list[dict]:
    """mi-graph's attacks on Cora (GraphMI's setting: a two-layer GCN, 10% labelled nodes,
    early stopping) against the graph defenses. Data defenses retrain (and serve) the GCN on the
    randomised graph; every attack is judged against the TRUE edges of Cora."""
    from common import shared_file

    from mi_defense.data.edge_rand import EdgeRand, LapGraph
    from mi_defense.output.graph_topk import GraphTopK
    from mi_defense.training.dp_gnn import DPGNN
    from mi_graph.attacks.graphmi import GraphMI
    from mi_graph.attacks.link_stealing import LinkStealing
    from mi_graph.attacks.linkteller import LinkTeller
    from mi_graph.data import edge_density, load_npz, sample_nodes
    from mi_graph.knowledge import graph_knowledge
    from mi_graph.metrics import LinkEvaluator, feature_cosine_scores
    from mi_graph.models import build_model
    from mi_graph.targets import GraphTarget, graph_view
    from mi_graph.training import accuracy, split_nodes, train_node_classifier

    path = shared_file("graphs/cora.npz")
    if path is None:
        return []
    g = load_npz(path)
    n, classes = int(g.num_nodes), int(g.y.max()) + 1
    train_idx, _, test_idx = split_nodes(n, 0.1, 0.1, SEED)  # train_node_classifier's split
    density = edge_density(g.edge_index, n)
    ev = LinkEvaluator(g, baseline="feature-cosine", draws=10, seed=SEED)  # the TRUE edges
    gm_nodes = sample_nodes(n, round(0.1 * n), SEED)  # GraphMI: 10% of the nodes
    ls_nodes = sample_nodes(n, 1000, SEED)
    lt_nodes = sample_nodes(n, 300, SEED)

    def auc(scores, nodes):
        f = {x.metric: x for x in ev.figures(scores, nodes)}["link_auc"]
        return f.value, f.baseline

    def gcn():
        torch.manual_seed(SEED)
        return build_model("gcn", g.x.shape[1], classes)

    def train(graph):
        model = gcn()
        report = train_node_classifier(model, graph, seed=SEED, progress=False)
        return model, report.test_accuracy

    def graphmi(model):
        view = graph_view(GraphTarget(model, g), "white-box")
        know = graph_knowledge(
            gm_nodes, features=g.x[gm_nodes], labels=g.y[gm_nodes], density=density
        )
        res = GraphMI(epochs=100, progress=False).run(view, know, seed=SEED)
        fused = res.reconstructions + feature_cosine_scores(g.x[gm_nodes])
        fused.fill_diagonal_(0)  # GraphMI(readout="embedding+features") of the same run
        return {
            "graphmi": auc(res.reconstructions, gm_nodes),
            "graphmi+features": auc(fused, gm_nodes),
        }

    def link_stealing(model, graph, wrap=None):
        view = graph_view(GraphTarget(model, graph), "black-box-scores")
        view = wrap(view) if wrap else view
        res = LinkStealing(progress=False).run(view, graph_knowledge(ls_nodes), seed=SEED)
        return auc(res.reconstructions, ls_nodes)

    def linkteller(model, graph, wrap=None):
        view = graph_view(GraphTarget(model, graph, modes=("features",)), "black-box-scores")
        view = wrap(view) if wrap else view
        know = graph_knowledge(
            lt_nodes, features=g.x, feature_nodes=torch.arange(n), density=density
        )
        res = LinkTeller(progress=False).run(view, know, seed=SEED)
        return auc(res.reconstructions, lt_nodes)

    attacks_of = {
        "graphmi": ("GraphMI (embedding read-out)", "white-box"),
        "graphmi+features": ("GraphMI (embedding + feature read-out)", "white-box"),
        "link-stealing": ("link stealing attack-0", "black-box-scores"),
        "linkteller": ("LinkTeller (inductive)", "black-box-scores"),
    }
    und: dict[str, tuple[float, float]] = {}
    out: list[dict] = []

    def emit(defense, strength, figs, acc, und_acc, secs, **extra):
        for key, (value, base) in figs.items():
            attack, access = attacks_of[key]
            out.append(
                _rec(
                    "cora-gcn",
                    defense,
                    strength,
                    attack,
                    "auc",
                    value,
                    und[key][0],
                    access=access,
                    higher=True,
                    baseline=("feature cosine", base),
                    utility_metric="node_accuracy",
                    utility=acc,
                    utility_undefended=und_acc,
                    seconds=secs,
                    modality="graph",
                    notes="GCN on Cora (10% labelled); link AUC over all pairs of the target "
                    "nodes against the true edges",
                    **extra,
                )
            )
        text = " ".join(f"{k} {v[0]:.3f}" for k, v in figs.items())
        print(f"  cora {defense} {strength}: {text} acc {acc:.3f}", flush=True)

    t0 = time.perf_counter()
    model, und_acc = train(g)
    figs = {
        **graphmi(model),
        "link-stealing": link_stealing(model, g),
        "linkteller": linkteller(model, g),
    }
    und.update(figs)
    emit("none", {}, figs, und_acc, und_acc, time.perf_counter() - t0)
    # output defense: the service releases the top-1 posterior only (He et al.)
    t0 = time.perf_counter()
    wrap = GraphTopK(k=1).wrap
    figs = {
        "link-stealing": link_stealing(model, g, wrap),
        "linkteller": linkteller(model, g, wrap),
    }
    emit("graph-topk", {"k": 1}, figs, und_acc, und_acc, time.perf_counter() - t0)
    # data defenses: the GCN is trained and served on an epsilon-edge-DP graph
    for name, cls, points in (
        ("edge-rand", EdgeRand, _pick(quick, (8.0, 7.0, 6.0, 5.0, 4.0), (8.0, 6.0, 5.0))),
        ("lap-graph", LapGraph, _pick(quick, (8.0, 7.0, 6.0, 5.0, 4.0), (8.0, 6.0, 4.0))),
    ):
        for eps in points:
            t0 = time.perf_counter()
            pg = cls(epsilon=eps, seed=SEED).transform(g)
            m2, acc = train(pg)
            figs = {**graphmi(m2), "link-stealing": link_stealing(m2, pg)}
            if name == "edge-rand":
                figs["linkteller"] = linkteller(m2, pg)
            emit(
                name,
                {"epsilon": eps},
                figs,
                acc,
                und_acc,
                time.perf_counter() - t0,
                served_edges=int(pg.edge_index.shape[1] // 2),
            )
    # DP-SGD for GNNs (GraphMI's evaluation): noisy clipped full-graph gradients
    for nm in _pick(quick, (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0), (0.02, 0.05, 0.1, 0.2, 1.0)):
        t0 = time.perf_counter()
        dp = DPGNN(noise_multiplier=nm)
        m3 = dp.fit(gcn(), g, train_idx, epochs=200, seed=SEED, progress=False)
        acc = accuracy(m3, g, test_idx)
        figs = {**graphmi(m3), "link-stealing": link_stealing(m3, g)}
        emit(
            "dp-gnn",
            {"noise_multiplier": nm},
            figs,
            acc,
            und_acc,
            time.perf_counter() - t0,
            epsilon_spent=_r(dp.epsilon()),
        )
    out += _embedding_noise(g, model, train_idx, test_idx, ev)
    return out


def _embedding_noise(g, model, train_idx, test_idx, ev) -> list[dict]:
    """Inverse mapping (Zhang et al. 2022, fine-tune mode) on released GCN embeddings, against
    Laplace noise on them (feature-noise). Utility: accuracy of a logistic-regression probe
    trained on the released embeddings of the labelled nodes, on the test nodes."""
    from sklearn.linear_model import LogisticRegression

    from mi_defense.output.feature_noise import FeatureNoise
    from mi_graph.attacks.inverse_mapping import InverseMapping
    from mi_graph.data import induced_subgraph, sample_nodes
    from mi_graph.knowledge import graph_knowledge
    from mi_graph.targets import GraphTarget, NodeQuery, graph_view

    n = int(g.num_nodes)
    aux_nodes = sample_nodes(n, round(0.3 * n), 5)  # benchmarks/graph.py's setting
    aux = induced_subgraph(g, aux_nodes)
    nodes = sample_nodes(n, 500, 6, exclude=aux_nodes)
    know = graph_knowledge(nodes, auxiliary=aux)
    with torch.no_grad():
        mean_abs = float(model.embed(g.x, g.edge_index).abs().mean())

    def measure(wrap=None):
        view = graph_view(GraphTarget(model, g, output="embeddings"), "black-box-scores")
        view = wrap(view) if wrap else view
        t0 = time.perf_counter()
        res = InverseMapping(progress=False).run(view, know, seed=SEED)
        f = {x.metric: x for x in ev.figures(res.reconstructions, nodes)}["link_auc"]
        secs = time.perf_counter() - t0
        h = torch.as_tensor(view(NodeQuery(torch.arange(n)))).numpy()
        y = g.y.numpy()
        probe = LogisticRegression(max_iter=2000).fit(h[train_idx], y[train_idx])
        return f.value, f.baseline, float((probe.predict(h[test_idx]) == y[test_idx]).mean()), secs

    und, base, und_acc, secs = measure()
    common = dict(
        access="black-box-scores",
        higher=True,
        baseline=("feature cosine", base),
        utility_metric="probe_accuracy",
        utility_undefended=und_acc,
        modality="graph",
        notes="released first-layer GCN embeddings of Cora; auxiliary graph = a random 30% of "
        "Cora; 500 target nodes among the rest; noise scale as a multiple of the mean absolute "
        f"embedding entry ({mean_abs:.3f})",
    )
    attack = "inverse mapping (fine-tune)"
    out = [
        _rec(
            "cora-gcn", "none", {}, attack, "auc", und, und, utility=und_acc, seconds=secs, **common
        )
    ]
    print(f"  cora embeddings none: inv. mapping {und:.3f} acc {und_acc:.3f}", flush=True)
    for mult in (0.1, 0.25, 0.5, 1.0):
        scale = round(mult * mean_abs, 4)
        value, _, acc, secs = measure(FeatureNoise(scale=scale, seed=SEED).wrap)
        out.append(
            _rec(
                "cora-gcn",
                "feature-noise",
                {"scale": scale},
                attack,
                "auc",
                value,
                und,
                utility=acc,
                seconds=secs,
                scale_over_mean_abs=mult,
                **common,
            )
        )
        print(f"  cora feature-noise {scale}: inv. mapping {value:.3f} acc {acc:.3f}", flush=True)
    return out


# --------------------------------------------------------------------------------------- run
PARTS = (image_output, image_training, image_gan, tabular, graph, graph_cora, text, dp_anchor)


def _key(r: dict) -> str:
    return json.dumps(
        [r["case"], r["method"], r.get("attack"), r["metric"], r.get("strength")], sort_keys=True
    )


def run(quick: bool) -> list[dict]:
    """All sections, or only those named in ``MI_DEFENSE_ONLY`` (comma separated, e.g.
    ``image_gan,graph_cora``): their records then replace the same records (case, defense,
    attack, metric, strength) of the existing results file and the others are kept."""
    _threads()
    only = [p for p in os.environ.get("MI_DEFENSE_ONLY", "").split(",") if p]
    names = {p.__name__: p for p in (*PARTS, image_gan_control)}
    unknown = [p for p in only if p not in names]
    if unknown:
        raise SystemExit(f"MI_DEFENSE_ONLY: unknown sections {unknown}; allowed: {list(names)}")
    stem = "defense-quick" if quick else "defense"
    records: list[dict] = []
    for part in [names[p] for p in only] if only else PARTS:
        t0 = time.perf_counter()
        print(f"[defense] {part.__name__} ...", flush=True)
        records += part(quick)
        print(f"[defense] {part.__name__} done in {time.perf_counter() - t0:.0f} s", flush=True)
    if only:
        path = HERE / "results" / f"{stem}.json"
        old = json.loads(path.read_text())["records"] if path.exists() else []
        new = {_key(r) for r in records}
        records = [r for r in old if _key(r) not in new] + records
    from defense_plot import plot

    plot(records, HERE / "results", stem)
    return records
