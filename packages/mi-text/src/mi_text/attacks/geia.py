"""Generative embedding inversion, GEIA (Li, Xu & Song, ACL 2023, [39]; survey Sec. V-A-2).

The attacker embeds public sentences through the embedding API (one query each), trains a small
decoder to write each sentence from its embedding (teacher forcing; the embedding is projected
into prefix embeddings of the decoder), then decodes the leaked embeddings. Li et al. fine-tune
GPT-2 as the decoder; here it is a small transformer decoder trained from scratch on the
auxiliary sentences (CPU-sized), over the auxiliary corpus's word vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from mi_core import device as devices
from mi_core.attack import BaseAttack
from mi_core.config import check_positive
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView
from mi_text.embedding_access import auxiliary_pairs, target_embeddings
from mi_text.inverters import ConditionalDecoder, InverterConfig, train_inverter
from mi_text.tokenizers import WordTokenizer


@dataclass
class GEIAConfig:
    """Hyper-parameters: the decoder (``inverter``), decoding beams, checkpoint.

    Attributes:
        inverter: the decoder's settings (:class:`~mi_text.inverters.InverterConfig` fields).
        beams: beam width when decoding.
        lowercase: lowercase the public sentences the decoder trains on.
        device: where the decoder trains and decodes (``auto``: CUDA when present, else the
            CPU); embeddings are queried through the view, results come back on the CPU.
    """

    inverter: InverterConfig = field(default_factory=InverterConfig)
    beams: int = 4
    lowercase: bool = True
    checkpoint: str | None = None
    progress: bool = True
    device: str = "auto"

    def __post_init__(self) -> None:
        devices.check_device(self.device)
        if isinstance(self.inverter, dict):
            self.inverter = InverterConfig(**self.inverter)
        check_positive("beams", self.beams)


def fit_decoder(
    view: TargetView,
    knowledge: Knowledge,
    cfg: GEIAConfig,
    seed: int,
) -> tuple[ConditionalDecoder, list[str], torch.Tensor, list[float]]:
    """Embed the auxiliary sentences (through the view) and train the decoder on them."""
    texts, emb = auxiliary_pairs(view, knowledge)
    tok = WordTokenizer.fit(texts, lowercase=cfg.lowercase, min_count=cfg.inverter.vocab_min_count)
    dev = devices.attack_device(cfg.device, view)
    torch.manual_seed(seed)  # built on the CPU from the seed, then moved: the same weights
    dec = devices.build(lambda: ConditionalDecoder(emb.shape[1], tok, cfg.inverter), dev)
    losses = train_inverter(
        dec,
        emb,
        texts,
        seed=seed,
        checkpoint=cfg.checkpoint,
        progress=cfg.progress,
        desc="GEIA decoder",
    )
    return dec, texts, emb, losses


class GEIA(BaseAttack):
    """Decoder trained on (embedding, sentence) pairs of public data writes the private ones."""

    name = "geia"
    modality = "text"
    access = Access.BLACK_BOX_SCORES
    paper = "Li, Xu & Song, ACL 2023"
    summary = "a decoder conditioned on the sentence embedding writes the sentence back"
    Config = GEIAConfig
    requires = ("target_labels:embeddings", "auxiliary:text")

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg: GEIAConfig = self.config
        targets = target_embeddings(knowledge)
        dec, _texts, _emb, losses = fit_decoder(view, knowledge, cfg, seed)
        out = dec.generate(targets, beams=cfg.beams)
        return self._result(
            out,
            info={"train_loss": losses, "vocab": dec.tokenizer.vocab_size},
        )
