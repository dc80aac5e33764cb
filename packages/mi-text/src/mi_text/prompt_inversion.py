"""Shared machinery of the prompt-extraction attacks (Morris et al., "Language model
inversion", ICLR 2024, [40]): the features an inverter reads, the token subset, the training
pairs made with the attacker's local copy of the model.

Both attacks feed the inverter the same features, so the API case differs only in how they are
obtained: for a subset S of the vocabulary, ``x_s = clip(log p_s - max_v log p_v, -B, 0) / B +
1`` -- each token's log-probability gap to the argmax, capped at ``B`` (``bias_bound``). With
full probabilities the gaps are read off; with only the argmax and a logit bias they are the
smallest bias that makes token s the argmax, found by binary search.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from mi_core import device as devices
from mi_core.config import check_positive
from mi_core.errors import ConfigError
from mi_core.threat import Knowledge
from mi_text.inverters import ConditionalDecoder, InverterConfig, train_inverter
from mi_text.targets import PromptedLM
from mi_text.tokenizers import WordTokenizer


@dataclass
class PromptInversionConfig:
    """Shared settings.

    Attributes:
        inverter: the decoder (``unroll=True``: the feature vector is cut into chunks, each a
            pseudo-embedding, as in Morris et al.).
        token_subset: size of the token subset S (0 = the whole vocabulary); S is the tokens
            with the highest mean probability over the attacker's own training prompts.
        bias_bound: largest gap B measured (API logit biases are bounded).
        beams: beam width when decoding.
        device: where the inverter trains and decodes (``auto``: CUDA when present, else the
            CPU); results come back on the CPU.
    """

    inverter: InverterConfig = field(
        default_factory=lambda: InverterConfig(unroll=True, chunk=256, n_prefix=1)
    )
    token_subset: int = 0
    bias_bound: float = 20.0
    beams: int = 4
    checkpoint: str | None = None
    progress: bool = True
    device: str = "auto"

    def __post_init__(self) -> None:
        devices.check_device(self.device)
        if isinstance(self.inverter, dict):
            self.inverter = InverterConfig(**{"unroll": True, **self.inverter})
        check_positive("token_subset", self.token_subset, allow_zero=True)
        check_positive("bias_bound", self.bias_bound)
        check_positive("beams", self.beams)


def gap_features(logprobs: torch.Tensor, subset: torch.Tensor | None, bound: float) -> torch.Tensor:
    """``clip(log p_s - max log p, -B, 0) / B + 1`` for s in the subset (all tokens if None)."""
    gaps = logprobs - logprobs.max(-1, keepdim=True).values
    if subset is not None:
        gaps = gaps[:, subset]
    return gaps.clamp(min=-bound) / bound + 1.0


def choose_subset(train_lp: torch.Tensor, k: int) -> torch.Tensor | None:
    """The ``k`` tokens of highest mean probability over the training distributions."""
    if k == 0 or k >= train_lp.shape[1]:
        return None
    return train_lp.exp().mean(0).topk(k).indices.sort().values


def knowledge_parts(
    knowledge: Knowledge, prior_type: type = PromptedLM
) -> tuple[Any, list[str], list[int]]:
    """``(local model, example prompts, deployment ids)`` of a prompt-extraction attack's
    knowledge: the attacker's local copy of the public model (a ``prior_type``: a
    :class:`~mi_text.targets.PromptedLM`, or a :class:`~mi_text.targets.ChatLM` for
    output2prompt), its own example prompts and the deployments to attack."""
    name = prior_type.__name__
    local = knowledge.require("prior", f"a {name}: the public model and template, held locally")
    if not isinstance(local, prior_type):
        raise ConfigError(
            f"knowledge.prior: expected a mi_text.targets.{name}, got {type(local).__name__}"
        )
    aux = knowledge.require("auxiliary", "example prompts to train the inverter on (list of str)")
    if isinstance(aux, str) or not all(isinstance(a, str) for a in aux):
        raise ConfigError("knowledge.auxiliary: expected a list of prompt strings")
    if not aux:
        raise ConfigError("knowledge.auxiliary: no example prompts to train the inverter on")
    targets = knowledge.require("target_labels", "the deployment ids whose prompts to recover")
    return local, list(aux), [int(t) for t in targets]


def fit_prompt_inverter(
    local: PromptedLM,
    prompts: Sequence[str],
    cfg: PromptInversionConfig,
    seed: int,
) -> tuple[ConditionalDecoder, torch.Tensor | None, list[float]]:
    """Make (features, prompt) pairs with the local model and train the inverter."""
    lp = local.logprobs(list(prompts))
    subset = choose_subset(lp, cfg.token_subset)
    feats = gap_features(lp, subset, cfg.bias_bound)
    tok = WordTokenizer.fit(list(prompts), min_count=cfg.inverter.vocab_min_count)
    torch.manual_seed(seed)  # built on the CPU from the seed, then moved: the same weights
    dev = devices.get_device(cfg.device)
    dec = devices.build(lambda: ConditionalDecoder(feats.shape[1], tok, cfg.inverter), dev)
    # standardise each feature with the training statistics (stored in the decoder)
    dec.set_standardization(feats.mean(0), feats.std(0))
    losses = train_inverter(
        dec,
        feats,
        list(prompts),
        seed=seed,
        checkpoint=cfg.checkpoint,
        progress=cfg.progress,
        desc="prompt inverter",
    )
    return dec, subset, losses
