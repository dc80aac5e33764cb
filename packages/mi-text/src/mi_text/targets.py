"""Deployed-LM targets for prompt extraction: a language model behind a hidden system prompt.

* :class:`PromptedLM` puts a prompt into a template (e.g. SmolLM2's chat template with the
  prompt as the system message) and returns the next-token log-distribution. The attacker holds
  one locally (the public model and template) to make training pairs.
* :class:`SystemPromptService` is the deployment: several hidden system prompts (one per
  deployment id) answered by the same model. It is a plain callable for
  :func:`mi_core.make_view`. One query = one request = one next-token distribution:

  - ``make_view(service, "black-box-scores")``: a request (a deployment id, or
    ``{"target": id, "logit_bias": {token: bias}}``) returns the full next-token log-probabilities
    (after the bias);
  - ``make_view(service, "label-only")``: the same request returns only the argmax token id --
    the API case of Morris et al. 2023 (argmax plus a logit bias).

The service computes each hidden prompt's logits once and answers every later request from
them (a deterministic model gives the same logits; only the bias changes), so a query costs
the attacker one request but the simulation almost nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from mi_core.errors import ConfigError
from mi_text.models import CausalLM

CHATML_SYSTEM = "<|im_start|>system\n{prompt}<|im_end|>\n<|im_start|>assistant\n"


class PromptedLM:
    """A causal LM with a prompt template: ``logprobs(prompts)`` -> (N, V) next-token
    log-probabilities after ``template.format(prompt=p)``."""

    def __init__(self, lm: CausalLM, template: str = "{prompt}", *, batch_size: int = 32) -> None:
        if not isinstance(lm, CausalLM):
            raise ConfigError(f"lm: expected a mi_text.models.CausalLM, got {type(lm).__name__}")
        if "{prompt}" not in template:
            raise ConfigError("template: must contain '{prompt}'")
        self.lm = lm
        self.template = template
        self.batch_size = batch_size

    @property
    def vocab_size(self) -> int:
        return self.lm.vocab_size

    def ids(self, prompt: str) -> list[int]:
        return self.lm.encode(self.template.format(prompt=prompt))

    @torch.no_grad()
    def logprobs(self, prompts: Sequence[str]) -> torch.Tensor:
        out = []
        for i in range(0, len(prompts), self.batch_size):
            seqs = [self.ids(p) for p in prompts[i : i + self.batch_size]]
            self.lm.clear_cache()
            out.append(self.lm(seqs)["next_logprobs"].float())
        return torch.cat(out)


class SystemPromptService:
    """Hidden system prompts served by one model (see the module doc)."""

    def __init__(self, prompted: PromptedLM, hidden_prompts: Sequence[str]) -> None:
        if not hidden_prompts:
            raise ConfigError("hidden_prompts: the service needs at least one system prompt")
        self._prompted = prompted
        self._hidden = list(hidden_prompts)
        self._logits: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self._hidden)

    def _base(self, target: int) -> torch.Tensor:
        if not 0 <= target < len(self._hidden):
            raise ConfigError(f"target: deployment id {target} is not in [0, {len(self._hidden)})")
        if target not in self._logits:
            missing = [target]
            lp = self._prompted.logprobs([self._hidden[i] for i in missing])
            for i, row in zip(missing, lp, strict=True):
                self._logits[i] = row
        return self._logits[target]

    def warm(self, targets: Sequence[int]) -> None:
        """Compute the logits of several deployments in one batch (speed only)."""
        todo = [int(t) for t in targets if int(t) not in self._logits]
        if todo:
            lp = self._prompted.logprobs([self._hidden[i] for i in todo])
            for i, row in zip(todo, lp, strict=True):
                self._logits[i] = row

    def __call__(self, requests: Sequence[Any]) -> torch.Tensor:
        rows = []
        for r in requests:
            if isinstance(r, Mapping):
                target = int(r["target"])
                bias = r.get("logit_bias") or {}
            else:
                target, bias = int(r), {}
            lp = self._base(target).clone()
            if bias:
                idx = torch.tensor([int(k) for k in bias], dtype=torch.long, device="cpu")
                lp[idx] += torch.tensor([float(v) for v in bias.values()], device="cpu")
                lp = torch.log_softmax(lp, -1)
            rows.append(lp)
        return torch.stack(rows)
