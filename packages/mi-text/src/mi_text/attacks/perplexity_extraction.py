"""Perplexity-metric training-data extraction (Carlini et al., USENIX Security 2021; survey
Sec. V-A-3a, Eq. 8).

1. Generate many samples from the target LM: top-k sampling, optionally with a temperature that
   decays from a high start (more diverse prefixes) to 1, from empty or internet-style prompts
   (short prefixes of public text, ``knowledge.auxiliary``).
2. Rank the samples by a membership metric, most suspicious first:

   * ``perplexity``: ``P(s) = exp(-1/n sum log f(x_i | x_<i))`` (Eq. 8), low first;
   * ``zlib``: log-perplexity over the zlib-compressed length in bits (memorised text is likely
     under the model but not trivially compressible);
   * ``lowercase``: log-perplexity of the sample over that of its lower-cased copy;
   * ``reference``: log-perplexity under the target over that under a reference model
     (``knowledge.prior``, e.g. the public base model);
   * ``none``: no ranking, the generation order (the attack's unranked starting point).

3. Drop near-duplicates (Carlini et al.'s trigram rule, :func:`~mi_text.metrics.distinct_samples`)
   in rank order, keeping the best-ranked sample of each group, so that the top N are N
   distinct samples. ``info["unranked"]`` holds the distinct samples in generation order.

Queries (black-box scores view of a :class:`~mi_text.models.CausalLM`): one per sequence per
call, so a sample of T generated tokens costs T, scoring it costs 1 more (2 with ``lowercase``).
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass
from typing import Literal

import torch
from tqdm.auto import tqdm

from mi_core import device as devices
from mi_core.attack import BaseAttack
from mi_core.config import check_choice, check_positive
from mi_core.errors import ConfigError
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView
from mi_text.generation import TemperatureSchedule, sample, sequence_nll
from mi_text.lm_access import lm_tokenizer, local_query
from mi_text.metrics import distinct_samples

RANKINGS = ("perplexity", "zlib", "lowercase", "reference", "none")


@dataclass
class PerplexityExtractionConfig:
    """Hyper-parameters.

    Attributes:
        n_samples: samples generated.
        max_new_tokens: tokens generated per sample.
        top_k: sample among the k most likely next tokens.
        temperature_start / temperature_end / decay_tokens: temperature schedule (Carlini et al.
            use 10 -> 1 over the first 20 tokens; 1 / 1 is plain top-k sampling).
        prompt_words: words of public text used as an internet-style prompt (0 = empty prompt).
        ranking: membership metric used to order the samples (see the module doc; ``none``
            keeps the generation order: the ranking switched off).
        lookahead: tokens of greedy look-ahead per candidate (Yu et al. 2023; 0 = off).
        batch_size: samples generated together.
        deduplicate: drop near-duplicate samples (Carlini et al. de-duplicate too).
        device: where the attacker's own language model (``knowledge.prior``) runs; it is
            moved there (``auto``: CUDA when present, else the CPU). Queries run where the
            target lives; results come back on the CPU.
    """

    n_samples: int = 200
    max_new_tokens: int = 32
    top_k: int = 40
    temperature_start: float = 1.0
    temperature_end: float = 1.0
    decay_tokens: int = 20
    prompt_words: int = 0
    ranking: Literal["perplexity", "zlib", "lowercase", "reference", "none"] = "zlib"
    lookahead: int = 0
    batch_size: int = 32
    deduplicate: bool = True
    progress: bool = True
    device: str = "auto"

    def __post_init__(self) -> None:
        devices.check_device(self.device)
        for name in ("n_samples", "max_new_tokens", "top_k", "batch_size"):
            check_positive(name, getattr(self, name))
        check_positive("temperature_start", self.temperature_start)
        check_positive("temperature_end", self.temperature_end)
        check_positive("decay_tokens", self.decay_tokens, allow_zero=True)
        check_positive("prompt_words", self.prompt_words, allow_zero=True)
        check_positive("lookahead", self.lookahead, allow_zero=True)
        check_choice("ranking", self.ranking, RANKINGS)


def zlib_bits(text: str) -> int:
    """Length of the zlib-compressed UTF-8 text in bits."""
    return 8 * len(zlib.compress(text.encode("utf-8")))


def make_prompts(n: int, words: int, corpus: list[str] | None, rng: random.Random) -> list[str]:
    """``n`` internet-style prompts: the first ``words`` words of random public documents
    (empty prompts when ``words`` is 0)."""
    if words == 0:
        return [""] * n
    if not corpus:
        raise ConfigError(
            "knowledge.auxiliary: prompt_words > 0 needs public text to draw prompts from "
            "(a list of strings); or set prompt_words=0 for empty prompts"
        )
    docs = [d for d in corpus if len(d.split()) >= words] or list(corpus)
    out = []
    for _ in range(n):
        doc = rng.choice(docs).split()
        out.append(" ".join(doc[:words]))
    return out


class PerplexityExtraction(BaseAttack):
    """Generate-then-rank training-data extraction (Carlini et al. 2021)."""

    name = "perplexity-extraction"
    modality = "text"
    access = Access.BLACK_BOX_SCORES
    paper = "Carlini et al., USENIX Security 2021"
    summary = (
        "top-k / decaying-temperature sampling, ranked by perplexity, zlib, lower-case or "
        "reference ratio"
    )
    Config = PerplexityExtractionConfig
    #: the target's tokenizer (or a reference model sharing it)
    requires = ("tokenizer|prior:causal-lm",)

    def required_knowledge(self) -> tuple[str, ...]:
        need = list(self.requires)
        if self.config.ranking == "reference":
            need.append("prior:causal-lm")
        if self.config.prompt_words > 0:
            need.append("auxiliary:text")
        return tuple(need)

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg: PerplexityExtractionConfig = self.config
        dev = devices.attack_device(cfg.device, view)
        if isinstance(knowledge.prior, torch.nn.Module):
            knowledge.prior.to(dev)  # the attacker's own model runs on the attack's device
        tok, start = lm_tokenizer(view, knowledge)
        ref_query = None
        if knowledge.prior is not None:
            ref_query = local_query(knowledge.prior)
        if cfg.ranking == "reference" and ref_query is None:
            raise ConfigError(
                "knowledge.prior: ranking='reference' needs a reference CausalLM (e.g. the "
                "public base model) as knowledge.prior"
            )
        rng = random.Random(seed)
        g = torch.Generator().manual_seed(seed)
        corpus = knowledge.auxiliary if isinstance(knowledge.auxiliary, list) else None
        prompts = make_prompts(cfg.n_samples, cfg.prompt_words, corpus, rng)
        sched = TemperatureSchedule(cfg.temperature_start, cfg.temperature_end, cfg.decay_tokens)
        seqs: list[list[int]] = []
        bar = tqdm(total=cfg.n_samples, desc=self.name, disable=not cfg.progress, leave=False)
        for b in range(0, cfg.n_samples, cfg.batch_size):
            batch = [[start, *tok.encode(p)] for p in prompts[b : b + cfg.batch_size]]
            new = sample(
                view,
                batch,
                max_new_tokens=cfg.max_new_tokens,
                eos_id=tok.eos_id,
                top_k=cfg.top_k,
                temperature=sched,
                lookahead=cfg.lookahead,
                generator=g,
            )
            for p, n in zip(batch, new, strict=True):
                seqs.append(p + [t for t in n if t != tok.eos_id])
            bar.update(len(batch))
        bar.close()
        seqs = [s if len(s) > 1 else [*s, tok.eos_id] for s in seqs]
        texts = [tok.decode(s[1:]) for s in seqs]
        n_generated = len(texts)
        if cfg.deduplicate:
            first: dict[str, int] = {}
            for i, t in enumerate(texts):
                first.setdefault(" ".join(t.split()), i)
            keep = sorted(first.values())
            seqs, texts = [seqs[i] for i in keep], [texts[i] for i in keep]
            prompts = [prompts[i] for i in keep]
        nll = sequence_nll(view, seqs, batch_size=cfg.batch_size)
        scores: dict[str, torch.Tensor] = {"perplexity": nll}
        scores["zlib"] = nll / torch.tensor(
            [max(zlib_bits(t), 1) for t in texts], dtype=torch.float, device="cpu"
        )
        if cfg.ranking == "lowercase":
            lower = [[start, *(tok.encode(t.lower()) or [tok.eos_id])] for t in texts]
            scores["lowercase"] = nll / sequence_nll(view, lower, batch_size=cfg.batch_size)
        if ref_query is not None:
            ref = sequence_nll(ref_query, seqs, batch_size=cfg.batch_size)
            scores["reference"] = nll / ref.clamp(min=1e-6)
        if cfg.ranking == "none":
            order = list(range(len(texts)))
            key = torch.zeros(len(texts), device="cpu")
        else:
            key = scores[cfg.ranking]
            order = torch.argsort(key, stable=True).tolist()
        unranked = texts
        if cfg.deduplicate:
            order = [order[i] for i in distinct_samples([texts[i] for i in order])]
            unranked = [texts[i] for i in distinct_samples(texts)]
        ranked = [texts[i] for i in order]
        return self._result(
            ranked,
            scores=key[order],
            arrays={k: v[order] for k, v in scores.items()},
            info={
                "ranking": cfg.ranking,
                "unranked": unranked,
                "generated": n_generated,
                "prompts": [prompts[i] for i in order],
            },
        )
