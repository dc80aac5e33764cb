"""Prompt extraction from next-token probabilities (Morris et al., "Language model inversion",
ICLR 2024, [40]; survey Sec. V-A-2).

The attacker holds the public model and template locally (``knowledge.prior``, a
:class:`~mi_text.targets.PromptedLM`), computes next-token distributions for its own example
prompts (``knowledge.auxiliary``), and trains an inverter from the unrolled distribution
(chunks of the vector as pseudo-embeddings) to the prompt. Each hidden prompt then costs one
query: its next-token distribution. Morris et al. train a T5-base encoder-decoder on 2M prompts;
here the inverter is a small decoder trained on CPU (see :mod:`mi_text.inverters`).
"""

from __future__ import annotations

from mi_core.attack import BaseAttack
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView
from mi_text.prompt_inversion import (
    PromptInversionConfig,
    fit_prompt_inverter,
    gap_features,
    knowledge_parts,
)


class LogitInversion(BaseAttack):
    """Inverter from the next-token probability vector to the hidden prompt."""

    name = "logit-inversion"
    modality = "text"
    access = Access.BLACK_BOX_SCORES
    paper = "Morris et al., ICLR 2024"
    summary = "an inverter reads the unrolled next-token distribution and writes the prompt"
    Config = PromptInversionConfig
    requires = ("prior:prompted-lm", "auxiliary:text", "target_labels")

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg: PromptInversionConfig = self.config
        local, aux, targets = knowledge_parts(knowledge)
        dec, subset, losses = fit_prompt_inverter(local, aux, cfg, seed)
        lp = view(targets).float()  # one next-token distribution per hidden prompt
        feats = gap_features(lp, subset, cfg.bias_bound)
        out = dec.generate(feats, beams=cfg.beams)
        return self._result(
            out, targets=targets, info={"train_loss": losses, "features": int(feats.shape[1])}
        )
