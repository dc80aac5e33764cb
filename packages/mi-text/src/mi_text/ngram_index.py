"""An index of the token n-grams of an auxiliary corpus, for detecting memorised model output
by exact matching (Nasr et al. 2023 match 50-token windows of model output against a suffix
array of a large web corpus; here every n-token window of the corpus is hashed once).

Each window is reduced to a 64-bit polynomial hash (collisions are possible but have a
probability of about ``windows**2 / 2**64``, far below one for any corpus that fits in memory);
the hashes are kept sorted in one NumPy array, so a lookup is a binary search and the index of a
2-million-token corpus takes 16 MB.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from mi_core.errors import ConfigError

_BASE = np.uint64(1_000_003)


def _hashes(tokens: Sequence[int], n: int) -> np.ndarray:
    """64-bit polynomial hashes of every n-token window of ``tokens`` (empty if shorter)."""
    a = np.asarray(tokens, dtype=np.uint64)
    if a.ndim != 1:
        raise ConfigError(f"tokens: expected a flat sequence of token ids, got shape {a.shape}")
    if len(a) < n:
        return np.zeros(0, dtype=np.uint64)
    windows = np.lib.stride_tricks.sliding_window_view(a + np.uint64(1), n)
    powers = np.ones(n, dtype=np.uint64)
    with np.errstate(over="ignore"):  # arithmetic modulo 2**64 is the point
        for i in range(n - 2, -1, -1):
            powers[i] = powers[i + 1] * _BASE
        return (windows * powers).sum(axis=1, dtype=np.uint64)


class NgramIndex:
    """Hashed n-grams of token sequences (see the module doc).

    >>> idx = NgramIndex.build([[1, 2, 3, 4, 5]], n=3)
    >>> idx.covered([9, 2, 3, 4, 9]).tolist()
    [False, True, True, True, False]
    """

    def __init__(self, n: int, hashes: np.ndarray | None = None) -> None:
        if not isinstance(n, int) or n < 1:
            raise ConfigError(f"n: the n-gram length must be a positive integer, got {n!r}")
        self.n = n
        self._hashes = np.zeros(0, dtype=np.uint64) if hashes is None else np.unique(hashes)

    @classmethod
    def build(cls, sequences: Iterable[Sequence[int]], n: int) -> NgramIndex:
        """Index every n-token window of each sequence (windows never span two sequences)."""
        parts = [_hashes(s, n) for s in sequences]
        return cls(n, np.concatenate(parts) if parts else None)

    def __len__(self) -> int:
        return int(self._hashes.size)

    def _found(self, tokens: Sequence[int]) -> np.ndarray:
        h = _hashes(tokens, self.n)
        if h.size == 0 or self._hashes.size == 0:
            return np.zeros(h.size, dtype=bool)
        pos = np.searchsorted(self._hashes, h).clip(max=self._hashes.size - 1)
        return self._hashes[pos] == h

    def __contains__(self, window: Sequence[int]) -> bool:
        if len(window) != self.n:
            raise ConfigError(f"window: expected {self.n} tokens, got {len(window)}")
        return bool(self._found(window)[0])

    def covered(self, tokens: Sequence[int]) -> np.ndarray:
        """Per token of ``tokens``: whether it lies inside an n-token window found in the index."""
        found = self._found(tokens)
        out = np.zeros(len(tokens), dtype=bool)
        for i in np.flatnonzero(found):
            out[i : i + self.n] = True
        return out

    def spans(self, tokens: Sequence[int]) -> list[tuple[int, int]]:
        """Maximal ``[start, end)`` runs of covered tokens (each at least n long)."""
        cov = self.covered(tokens)
        out, start = [], None
        for i, c in enumerate([*cov.tolist(), False]):
            if c and start is None:
                start = i
            elif not c and start is not None:
                out.append((start, i))
                start = None
        return out
