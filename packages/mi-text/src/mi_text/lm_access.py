"""How attacks reach causal LMs: the target through its view, a reference / base model that the
attacker holds locally (``knowledge.prior``), and the tokenizer they share."""

from __future__ import annotations

from typing import Any

import torch

from mi_core.errors import ConfigError
from mi_core.threat import Knowledge
from mi_core.views import TargetView
from mi_text.models import CausalLM
from mi_text.tokenizers import Tokenizer, as_tokenizer


def local_query(lm: CausalLM) -> Any:
    """The attacker's own model as a query function (no autograd, no counting)."""
    if not isinstance(lm, CausalLM):
        raise ConfigError(
            f"knowledge.prior: expected a mi_text.models.CausalLM (the attacker's local copy of "
            f"the reference model), got {type(lm).__name__}"
        )

    def query(seqs: list[list[int]]) -> dict[str, Any]:
        with torch.no_grad():
            return lm(seqs)

    return query


def lm_tokenizer(view: TargetView, knowledge: Knowledge) -> tuple[Tokenizer, int]:
    """The tokenizer and start token the attacker uses with the target: ``knowledge.extra
    ["tokenizer"]`` (and ``["start_id"]``), else those of ``knowledge.prior`` (a public model of
    the same family shares its tokenizer)."""
    tok = knowledge.extra.get("tokenizer")
    if tok is not None:
        t = as_tokenizer(tok)
        start = knowledge.extra.get("start_id", t.bos_id if t.bos_id is not None else t.eos_id)
        return t, int(start)
    prior = knowledge.prior
    if isinstance(prior, CausalLM):
        return prior.tokenizer, prior.start_id
    raise ConfigError(
        "knowledge.extra['tokenizer']: the attack needs the target's tokenizer (public for open "
        "models): give knowledge.extra={'tokenizer': tok} or a reference CausalLM as "
        "knowledge.prior"
    )
