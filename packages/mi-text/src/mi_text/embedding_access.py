"""What embedding-inversion attacks take from the view and the knowledge.

* the leaked embeddings to invert: ``knowledge.target_labels`` ((N, D) tensor / array);
* public sentences ``knowledge.auxiliary`` (list of str), embedded through the view (one query
  per sentence) unless the attacker already holds their embeddings
  (``knowledge.extra["auxiliary_embeddings"]``, from earlier queries).
"""

from __future__ import annotations

import numpy as np
import torch

from mi_core.errors import ConfigError
from mi_core.threat import Knowledge
from mi_core.views import TargetView


def target_embeddings(knowledge: Knowledge) -> torch.Tensor:
    emb = knowledge.require("target_labels", "the leaked sentence embeddings to invert, (N, D)")
    t = torch.as_tensor(
        np.asarray(emb) if not isinstance(emb, torch.Tensor) else emb, device="cpu"
    ).float()
    if t.ndim != 2:
        raise ConfigError(
            f"knowledge.target_labels: expected (N, D) embeddings, got shape {tuple(t.shape)}"
        )
    return t


def auxiliary_pairs(
    view: TargetView, knowledge: Knowledge, batch_size: int = 256
) -> tuple[list[str], torch.Tensor]:
    """Public sentences and their embeddings (querying the view when not given)."""
    texts = knowledge.require("auxiliary", "public sentences to train the inversion model on")
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise ConfigError("knowledge.auxiliary: expected a list of public sentences (str)")
    texts = list(texts)
    given = knowledge.extra.get("auxiliary_embeddings")
    if given is not None:
        emb = torch.as_tensor(given, device="cpu").float()
        if emb.shape[0] != len(texts):
            raise ConfigError(
                f"knowledge.extra['auxiliary_embeddings']: {emb.shape[0]} rows for "
                f"{len(texts)} auxiliary sentences"
            )
        return texts, emb
    out = [
        torch.as_tensor(view(texts[i : i + batch_size]), device="cpu").float()
        for i in range(0, len(texts), batch_size)
    ]
    return texts, torch.cat(out)


def nearest_neighbour_texts(
    targets: torch.Tensor, public_texts: list[str], public_emb: torch.Tensor
) -> list[str]:
    """Baseline: the public sentence whose embedding is closest (cosine) to each target."""
    a = torch.nn.functional.normalize(targets.float(), dim=-1)
    b = torch.nn.functional.normalize(public_emb.float(), dim=-1)
    idx = (a @ b.T).argmax(1).tolist()
    return [public_texts[i] for i in idx]
