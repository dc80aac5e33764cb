"""GEIA followed by iterative correction in the spirit of vec2text (Morris et al., EMNLP 2023).

After GEIA's first hypothesis, each round re-embeds the current hypotheses through the
embedding API, measures the gap ``e - e_hat`` to the leaked embedding ``e``, conditions the
decoder on the gap-corrected vector ``e + step * (e - e_hat)`` (and on ``e`` itself), decodes
new candidates by beam search and top-k sampling, re-embeds them and keeps whichever
candidate's embedding is closest (cosine) to ``e``. vec2text trains a separate corrector model
on (e, e_hat, hypothesis) triples; here the GEIA decoder is reused with the corrected condition
(no second model to train on CPU), and the re-embedding choice does the correcting.

Queries: those of GEIA, plus ``(1 + candidates)`` embeddings per target per round.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mi_core.config import check_positive
from mi_core.result import AttackResult
from mi_core.threat import Knowledge
from mi_core.views import TargetView
from mi_text.attacks.geia import GEIA, GEIAConfig, fit_decoder
from mi_text.embedding_access import target_embeddings


@dataclass
class GEIACorrectionConfig(GEIAConfig):
    """GEIA's settings plus: ``rounds`` of correction, ``candidates`` sampled per round and
    target, ``step`` along the embedding gap.

    Attributes:
        rounds: correction rounds (0: GEIA's hypotheses as they are, the correction off).
        candidates: candidate texts sampled per round and target.
        step: step along the gap between the target embedding and the candidate's.
    """

    rounds: int = 3
    candidates: int = 8
    step: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive("rounds", self.rounds, allow_zero=True)
        check_positive("candidates", self.candidates)
        check_positive("step", self.step, allow_zero=True)


def _embed(view: TargetView, texts: list[str], batch: int = 256) -> torch.Tensor:
    texts = [t if t.strip() else "." for t in texts]
    return torch.cat(
        [
            torch.as_tensor(view(texts[i : i + batch]), device="cpu").float()
            for i in range(0, len(texts), batch)
        ]
    )


class GEIACorrection(GEIA):
    """GEIA plus re-embed-and-correct rounds (vec2text-style)."""

    name = "geia-correction"
    paper = "Li et al., ACL 2023 + Morris et al., EMNLP 2023 (vec2text)"
    summary = "GEIA, then rounds of re-embedding the hypothesis and decoding from the gap"
    Config = GEIACorrectionConfig

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg: GEIACorrectionConfig = self.config
        targets = target_embeddings(knowledge)
        dec, _texts, _emb, losses = fit_decoder(view, knowledge, cfg, seed)
        g = torch.Generator().manual_seed(seed)
        best = dec.generate(targets, beams=cfg.beams)
        first = list(best)
        best_emb = _embed(view, best)
        best_cos = F.cosine_similarity(best_emb, targets, dim=-1)
        history = [float(best_cos.mean())]
        n = targets.shape[0]
        for _ in range(cfg.rounds):
            corrected = targets + cfg.step * (targets - best_emb)
            corrected = F.normalize(corrected, dim=-1) * targets.norm(dim=-1, keepdim=True)
            cands: list[list[str]] = [[] for _ in range(n)]
            greedy = dec.generate(corrected, beams=cfg.beams)
            for i in range(n):
                cands[i].append(greedy[i])
            for k in range(cfg.candidates - 1):
                cond = corrected if k % 2 == 0 else targets
                drawn = dec.generate(cond, sample=True, top_k=10, generator=g)
                for i in range(n):
                    cands[i].append(drawn[i])
            flat = [c for row in cands for c in row]
            emb = _embed(view, flat).reshape(n, cfg.candidates, -1)
            cos = F.cosine_similarity(emb, targets[:, None, :], dim=-1)
            top, idx = cos.max(1)
            better = top > best_cos
            for i in torch.nonzero(better).flatten().tolist():
                best[i] = cands[i][int(idx[i])]
                best_emb[i] = emb[i, int(idx[i])]
            best_cos = torch.where(better, top, best_cos)
            history.append(float(best_cos.mean()))
        return self._result(
            best,
            scores=best_cos,
            info={"train_loss": losses, "first_hypotheses": first, "cosine_by_round": history},
        )
