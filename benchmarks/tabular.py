"""Tabular benchmark: every mi-tabular attack on real cohorts, beside the prior-only guess, the
no-model imputation (same attacker knowledge, no target access), Fredrikson's ideal predictor,
and ART's attribute-inference attacks run side by side on the same fitted models.

    uv run --group bench python benchmarks/run.py tabular [--quick]

Cases (data from ../shared/data/tabular, see its README):

* ``iwpc-vkorc1`` / ``iwpc-cyp2c9``: the IWPC linear dose model (Fredrikson et al. 2014); the
  attacker knows demographics, medication and the dose, not the genotypes (the other genotype is
  summed out with its prior). ART has no MAP attack; compared with the baselines only.
* ``iwpc-vkorc1-poisoning``: the same model as an online service; the attacker knows nothing of
  its targets but their predicted dose and poisons the service (Hidano et al. 2018).
* ``adult-married-tree``: UCI Adult, a decision tree predicting income; sensitive ``married``.
  ``relationship`` is left out of the model (it gives marital status away: the data alone
  would answer). Attacked: training records and as many held-out ones. The attacker observes
  the model's prediction for each record (ART's setting) and holds training records it knows
  fully (ART's setting for its learned attack).
* ``adult-married-mlp``: the same with a small MLP (sklearn), black-box attacks only.

Seeds: every figure is the mean and spread (sample standard deviation) over seeds 0, 1, 2; each
seed re-splits the data, retrains the target (seconds) and reruns the attacks and baselines. A
record keeps the per-seed values (``per_seed``, ``baseline_per_seed``) and the leakage verdict of
``mi_core.leakage.assess_seeds`` (``leakage``: a gap to the baseline inside the spread of the
per-seed gaps is "not shown"). ART's attacks are the slow part: ``--quick`` runs them on seed 0
only (and Adult on a 12,000-record sample); the full run runs them on every seed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from common import record, shared_file

SEEDS = (0, 1, 2)
ART_SEEDS_QUICK = (0,)
IDEAL = "ideal predictor (Fredrikson 2014)"
BEFORE = "same inversion before poisoning"


# -------------------------------------------------------------------------------------------
# one seed's figures
# -------------------------------------------------------------------------------------------
def _figures(ev: Any, pred: Any) -> dict[str, Any]:
    """Every figure of one attack result on one seed (attack minus no-model = ``gap``)."""
    rep = ev.report(pred)
    a = rep["all"]

    def get(part: dict[str, Any], who: str, m: str = "accuracy") -> float | None:
        return part.get(who, {}).get(m)

    out: dict[str, Any] = {
        "value": a["attack"]["accuracy"],
        "prior_only": get(a, "prior_only"),
        "no_model": get(a, "no_model"),
        "ideal": get(a, "ideal"),
        "balanced_accuracy": get(a, "attack", "balanced_accuracy"),
        "auc": get(a, "attack", "auc"),
        "mcc": get(a, "attack", "mcc"),
        "no_model_balanced_accuracy": get(a, "no_model", "balanced_accuracy"),
    }
    for split in ("in_training", "out_of_training"):
        if split in rep:
            part = rep[split]
            out[split] = {
                "accuracy": part["attack"]["accuracy"],
                "no_model": get(part, "no_model"),
                "ideal": get(part, "ideal"),
            }
    return out


def _row(
    case: str,
    method: str,
    access: str,
    figs: dict[str, Any],
    seconds: float,
    *,
    queries: int | None = None,
    baseline: tuple[str, str] = ("no-model imputation", "no_model"),
    anchor: str | None = None,
    notes: str = "",
) -> dict[str, Any]:
    """One seed's row. ``baseline``: the baseline's name and its key in ``figs`` (the figure the
    attack must beat); ``anchor``: the ART method (same case), ``IDEAL`` or ``BEFORE`` (the key
    ``before_poisoning`` of ``figs``) that the row stands beside."""
    return {
        "case": case,
        "method": method,
        "access": access,
        "figs": figs,
        "seconds": seconds,
        "queries": queries,
        "baseline": baseline,
        "anchor": anchor,
        "notes": notes,
    }


def _timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """``(fn(*args, **kwargs), wall seconds)``."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


# -------------------------------------------------------------------------------------------
# aggregation over seeds
# -------------------------------------------------------------------------------------------
def _r(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 4)
    if isinstance(v, dict):
        return {k: _r(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_r(x) for x in v]
    return v


def _mean(items: list[Any]) -> Any:
    """Mean over seeds of every number in equally shaped (nested) figure dicts."""
    first = items[0]
    if isinstance(first, dict):
        return {k: _mean([i.get(k) if isinstance(i, dict) else None for i in items]) for k in first}
    nums = [float(v) for v in items if isinstance(v, int | float) and not isinstance(v, bool)]
    return sum(nums) / len(nums) if nums else None


def seed_verdict(values: list[float], baselines: list[float] | None) -> dict[str, Any]:
    """Mean, spread and the leakage verdict (``mi_core.leakage.assess_seeds``) of per-seed
    accuracies beside per-seed baseline accuracies (paired seeds)."""
    from mi_core.leakage import assess_seeds

    lk, st, sb = assess_seeds(values, baselines, higher_is_better=True, unit_interval=True)
    return {
        "value": st.mean,
        "spread": st.std if st.n > 1 else None,  # one seed: no spread measured
        "per_seed": list(values),
        "baseline": None if sb is None else sb.mean,
        "baseline_spread": None if sb is None or sb.n < 2 else sb.std,
        "baseline_per_seed": None if sb is None else list(baselines or []),
        "gap": lk.gap,
        "gap_spread": lk.spread,
        "leakage": lk.level,
        "leakage_reason": lk.reason,
    }


def _anchor_stats(name: str, values: list[float], seeds: list[int]) -> dict[str, Any]:
    from mi_core.leakage import seed_stats

    st = seed_stats(values)
    return {
        "name": name,
        "value": _r(st.mean),
        "spread": _r(st.std) if st.n > 1 else None,
        "per_seed": _r(values),
        "seeds": seeds,
        "seconds": None,
    }


def aggregate(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per (case, method): mean and spread over the seeds it ran on, beside its
    baseline (paired per seed) with the leakage verdict, per training split too; anchors (ART's
    same attack on the same fitted models, the ideal predictor, or the inversion before
    poisoning) with their own mean and spread."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["case"], r["method"]), []).append(r)
    out: list[dict[str, Any]] = []
    art_refs: dict[int, str] = {}
    for (case, method), runs in groups.items():
        seeds = [r["seed"] for r in runs]
        first = runs[0]
        bname, bkey = first["baseline"]
        bases = [r["figs"].get(bkey) for r in runs]
        v = seed_verdict(
            [r["figs"]["value"] for r in runs],
            None if any(b is None for b in bases) else bases,  # type: ignore[arg-type]
        )
        figs = _mean([{k: x for k, x in r["figs"].items() if k != "value"} for r in runs])
        for split in ("in_training", "out_of_training"):
            parts = [r["figs"].get(split) or {} for r in runs]
            if all(p.get("no_model") is not None for p in parts):
                sv = seed_verdict([p["accuracy"] for p in parts], [p["no_model"] for p in parts])
                figs[split].update(
                    spread=sv["spread"],
                    gap=sv["gap"],
                    gap_spread=sv["gap_spread"],
                    leakage=sv["leakage"],
                )
        secs = [r["seconds"] for r in runs]
        queries = [r["queries"] for r in runs if r["queries"] is not None]
        anchor = None
        if first["anchor"] == IDEAL and all(r["figs"].get("ideal") is not None for r in runs):
            anchor = _anchor_stats(IDEAL, [r["figs"]["ideal"] for r in runs], seeds)
        elif first["anchor"] == BEFORE:
            anchor = _anchor_stats(BEFORE, [r["figs"]["before_poisoning"] for r in runs], seeds)
        rec = record(
            case,
            method,
            "attribute_accuracy",
            _r(v["value"]),
            access=first["access"],
            seconds=sum(secs) / len(secs),
            queries=None if not queries else round(sum(queries) / len(queries)),
            baseline=None if v["baseline"] is None else (bname, _r(v["baseline"])),
            anchor=anchor,
            seed=seeds,
            notes=first["notes"]
            + f"; mean ± sd over seeds {seeds} (each re-splits the data and retrains the target)",
            spread=_r(v["spread"]),
            per_seed=_r(v["per_seed"]),
            baseline_spread=_r(v["baseline_spread"]),
            baseline_per_seed=_r(v["baseline_per_seed"]),
            gap=_r(v["gap"]),
            gap_spread=_r(v["gap_spread"]),
            leakage=v["leakage"],
            leakage_reason=v["leakage_reason"],
            seconds_per_seed=_r(secs),
            **_r(figs),
        )
        if first["anchor"] not in (None, IDEAL, BEFORE):
            art_refs[len(out)] = first["anchor"]
        out.append(rec)
    by_name = {(r["case"], r["method"]): r for r in out}
    for i, ref in art_refs.items():
        r = out[i]
        art = by_name.get((r["case"], ref))
        if art is None:
            continue
        ours = dict(zip(r["seed"], r["seconds_per_seed"], strict=True))
        theirs = dict(zip(art["seed"], art["seconds_per_seed"], strict=True))
        both = [s for s in theirs if s in ours]  # speed-up on the seeds both ran
        speedup = sum(theirs[s] for s in both) / max(sum(ours[s] for s in both), 1e-3)
        r["anchor"] = {
            "name": art["method"],
            "value": art["value"],
            "spread": art["spread"],
            "per_seed": art["per_seed"],
            "seeds": art["seed"],
            "seconds": art["seconds"],
            "speedup": round(speedup, 1) if both else None,
        }
    return out


# -------------------------------------------------------------------------------------------
# IWPC warfarin
# -------------------------------------------------------------------------------------------
def iwpc_rows(seed: int) -> list[dict[str, Any]]:
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from mi_core import Knowledge, make_view
    from mi_tabular import AttributeEvaluator, load_iwpc, split_for_attack
    from mi_tabular.attacks.fredrikson_map import FredriksonMAP
    from mi_tabular.attacks.poisoning_inversion import PoisoningInversion
    from mi_tabular.targets import OnlineRegressionService

    path = shared_file("tabular/iwpc.csv")
    if path is None:
        return []
    out = []

    def make_model():
        pre = make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["race", "vkorc1", "cyp2c9"]),
            remainder="passthrough",
        )
        return make_pipeline(pre, LinearRegression())

    for sensitive, other in (("vkorc1", "cyp2c9"), ("cyp2c9", "vkorc1")):
        ds = load_iwpc(path, sensitive=sensitive)
        sp = split_for_attack(ds.frame, train=0.6, auxiliary=0.1, seed=seed)
        model = make_model().fit(sp.train[ds.features], sp.train[ds.label])
        case = f"iwpc-{sensitive}"
        ak = ds.knowledge(sp.attacked, sp.auxiliary, unknown=[other])
        ev = AttributeEvaluator.build(
            ak,
            sp.attacked[sensitive],
            member=sp.member,
            private=sp.train,
            label_column=ds.label,
            seed=seed,
        )
        note = (
            f"linear regression of sqrt weekly dose (IWPC encoding), {len(sp.train)} training "
            f"patients; attacker knows demographics, medication, dose; {other} summed out; "
            f"{len(sp.attacked)} patients attacked ({int(sp.member.sum())} in training)"
        )
        for prior in ("marginal", "auxiliary"):
            attack = FredriksonMAP(prior=prior, progress=False)
            view = make_view(model, "label-only")
            res, sec = _timed(attack.run, view, ak.to_knowledge(), seed=seed)
            out.append(
                _row(
                    case,
                    "fredrikson-map" + ("" if prior == "marginal" else " (learned prior)"),
                    "label-only",
                    _figures(ev, res),
                    sec,
                    queries=res.queries,
                    anchor=IDEAL,
                    notes=note + ("" if prior == "marginal" else "; prior p(v|x_K) from aux"),
                )
            )
        if sensitive == "vkorc1":
            users = sp.attacked[ds.features]
            svc = OnlineRegressionService(
                make_model, sp.train[ds.features], sp.train[ds.label], users
            )
            rmse0 = svc.rmse(sp.holdout[ds.features], sp.holdout[ds.label])
            k = Knowledge(
                auxiliary=sp.auxiliary,
                prior=ds.marginal(sp.auxiliary),
                extra={
                    "columns": ds.features,
                    "contribute": svc.contribute,
                    "observe": svc.observe,
                },
            )
            res, sec = _timed(PoisoningInversion().run, svc.view(), k, seed=seed)
            nobody = ds.knowledge(sp.attacked, sp.auxiliary)
            evp = AttributeEvaluator(sp.attacked[sensitive], nobody.sensitive, member=sp.member)
            figs = _figures(evp, res)
            before = _figures(evp, (res.arrays["codes_before"], res.arrays["posterior_before"]))
            figs.update(
                before_poisoning=before["value"],
                balanced_accuracy_before=before["balanced_accuracy"],
                poison_records=res.info["poison_records"],
                poison_share=res.info["poison_records"] / len(sp.train),
                estimated_train_size=res.info["estimated_train_size"],
                train_size=len(sp.train),
                service_rmse_before=rmse0,
                service_rmse_after=svc.rmse(sp.holdout[ds.features], sp.holdout[ds.label]),
            )
            out.append(
                _row(
                    "iwpc-vkorc1-poisoning",
                    "poisoning-inversion",
                    "black-box-scores",
                    figs,
                    sec,
                    queries=res.queries,
                    baseline=("prior only (attacker knows no attribute)", "prior_only"),
                    anchor=BEFORE,
                    notes=(
                        "online OLS service retrained on contributions; attacker knows only the "
                        "targets' predicted doses; poison records, training-size estimate and "
                        "service RMSE in the record's fields (means over seeds)"
                    ),
                )
            )
    return out


# -------------------------------------------------------------------------------------------
# UCI Adult
# -------------------------------------------------------------------------------------------
ADULT_FEATURES = [
    "age",
    "workclass",
    "education_num",
    "occupation",
    "race",
    "married",  # not last: ART's attacks need attack_feature < the number of other columns
    "male",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
]
ADULT_CATEGORICAL = ["workclass", "occupation", "race"]


def adult_numeric(quick: bool) -> tuple[pd.DataFrame, list[str]] | None:
    from mi_tabular import load_adult

    d = shared_file("tabular/adult/adult.data")
    if d is None:
        return None
    frame = load_adult(d.parent)
    if quick:
        frame = frame.sample(n=12000, random_state=0)
    num = frame[[*ADULT_FEATURES, "income"]].copy()
    for c in ADULT_CATEGORICAL:  # integer codes: ART's tree attacks need one numeric matrix
        num[c] = pd.Categorical(num[c]).codes.astype(np.float64)
    num = num.astype(np.float64)
    num["income"] = num["income"].astype(np.int64)
    return num, ADULT_FEATURES


# our attack -> the ART attack it is compared with on the same fitted model and records
ART_TWIN = {
    "fredrikson-tree-wb": "ART AttributeInferenceWhiteBoxDecisionTree",
    "fredrikson-tree-wb (class counts)": "ART AttributeInferenceWhiteBoxDecisionTree",
    "fredrikson-tree-wb (learned prior)": "ART AttributeInferenceWhiteBoxDecisionTree",
    "bb-attribute-inference": "ART AttributeInferenceBlackBox (nn)",
}


def adult_rows(loaded: tuple[pd.DataFrame, list[str]], seed: int, quick: bool, art: bool):
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    from mi_core import make_view
    from mi_tabular import AttributeEvaluator, from_frame, split_for_attack
    from mi_tabular.attacks.black_box_attribute_inference import BlackBoxAttributeInference
    from mi_tabular.attacks.csmia import CSMIA
    from mi_tabular.attacks.fredrikson_tree import FredriksonTreeBlackBox, FredriksonTreeWhiteBox
    from mi_tabular.attacks.lomia import LOMIA

    frame, feats = loaded
    ds = from_frame(frame, "married", "income", feats, name="UCI Adult")
    sp = split_for_attack(ds.frame, train=0.6, auxiliary=0.0, seed=seed)
    n_att = 1500 if quick else 5000
    n_aux = 3000
    train = sp.train
    attacked_in = train.iloc[:n_att]
    aux = train.iloc[n_att : n_att + n_aux]  # training records the attacker knows (ART setting)
    attacked = pd.concat([attacked_in, sp.holdout.iloc[:n_att]])
    member = np.r_[np.ones(len(attacked_in), bool), np.zeros(min(n_att, len(sp.holdout)), bool)]
    idx = feats.index("married")
    x_train = train[feats].to_numpy()
    y_train = train["income"].to_numpy()
    out = []
    models = {
        "adult-married-tree": DecisionTreeClassifier(random_state=seed),
        "adult-married-mlp": make_pipeline(
            StandardScaler(),
            MLPClassifier((64, 32), max_iter=60 if quick else 120, random_state=seed),
        ),
    }
    for case, model in models.items():
        _, fit_s = _timed(model.fit, x_train, y_train)
        test_acc = model.score(sp.holdout[feats].to_numpy(), sp.holdout["income"].to_numpy())
        pred = model.predict(attacked[feats].to_numpy())
        ak = ds.knowledge(attacked, aux, labels=pred, labels_are="predicted", input_format="array")
        ev = AttributeEvaluator.build(
            ak, attacked["married"], member=member, private=train, label_column="income", seed=seed
        )
        note = (
            f"{type(model).__name__} (test acc seed {seed} {test_acc:.3f}, fit {fit_s:.1f}s); "
            f"{len(attacked)} records attacked ({int(member.sum())} in training); attacker sees "
            f"the model's prediction per record and knows {len(aux)} training records fully"
        )
        ours = []
        if case.endswith("tree"):
            ours += [
                ("fredrikson-tree-wb", FredriksonTreeWhiteBox(progress=False), "white-box"),
                (
                    "fredrikson-tree-wb (class counts)",
                    FredriksonTreeWhiteBox(counts="class", progress=False),
                    "white-box",
                ),
                (
                    "fredrikson-tree-wb (learned prior)",
                    FredriksonTreeWhiteBox(prior="auxiliary", progress=False),
                    "white-box",
                ),
                ("fredrikson-tree-bb", FredriksonTreeBlackBox(progress=False), "black-box-scores"),
            ]
        ours += [
            ("csmia", CSMIA(progress=False), "black-box-scores"),
            ("lomia", LOMIA(progress=False), "label-only"),
            (
                "bb-attribute-inference",
                BlackBoxAttributeInference(progress=False),
                "black-box-scores",
            ),
        ]
        for name, attack, access in ours:
            view = make_view(model, access)
            res, sec = _timed(attack.run, view, ak.to_knowledge(), seed=seed)
            out.append(
                _row(
                    case,
                    name,
                    access,
                    _figures(ev, res),
                    sec,
                    queries=res.queries,
                    anchor=ART_TWIN.get(name),
                    notes=note,
                )
            )
        if art:
            out += art_rows(case, model, attacked, aux, feats, idx, pred, ak, ev)
    return out


def art_rows(case, model, attacked, aux, feats, idx, pred, ak, ev) -> list[dict[str, Any]]:
    """ART's attribute-inference attacks on the same fitted model and records."""
    try:
        from art.attacks.inference.attribute_inference import (
            AttributeInferenceBaseline,
            AttributeInferenceBlackBox,
            AttributeInferenceWhiteBoxDecisionTree,
            AttributeInferenceWhiteBoxLifestyleDecisionTree,
        )
        from art.estimators.classification.scikitlearn import (
            ScikitlearnClassifier,
            ScikitlearnDecisionTreeClassifier,
        )
    except ImportError:
        print("[skip] ART anchors: install the bench group (uv run --group bench ...)")
        return []
    values = [0.0, 1.0]
    priors = list(ak.sensitive.prior)
    x_att = np.delete(attacked[feats].to_numpy(), idx, axis=1)
    x_aux = aux[feats].to_numpy()
    is_tree = case.endswith("tree")
    est = ScikitlearnDecisionTreeClassifier(model) if is_tree else ScikitlearnClassifier(model)
    runs = []
    if is_tree:
        wb = AttributeInferenceWhiteBoxDecisionTree(est, attack_feature=idx)
        runs.append(
            (
                "ART AttributeInferenceWhiteBoxDecisionTree",
                "white-box",
                lambda: wb.infer(x_att, pred, values=values, priors=priors),
            )
        )
        ls = AttributeInferenceWhiteBoxLifestyleDecisionTree(est, attack_feature=idx)
        runs.append(
            (
                "ART WB lifestyle (AttributeInferenceWhiteBoxLifestyleDecisionTree)",
                "white-box",
                lambda: ls.infer(x_att, values=values, priors=priors),
            )
        )

    def blackbox():
        bb = AttributeInferenceBlackBox(est, attack_feature=idx)
        bb.fit(x_aux)
        return bb.infer(x_att, pred=pred.reshape(-1, 1).astype(np.float64), values=values)

    runs.append(("ART AttributeInferenceBlackBox (nn)", "black-box-scores", blackbox))

    def baseline():
        b = AttributeInferenceBaseline(attack_feature=idx)
        b.fit(x_aux)
        return b.infer(x_att, values=values)

    runs.append(("ART AttributeInferenceBaseline (nn, no model)", "none", baseline))
    out = []
    for name, access, fn in runs:
        inferred, sec = _timed(fn)
        codes = ak.sensitive.codes(np.asarray(inferred).reshape(-1).astype(np.int64), name)
        out.append(_row(case, name, access, _figures(ev, (codes, None)), sec, notes="ART 1.20"))
    return out


# -------------------------------------------------------------------------------------------
def run(quick: bool) -> list[dict]:
    from threadpoolctl import threadpool_limits
    from tqdm.auto import tqdm

    art_seeds = ART_SEEDS_QUICK if quick else SEEDS
    rows: list[dict[str, Any]] = []
    # one thread everywhere: the machine is shared, and ratios are what we compare
    with threadpool_limits(limits=1):
        import torch

        torch.set_num_threads(1)
        adult = adult_numeric(quick)
        for seed in tqdm(SEEDS, desc="tabular seeds"):
            seed_rows = iwpc_rows(seed)
            if adult is not None:
                seed_rows += adult_rows(adult, seed, quick, art=seed in art_seeds)
            for r in seed_rows:
                r["seed"] = seed
            rows += seed_rows
    records = aggregate(rows)
    from pathlib import Path

    from tabular_plot import plot

    name = "tabular-quick.png" if quick else "tabular.png"
    plot(records, Path(__file__).resolve().parent / "results" / name)
    return records
