"""Search and sampling machinery over a causal LM's query function, shared by the extraction
attacks (one loop each, composed, never copied).

``query`` is anything mapping a list of token-id sequences to ``{"token_logprobs",
"next_logprobs"}``: a black-box view of a :class:`~mi_text.models.CausalLM` (counted queries) or
the attacker's own local model (a reference / base model).

* :func:`sample` -- top-k sampling with a temperature schedule (Carlini et al. 2021: temperature
  decaying from 10 to 1 over the first 20 tokens), optionally with look-ahead (Yu et al. 2023,
  "Bag of tricks", [92]): each top-k candidate is scored by the probability of itself plus its
  greedy continuation of ``lookahead`` tokens.
* :func:`sequence_nll` -- mean negative log-likelihood of sequences (log perplexity, Eq. 8).
* :func:`beam_search` -- beam search on a per-token score built from the target's and a
  reference model's next-token distributions (Zanella-Beguelin et al. 2020).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from tqdm.auto import tqdm

from mi_core.errors import ConfigError

Query = Callable[[list[list[int]]], dict[str, Any]]


@dataclass(frozen=True)
class TemperatureSchedule:
    """Temperature ``start`` decaying linearly to ``end`` over the first ``steps`` tokens."""

    start: float = 1.0
    end: float = 1.0
    steps: int = 1

    def __call__(self, t: int) -> float:
        if self.steps <= 0 or t >= self.steps:
            return self.end
        return self.start + (self.end - self.start) * t / self.steps


def _topk_sample(
    logits: torch.Tensor, k: int, temperature: float, g: torch.Generator
) -> torch.Tensor:
    k = min(k, logits.shape[-1])
    vals, idx = (logits / max(temperature, 1e-6)).topk(k, dim=-1)
    probs = torch.softmax(vals, dim=-1)
    # drawn on the CPU generator (the same draws on every device), then moved back
    pick = torch.multinomial(probs.cpu(), 1, generator=g).to(idx.device)
    return idx.gather(-1, pick).squeeze(-1)


def sample(
    query: Query,
    prompts: Sequence[Sequence[int]],
    *,
    max_new_tokens: int,
    eos_id: int | None,
    top_k: int = 40,
    temperature: TemperatureSchedule | None = None,
    lookahead: int = 0,
    generator: torch.Generator | None = None,
    progress: bool = False,
    desc: str = "sampling",
) -> list[list[int]]:
    """Continue every prompt (token ids) by up to ``max_new_tokens`` sampled tokens; returns the
    new tokens of each (without the prompt; generation stops at ``eos_id``)."""
    if max_new_tokens < 1:
        raise ConfigError(f"max_new_tokens: must be >= 1, got {max_new_tokens}")
    if top_k < 1:
        raise ConfigError(f"top_k: must be >= 1, got {top_k}")
    sched = temperature or TemperatureSchedule()
    g = generator or torch.Generator().manual_seed(0)
    seqs = [list(p) for p in prompts]
    new: list[list[int]] = [[] for _ in seqs]
    active = list(range(len(seqs)))
    for t in tqdm(range(max_new_tokens), desc=desc, disable=not progress, leave=False):
        if not active:
            break
        batch = [seqs[i] for i in active]
        nxt = query(batch)["next_logprobs"].float()
        temp = sched(t)
        if lookahead > 0:
            chosen = _lookahead_choice(query, batch, nxt, top_k, lookahead, temp, g)
        else:
            chosen = _topk_sample(nxt, top_k, temp, g)
        still = []
        for row, i in enumerate(active):
            tok = int(chosen[row])
            seqs[i].append(tok)
            new[i].append(tok)
            if eos_id is None or tok != eos_id:
                still.append(i)
        active = still
    return new


def _lookahead_choice(
    query: Query,
    batch: list[list[int]],
    nxt: torch.Tensor,
    k: int,
    depth: int,
    temperature: float,
    g: torch.Generator,
) -> torch.Tensor:
    """Yu et al. 2023 look-ahead: score each top-k candidate by log p(candidate) plus the
    log-probability of its greedy continuation of ``depth`` tokens; sample by those scores."""
    k = min(k, nxt.shape[-1])
    cand_lp, cand = nxt.topk(k, dim=-1)  # (B, k)
    rows = [[*b, int(c)] for b, cs in zip(batch, cand.tolist(), strict=True) for c in cs]
    total = cand_lp.reshape(-1).clone()
    for _ in range(depth):
        out = query(rows)["next_logprobs"].float()
        lp, tok = out.max(dim=-1)
        total += lp
        rows = [[*r, int(t)] for r, t in zip(rows, tok.tolist(), strict=True)]
    scores = total.reshape(len(batch), k) / max(temperature, 1e-6)
    pick = torch.multinomial(torch.softmax(scores, dim=-1).cpu(), 1, generator=g)
    return cand.gather(-1, pick.to(cand.device)).squeeze(-1)


def sequence_nll(
    query: Query, sequences: Sequence[Sequence[int]], *, skip: int = 0, batch_size: int = 64
) -> torch.Tensor:
    """Mean negative log-likelihood per token of each sequence (the log of the perplexity of
    Eq. 8), ignoring the first ``skip`` scored tokens (e.g. the prompt)."""
    out = []
    seqs = [list(s) for s in sequences]
    for i in range(0, len(seqs), batch_size):
        res = query(seqs[i : i + batch_size])
        for lp in res["token_logprobs"]:
            lp = lp[skip:]
            if lp.numel() == 0:
                raise ConfigError("sequence_nll: a sequence has no token to score after `skip`")
            out.append(-lp.float().mean())
    return torch.stack(out)


StepScore = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def beam_search(
    query: Query,
    reference: Query,
    prompt: Sequence[int],
    *,
    step_score: StepScore,
    beam_width: int,
    max_new_tokens: int,
    eos_id: int | None,
    expand: int = 0,
    top_p: float = 1.0,
    progress: bool = False,
) -> list[tuple[list[int], float]]:
    """Beam search maximising the sum of per-token scores ``step_score(target_lp, ref_lp)``
    ((B, V) next-token log-probabilities of the target and the reference model -> (B, V)).

    ``expand`` > 0 restricts the candidates of each beam to the target's top ``expand`` tokens;
    ``top_p`` < 1 to the smallest set of its most likely tokens holding that much probability
    (the nucleus), so that a beam ends where the target ends it instead of running on through
    tokens neither model would produce.
    Returns the final beams (new tokens, total score), best first; beams ending in ``eos_id``
    are kept as finished.
    """
    if beam_width < 1:
        raise ConfigError(f"beam_width: must be >= 1, got {beam_width}")
    beams: list[tuple[list[int], float]] = [(list(prompt), 0.0)]
    finished: list[tuple[list[int], float]] = []
    n0 = len(prompt)
    for _ in tqdm(range(max_new_tokens), desc="beam search", disable=not progress, leave=False):
        if not beams:
            break
        seqs = [b[0] for b in beams]
        t_lp = query(seqs)["next_logprobs"].float()
        r_lp = reference(seqs)["next_logprobs"].float()
        step = step_score(t_lp, r_lp)
        if expand > 0:
            keep = t_lp.topk(min(expand, t_lp.shape[-1]), dim=-1).indices
            masked = torch.full_like(step, float("-inf"))
            masked.scatter_(1, keep, step.gather(1, keep))
            step = masked
        if top_p < 1.0:
            probs, idx = t_lp.exp().sort(dim=-1, descending=True)
            outside = probs.cumsum(-1) - probs >= top_p  # the nucleus keeps at least one token
            step = step.scatter(1, idx, step.gather(1, idx).masked_fill(outside, float("-inf")))
        totals = step + torch.tensor([b[1] for b in beams], device="cpu")[:, None]
        flat = totals.reshape(-1)
        top = flat.topk(min(beam_width, flat.numel())).indices
        new_beams = []
        for idx in top.tolist():
            b, tok = divmod(idx, step.shape[1])
            seq = [*beams[b][0], tok]
            score = float(flat[idx])
            if eos_id is not None and tok == eos_id:
                finished.append((seq, score))
            else:
                new_beams.append((seq, score))
        beams = new_beams
    allb = sorted(finished + beams, key=lambda x: -x[1])
    return [(s[n0:], sc) for s, sc in allb]
