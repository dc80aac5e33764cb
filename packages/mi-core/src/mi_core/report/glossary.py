"""Plain-language explanations of the metrics, access levels and terms an audit report shows.

A metric's line comes from this glossary where it has an entry, else from the metric registry
(:func:`mi_core.metrics.base.list_metrics`: the first line of the metric function's docstring);
its direction (which way favours the attacker) comes from the figure itself, else from the
registry. Parametrised names are read by their stem: ``extraction_precision@20`` (the top 20),
``canaries_recovered_x10`` (canaries inserted 10 times), ``edge_*``, ``accuracy_in_training``.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mi_core.metrics.base import MetricSpec

#: metric name -> what it measures (direction is added from the figure / the registry)
METRICS: dict[str, str] = {
    # images (survey Sec. IV-A-6)
    "eval_top1": "share of reconstructions that an independent evaluation model (trained on the "
    "private data, another architecture than the target) classifies as the class the attack "
    "aimed at",
    "eval_top5": "share of reconstructions whose intended class is among the evaluation model's "
    "five most likely classes",
    "leak_rate": "share of reconstructions that leak: recognised by the evaluation model as their "
    "class and on the image manifold (no farther from the private class than the attack's own "
    "unoptimised prior samples)",
    "feature_distance": "squared distance, in the evaluation model's feature space, from each "
    "reconstruction to the centre of its class's private images",
    "knn_distance": "squared distance, in the evaluation model's feature space, from each "
    "reconstruction to the nearest private image of its class: small means it looks like a real "
    "training image, not just like the class",
    "psnr": "peak signal-to-noise ratio (dB) to the most similar private image of the class: "
    "pixel-wise closeness",
    "ssim": "structural similarity (0 to 1) to the most similar private image of the class",
    "fid_eval_features": "Fréchet distance between the reconstructions and the private images of "
    "the same classes, on the evaluation model's features (not Inception): small means they are "
    "distributed like the private data",
    "prdc_precision": "share of reconstructions inside the k-nearest-neighbour manifold of the "
    "private images of their class: realism (Naeem et al. 2020)",
    "prdc_recall": "share of private images inside the k-nearest-neighbour manifold of the "
    "reconstructions: how much of the class's variety the attack covers",
    "prdc_density": "how many private images' neighbourhoods each reconstruction falls in, "
    "relative to k (about 1 for samples like the private data; can exceed 1)",
    "prdc_coverage": "share of private images whose k-nearest-neighbour ball holds at least one "
    "reconstruction: diversity",
    # text
    "exposure": "canary exposure (Carlini et al. 2019): log2 of the number of candidate secrets "
    "minus log2 of the planted secret's rank under the model; high means the model singles the "
    "secret out",
    "mean_exposure_bits": "canary exposure (Carlini et al. 2019) averaged over the planted "
    "secrets, in bits: log2 of the candidate count minus log2 of the secret's rank",
    "extraction_precision": "share of the attack's highest-ranked samples that contain a private "
    "secret (Carlini et al. 2021)",
    "secrets_recovered": "share of the private secrets that occur in at least one of the "
    "attack's outputs",
    "canaries_recovered": "share of the planted canaries that occur in the attack's "
    "highest-ranked outputs",
    "canary_rank": "rank of a planted secret among the attack's outputs or the candidate "
    "secrets: small means the model prefers it",
    "token_f1": "bag-of-words F1 between each recovered text and the true text (SQuAD-style)",
    "bleu": "BLEU (0 to 100): n-gram overlap of the recovered text with the true text",
    "exact_match": "share of recovered texts equal to the true text after normalisation",
    "embedding_cosine": "cosine similarity of sentence embeddings of the recovered and the true "
    "text: closeness in meaning",
    # graphs
    "link_auc": "ROC AUC of the attack's link scores over node pairs: the chance that a linked "
    "pair scores above an unlinked one (0.5 = chance)",
    "link_ap": "average precision of the attack's link scores over node pairs (chance = the "
    "share of linked pairs)",
    "link_auc_balanced": "link AUC on as many unlinked as linked pairs, drawn at random",
    "link_ap_balanced": "link average precision on as many unlinked as linked pairs (chance 0.5)",
    "link_precision_at_density": "precision of the top-m scored pairs called edges, m the true "
    "edge count (equals recall)",
    "edge_precision": "share of the edges the attack outputs that are true edges",
    "edge_recall": "share of the true edges the attack recovers",
    "edge_f1": "harmonic mean of edge precision and edge recall",
    # tabular / attribute inference
    "accuracy": "share of records whose sensitive attribute the attack inferred exactly",
    "attribute_accuracy": "share of records whose sensitive attribute the attack inferred exactly",
    "balanced_accuracy": "mean recall over the attribute's values: accuracy that a majority "
    "guess cannot inflate",
    "accuracy_vs_prior": "attribute accuracy against guessing from the attribute's marginal "
    "distribution alone",
    "accuracy_in_training": "attribute accuracy on records the model was trained on",
    "accuracy_out_of_training": "attribute accuracy on records the model never saw (high here "
    "is inference from correlations, not memorisation)",
    "g_mean": "geometric mean of the recalls of the attribute's values (Mehnaz et al. 2022)",
    "mcc": "Matthews correlation coefficient of inferred vs true values (0 = chance, 1 = perfect)",
    # generic
    "auc": "ROC AUC of the attack's scores against the truth: the chance that a positive scores "
    "above a negative (0.5 = chance)",
    "average_precision": "area under the precision-recall curve of the attack's scores",
    "precision": "share of the attack's positive decisions that are right",
    "recall": "share of the true positives the attack finds",
    "f1": "harmonic mean of precision and recall",
}

#: utility metrics (the target's usefulness, read in privacy-utility comparisons)
UTILITY: dict[str, str] = {
    "test_accuracy": "the target's accuracy on held-out data (higher: more useful)",
    "accuracy": "the target's accuracy on held-out data (higher: more useful)",
    "perplexity": "the language model's perplexity on held-out text (lower: more useful)",
    "heldout_perplexity": "the language model's perplexity on held-out text (lower: more useful)",
    "node_accuracy": "the graph model's node-classification accuracy (higher: more useful)",
    "accuracy_all_nodes": "the graph model's accuracy over all nodes (no test mask was given; "
    "higher: more useful)",
    "accuracy_on_data": "the model's accuracy on the audit's data (no held-out split was given; "
    "higher: more useful)",
}

ACCESS: dict[str, str] = {
    "white-box": "the attacker holds the model's weights and gradients",
    "black-box-scores": "the attacker queries the model and sees every class score",
    "black-box-topk": "the attacker queries the model and sees the k largest scores only",
    "label-only": "the attacker queries the model and sees the predicted label only",
}

TERMS: dict[str, str] = {
    "baseline": "the same figure for what the attacker has without exploiting the target (the "
    "attack's own unoptimised prior samples, the attacker's prior knowledge, a reference model "
    "that never saw the private data, chance); each row names its baseline. A baseline that used "
    "the target is no baseline: the figure is flagged 'invalid baseline'",
    "gap": "attack minus baseline, signed so that a positive gap favours the attacker",
    "seed spread": "the standard deviation over seeds (of the per-seed gaps where attack and "
    "baseline ran on the same seeds); a gap inside it is 'not shown'",
    "headline figure": "an attack's first figure, the one its evaluator puts first; the others "
    "are under it",
    "attack s / prior training s": "the attack's own run time, and apart from it the time spent "
    "training a generative prior before the attack (reusable across attacks)",
}


@dataclass(frozen=True)
class MetricLine:
    name: str
    meaning: str
    higher_is_better: bool | None
    unit_interval: bool | None
    source: str  # "glossary", "registry" or "none"

    @property
    def direction(self) -> str:
        if self.higher_is_better is None:
            return "direction unknown"
        return (
            "higher favours the attacker"
            if self.higher_is_better
            else ("lower favours the attacker")
        )


_STEMS = (
    (re.compile(r"^(.*)@(\d+)$"), "among the top {1}"),
    (re.compile(r"^(.*)_x(\d+)$"), "canaries inserted {1} times"),
)


def _registry() -> dict[str, MetricSpec]:
    from mi_core.metrics.base import list_metrics

    return {m.name: m for m in list_metrics()}


def load_metric_modules(modalities: set[str] | None = None) -> None:
    """Import the metric modules of the installed modality packages so that the registry knows
    their metrics (a report may be rendered in a process that did not evaluate)."""
    names = ["mi_core.metrics"]
    for mod in sorted(modalities or {"image", "text", "graph", "tabular"}):
        pkg = {"image": "mi_vision"}.get(mod, f"mi_{mod}")
        names.append(f"{pkg}.metrics")
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:
            continue


def metric_line(name: str, higher_is_better: bool | None = None) -> MetricLine:
    """What ``name`` measures and which way favours the attacker."""
    reg = _registry()
    stem, note = name, ""
    for pattern, fmt in _STEMS:
        m = pattern.match(stem)
        if m and (m.group(1) in METRICS or m.group(1) in reg):
            stem, note = m.group(1), fmt.format(*m.groups())
            break
    spec = reg.get(stem) or reg.get(name)
    hib = higher_is_better
    if hib is None and spec is not None:
        hib = spec.higher_is_better
    unit = spec.unit_interval if spec is not None else None
    if stem in METRICS:
        meaning, source = METRICS[stem], "glossary"
    elif spec is not None and spec.description:
        meaning, source = str(spec.description), "registry"
    elif stem.startswith("edge_") and stem[5:] in METRICS:
        meaning, source = "edges: " + METRICS[stem[5:]], "glossary"
    else:
        meaning, source = "no description registered for this metric", "none"
    if note:
        meaning = f"{meaning} ({note})"
    return MetricLine(name, meaning, hib, unit, source)


def utility_line(name: str) -> str:
    """What a utility figure measures."""
    if name in UTILITY:
        return UTILITY[name]
    low = name.lower()
    if "perplexity" in low or "loss" in low:
        return "the target's error on held-out data (lower: more useful)"
    return "the target's usefulness on held-out data (higher: more useful)"


def attack_summary(name: str) -> str:
    """The attack's one-line summary and paper from the plugin registry, or ``""``."""
    try:
        from mi_core.registry import get_attack

        d = get_attack(name).describe()
    except Exception:
        return ""
    parts = [str(d.get("summary") or "").strip(), str(d.get("paper") or "").strip()]
    return " — ".join(p for p in parts if p)


def defense_summary(name: str) -> str:
    """The defense's one-line summary from the plugin registry, or ``""``."""
    try:
        from mi_core.registry import get_defense

        d = get_defense(name).describe()
    except Exception:
        return ""
    return str(d.get("summary") or "").strip()


__all__ = [
    "ACCESS",
    "METRICS",
    "TERMS",
    "UTILITY",
    "MetricLine",
    "attack_summary",
    "defense_summary",
    "load_metric_modules",
    "metric_line",
    "utility_line",
]
