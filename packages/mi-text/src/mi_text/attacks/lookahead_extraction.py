"""Look-ahead training-data extraction (Yu et al., "Bag of tricks for training data extraction
from language models", ICML 2023, [92]; survey Sec. V-A-3a).

The perplexity-metric pipeline of Carlini et al. 2021 with a look-ahead sampler: instead of
sampling the next token from its own probability alone, every top-k candidate is scored by the
posterior probability of the subsequent sequence (the candidate followed by ``lookahead`` greedy
tokens), and the next token is sampled from those scores. Samples are ranked as in
:mod:`mi_text.attacks.perplexity_extraction`. Costs ``top_k * lookahead`` extra queries per
generated token.
"""

from __future__ import annotations

from dataclasses import dataclass

from mi_text.attacks.perplexity_extraction import (
    PerplexityExtraction,
    PerplexityExtractionConfig,
)


@dataclass
class LookAheadExtractionConfig(PerplexityExtractionConfig):
    """As :class:`PerplexityExtractionConfig`, with ``lookahead`` on (3 tokens) and a smaller
    candidate set (``top_k`` = 8) to bound the extra queries. ``lookahead=0`` with
    ``ranking="none"`` switches the attack's search off (plain top-k samples, unranked)."""

    lookahead: int = 3
    top_k: int = 8


class LookAheadExtraction(PerplexityExtraction):
    """Perplexity-metric extraction with look-ahead sampling (Yu et al. 2023)."""

    name = "lookahead-extraction"
    paper = "Yu et al., ICML 2023"
    summary = "extraction sampling each token by the probability of its greedy look-ahead"
    Config = LookAheadExtractionConfig
