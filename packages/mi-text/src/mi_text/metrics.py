"""Text metrics, registered with mi-core's metric API (direction: the attacker's side).

Exact match, token F1 (SQuAD-style bag-of-tokens F1), corpus BLEU (through sacrebleu, never by
hand), re-embedding cosine similarity, canary exposure (Carlini et al. 2019, "The secret sharer"),
extraction figures counted on distinct secrets (precision of distinct samples, recall of the
canary set in the top N, each canary's rank among all outputs), keyword precision / recall. A
metric that cannot be computed raises :class:`~mi_core.errors.MetricError`.
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
    e = torch.as_tensor(embed(list(predictions)), device="cpu").float()
    t = torch.as_tensor(target_embeddings, device="cpu").float()
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


def _trigrams(text: str) -> Counter[tuple[str, ...]]:
    w = words(text)
    if len(w) < 3:
        return Counter([tuple(w)]) if w else Counter()
    return Counter(tuple(w[i : i + 3]) for i in range(len(w) - 2))


def _near(ga: Counter[tuple[str, ...]], gb: Counter[tuple[str, ...]], a: str, b: str) -> bool:
    if not ga or not gb:
        return normalize_text(a) == normalize_text(b)
    return 2 * sum((ga & gb).values()) >= min(sum(ga.values()), sum(gb.values()))


def near_duplicate(a: str, b: str) -> bool:
    """Carlini et al. 2021 (Sec. 5.1): two samples are near-duplicates when their word-trigram
    multisets share at least half of the trigrams of the shorter one (texts under three words:
    when equal after normalisation)."""
    return _near(_trigrams(a), _trigrams(b), a, b)


def distinct_samples(ranked_samples: Sequence[str]) -> list[int]:
    """Indices of the samples kept when near-duplicates (:func:`near_duplicate`) are dropped,
    in rank order: each kept sample is the highest-ranked of its group."""
    if isinstance(ranked_samples, str):
        raise MetricError("ranked_samples: give a list of strings, not one string")
    kept: list[tuple[int, Counter[tuple[str, ...]]]] = []
    seen: set[str] = set()
    for i, s in enumerate(ranked_samples):
        norm = normalize_text(s)
        if norm in seen:
            continue
        g = _trigrams(s)
        if not any(_near(g, h, s, ranked_samples[j]) for j, h in kept):
            kept.append((i, g))
            seen.add(norm)
    return [i for i, _ in kept]


def _check_secrets(secrets: Sequence[str], top_n: int | None = None) -> None:
    if top_n is not None and top_n < 1:
        raise MetricError(f"top_n: must be >= 1, got {top_n}")
    if isinstance(secrets, str) or not secrets:
        raise MetricError("secrets: give a non-empty list of secret strings")


def canary_ranks(ranked_samples: Sequence[str], secrets: Sequence[str]) -> dict[str, int | None]:
    """For each secret, the rank (1 = first) among the DISTINCT samples (near-duplicates
    dropped, :func:`distinct_samples`) of the first sample that holds it; None when no sample
    does. Every output is searched, not only the top N."""
    _check_secrets(secrets)
    distinct = [ranked_samples[i] for i in distinct_samples(ranked_samples)]
    out: dict[str, int | None] = {}
    for c in secrets:
        out[c] = next((r for r, s in enumerate(distinct, 1) if contains_secret(s, c)), None)
    return out


@register_metric("extraction_precision", higher_is_better=True, modality="text", unit_interval=True)
def extraction_precision(
    ranked_samples: Sequence[str], secrets: Sequence[str], top_n: int
) -> float:
    """Precision of the top ``top_n`` DISTINCT samples (Carlini et al. 2021 de-duplicate
    near-identical samples, :func:`distinct_samples`): the fraction that reveal a secret not
    revealed by a higher-ranked sample, so each secret counts once however often it was
    generated. Fewer than ``top_n`` distinct samples count as misses."""
    _check_secrets(secrets, top_n)
    distinct = [ranked_samples[i] for i in distinct_samples(ranked_samples)][:top_n]
    found: set[str] = set()
    hits = 0
    for s in distinct:
        new = {c for c in secrets if c not in found and contains_secret(s, c)}
        if new:
            hits += 1
            found |= new
    return hits / top_n


@register_metric("secret_recall", higher_is_better=True, modality="text", unit_interval=True)
def secret_recall(ranked_samples: Sequence[str], secrets: Sequence[str], top_n: int) -> float:
    """Recall of the canary set among the top ``top_n`` distinct samples: the fraction of the
    (distinct) secrets that at least one of them holds."""
    _check_secrets(secrets, top_n)
    uniq = list(dict.fromkeys(secrets))
    ranks = canary_ranks(ranked_samples, uniq)
    return float(np.mean([r is not None and r <= top_n for r in ranks.values()]))


@register_metric("secrets_recovered", higher_is_better=True, modality="text", unit_interval=True)
def secrets_recovered(samples: Sequence[str], secrets: Sequence[str]) -> float:
    """Fraction of the secrets that occur in at least one sample."""
    if not secrets:
        raise MetricError("secrets: empty")
    return float(np.mean([any(contains_secret(s, c) for s in samples) for c in secrets]))


def secret_space(secret: str) -> int:
    """Size of the format of ``secret``: its digits (10 each) and letters (26 each) are the
    random part, everything else is fixed (``123-45-6789``: 10^9)."""
    digits = sum(ch.isdigit() for ch in secret)
    letters = sum(ch.isalpha() for ch in secret)
    return 10**digits * 26**letters


def random_guess_recall(secrets: Sequence[str], guesses: int) -> float:
    """Expected :func:`secret_recall` of ``guesses`` distinct uniform guesses of each secret's
    format (the baseline when no reference model is given)."""
    _check_secrets(secrets, guesses)
    return float(np.mean([min(1.0, guesses / secret_space(c)) for c in secrets]))


def random_guess_precision(secrets: Sequence[str]) -> float:
    """Expected :func:`extraction_precision` of uniform guesses of the secrets' formats: the
    chance that one guess is one of the secrets."""
    _check_secrets(secrets)
    return float(min(1.0, sum(1.0 / secret_space(c) for c in set(secrets))))


def random_rank_exposure(n_candidates: int) -> float:
    """Expected sample-estimated :func:`exposure` of a canary the model ranks uniformly at
    random among ``n_candidates`` sampled candidates (about log2(e) = 1.44 bits): the exposure
    of a model that never saw the canary."""
    if n_candidates < 1:
        raise MetricError(f"n_candidates: must be >= 1, got {n_candidates}")
    n = n_candidates
    return float(np.mean([-math.log2((c + 0.5) / (n + 1)) for c in range(n + 1)]))


def perplexity(nll_sums: Sequence[float], token_counts: Sequence[int]) -> float:
    """Token-level perplexity ``exp(sum NLL / sum tokens)`` of held-out text."""
    total = int(sum(token_counts))
    if total < 1:
        raise MetricError("perplexity: no tokens scored")
    return float(math.exp(float(sum(nll_sums)) / total))


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
