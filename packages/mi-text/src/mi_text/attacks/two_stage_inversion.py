"""Two-stage inversion of sentence embeddings (Song & Raghunathan, CCS 2020, [43]; survey
Sec. V-A-2).

Inverting a deep encoder in one step is hard, so the attack (1) learns a mapping M from the
released sentence embedding to a *shallow* representation of the sentence -- the mean of its
input word embeddings under the public encoder (``knowledge.prior``: a
:class:`~mi_text.models.SentenceEncoder` copy, or its word-embedding table and tokenizer) -- and
(2) recovers the words by matching: greedy matching pursuit picks, one at a time, the vocabulary
word whose input embedding best explains the remaining shallow vector. The output is an
(orderless) bag of words; its length is predicted from the embedding in stage 1 as well.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from mi_core import device as devices
from mi_core.attack import BaseAttack
from mi_core.config import check_positive
from mi_core.errors import ConfigError
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView
from mi_text.attacks.keyword_inference import STOPWORDS
from mi_text.embedding_access import auxiliary_pairs, target_embeddings
from mi_text.metrics import words
from mi_text.models import SentenceEncoder


@dataclass
class TwoStageConfig:
    """Hyper-parameters.

    Attributes:
        alpha: ridge penalty of the stage-1 mapping.
        max_words: cap on recovered words.
        content_only: match only non-stop words.
        device: checked like every attack's, for one interface: the ridge map is
            scikit-learn's and the matching a few vector products, both on the CPU.
    """

    alpha: float = 1.0
    max_words: int = 30
    content_only: bool = False
    device: str = "auto"

    def __post_init__(self) -> None:
        devices.check_device(self.device)
        check_positive("alpha", self.alpha)
        check_positive("max_words", self.max_words)


class TwoStageInversion(BaseAttack):
    """Embedding -> shallow (input-word) representation -> words by matching."""

    name = "two-stage-inversion"
    modality = "text"
    access = Access.BLACK_BOX_SCORES
    paper = "Song & Raghunathan, CCS 2020"
    summary = "map the embedding to the mean input word embedding, then match words to it"
    Config = TwoStageConfig
    requires = ("prior:sentence-encoder", "target_labels:embeddings", "auxiliary:text")

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg: TwoStageConfig = self.config
        enc = knowledge.require("prior", "a public copy of the encoder (its input word embeddings)")
        if not isinstance(enc, SentenceEncoder) or enc.tokenizer is None:
            raise ConfigError(
                "knowledge.prior: expected a mi_text.models.SentenceEncoder with a tokenizer "
                "(the public copy of the target encoder)"
            )
        devices.attack_device(cfg.device, view)  # refuses an unavailable device
        table = enc.input_embeddings().detach().float().cpu()
        tok = enc.tokenizer
        targets = target_embeddings(knowledge).cpu()
        texts, emb = auxiliary_pairs(view, knowledge)
        # word vocabulary: whole words of the public corpus, each with its token ids
        vocab: dict[str, list[int]] = {}
        for t in texts:
            for w in words(t):
                if w not in vocab and (not cfg.content_only or w not in STOPWORDS):
                    ids = tok.encode(w)
                    if ids:
                        vocab[w] = ids
        names = list(vocab)
        word_vec = torch.stack([table[vocab[w]].mean(0) for w in names])
        # stage 1: ridge regression embedding -> [mean input embedding, length]
        shallow, lengths = [], []
        for t in texts:
            ids = [i for w in words(t) for i in vocab.get(w, tok.encode(w))]
            ws = [w for w in words(t) if w in vocab]
            shallow.append(table[ids].mean(0) if ids else torch.zeros(table.shape[1], device="cpu"))
            lengths.append(len(ws))
        y = torch.cat(
            [torch.stack(shallow), torch.tensor(lengths, dtype=torch.float, device="cpu")[:, None]],
            1,
        )
        from sklearn.linear_model import Ridge

        reg = Ridge(alpha=cfg.alpha).fit(emb.cpu().numpy(), y.numpy())
        pred = torch.as_tensor(reg.predict(targets.numpy()), dtype=torch.float32, device="cpu")
        h, n_words = pred[:, :-1], pred[:, -1]
        # stage 2: greedy matching pursuit over the word vocabulary
        unit = F.normalize(word_vec, dim=-1)
        out, sets = [], []
        for i in range(h.shape[0]):
            k = int(np.clip(round(float(n_words[i])), 1, cfg.max_words))
            residual = h[i] * k
            chosen: list[int] = []
            for _ in range(k):
                score = unit @ residual
                if chosen:
                    score[chosen] = float("-inf")
                j = int(score.argmax())
                chosen.append(j)
                residual = residual - word_vec[j]
            sets.append([names[j] for j in chosen])
            out.append(" ".join(sets[-1]))
        return self._result(out, info={"predicted": sets, "vocab": len(names)})
