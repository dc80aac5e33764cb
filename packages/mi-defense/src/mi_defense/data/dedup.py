"""Deduplication of language-model training text.

Kandpal, Wallace, Raffel, "Deduplicating training data mitigates privacy risks in language
models", ICML 2022 (survey [133], Sec. VI-B 3): the chance that an LM regenerates a training
sequence grows steeply with how often the sequence occurs in its training data, so removing
duplicates lowers extraction. Following Lee et al. 2022 (the deduplication they rely on):

* ``exact``: documents equal after normalisation (case, whitespace) are kept once;
* ``near``: near-duplicate documents (MinHash estimate of the Jaccard similarity of their word
  n-gram shingles >= ``threshold``, candidates from LSH banding) are kept once;
* ``substring``: a run of >= ``min_tokens`` whitespace tokens already seen (earlier in the
  corpus) is cut from later documents (ExactSubstr, with n-gram hashing instead of a suffix
  array; documents left empty are dropped).

``method`` combines them (``"exact+near"`` is the default).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from mi_core.config import check_positive, check_range
from mi_core.defense import DataDefense
from mi_core.errors import ConfigError

METHODS = ("exact", "near", "substring")
_MERSENNE = (1 << 31) - 1  # a * h + b stays below 2**63 for 31-bit a, h, b


@dataclass
class DedupConfig:
    """Attributes:
    method: ``+``-joined subset of ``exact``, ``near``, ``substring``.
    threshold: Jaccard similarity from which two documents are near duplicates.
    shingle: words per shingle (near duplicates).
    num_perm: MinHash permutations (bands x rows).
    bands: LSH bands (num_perm must be a multiple).
    min_tokens: shortest repeated token run cut by ``substring``.
    seed: seed of the MinHash permutations.
    """

    method: str = "exact+near"
    threshold: float = 0.8
    shingle: int = 3
    num_perm: int = 64
    bands: int = 16
    min_tokens: int = 12
    seed: int = 0

    def __post_init__(self) -> None:
        parts = self.methods
        bad = [p for p in parts if p not in METHODS]
        if not parts or bad:
            raise ConfigError(
                f"method: unknown part(s) {bad or [self.method]}; combine {METHODS} with '+', "
                "e.g. 'exact+near'"
            )
        check_range("threshold", self.threshold, 0.0, 1.0)
        check_positive("shingle", self.shingle)
        check_positive("num_perm", self.num_perm)
        check_positive("bands", self.bands)
        if self.num_perm % self.bands:
            raise ConfigError(
                f"bands: num_perm ({self.num_perm}) must be a multiple of bands ({self.bands})"
            )
        check_positive("min_tokens", self.min_tokens)

    @property
    def methods(self) -> list[str]:
        return [p.strip() for p in self.method.split("+") if p.strip()]


def normalize_text(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


def _h64(s: str) -> int:
    return int.from_bytes(hashlib.blake2b(s.encode("utf-8"), digest_size=8).digest(), "little")


def exact_dedup(docs: list[str]) -> list[int]:
    """Indices of the documents kept (first occurrence of each normalised text)."""
    seen: set[str] = set()
    keep = []
    for i, d in enumerate(docs):
        key = normalize_text(d)
        if key not in seen:
            seen.add(key)
            keep.append(i)
    return keep


def minhash_signatures(docs: list[str], shingle: int, num_perm: int, seed: int) -> np.ndarray:
    """``(len(docs), num_perm)`` MinHash signatures of word-shingle sets (universal hashing)."""
    rng = np.random.default_rng(seed)
    a = rng.integers(1, _MERSENNE, num_perm, dtype=np.uint64)
    b = rng.integers(0, _MERSENNE, num_perm, dtype=np.uint64)
    sig = np.full((len(docs), num_perm), np.iinfo(np.uint64).max, dtype=np.uint64)
    for i, d in enumerate(docs):
        words = normalize_text(d).split()
        shingles = (
            {" ".join(words[j : j + shingle]) for j in range(len(words) - shingle + 1)}
            if len(words) >= shingle
            else {" ".join(words)}
        )
        h = np.array([_h64(s) % _MERSENNE for s in shingles], dtype=np.uint64)
        vals = (a[:, None] * h[None, :] + b[:, None]) % np.uint64(_MERSENNE)
        sig[i] = vals.min(axis=1)
    return sig


def near_dedup(
    docs: list[str], threshold: float, shingle: int, num_perm: int, bands: int, seed: int
) -> list[int]:
    """Indices of the documents kept: one per cluster of near duplicates (LSH candidates whose
    estimated Jaccard similarity is >= ``threshold``), the first in corpus order."""
    n = len(docs)
    if n == 0:
        return []
    sig = minhash_signatures(docs, shingle, num_perm, seed)
    rows = num_perm // bands
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for band in range(bands):
        buckets: dict[bytes, list[int]] = {}
        for i in range(n):
            buckets.setdefault(sig[i, band * rows : (band + 1) * rows].tobytes(), []).append(i)
        for members in buckets.values():
            first = members[0]
            for j in members[1:]:
                ri, rj = find(first), find(j)
                if ri != rj and float(np.mean(sig[first] == sig[j])) >= threshold:
                    parent[max(ri, rj)] = min(ri, rj)
    return [i for i in range(n) if find(i) == i]


def substring_dedup(docs: list[str], min_tokens: int) -> list[str]:
    """Cut from each document the token runs of length >= ``min_tokens`` seen earlier."""
    seen: set[int] = set()
    out = []
    for d in docs:
        toks = d.split()
        grams = [
            _h64(" ".join(toks[j : j + min_tokens])) for j in range(len(toks) - min_tokens + 1)
        ]
        drop = np.zeros(len(toks), dtype=bool)
        local: set[int] = set()
        for j, g in enumerate(grams):
            if g in seen or g in local:
                drop[j : j + min_tokens] = True
            local.add(g)
        seen |= local
        out.append(" ".join(t for t, x in zip(toks, drop) if not x))
    return out


class Deduplication(DataDefense):
    """Exact, near-duplicate and repeated-substring deduplication of LM training text."""

    name = "dedup"
    modalities = ("text",)
    paper = "Kandpal et al., ICML 2022 (survey [133]); Lee et al., ACL 2022"
    summary = "drop exact / near-duplicate documents and repeated substrings of LM training text"
    Config = DedupConfig

    def transform(self, data: Any) -> list[str]:
        """The deduplicated corpus (a list of documents, corpus order kept)."""
        if isinstance(data, str) or not all(isinstance(d, str) for d in data):
            raise ConfigError(
                "data: dedup takes a corpus as a list of documents (strings); split a single "
                "text into documents first"
            )
        docs = list(data)
        cfg = self.config
        self.report: dict[str, int] = {"documents_in": len(docs)}
        if "exact" in cfg.methods:
            docs = [docs[i] for i in exact_dedup(docs)]
            self.report["after_exact"] = len(docs)
        if "near" in cfg.methods:
            keep = near_dedup(docs, cfg.threshold, cfg.shingle, cfg.num_perm, cfg.bands, cfg.seed)
            docs = [docs[i] for i in keep]
            self.report["after_near"] = len(docs)
        if "substring" in cfg.methods:
            docs = [d for d in substring_dedup(docs, cfg.min_tokens) if d.strip()]
            self.report["after_substring"] = len(docs)
        return docs
