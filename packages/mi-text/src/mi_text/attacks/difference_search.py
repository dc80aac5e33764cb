"""Difference-metric search for the data a model was fine-tuned on (Zanella-Beguelin et al.,
CCS 2020, [93]; and the ``score_r`` variant of Panchendrarajan & Bhoi 2021, [94]; survey
Sec. V-A-3c).

``method="beam"`` ([93]): beam search for token sequences maximising the *difference score*

    DS(s) = sum_i f'(x_i | x_<i) - f(x_i | x_<i)

of the fine-tuned target f' (through its view) and the public base model f the attacker holds
(``knowledge.prior``): sequences the update made likely but the base model does not. Every beam
costs one target query per step.

``method="score_r"`` ([94]): sample complete sentences S_f from the fine-tuned target (empty
prompt, until EOS), let the base model continue the first half of each greedily (S_g), and rank
the sentences by ``score_r`` = how much the base model's second half differs from the target's
(1 - token F1 of S_g[l/2:] and S_f[l/2:]), ties broken by the difference score: a sentence the
base model cannot complete the same way was probably in the fine-tuning data.

``search=False`` switches the attack's optimisation off (its own starting point, for checking
that the search is what finds the secrets): ``beam`` returns as many top-k samples of the target
as the search would return sequences, ``score_r`` its sampled sentences in generation order.
Near-duplicates are dropped in rank order (:func:`~mi_text.metrics.distinct_samples`).
"""

from __future__ import annotations

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
from mi_text.generation import beam_search, sample
from mi_text.lm_access import lm_tokenizer, local_query
from mi_text.metrics import distinct_samples, token_f1_one


def difference_step(target_lp: torch.Tensor, ref_lp: torch.Tensor) -> torch.Tensor:
    """Per-token difference score of [93]: ``f'(x|.) - f(x|.)`` in probability space."""
    return target_lp.exp() - ref_lp.exp()


@dataclass
class DifferenceSearchConfig:
    """Hyper-parameters.

    Attributes:
        method: ``beam`` (difference-score beam search, [93]) or ``score_r`` ([94]).
        beam_width: beams kept (``beam``); also the number of sequences returned.
        expand: candidate next tokens per beam, the target's most likely ones (0 = all).
        top_p: candidates further restricted to the target's nucleus of this probability
            mass, so a beam ends where the target ends it (1 = no restriction; without it the
            beams of a strongly memorised sequence run on past its end with tokens neither
            model produces and crowd out the other sequences of the same start).
        max_new_tokens: sequence length searched / sampled.
        prompts: prompts to search from (empty string = from the start token); one search each.
        starts: for each prompt, one beam search per each of the ``starts`` first tokens with the
            highest difference score (diverse searches instead of beams sharing one prefix).
        n_samples: sentences sampled from the target (``score_r``).
        top_k: top-k sampling of those sentences (``score_r``; ``beam`` with ``search=False``).
        batch_size: sequences scored together.
        search: False switches the search / ranking off (see the module docstring).
        device: where the attacker's own language model (``knowledge.prior``) runs; it is
            moved there (``auto``: CUDA when present, else the CPU). Queries run where the
            target lives; results come back on the CPU.
    """

    method: Literal["beam", "score_r"] = "beam"
    beam_width: int = 20
    expand: int = 50
    top_p: float = 0.95
    max_new_tokens: int = 24
    prompts: tuple[str, ...] = ("",)
    starts: int = 8
    n_samples: int = 100
    top_k: int = 40
    batch_size: int = 32
    search: bool = True
    progress: bool = True
    device: str = "auto"

    def __post_init__(self) -> None:
        devices.check_device(self.device)
        check_choice("method", self.method, ("beam", "score_r"))
        for name in ("beam_width", "max_new_tokens", "n_samples", "top_k", "batch_size", "starts"):
            check_positive(name, getattr(self, name))
        check_positive("expand", self.expand, allow_zero=True)
        if not 0.0 < self.top_p <= 1.0:
            raise ConfigError(f"top_p: must be in (0, 1], got {self.top_p}")
        if not self.prompts:
            raise ConfigError("prompts: give at least one prompt ('' for the start token)")


class DifferenceSearch(BaseAttack):
    """Beam search on the difference score between a fine-tuned model and its base."""

    name = "difference-search"
    modality = "text"
    access = Access.BLACK_BOX_SCORES
    paper = "Zanella-Beguelin et al., CCS 2020; Panchendrarajan & Bhoi 2021"
    summary = "beam search on p_finetuned - p_base (or score_r) to recover fine-tuning data"
    Config = DifferenceSearchConfig
    requires = ("prior:causal-lm",)  # the public base model the target was fine-tuned from

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg: DifferenceSearchConfig = self.config
        base = knowledge.require("prior", "the public base model the target was fine-tuned from")
        dev = devices.attack_device(cfg.device, view)
        if isinstance(base, torch.nn.Module):
            base.to(dev)  # the attacker's own model runs on the attack's device
        ref = local_query(base)
        tok, start = lm_tokenizer(view, knowledge)
        if cfg.method == "beam" and not cfg.search:
            return self._unsearched(view, tok, start, seed)
        if cfg.method == "beam":
            return self._beam(view, ref, tok, start)
        return self._score_r(view, ref, tok, start, seed)

    def _unsearched(self, view, tok, start, seed) -> AttackResult:  # type: ignore[no-untyped-def]
        """The search switched off: as many top-k samples of the target per prompt as the
        search returns sequences (``starts * beam_width``), in generation order."""
        cfg: DifferenceSearchConfig = self.config
        g = torch.Generator().manual_seed(seed)
        texts: list[str] = []
        for p in cfg.prompts:
            prompt = [start, *tok.encode(p)]
            new = sample(
                view,
                [prompt] * (cfg.starts * cfg.beam_width),
                max_new_tokens=cfg.max_new_tokens,
                eos_id=tok.eos_id,
                top_k=cfg.top_k,
                generator=g,
            )
            texts += [tok.decode([*prompt[1:], *[t for t in n if t != tok.eos_id]]) for n in new]
        texts = [texts[i] for i in distinct_samples(texts)]
        return self._result(
            texts,
            scores=torch.zeros(len(texts), device="cpu"),
            info={"method": "beam", "search": False},
        )

    def _beam(self, view, ref, tok, start) -> AttackResult:  # type: ignore[no-untyped-def]
        cfg: DifferenceSearchConfig = self.config
        found: list[tuple[str, float]] = []
        for p in tqdm(cfg.prompts, desc=self.name, disable=not cfg.progress, leave=False):
            prompt = [start, *tok.encode(p)]
            first = difference_step(
                view([prompt])["next_logprobs"].float(), ref([prompt])["next_logprobs"].float()
            )[0]
            first[tok.eos_id] = float("-inf")
            top = first.topk(min(cfg.starts, first.numel()))
            for t0, s0 in zip(top.indices.tolist(), top.values.tolist(), strict=True):
                beams = beam_search(
                    view,
                    ref,
                    [*prompt, t0],
                    step_score=difference_step,
                    beam_width=cfg.beam_width,
                    max_new_tokens=cfg.max_new_tokens - 1,
                    eos_id=tok.eos_id,
                    expand=cfg.expand,
                    top_p=cfg.top_p,
                )
                for new, score in beams:
                    ids = [*prompt[1:], t0, *[t for t in new if t != tok.eos_id]]
                    found.append((tok.decode(ids), score + s0))
        found.sort(key=lambda x: -x[1])
        keep = distinct_samples([t for t, _ in found])
        texts = [found[i][0] for i in keep]
        return self._result(
            texts,
            scores=torch.tensor([found[i][1] for i in keep], device="cpu"),
            info={"method": "beam"},
        )

    def _score_r(self, view, ref, tok, start, seed) -> AttackResult:  # type: ignore[no-untyped-def]
        cfg: DifferenceSearchConfig = self.config
        g = torch.Generator().manual_seed(seed)
        prompts = [
            [start, *tok.encode(cfg.prompts[i % len(cfg.prompts)])] for i in range(cfg.n_samples)
        ]
        sents: list[list[int]] = []
        for b in range(0, len(prompts), cfg.batch_size):
            batch = prompts[b : b + cfg.batch_size]
            new = sample(
                view,
                batch,
                max_new_tokens=cfg.max_new_tokens,
                eos_id=tok.eos_id,
                top_k=cfg.top_k,
                generator=g,
                progress=cfg.progress,
            )
            sents += [
                p + [t for t in n if t != tok.eos_id] for p, n in zip(batch, new, strict=True)
            ]
        uniq: dict[tuple[int, ...], None] = {}
        for s in sents:
            if len(s) > 2:
                uniq.setdefault(tuple(s), None)
        sents = [list(s) for s in uniq]
        if not sents:
            raise ConfigError("score_r: every sampled sentence was empty; raise max_new_tokens")
        halves = [max(1, (len(s) - 1) // 2) + 1 for s in sents]  # keep start + first half
        # the base model continues each first half greedily as long as the target's second half
        conts = _greedy(
            ref,
            [s[:h] for s, h in zip(sents, halves, strict=True)],
            [len(s) - h for s, h in zip(sents, halves, strict=True)],
            tok.eos_id,
        )
        t_lp = view(sents)["token_logprobs"]
        r_lp = ref(sents)["token_logprobs"]
        ds = torch.stack([(a.exp() - b.exp()).sum() for a, b in zip(t_lp, r_lp, strict=True)])
        score_r = []
        for s, h, c in zip(sents, halves, conts, strict=True):
            score_r.append(1.0 - token_f1_one(tok.decode(c), tok.decode(s[h:])))
        sr = torch.tensor(score_r, device="cpu")
        key = sr + 1e-3 * ds / (ds.abs().max() + 1e-9)
        order = torch.argsort(-key, stable=True).tolist() if cfg.search else list(range(len(sr)))
        unranked = [tok.decode(s[1:]) for s in sents]
        order = [order[i] for i in distinct_samples([unranked[i] for i in order])]
        texts = [unranked[i] for i in order]
        return self._result(
            texts,
            scores=sr[order],
            arrays={"difference_score": ds[order]},
            info={
                "method": "score_r",
                "search": cfg.search,
                "unranked": [unranked[i] for i in distinct_samples(unranked)],
            },
        )


def _greedy(query, prefixes: list[list[int]], lengths: list[int], eos_id: int) -> list[list[int]]:  # type: ignore[no-untyped-def]
    """Greedy continuation of each prefix by ``lengths[i]`` tokens (stops at EOS)."""
    seqs = [list(p) for p in prefixes]
    out: list[list[int]] = [[] for _ in seqs]
    active = [i for i, n in enumerate(lengths) if n > 0]
    step = 0
    while active:
        nxt = query([seqs[i] for i in active])["next_logprobs"].argmax(-1).tolist()
        still = []
        for i, t in zip(active, nxt, strict=True):
            seqs[i].append(t)
            if t != eos_id:
                out[i].append(t)
            if t != eos_id and len(out[i]) < lengths[i]:
                still.append(i)
        active = still
        step += 1
    return out
