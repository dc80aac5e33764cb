"""Text metrics, registered with mi-core's metric API (direction: the attacker's side).

Exact match, token F1 (SQuAD-style bag-of-tokens F1), corpus BLEU (through sacrebleu, never by
hand), re-embedding cosine similarity, canary exposure (Carlini et al. 2019, "The secret sharer"),
extraction precision in the top N, keyword precision / recall. A metric that cannot be computed
raises :class:`~mi_core.errors.MetricError`.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
import torch

from mi_core.errors import MetricError
from mi_core.metrics.base import register_metric

_PUNCT = re.compile(f"[{re.escape(string.punctuation)}]")


def normalize_text(text: str) -> str:
    """Lower-case, strip punctuation and collapse white space."""
    return " ".join(_PUNCT.sub(" ", text.lower()).split())


def words(text: str) -> list[str]:
    return normalize_text(text).split()


def _pairs(predictions: Sequence[str], references: Sequence[str]) -> None:
    if isinstance(predictions, str) or isinstance(references, str):
        raise MetricError("predictions / references: give lists of strings, not one string")
    if len(predictions) != len(references):
        raise MetricError(
            f"predictions and references differ in length: {len(predictions)} vs {len(references)}"
        )
    if len(predictions) == 0:
        raise MetricError("predictions: empty; there is nothing to evaluate")


@register_metric("exact_match", higher_is_better=True, modality="text", unit_interval=True)
def exact_match(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Fraction of predictions equal to their reference after normalisation."""
    _pairs(predictions, references)
    return float(
        np.mean([normalize_text(p) == normalize_text(r) for p, r in zip(predictions, references)])
    )


def token_f1_one(prediction: str, reference: str) -> float:
    p, r = words(prediction), words(reference)
    if not p and not r:
        return 1.0
    common = Counter(p) & Counter(r)
    same = sum(common.values())
    if same == 0:
        return 0.0
    prec, rec = same / len(p), same / len(r)
    return 2 * prec * rec / (prec + rec)


@register_metric("token_f1", higher_is_better=True, modality="text", unit_interval=True)
def token_f1(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Mean bag-of-words F1 between each prediction and its reference (SQuAD-style)."""
    _pairs(predictions, references)
    return float(np.mean([token_f1_one(p, r) for p, r in zip(predictions, references)]))


@register_metric("bleu", higher_is_better=True, modality="text", unit_interval=True)
def bleu(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU (0-100) computed by sacrebleu (13a tokenisation, lower-cased)."""
    _pairs(predictions, references)
    import sacrebleu

    return float(sacrebleu.corpus_bleu(list(predictions), [list(references)], lowercase=True).score)


@register_metric("embedding_cosine", higher_is_better=True, modality="text", unit_interval=True)
def embedding_cosine(
    embed: Callable[[list[str]], torch.Tensor],
    predictions: Sequence[str],
    target_embeddings: torch.Tensor,
) -> float:
    """Mean cosine similarity between the embeddings of the predictions (re-embedded with
    ``embed``) and the target embeddings."""
    if len(predictions) != len(target_embeddings):
        raise MetricError(
            f"predictions ({len(predictions)}) and target_embeddings ({len(target_embeddings)}) "
            "differ in length"
        )
    if len(predictions) == 0:
        raise MetricError("predictions: empty")
    e = torch.as_tensor(embed(list(predictions))).float()
    t = torch.as_tensor(target_embeddings).float()
    return float(torch.nn.functional.cosine_similarity(e, t, dim=-1).mean())


@register_metric("exposure", higher_is_better=True, modality="text", unit_interval=False)
def exposure(
    canary_score: float,
    reference_scores: Sequence[float],
    space_size: float,
    *,
    method: str = "sample",
) -> float:
    """Canary exposure (Carlini et al. 2019): ``log2 |R| - log2 rank``, the rank of the inserted
    canary among all candidate secrets ``R`` under the model (scores are negative
    log-likelihoods or perplexities: lower is more likely), estimated from a uniform sample of
    candidates (``reference_scores``).

    ``method="sample"``: the fraction of sampled candidates more likely than the canary, with
    add-one smoothing, so exposure is at most ``log2(2 (n + 1))`` bits for n samples.
    ``method="normal"``: extrapolate with a normal fit to the sampled scores (Carlini et al. fit a
    skew-normal), which resolves exposures beyond the sample size.
    """
    ref = np.asarray(reference_scores, dtype=np.float64)
    if ref.size == 0:
        raise MetricError("reference_scores: exposure needs sampled candidate scores")
    if space_size < ref.size:
        raise MetricError(f"space_size: {space_size} is smaller than the sample ({ref.size})")
    if not np.isfinite(ref).all() or not math.isfinite(canary_score):
        raise MetricError("exposure: scores hold NaN or inf")
    if method == "sample":
        count = np.sum(ref < canary_score) + 0.5 * np.sum(ref == canary_score)
        frac = (count + 0.5) / (ref.size + 1)
    elif method == "normal":
        if ref.size < 2 or ref.std() == 0:
            raise MetricError("exposure: a normal fit needs >= 2 distinct reference scores")
        z = (canary_score - ref.mean()) / ref.std(ddof=1)
        frac = 0.5 * math.erfc(-z / math.sqrt(2.0))
    else:
        raise MetricError(f"method: unknown value {method!r}; allowed: 'sample', 'normal'")
    frac = min(max(frac, 1.0 / space_size), 1.0)
    return float(-math.log2(frac))


def contains_secret(text: str, secret: str) -> bool:
    """True if the secret occurs in ``text`` (white space and case insensitive)."""
    squash = re.compile(r"\s+")
    return squash.sub("", secret.lower()) in squash.sub("", text.lower())


@register_metric("extraction_precision", higher_is_better=True, modality="text", unit_interval=True)
def extraction_precision(
    ranked_samples: Sequence[str], secrets: Sequence[str], top_n: int
) -> float:
    """Fraction of the ``top_n`` highest-ranked samples that contain a private secret (Carlini
    et al. 2021: precision of the top-N extracted samples)."""
    if top_n < 1:
        raise MetricError(f"top_n: must be >= 1, got {top_n}")
    if len(ranked_samples) < top_n:
        raise MetricError(f"ranked_samples: {len(ranked_samples)} samples for top_n={top_n}")
    if not secrets:
        raise MetricError("secrets: empty; nothing could be extracted")
    top = ranked_samples[:top_n]
    return float(np.mean([any(contains_secret(s, c) for c in secrets) for s in top]))


@register_metric("secrets_recovered", higher_is_better=True, modality="text", unit_interval=True)
def secrets_recovered(samples: Sequence[str], secrets: Sequence[str]) -> float:
    """Fraction of the secrets that occur in at least one sample."""
    if not secrets:
        raise MetricError("secrets: empty")
    return float(np.mean([any(contains_secret(s, c) for s in samples) for c in secrets]))


def keyword_scores(
    predicted: Sequence[Sequence[str]], true: Sequence[Sequence[str]]
) -> dict[str, float]:
    """Micro precision / recall / F1 of predicted keyword sets against the true sets."""
    if len(predicted) != len(true):
        raise MetricError(f"predicted and true differ in length: {len(predicted)} vs {len(true)}")
    tp = fp = fn = 0
    for p, t in zip(predicted, true):
        ps, ts = set(p), set(t)
        tp += len(ps & ts)
        fp += len(ps - ts)
        fn += len(ts - ps)
    if tp + fn == 0:
        raise MetricError("keyword recall is undefined: the true sets are empty")
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn)
    f1 = 0.0 if tp == 0 else 2 * prec * rec / (prec + rec)
    return {"precision": prec, "recall": rec, "f1": f1}


def text_figures(
    predictions: Sequence[str],
    references: Sequence[str],
    baseline: Sequence[str] | None = None,
    baseline_name: str = "baseline",
) -> list:
    """Exact match, token F1 and BLEU of ``predictions``, each beside the same figure of a
    baseline's predictions."""
    from mi_core.metrics.base import Figure

    figs = []
    for name, fn in (("token_f1", token_f1), ("bleu", bleu), ("exact_match", exact_match)):
        b = None if baseline is None else fn(baseline, references)
        figs.append(
            Figure(
                name, fn(predictions, references), True, b, baseline_name if b is not None else None
            )
        )
    return figs
