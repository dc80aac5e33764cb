"""Relaxed-token inversion (Parikh, Dupuy & Gupta, "Canary extraction in natural language
understanding models", ACL 2022, [31]; survey Sec. V-A-1, embedding optimization).

The attacker holds the model (white-box) and knows the template of a private record that was
in its training data (``"my account number is"`` followed by ``n_tokens`` unknown tokens) and
the label it was trained with. Each unknown token ``x_i`` is relaxed into a logit vector
``z_i`` over the candidate tokens; the model reads the soft embedding
``E_i = softmax(z_i / T) @ W`` (``W`` the model's token-embedding table) in place of the token,
and the ``z_i`` are optimised by gradient descent on the model's loss for the known label,
``L = CE(f(E_prefix, E_1..E_n, E_suffix), y)``, while the temperature ``T`` anneals
geometrically from ``temperature_start`` to ``temperature_end`` (the mixtures sharpen towards
one token each). At the end each position is projected to its most likely token; of several
random restarts, the projection with the lowest loss on the real (discrete) text is kept.

Targets expose their embedding table, their tokenizer and a forward pass on embeddings, as
:class:`~mi_text.models.TextClassifier` does (``get_input_embeddings()``, ``tokenizer``,
``forward({"inputs_embeds": (N, T, d), "attention_mask": (N, T)})`` -> logits); a Hugging Face
sequence classifier goes behind :class:`~mi_text.models.HFTextClassifier`. Queries: one per soft
sentence per optimisation step plus one per projected sentence (white-box forward passes are
counted, never budgeted).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from mi_core import device as devices
from mi_core.attack import BaseAttack
from mi_core.config import check_positive
from mi_core.errors import ConfigError
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView
from mi_text.models import CausalLM


@dataclass
class RelaxedTokenConfig:
    """Hyper-parameters.

    Attributes:
        n_tokens: unknown tokens after each known prefix.
        suffix: known text after the unknown tokens (e.g. ``" ."``).
        steps: optimisation steps (0 = no optimisation: the projection of the random start).
        lr: Adam step size on the token logits.
        temperature_start / temperature_end: softmax temperature, annealed geometrically.
        restarts: random starts per record; the best projection (lowest discrete loss) is kept.
        init_scale: standard deviation of the random initial logits.
        device: where the search runs: ``auto`` (the white-box model's device), ``cpu``,
            ``cuda``, ``cuda:N``; results come back on the CPU.
    """

    n_tokens: int = 4
    suffix: str = ""
    steps: int = 200
    lr: float = 0.1
    temperature_start: float = 1.0
    temperature_end: float = 0.1
    restarts: int = 4
    init_scale: float = 1.0
    progress: bool = True
    device: str = "auto"

    def __post_init__(self) -> None:
        devices.check_device(self.device)
        check_positive("n_tokens", self.n_tokens)
        check_positive("steps", self.steps, allow_zero=True)
        check_positive("lr", self.lr)
        check_positive("temperature_start", self.temperature_start)
        check_positive("temperature_end", self.temperature_end)
        check_positive("restarts", self.restarts)
        check_positive("init_scale", self.init_scale, allow_zero=True)


def _single_token_ids(tokenize, candidates: list[str]) -> list[int]:
    out = []
    for c in candidates:
        ids = tokenize(str(c))
        if len(ids) != 1:
            raise ConfigError(
                f"knowledge.extra['candidates']: {c!r} is {len(ids)} tokens of the target's "
                "tokenizer; each candidate must be exactly one token"
            )
        out.append(ids[0])
    return out


class RelaxedTokenInversion(BaseAttack):
    """Unknown tokens as softmax mixtures of token embeddings, optimised by the model's loss."""

    name = "relaxed-token-inversion"
    modality = "text"
    access = Access.WHITE_BOX
    requires = ("known_attributes:text", "target_labels")  # the template and its label
    paper = "Parikh, Dupuy & Gupta, ACL 2022"
    summary = (
        "unknown tokens of a known template relaxed to softmax mixtures of token embeddings, "
        "optimised by the target's loss for the known label, annealed, projected to tokens"
    )
    Config = RelaxedTokenConfig

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg: RelaxedTokenConfig = self.config
        module = view.module
        if isinstance(module, CausalLM) or not (
            hasattr(module, "get_input_embeddings") and hasattr(module, "tokenizer")
        ):
            raise ConfigError(
                f"view.module: {type(module).__name__} is not a classifier on token embeddings; "
                "the target needs get_input_embeddings(), a tokenizer and a forward pass on "
                "{'inputs_embeds', 'attention_mask'} returning logits (as "
                "mi_text.models.TextClassifier)"
            )
        prefixes = knowledge.require(
            "known_attributes", "the known start of each record (template), list of str"
        )
        if isinstance(prefixes, str):
            prefixes = [prefixes]
        prefixes = [str(p) for p in prefixes]
        labels = knowledge.require("target_labels", "the label each record was trained with")
        if isinstance(labels, int):
            labels = [labels] * len(prefixes)
        labels = [int(y) for y in labels]
        if len(labels) != len(prefixes):
            raise ConfigError(
                f"knowledge.target_labels: {len(labels)} labels for {len(prefixes)} prefixes"
            )
        dev = devices.attack_device(cfg.device, view)
        tok = module.tokenizer
        table = module.get_input_embeddings().weight.detach()
        cands = knowledge.extra.get("candidates")
        if cands is not None:
            cand_ids = _single_token_ids(tok.encode, [str(c) for c in cands])
            cand_text = [str(c) for c in cands]
        else:
            specials = {tok.pad_id, tok.eos_id, getattr(tok, "unk_id", None), tok.bos_id}
            cand_ids = [i for i in range(table.shape[0]) if i not in specials]
            cand_text = [tok.decode([i]) for i in cand_ids]
        w = table[torch.tensor(cand_ids, device=table.device)]  # (C, d)
        pre = [tok.encode(p) for p in prefixes]
        suf = tok.encode(cfg.suffix) if cfg.suffix else []
        n, r, k = len(prefixes), cfg.restarts, cfg.n_tokens
        b = n * r
        rows = [i // r for i in range(b)]
        length = max(len(p) for p in pre) + k + len(suf)
        ids = torch.full((b, length), tok.pad_id, dtype=torch.long, device="cpu")
        mask = torch.zeros((b, length), dtype=torch.bool, device="cpu")
        slot = torch.zeros((b, length), dtype=torch.bool, device="cpu")
        for j, i in enumerate(rows):
            seq = [*pre[i], *([tok.pad_id] * k), *suf]
            ids[j, : len(seq)] = torch.tensor(seq, device="cpu")
            mask[j, : len(seq)] = True
            slot[j, len(pre[i]) : len(pre[i]) + k] = True
        ids, mask, slot = ids.to(dev), mask.to(dev), slot.to(dev)
        base = table[ids].clone()
        y = torch.tensor([labels[i] for i in rows], device=dev)
        g = torch.Generator().manual_seed(seed)
        z0 = devices.randn((b, k, len(cand_ids)), generator=g, device=dev)
        z = (cfg.init_scale * z0).requires_grad_()
        opt = torch.optim.Adam([z], lr=cfg.lr)
        t0, t1 = cfg.temperature_start, cfg.temperature_end
        history = []
        for step in tqdm(range(cfg.steps), desc=self.name, disable=not cfg.progress, leave=False):
            temp = t0 * (t1 / t0) ** (step / max(cfg.steps - 1, 1))
            p = torch.softmax(z / temp, dim=-1)
            loss = _loss(view, base, mask, slot, p, w, y).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            history.append(float(loss.detach()) / b)
        # projection to real tokens; of the restarts, keep the one whose discrete text has the
        # lowest loss
        with torch.no_grad():
            pick = z.detach().argmax(-1)  # (b, k)
            final = _loss(view, base, mask, slot, F.one_hot(pick, len(cand_ids)).float(), w, y)
        best = final.reshape(n, r).argmin(1)
        secrets, texts, scores = [], [], []
        for i in range(n):
            j = i * r + int(best[i])
            toks = [cand_text[c] for c in pick[j].tolist()]
            secrets.append(toks)
            texts.append(prefixes[i] + "".join(f" {t}" for t in toks) + cfg.suffix)
            scores.append(-float(final[j]))
        return self._result(
            texts,
            targets=labels,
            scores=torch.tensor(scores, device="cpu"),
            info={"secrets": secrets, "loss_history": history[:: max(1, len(history) // 50)]},
        )


def _loss(
    view: TargetView,
    base: torch.Tensor,
    mask: torch.Tensor,
    slot: torch.Tensor,
    p: torch.Tensor,
    w: torch.Tensor,
    y: torch.Tensor,
) -> torch.Tensor:
    """Per-row cross-entropy of the known labels on the soft sentences (slots = mixtures ``p``
    of the candidate embeddings ``w``)."""
    soft = p @ w  # (b, k, d)
    emb = base.masked_scatter(slot[..., None].expand_as(base), soft.to(base.dtype))
    logits = view({"inputs_embeds": emb, "attention_mask": mask})
    return F.cross_entropy(logits, y, reduction="none")
