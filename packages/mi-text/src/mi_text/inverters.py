"""Inversion models shared by the embedding- and prompt-inversion attacks: a small transformer
decoder that writes text conditioned on a vector (GEIA, Li et al. 2023) or on a sequence of
pseudo-embeddings unrolled from a probability vector (Morris et al. 2023), with one training
routine (resumable) and one decoder (greedy, beam or sampling).

The decoder is decoder-only: the condition is projected into ``n_prefix`` prefix embeddings
(vector condition) or one embedding per chunk of the vector (``unroll=True``: Morris et al.'s
"unrolled" logits, each chunk of ``chunk`` values mapped by a shared linear layer plus a position
embedding), and the text tokens follow under a causal mask.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from mi_core.config import check_positive
from mi_core.errors import ConfigError
from mi_core.loop import ResumableLoop
from mi_text.tokenizers import WordTokenizer


@dataclass
class InverterConfig:
    """Size and training of an inversion decoder.

    Attributes:
        d_model / layers / heads: transformer size.
        n_prefix: prefix embeddings for a vector condition.
        unroll: treat the condition as a long vector cut into chunks of ``chunk`` values.
        max_length: longest text (tokens) decoded.
        epochs / lr / batch_size: training.
        vocab_min_count: words seen fewer times in the training texts become ``<unk>``.
        condition_noise: std of Gaussian noise added to training conditions (robustness).
    """

    d_model: int = 256
    layers: int = 2
    heads: int = 4
    n_prefix: int = 4
    unroll: bool = False
    chunk: int = 256
    max_length: int = 40
    epochs: int = 10
    lr: float = 1e-3
    batch_size: int = 64
    vocab_min_count: int = 1
    condition_noise: float = 0.0

    def __post_init__(self) -> None:
        for name in (
            "d_model",
            "layers",
            "heads",
            "n_prefix",
            "chunk",
            "max_length",
            "epochs",
            "batch_size",
            "vocab_min_count",
        ):
            check_positive(name, getattr(self, name))
        check_positive("lr", self.lr)
        check_positive("condition_noise", self.condition_noise, allow_zero=True)
        if self.d_model % self.heads:
            raise ConfigError(f"d_model: {self.d_model} is not divisible by heads={self.heads}")


def _layer(cfg: InverterConfig) -> nn.TransformerEncoderLayer:
    d = cfg.d_model
    return nn.TransformerEncoderLayer(
        d, cfg.heads, 4 * d, dropout=0.1, batch_first=True, norm_first=True
    )


class ConditionalDecoder(nn.Module):
    """Text decoder conditioned on a vector (see the module doc)."""

    def __init__(self, cond_dim: int, tokenizer: WordTokenizer, cfg: InverterConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tokenizer = tokenizer
        self.cond_dim = cond_dim
        d = cfg.d_model
        if cfg.unroll:
            self.n_chunks = (cond_dim + cfg.chunk - 1) // cfg.chunk
            self.proj = nn.Sequential(nn.Linear(cfg.chunk, d), nn.GELU(), nn.Linear(d, d))
            self.chunk_pos = nn.Parameter(torch.randn(self.n_chunks, d) * 0.02)
            self.n_prefix = self.n_chunks
        else:
            self.proj = nn.Sequential(
                nn.Linear(cond_dim, 2 * d), nn.GELU(), nn.Linear(2 * d, cfg.n_prefix * d)
            )
            self.n_prefix = cfg.n_prefix
        self._text_layers(tokenizer, cfg)
        self.register_buffer("cond_mean", torch.zeros(cond_dim, device="cpu"))
        self.register_buffer("cond_std", torch.ones(cond_dim, device="cpu"))

    def _text_layers(self, tokenizer: WordTokenizer, cfg: InverterConfig) -> None:
        """The decoder proper: token and position embeddings, a causal transformer, the head."""
        d = cfg.d_model
        self.embed = nn.Embedding(tokenizer.vocab_size, d)
        self.pos = nn.Embedding(cfg.max_length + 2, d)
        self.body = nn.TransformerEncoder(_layer(cfg), cfg.layers)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, tokenizer.vocab_size)

    def set_standardization(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Conditions are standardised ``(c - mean) / std`` before the projection (features
        whose training spread is tiny, such as near-uniform probability gaps, become visible)."""
        self.cond_mean.copy_(mean)
        self.cond_std.copy_(std.clamp(min=1e-6))

    def prefix(self, cond: torch.Tensor) -> torch.Tensor:
        if cond.ndim != 2 or cond.shape[1] != self.cond_dim:
            raise ConfigError(
                f"condition: expected shape (N, {self.cond_dim}), got {tuple(cond.shape)}"
            )
        cond = (cond - self.cond_mean) / self.cond_std
        if self.cfg.unroll:
            pad = self.n_chunks * self.cfg.chunk - self.cond_dim
            x = F.pad(cond, (0, pad)).reshape(cond.shape[0], self.n_chunks, self.cfg.chunk)
            return self.proj(x) + self.chunk_pos
        return self.proj(cond).reshape(cond.shape[0], self.n_prefix, self.cfg.d_model)

    def forward(self, cond: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """Logits (N, T, V) for next tokens after each of ``ids`` (which start with BOS)."""
        p = self.prefix(cond)
        t = ids.shape[1]
        h = self.embed(ids) + self.pos(torch.arange(t, device=ids.device))[None]
        x = torch.cat([p, h], 1)
        n = x.shape[1]
        mask = torch.triu(torch.full((n, n), float("-inf"), device=x.device), 1)
        mask[:, : self.n_prefix] = 0.0  # every position sees the whole condition
        hide = self._hidden_prefix(cond)
        if hide is None:
            out = self.norm(self.body(x, mask=mask))
        else:  # prefix positions no position may attend to (a text condition's padding)
            keys = torch.cat([hide, torch.zeros_like(hide[:, :1]).expand(-1, t)], 1)
            padding = torch.zeros(keys.shape, device=x.device).masked_fill(keys, float("-inf"))
            out = self.norm(self.body(x, mask=mask, src_key_padding_mask=padding))
        return self.head(out[:, self.n_prefix :])

    def _hidden_prefix(self, cond: torch.Tensor) -> torch.Tensor | None:
        """(N, n_prefix) bools of prefix positions hidden from the decoder (None: none)."""
        return None

    @torch.no_grad()
    def generate(
        self,
        cond: torch.Tensor,
        *,
        beams: int = 1,
        sample: bool = False,
        top_k: int = 20,
        generator: torch.Generator | None = None,
    ) -> list[str]:
        """Decode one text per condition: greedy (``beams=1``), beam search, or top-k sampling
        (on the decoder's device; conditions are moved there)."""
        self.eval()
        cond = cond.to(self.head.weight.device)
        tok = self.tokenizer
        if beams > 1 and not sample:
            return [self._beam(cond[i : i + 1], beams) for i in range(cond.shape[0])]
        n = cond.shape[0]
        ids = torch.full((n, 1), tok.bos_id, dtype=torch.long, device=cond.device)
        done = torch.zeros(n, dtype=torch.bool, device=cond.device)
        for _ in range(self.cfg.max_length):
            logits = self(cond, ids)[:, -1]
            logits[:, tok.unk_id] = float("-inf")
            logits[:, tok.pad_id] = float("-inf")
            logits[:, tok.bos_id] = float("-inf")
            if sample:
                vals, idx = logits.topk(min(top_k, logits.shape[1]), -1)
                probs = torch.softmax(vals, -1).cpu()  # drawn on the CPU generator
                pick = torch.multinomial(probs, 1, generator=generator).to(vals.device)
                nxt = idx.gather(1, pick).squeeze(1)
            else:
                nxt = logits.argmax(-1)
            nxt = torch.where(done, torch.full_like(nxt, tok.eos_id), nxt)
            ids = torch.cat([ids, nxt[:, None]], 1)
            done |= nxt == tok.eos_id
            if bool(done.all()):
                break
        return [self._decode(r) for r in ids.tolist()]

    def _decode(self, ids: list[int]) -> str:
        out = []
        for i in ids[1:]:
            if i == self.tokenizer.eos_id:
                break
            out.append(i)
        return self.tokenizer.decode(out)

    def _beam(self, cond: torch.Tensor, width: int) -> str:
        tok = self.tokenizer
        beams = [([tok.bos_id], 0.0)]
        finished: list[tuple[list[int], float]] = []
        for _ in range(self.cfg.max_length):
            ids = torch.tensor([b[0] for b in beams], device=cond.device)
            lp = F.log_softmax(self(cond.expand(len(beams), *cond.shape[1:]), ids)[:, -1], -1)
            for bad in (tok.unk_id, tok.pad_id, tok.bos_id):
                lp[:, bad] = float("-inf")
            tot = lp + torch.tensor([b[1] for b in beams], device=lp.device)[:, None]
            top = tot.reshape(-1).topk(width).indices.tolist()
            nxt = []
            for k in top:
                b, t = divmod(k, lp.shape[1])
                seq, sc = [*beams[b][0], t], float(tot[b, t])
                (finished if t == tok.eos_id else nxt).append((seq, sc))
            beams = nxt
            if not beams or len(finished) >= width:
                break
        pool = finished or beams
        best = max(pool, key=lambda x: x[1] / max(len(x[0]) - 1, 1))
        return self._decode(best[0])


def encode_texts(tok: WordTokenizer, texts: Sequence[str], max_length: int) -> torch.Tensor:
    """(N, max_length + 2) ids: BOS, tokens (truncated), EOS, padding."""
    rows = [[tok.bos_id, *tok.encode(t)[:max_length], tok.eos_id] for t in texts]
    out = torch.full((len(rows), max_length + 2), tok.pad_id, dtype=torch.long, device="cpu")
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.tensor(r, device="cpu")
    return out


def train_inverter(
    model: ConditionalDecoder,
    conds: torch.Tensor,
    texts: Sequence[str],
    *,
    seed: int = 0,
    checkpoint: str | None = None,
    progress: bool = True,
    desc: str = "training inverter",
) -> list[float]:
    """Teacher-forced cross-entropy training of ``model`` on (condition, text) pairs; one
    resumable step per epoch. Returns the mean loss of each epoch."""
    cfg = model.cfg
    if len(conds) != len(texts):
        raise ConfigError(f"conds ({len(conds)}) and texts ({len(texts)}) differ in length")
    if len(texts) == 0:
        raise ConfigError("texts: the inverter needs training pairs (auxiliary data)")
    from mi_core.device import module_device

    dev = module_device(model) or torch.device("cpu")  # trains where the model lives
    ids = encode_texts(model.tokenizer, texts, cfg.max_length)
    conds = conds.float()
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    steps_per_epoch = (len(texts) + cfg.batch_size - 1) // cfg.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch, pct_start=0.1
    )
    losses: list[float] = []
    loop = ResumableLoop(
        cfg.epochs,
        state={"model": model, "opt": opt, "sched": sched, "gen": g},
        checkpoint=checkpoint,
        every=1,
        meta={"inverter": cfg, "n": len(texts), "cond_dim": model.cond_dim, "seed": seed},
        desc=desc,
        progress=progress,
    )
    pad = model.tokenizer.pad_id
    for _ in loop:
        model.train()
        order = torch.randperm(len(texts), generator=g, device="cpu")
        total = 0.0
        for b in range(0, len(texts), cfg.batch_size):
            idx = order[b : b + cfg.batch_size]
            x, c = ids[idx].to(dev), conds[idx].to(dev)
            if cfg.condition_noise > 0:
                noise = torch.randn(c.shape, generator=g, device="cpu").to(dev)
                c = c + cfg.condition_noise * noise
            length = int((x != pad).sum(1).max())
            x = x[:, :length]
            logits = model(c, x[:, :-1])
            loss = F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1), ignore_index=pad
            )
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        losses.append(total / len(texts))
        loop.extra["losses"] = losses
    model.eval()
    return list(loop.extra.get("losses", losses))


class TextConditionedDecoder(ConditionalDecoder):
    """A :class:`ConditionalDecoder` conditioned on several texts instead of a vector (the
    output-to-prompt inverter of Zhang, Morris & Shmatikov 2024).

    The condition is a (N, k, T) tensor of token ids (``input_tokenizer``): k texts of T tokens
    each (padded). Each text is encoded on its own by a small transformer encoder (no attention
    across texts: the paper's "sparse" encoding, whose cost grows linearly in k), a learned
    embedding marks which text a state comes from, and the decoder reads all k * T states as its
    prefix.
    """

    def __init__(
        self,
        input_tokenizer: WordTokenizer,
        tokenizer: WordTokenizer,
        cfg: InverterConfig,
        texts: int,
        text_length: int,
    ) -> None:
        nn.Module.__init__(self)
        self.cfg = cfg
        self.tokenizer = tokenizer
        self.input_tokenizer = input_tokenizer
        self.texts, self.text_length = texts, text_length
        self.cond_dim = texts * text_length
        self.n_prefix = texts * text_length
        d = cfg.d_model
        self.in_embed = nn.Embedding(input_tokenizer.vocab_size, d)
        self.in_pos = nn.Embedding(text_length, d)
        self.which = nn.Embedding(texts, d)
        self.encoder = nn.TransformerEncoder(_layer(cfg), cfg.layers)
        self._text_layers(tokenizer, cfg)

    def encode_texts(self, texts: list[list[str]]) -> torch.Tensor:
        """(N, k, T) input ids of N rows of k texts (truncated / padded to T tokens)."""
        tok = self.input_tokenizer
        shape = (len(texts), self.texts, self.text_length)
        out = torch.full(shape, tok.pad_id, dtype=torch.long, device="cpu")
        for i, row in enumerate(texts):
            if len(row) != self.texts:
                raise ConfigError(f"texts: row {i} holds {len(row)} texts, expected {self.texts}")
            for j, t in enumerate(row):
                ids = tok.encode(t)[: self.text_length] or [tok.unk_id]
                out[i, j, : len(ids)] = torch.tensor(ids, device="cpu")
        return out

    def prefix(self, cond: torch.Tensor) -> torch.Tensor:
        ids = cond.long()
        if ids.ndim != 3 or ids.shape[1:] != (self.texts, self.text_length):
            raise ConfigError(
                f"condition: expected ids of shape (N, {self.texts}, {self.text_length}), got "
                f"{tuple(ids.shape)}"
            )
        n = ids.shape[0]
        flat = ids.reshape(n * self.texts, self.text_length)
        pad = flat == self.input_tokenizer.pad_id
        pad[:, 0] = False  # an empty text still has one visible position
        pos = torch.arange(self.text_length, device=flat.device)
        h = self.in_embed(flat) + self.in_pos(pos)[None]
        h = self.encoder(h, src_key_padding_mask=pad)
        h = h.reshape(n, self.texts, self.text_length, -1) + self.which.weight[None, :, None]
        return h.reshape(n, self.texts * self.text_length, -1)

    def _hidden_prefix(self, cond: torch.Tensor) -> torch.Tensor:
        """The texts' padding (every text keeps its first position)."""
        n = cond.shape[0]
        pad = cond.long().reshape(n, self.texts, self.text_length) == self.input_tokenizer.pad_id
        pad[:, :, 0] = False
        return pad.reshape(n, -1)
