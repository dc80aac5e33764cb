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
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
from common import record, shared_file

SEED = 0


# -------------------------------------------------------------------------------------------
def _figures(ev: Any, pred: Any) -> dict[str, Any]:
    rep = ev.report(pred)
    a = rep["all"]

    def get(part: dict[str, Any], who: str, m: str = "accuracy") -> float | None:
        return part.get(who, {}).get(m)

    out = {
        "prior_only": get(a, "prior_only"),
        "no_model": get(a, "no_model"),
        "ideal": get(a, "ideal"),
        "balanced_accuracy": get(a, "attack", "balanced_accuracy"),
        "auc": get(a, "attack", "auc"),
        "mcc": get(a, "attack", "mcc"),
        "no_model_balanced_accuracy": get(a, "no_model", "balanced_accuracy"),
    }
    nm = get(a, "no_model")
    out["leakage"] = None if nm is None else a["attack"]["accuracy"] - nm
    for split in ("in_training", "out_of_training"):
        if split in rep:
            out[split] = {
                "accuracy": rep[split]["attack"]["accuracy"],
                "no_model": get(rep[split], "no_model"),
                "ideal": get(rep[split], "ideal"),
                "leakage": None
                if get(rep[split], "no_model") is None
                else rep[split]["attack"]["accuracy"] - rep[split]["no_model"]["accuracy"],
            }
    out["value"] = a["attack"]["accuracy"]
    return out


def _rec(case, method, access, figs, seconds, queries=None, anchor=None, notes="", **extra):
    return record(
        case,
        method,
        "attribute_accuracy",
        round(figs.pop("value"), 4),
        access=access,
        seconds=seconds,
        queries=queries,
        baseline=("no-model imputation", _r(figs["no_model"])) if figs["no_model"] else None,
        anchor=anchor,
        seed=SEED,
        notes=notes,
        **{k: _r(v) for k, v in figs.items()},
        **extra,
    )


def _r(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 4)
    if isinstance(v, dict):
        return {k: _r(x) for k, x in v.items()}
    return v


def _run(attack: Any, view: Any, knowledge: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    res = attack.run(view, knowledge, seed=SEED)
    return res, time.perf_counter() - t0


# -------------------------------------------------------------------------------------------
def iwpc_cases(quick: bool) -> list[dict]:
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
        sp = split_for_attack(ds.frame, train=0.6, auxiliary=0.1, seed=SEED)
        model = make_model().fit(sp.train[ds.features], sp.train[ds.label])
        case = f"iwpc-{sensitive}"
        ak = ds.knowledge(sp.attacked, sp.auxiliary, unknown=[other])
        ev = AttributeEvaluator.build(
            ak, sp.attacked[sensitive], member=sp.member, private=sp.train, label_column=ds.label
        )
        note = (
            f"linear regression of sqrt weekly dose (IWPC encoding), {len(sp.train)} training "
            f"patients; attacker knows demographics, medication, dose; {other} summed out; "
            f"{len(sp.attacked)} patients attacked ({int(sp.member.sum())} in training)"
        )
        for prior in ("marginal", "auxiliary"):
            res, sec = _run(
                FredriksonMAP(prior=prior, progress=False),
                make_view(model, "label-only"),
                ak.to_knowledge(),
            )
            figs = _figures(ev, res)
            out.append(
                _rec(
                    case,
                    "fredrikson-map" + ("" if prior == "marginal" else " (learned prior)"),
                    "label-only",
                    figs,
                    sec,
                    res.queries,
                    anchor={
                        "name": "ideal predictor (Fredrikson 2014)",
                        "value": _r(figs["ideal"]),
                    },
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
            res, sec = _run(PoisoningInversion(), svc.view(), k)
            nobody = ds.knowledge(sp.attacked, sp.auxiliary)
            evp = AttributeEvaluator(sp.attacked[sensitive], nobody.sensitive, member=sp.member)
            figs = _figures(evp, res)
            before = _figures(evp, (res.arrays["codes_before"], res.arrays["posterior_before"]))
            figs["no_model"] = None
            out.append(
                record(
                    "iwpc-vkorc1-poisoning",
                    "poisoning-inversion",
                    "attribute_accuracy",
                    round(figs["value"], 4),
                    access="black-box-scores",
                    seconds=sec,
                    queries=res.queries,
                    baseline=("prior only (attacker knows no attribute)", _r(figs["prior_only"])),
                    anchor={
                        "name": "same inversion before poisoning",
                        "value": _r(before["value"]),
                    },
                    seed=SEED,
                    notes=(
                        "online OLS service retrained on contributions; attacker knows only the "
                        "targets' predicted doses; "
                        f"{res.info['poison_records']} poison records "
                        f"({res.info['poison_records'] / len(sp.train):.0%} of training), "
                        f"training size estimated {res.info['estimated_train_size']:.0f} "
                        f"(true {len(sp.train)}); service RMSE {rmse0:.3f} -> "
                        f"{svc.rmse(sp.holdout[ds.features], sp.holdout[ds.label]):.3f}"
                    ),
                    prior_only=_r(figs["prior_only"]),
                    before_poisoning=_r(before["value"]),
                    balanced_accuracy=_r(figs["balanced_accuracy"]),
                    balanced_accuracy_before=_r(before["balanced_accuracy"]),
                )
            )
    return out


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
        frame = frame.sample(n=12000, random_state=SEED)
    num = frame[[*ADULT_FEATURES, "income"]].copy()
    for c in ADULT_CATEGORICAL:  # integer codes: ART's tree attacks need one numeric matrix
        num[c] = pd.Categorical(num[c]).codes.astype(np.float64)
    num = num.astype(np.float64)
    num["income"] = num["income"].astype(np.int64)
    return num, ADULT_FEATURES


def adult_cases(quick: bool) -> list[dict]:
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

    loaded = adult_numeric(quick)
    if loaded is None:
        return []
    frame, feats = loaded
    ds = from_frame(frame, "married", "income", feats, name="UCI Adult")
    sp = split_for_attack(ds.frame, train=0.6, auxiliary=0.0, seed=SEED)
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
        "adult-married-tree": DecisionTreeClassifier(random_state=SEED),
        "adult-married-mlp": make_pipeline(
            StandardScaler(),
            MLPClassifier((64, 32), max_iter=60 if quick else 120, random_state=SEED),
        ),
    }
    for case, model in models.items():
        t0 = time.perf_counter()
        model.fit(x_train, y_train)
        fit_s = time.perf_counter() - t0
        test_acc = model.score(sp.holdout[feats].to_numpy(), sp.holdout["income"].to_numpy())
        pred = model.predict(attacked[feats].to_numpy())
        ak = ds.knowledge(attacked, aux, labels=pred, labels_are="predicted", input_format="array")
        ev = AttributeEvaluator.build(
            ak, attacked["married"], member=member, private=train, label_column="income"
        )
        note = (
            f"{type(model).__name__} (test acc {test_acc:.3f}, fit {fit_s:.1f}s); "
            f"{len(attacked)} records attacked ({int(member.sum())} in training); attacker sees "
            f"the model's prediction per record and knows {len(aux)} training records fully"
        )
        art = art_attacks(case, model, train, attacked, aux, feats, idx, pred, ak, ev, quick)
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
        shared = {
            "fredrikson-tree-wb": (
                "ART AttributeInferenceWhiteBoxDecisionTree",
                "ART WB lifestyle",
            ),
            "fredrikson-tree-wb (class counts)": ("ART AttributeInferenceWhiteBoxDecisionTree",),
            "fredrikson-tree-wb (learned prior)": ("ART AttributeInferenceWhiteBoxDecisionTree",),
            "bb-attribute-inference": ("ART AttributeInferenceBlackBox (nn)",),
        }
        for name, attack, access in ours:
            res, sec = _run(attack, make_view(model, access), ak.to_knowledge())
            figs = _figures(ev, res)
            anchor = None
            for a_name in shared.get(name, ()):
                hit = next((a for a in art if a["method"].startswith(a_name)), None)
                if hit is not None:
                    anchor = {
                        "name": hit["method"],
                        "value": hit["value"],
                        "seconds": hit["seconds"],
                        "speedup": None if not sec else round(hit["seconds"] / max(sec, 1e-3), 1),
                    }
                    break
            out.append(_rec(case, name, access, figs, sec, res.queries, anchor, note))
        out.extend(art)
    return out


def art_attacks(case, model, train, attacked, aux, feats, idx, pred, ak, ev, quick) -> list[dict]:
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
    out = []
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
    for name, access, fn in runs:
        t0 = time.perf_counter()
        inferred = np.asarray(fn()).reshape(-1)
        sec = time.perf_counter() - t0
        codes = ak.sensitive.codes(inferred.astype(np.int64), name)
        figs = _figures(ev, (codes, None))
        out.append(_rec(case, name, access, figs, sec, notes="ART 1.20 defaults"))
    return out


def run(quick: bool) -> list[dict]:
    from threadpoolctl import threadpool_limits

    # one thread everywhere: the machine is shared, and ratios are what we compare
    with threadpool_limits(limits=1):
        import torch

        torch.set_num_threads(1)
        records = iwpc_cases(quick) + adult_cases(quick)
    from pathlib import Path

    from tabular_plot import plot

    name = "tabular-quick.png" if quick else "tabular.png"
    plot(records, Path(__file__).resolve().parent / "results" / name)
    return records
