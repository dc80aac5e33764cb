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


#: ChatML with a system turn and one user turn (SmolLM2's chat template)
CHATML_CHAT = (
    "<|im_start|>system\n{prompt}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n"
    "<|im_start|>assistant\n"
)


class ChatLM:
    """A causal LM behind a chat template with a system prompt and a user message:
    ``reply(pairs)`` greedily decodes the assistant's answer to each (system prompt, user
    message) pair, up to ``max_new_tokens`` tokens or EOS. The attacker holds one locally (the
    public model and template) to make training pairs for output inversion."""

    def __init__(
        self,
        lm: CausalLM,
        template: str = CHATML_CHAT,
        *,
        max_new_tokens: int = 32,
        stop: Sequence[int] = (),
        batch_size: int = 32,
    ) -> None:
        if not isinstance(lm, CausalLM):
            raise ConfigError(f"lm: expected a mi_text.models.CausalLM, got {type(lm).__name__}")
        if "{prompt}" not in template or "{user}" not in template:
            raise ConfigError("template: must contain '{prompt}' and '{user}'")
        if max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens: must be >= 1, got {max_new_tokens}")
        self.lm = lm
        self.template = template
        self.max_new_tokens = max_new_tokens
        self.stop = {int(s) for s in stop} | {lm.eos_id}
        self.batch_size = batch_size
        self._replies: dict[tuple[str, str], str] = {}

    @torch.no_grad()
    def reply(self, pairs: Sequence[tuple[str, str]]) -> list[str]:
        """The greedy reply to each (system prompt, user message) pair (replies are
        deterministic, so each pair is generated once and remembered)."""
        from mi_text.generation import sample

        todo = list(dict.fromkeys(p for p in pairs if p not in self._replies))
        g = torch.Generator().manual_seed(0)  # greedy: the generator is never drawn from
        for i in range(0, len(todo), self.batch_size):
            chunk = todo[i : i + self.batch_size]
            seqs = [self.lm.encode(self.template.format(prompt=p, user=u)) for p, u in chunk]
            self.lm.clear_cache()
            new = sample(
                lambda s: self.lm(s),
                seqs,
                max_new_tokens=self.max_new_tokens,
                eos_id=None,
                top_k=1,
                generator=g,
            )
            for pair, toks in zip(chunk, new, strict=True):
                cut = next((j for j, t in enumerate(toks) if t in self.stop), len(toks))
                self._replies[pair] = self.lm.decode(toks[:cut]).strip()
        return [self._replies[p] for p in pairs]


class ChatService:
    """Hidden system prompts behind a chat API that returns only the assistant's text.

    A request is ``{"target": deployment id, "user": message}``; the answer is the reply text
    (greedy, so the same request always gets the same reply; :class:`ChatLM` remembers them).
    One query = one request = one reply. Use :func:`chat_view` for the (label-only: text, no
    scores) view.
    """

    def __init__(self, chat: ChatLM, hidden_prompts: Sequence[str]) -> None:
        if not hidden_prompts:
            raise ConfigError("hidden_prompts: the service needs at least one system prompt")
        self._chat = chat
        self._hidden = list(hidden_prompts)

    def __len__(self) -> int:
        return len(self._hidden)

    def mi_labels_fn(self, requests: Sequence[Any]) -> list[str]:
        """What a label-only view releases: the reply text itself (see
        :func:`mi_core.views.view_from_callable`)."""
        return self(requests)

    def __call__(self, requests: Sequence[Any]) -> list[str]:
        keys = []
        for r in requests:
            if not isinstance(r, Mapping) or "target" not in r or "user" not in r:
                raise ConfigError(
                    f"request: expected {{'target': deployment id, 'user': message}}, got {r!r}"
                )
            t = int(r["target"])
            if not 0 <= t < len(self._hidden):
                raise ConfigError(f"target: deployment id {t} is not in [0, {len(self._hidden)})")
            keys.append((self._hidden[t], str(r["user"])))
        return self._chat.reply(keys)


def chat_view(service: ChatService, *, budget: int | None = None) -> Any:
    """The label-only view of a :class:`ChatService` (replies are text: no scores); the same as
    ``make_view(service, "label-only")``."""
    from mi_core.views import view_from_callable

    return view_from_callable(service, "label-only", budget=budget)
