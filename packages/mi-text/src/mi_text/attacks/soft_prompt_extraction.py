"""Targeted extraction with a loss-smoothed soft prompt (Ethicist: Zhang, Wen & Huang, ACL 2023,
[41]; survey Sec. V-A-1, embedding optimization).

The attacker holds the model (white-box) and some (prefix, suffix) pairs of its training data
(``knowledge.auxiliary``), and wants the suffixes of other training prefixes
(``knowledge.target_labels``).

1. **Soft prompt tuning.** ``prompt_tokens`` trainable embeddings ``S`` (initialised, as in the
   paper's code, with the embeddings of the first vocabulary tokens) are put before each prefix;
   the model stays frozen. ``S`` is tuned so that the model emits the known suffixes:
   ``L = mean_t CE(b_t) + alpha * mean(top-k_t CE(b_t))`` -- the paper's smoothing term adds
   the ``smoothing_k`` largest token losses of each suffix, so that the few hard tokens that
   keep a memorised suffix from being emitted get extra weight (the paper: k = 5,
   alpha = 0.7).
2. **Extraction.** For each target prefix, ``trials`` suffixes of ``suffix_tokens`` tokens are
   sampled behind the soft prompt (nucleus ``top_p`` 0.7, temperature 0.8 in the paper) and scored
   by the model's loss.
3. **Calibrated confidence.** Identical samples are merged; each distinct suffix gets
   ``count * exp(-NLL)``, normalised over the prefix's distinct suffixes. The best suffix of each
   prefix is the guess; guesses are ranked by that confidence (most confident first).

``prompt_tokens=0`` runs the same sampling and ranking from the plain prefixes: the attack's own
starting point (the baseline the paper compares with).

Queries (white-box, counted, never budgeted): one per pair per training step, one per sampled
row per generated token.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
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
class SoftPromptConfig:
    """Hyper-parameters (defaults: the paper's where they fit a CPU).

    Attributes:
        prompt_tokens: length of the soft prompt (0 = plain prefixes, no tuning).
        steps: optimisation steps over batches of the known pairs (0 = untuned prompt).
        lr: Adam step size on the soft prompt.
        batch_size: known pairs per step.
        smoothing_k / smoothing_alpha: the smoothing term (top-k token losses, weight).
        trials: suffixes sampled per target prefix.
        suffix_tokens: tokens sampled per suffix (generation stops early at EOS).
        top_p / temperature: nucleus sampling of the suffixes.
        validation / eval_every: share of the known pairs held out, and how often (steps) their
            loss is measured; the prompt with the lowest held-out loss is kept (the paper keeps
            its best checkpoint on a validation split). A soft prompt can memorise a few known
            suffixes instead of learning to elicit memorised ones.
        device: where the prompt is tuned and the suffixes sampled: ``auto`` (the white-box
            model's device), ``cpu``, ``cuda``, ``cuda:N``; results come back on the CPU.
    """

    prompt_tokens: int = 20
    steps: int = 100
    lr: float = 1e-2
    batch_size: int = 16
    smoothing_k: int = 5
    smoothing_alpha: float = 0.7
    trials: int = 10
    suffix_tokens: int = 16
    top_p: float = 0.7
    temperature: float = 0.8
    validation: float = 0.2
    eval_every: int = 10
    progress: bool = True
    device: str = "auto"

    def __post_init__(self) -> None:
        devices.check_device(self.device)
        check_positive("prompt_tokens", self.prompt_tokens, allow_zero=True)
        check_positive("steps", self.steps, allow_zero=True)
        check_positive("lr", self.lr)
        check_positive("batch_size", self.batch_size)
        check_positive("smoothing_k", self.smoothing_k, allow_zero=True)
        check_positive("smoothing_alpha", self.smoothing_alpha, allow_zero=True)
        check_positive("trials", self.trials)
        check_positive("suffix_tokens", self.suffix_tokens)
        check_positive("temperature", self.temperature)
        check_positive("eval_every", self.eval_every)
        if not 0.0 <= self.validation < 1.0:
            raise ConfigError(
                f"validation: a share of the known pairs in [0, 1), got {self.validation}"
            )
        if not 0.0 < self.top_p <= 1.0:
            raise ConfigError(f"top_p: must be in (0, 1], got {self.top_p}")


def smoothed_suffix_loss(
    token_nll: torch.Tensor, mask: torch.Tensor, k: int, alpha: float
) -> torch.Tensor:
    """Ethicist's loss: mean token NLL of the suffixes plus ``alpha`` times the mean of each
    suffix's ``k`` largest token NLLs (``token_nll`` and ``mask``: (B, T), mask = suffix tokens)."""
    m = mask.float()
    base = (token_nll * m).sum() / m.sum().clamp(min=1.0)
    if k == 0 or alpha == 0.0:
        return base
    kk = min(k, token_nll.shape[1])
    top = token_nll.masked_fill(~mask, float("-inf")).topk(kk, dim=1).values
    valid = torch.isfinite(top)
    extra = top.where(valid, torch.zeros_like(top)).sum() / valid.sum().clamp(min=1)
    return base + alpha * extra


def _join(prefix: str, suffix: str) -> str:
    if suffix and not suffix[0].isspace() and suffix[0] not in ".,;:!?":
        return f"{prefix} {suffix}"
    return prefix + suffix


def _nucleus(logits: torch.Tensor, top_p: float, temp: float, g: torch.Generator) -> torch.Tensor:
    probs = torch.softmax(logits / temp, dim=-1)
    sp, idx = probs.sort(dim=-1, descending=True)
    keep = sp.cumsum(-1) - sp < top_p  # the smallest set whose mass reaches top_p
    sp = sp * keep
    # drawn on the CPU generator (the same draws on every device), then moved back
    pick = torch.multinomial((sp / sp.sum(-1, keepdim=True)).cpu(), 1, generator=g)
    return idx.gather(-1, pick.to(idx.device)).squeeze(-1)


class SoftPromptExtraction(BaseAttack):
    """A soft prompt tuned on known (prefix, suffix) pairs elicits memorised suffixes."""

    name = "soft-prompt-extraction"
    modality = "text"
    access = Access.WHITE_BOX
    requires = ("auxiliary:pairs", "target_labels:prefixes")  # known pairs, target prefixes
    paper = "Zhang, Wen & Huang, ACL 2023 (Ethicist)"
    summary = (
        "loss-smoothed soft prompt tuned on known (prefix, suffix) pairs, frozen LM; suffixes "
        "of target prefixes sampled and ranked by calibrated confidence"
    )
    Config = SoftPromptConfig

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg: SoftPromptConfig = self.config
        lm = view.module
        if not isinstance(lm, CausalLM):
            raise ConfigError(
                f"view.module: expected a mi_text.models.CausalLM, got {type(lm).__name__}"
            )
        devices.attack_device(cfg.device, view)  # the white-box model's device, or refused
        pairs = knowledge.auxiliary
        tuning = cfg.prompt_tokens > 0 and cfg.steps > 0
        if tuning and (
            not pairs or not all(isinstance(p, list | tuple) and len(p) == 2 for p in pairs)
        ):
            raise ConfigError(
                "knowledge.auxiliary: soft prompt tuning needs known training pairs, a list "
                "of (prefix, suffix) strings"
            )
        targets = knowledge.require("target_labels", "the prefixes whose suffixes to extract")
        if isinstance(targets, str) or not all(isinstance(t, str) for t in targets):
            raise ConfigError("knowledge.target_labels: expected a list of prefix strings")
        targets = list(targets)
        frozen = [p.requires_grad for p in lm.parameters()]
        for p in lm.parameters():
            p.requires_grad_(False)
        try:
            prompt, losses, tuning = self._tune(view, lm, pairs or [], seed)
            guesses = self._extract(view, lm, prompt, targets, seed)
        finally:
            for p, f in zip(lm.parameters(), frozen, strict=True):
                p.requires_grad_(f)
        order = sorted(range(len(targets)), key=lambda i: -guesses[i][2])
        return self._result(
            [_join(targets[i], guesses[i][0]) for i in order],
            targets=order,
            scores=torch.tensor([guesses[i][2] for i in order], device="cpu"),
            info={
                "suffixes": [guesses[i][0] for i in order],
                "prefixes": [targets[i] for i in order],
                "distinct_samples": [guesses[i][1] for i in order],
                "train_loss": losses[:: max(1, len(losses) // 50)],
                **tuning,
            },
        )

    # --------------------------------------------------------------------------- tuning
    def _tune(
        self, view: TargetView, lm: CausalLM, pairs: list, seed: int
    ) -> tuple[torch.Tensor | None, list[float], dict]:
        cfg: SoftPromptConfig = self.config
        if cfg.prompt_tokens == 0:
            return None, [], {}
        table = lm.input_embeddings().detach()
        prompt = table[: cfg.prompt_tokens].clone().float().requires_grad_(True)
        if cfg.steps == 0:
            return prompt.detach(), [], {}
        rows = []
        for pre, suf in pairs:
            a, b = lm.encode(str(pre)), lm.encode(str(suf), start=False)
            if not b:
                raise ConfigError(f"knowledge.auxiliary: the suffix of {pre!r} is empty")
            rows.append((a, b))
        rng = random.Random(seed)
        rng.shuffle(rows)
        n_val = round(cfg.validation * len(rows)) if len(rows) > 1 else 0
        val, rows = rows[:n_val], rows[n_val:]
        opt = torch.optim.Adam([prompt], lr=cfg.lr)
        losses: list[float] = []
        order: list[int] = []
        best = (self._loss(view, lm, prompt, val), prompt.detach().clone(), 0) if val else None
        for step in tqdm(range(cfg.steps), desc=self.name, disable=not cfg.progress, leave=False):
            if len(order) < cfg.batch_size:
                fresh = list(range(len(rows)))
                rng.shuffle(fresh)
                order += fresh
            batch = [rows[i] for i in order[: cfg.batch_size]]
            del order[: cfg.batch_size]
            loss = self._loss(view, lm, prompt, batch, grad=True)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            if best is not None and ((step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps):
                v = self._loss(view, lm, prompt, val)
                if v < best[0]:
                    best = (v, prompt.detach().clone(), step + 1)
        if best is None:
            return prompt.detach(), losses, {"best_step": cfg.steps}
        return best[1], losses, {"best_step": best[2], "validation_loss": float(best[0])}

    def _loss(
        self,
        view: TargetView,
        lm: CausalLM,
        prompt: torch.Tensor,
        pairs: list[tuple[list[int], list[int]]],
        grad: bool = False,
    ) -> torch.Tensor:
        """The smoothed suffix loss of ``pairs`` behind ``prompt`` (mean over batches)."""
        cfg: SoftPromptConfig = self.config
        total = torch.zeros((), device=prompt.device)
        with torch.set_grad_enabled(grad):
            for i in range(0, len(pairs), 64):
                part = pairs[i : i + 64]
                emb, mask, pos, tgt, sfx = self._batch(lm, prompt, part)
                out = view({"inputs_embeds": emb, "attention_mask": mask, "position_ids": pos})
                logp = out["logits"][:, :-1]
                nll = -logp.gather(2, tgt[:, 1:, None]).squeeze(2)
                loss = smoothed_suffix_loss(nll, sfx[:, 1:], cfg.smoothing_k, cfg.smoothing_alpha)
                total = total + loss * len(part)
        return total / max(len(pairs), 1)

    @staticmethod
    def _batch(
        lm: CausalLM, prompt: torch.Tensor, batch: list[tuple[list[int], list[int]]]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Left-padded [start, soft prompt, prefix, suffix] embeddings, mask, position ids, token
        ids (soft positions hold the pad id) and the mask of suffix positions. The soft tokens
        share the start token's position, so the text keeps the positions it was trained at
        (prefix-tuning style; a small model with learned positions breaks when its text is
        shifted)."""
        p = prompt.shape[0]
        pad = lm.tokenizer.pad_id
        length = max(p + len(a) + len(b) for a, b in batch)
        n = len(batch)
        ids = torch.full((n, length), pad, dtype=torch.long, device="cpu")
        mask = torch.zeros((n, length), dtype=torch.long, device="cpu")
        soft = torch.zeros((n, length), dtype=torch.bool, device="cpu")
        sfx = torch.zeros((n, length), dtype=torch.bool, device="cpu")
        pos = torch.zeros((n, length), dtype=torch.long, device="cpu")
        for i, (a, b) in enumerate(batch):
            seq = [a[0], *([pad] * p), *a[1:], *b]
            s = length - len(seq)
            ids[i, s:] = torch.tensor(seq, device="cpu")
            mask[i, s:] = 1
            pos[i, s + 1 + p :] = torch.arange(1, len(seq) - p, device="cpu")
            soft[i, s + 1 : s + 1 + p] = True
            sfx[i, length - len(b) :] = True
        dev = prompt.device  # where the model (and so the prompt) lives
        ids, mask, pos, sfx = ids.to(dev), mask.to(dev), pos.to(dev), sfx.to(dev)
        soft = soft.to(dev)
        emb = lm.embed_ids(ids).float()
        if p:
            emb = emb.masked_scatter(
                soft[..., None].expand_as(emb), prompt.expand(n, -1, -1).to(emb.dtype)
            )
        return emb, mask, pos, ids, sfx

    # ------------------------------------------------------------------------ extraction
    @torch.no_grad()
    def _extract(
        self,
        view: TargetView,
        lm: CausalLM,
        prompt: torch.Tensor | None,
        targets: list[str],
        seed: int,
    ) -> list[tuple[str, int, float]]:
        """Per target prefix: (best suffix text, distinct samples, calibrated confidence)."""
        cfg: SoftPromptConfig = self.config
        g = torch.Generator().manual_seed(seed)
        eos = lm.eos_id
        table = lm.input_embeddings()
        empty = torch.zeros((0, table.shape[1]), device=table.device)
        soft = prompt if prompt is not None else empty
        out: list[tuple[str, int, float]] = []
        bar = tqdm(total=len(targets), desc="sampling", disable=not cfg.progress, leave=False)
        per_batch = max(1, 64 // cfg.trials)
        for b0 in range(0, len(targets), per_batch):
            chunk = targets[b0 : b0 + per_batch]
            batch = [(lm.encode(t), []) for t in chunk for _ in range(cfg.trials)]
            emb, mask, pos, _ids, _s = self._batch(lm, soft, batch)
            res = view(
                {
                    "inputs_embeds": emb,
                    "attention_mask": mask,
                    "position_ids": pos,
                    "use_cache": True,
                    "last_only": True,
                }
            )
            last = pos[:, -1:]
            past, logp = res["past_key_values"], res["logits"][:, -1]
            n = emb.shape[0]
            dev = emb.device
            toks = torch.zeros((n, cfg.suffix_tokens), dtype=torch.long, device=dev)
            nll = torch.zeros(n, device=dev)
            done = torch.zeros(n, dtype=torch.bool, device=dev)
            for t in range(cfg.suffix_tokens):
                nxt = _nucleus(logp, cfg.top_p, cfg.temperature, g)
                nxt = torch.where(done, torch.full_like(nxt, eos), nxt)
                nll += torch.where(
                    done, torch.zeros(n, device=dev), -logp.gather(1, nxt[:, None])[:, 0]
                )
                toks[:, t] = nxt
                done |= nxt == eos
                if t + 1 == cfg.suffix_tokens or bool(done.all()):
                    break
                mask = torch.cat([mask, torch.ones((n, 1), dtype=torch.long, device=dev)], 1)
                last = last + 1
                res = view(
                    {
                        "input_ids": nxt[:, None],
                        "attention_mask": mask,
                        "position_ids": last,
                        "past_key_values": past,
                        "use_cache": True,
                    }
                )
                past, logp = res["past_key_values"], res["logits"][:, -1]
            for j in range(len(chunk)):
                counts: dict[tuple[int, ...], list[float]] = {}
                for r in range(j * cfg.trials, (j + 1) * cfg.trials):
                    seq = toks[r].tolist()
                    key = tuple(seq[: seq.index(eos)] if eos in seq else seq)
                    counts.setdefault(key, []).append(float(nll[r]))
                keys = list(counts)
                # count * exp(-NLL), normalised over the distinct suffixes (log-sum-exp)
                logw = torch.tensor(
                    [
                        torch.tensor(len(counts[k]), device="cpu").log() - min(counts[k])
                        for k in keys
                    ],
                    device="cpu",
                )
                conf = torch.softmax(logw, 0)
                best = int(conf.argmax())
                out.append((lm.decode(list(keys[best])), len(keys), float(conf[best])))
            bar.update(len(chunk))
        bar.close()
        return out
