"""Confidence-metric search against a text classifier (Elmahdy, Inan & Sim 2022, [45];
Elmahdy & Salem 2023, [52]; survey Sec. V-A-3b).

The attacker knows the start of a private record inserted in the classifier's training data (a
canary such as ``"my pin is"``) and the label it was trained with, and searches the unknown
remainder token by token for the continuation that maximises the classifier's confidence in
that label. Candidates for each position come from a fixed candidate set
(``knowledge.extra["candidates"]``, e.g. the ten digits, [45]) or, as in [52], from a language
model's top-k next tokens (``knowledge.prior``, a :class:`~mi_text.models.CausalLM`). A
beam keeps the best partial records; a penalty ``repeat_penalty`` per repeated candidate counters
the classifier's bias towards a few frequent tokens ([45]'s regulariser).

Queries: one per candidate text classified (a black-box scores view of a classifier taking a
list of strings).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mi_core import device as devices
from mi_core.attack import BaseAttack
from mi_core.config import check_positive
from mi_core.errors import ConfigError
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView
from mi_text.lm_access import local_query
from mi_text.models import CausalLM


@dataclass
class ConfidenceSearchConfig:
    """Hyper-parameters.

    Attributes:
        n_tokens: length of the unknown remainder, in candidates.
        beam_width: partial records kept per step (1 = greedy).
        top_k: candidates per step drawn from ``knowledge.prior`` (an LM), [52].
        separator: string put between the prefix and each candidate.
        repeat_penalty: subtracted from the log-confidence per repeat of a candidate ([45]).
        suffix: known text after the secret (e.g. ``"."``).
        search: False switches the search off: candidates are ranked at random (seeded), not
            by the classifier's confidence, which gives the format's random guess.
        device: where the attacker's own language model (``knowledge.prior``) runs; it is
            moved there (``auto``: CUDA when present, else the CPU). Queries run where the
            target lives; results come back on the CPU.
    """

    n_tokens: int = 4
    beam_width: int = 5
    top_k: int = 20
    separator: str = " "
    repeat_penalty: float = 0.0
    suffix: str = ""
    search: bool = True
    device: str = "auto"

    def __post_init__(self) -> None:
        devices.check_device(self.device)
        check_positive("n_tokens", self.n_tokens)
        check_positive("beam_width", self.beam_width)
        check_positive("top_k", self.top_k)
        check_positive("repeat_penalty", self.repeat_penalty, allow_zero=True)


class ConfidenceSearch(BaseAttack):
    """Token search maximising a text classifier's confidence in the canary's label."""

    name = "confidence-search"
    modality = "text"
    access = Access.BLACK_BOX_SCORES
    paper = "Elmahdy et al. 2022; Elmahdy & Salem 2023"
    summary = "beam search over candidate tokens maximising a classifier's confidence in a label"
    Config = ConfidenceSearchConfig
    requires = ("known_attributes:text", "target_labels", "candidates|prior:causal-lm")

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg: ConfidenceSearchConfig = self.config
        dev = devices.attack_device(cfg.device, view)
        if isinstance(knowledge.prior, torch.nn.Module):
            knowledge.prior.to(dev)  # the attacker's own model runs on the attack's device
        prefixes = knowledge.require(
            "known_attributes", "the known starts of the records (list of str)"
        )
        labels = knowledge.require("target_labels", "the label each record was trained with")
        if isinstance(prefixes, str):
            prefixes = [prefixes]
        if isinstance(labels, int):
            labels = [labels] * len(prefixes)
        if len(labels) != len(prefixes):
            raise ConfigError(
                f"knowledge.target_labels: {len(labels)} labels for {len(prefixes)} prefixes"
            )
        fixed = knowledge.extra.get("candidates")
        lm = knowledge.prior
        if fixed is None and not isinstance(lm, CausalLM):
            raise ConfigError(
                "knowledge.extra['candidates']: give a candidate list (e.g. the digits) or a "
                "CausalLM as knowledge.prior to propose candidates"
            )
        lm_query = local_query(lm) if fixed is None else None
        g = torch.Generator().manual_seed(seed)
        found, confs, picks = [], [], []
        for prefix, y in zip(prefixes, labels, strict=True):
            beams: list[tuple[list[str], float]] = [([], 0.0)]
            for _ in range(cfg.n_tokens):
                expanded: list[tuple[list[str], str]] = []
                for toks, _s in beams:
                    if fixed is not None:
                        cands = [str(c) for c in fixed]
                    else:
                        assert isinstance(lm, CausalLM) and lm_query is not None
                        text = self._join(prefix, toks)
                        nxt = lm_query([lm.encode(text)])["next_logprobs"][0]
                        ids = nxt.topk(min(cfg.top_k, nxt.numel())).indices.tolist()
                        cands = [lm.tokenizer.decode([i]).strip() for i in ids]
                        cands = [c for c in cands if c] or ["."]
                    expanded += [([*toks, c], self._join(prefix, [*toks, c])) for c in cands]
                probs = torch.as_tensor(
                    view([t + cfg.suffix for _, t in expanded]), device="cpu"
                ).float()
                if probs.ndim != 2 or not 0 <= int(y) < probs.shape[1]:
                    raise ConfigError(
                        f"target_labels: label {y} is not a column of the classifier's scores "
                        f"(shape {tuple(probs.shape)})"
                    )
                logc = probs[:, int(y)].clamp(min=1e-12).log()
                if not cfg.search:
                    logc = torch.rand(len(expanded), generator=g, device="cpu")
                scored = []
                for (toks, _t), lc in zip(expanded, logc.tolist(), strict=True):
                    rep = len(toks) - len(set(toks))
                    scored.append((toks, lc - cfg.repeat_penalty * rep))
                scored.sort(key=lambda x: -x[1])
                beams = scored[: cfg.beam_width]
            best, score = beams[0]
            found.append(self._join(prefix, best) + cfg.suffix)
            confs.append(score)
            picks.append(best)
        return self._result(
            found,
            targets=list(labels),
            scores=torch.tensor(confs, device="cpu"),
            info={"secrets": picks},
        )

    def _join(self, prefix: str, toks: list[str]) -> str:
        sep = self.config.separator
        return prefix + "".join(sep + t if sep else t for t in toks)
