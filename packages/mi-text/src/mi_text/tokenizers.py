"""Tokenizers behind one small protocol, so attacks work with a Hugging Face tokenizer or with
the byte-level tokenizer that tests and built-in cases use (no files, no download).

Protocol: ``encode(text) -> list[int]``, ``decode(ids) -> str``, ``vocab_size``, ``eos_id``,
``bos_id`` (``None`` when the model has none), ``pad_id``.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from mi_core.errors import ConfigError


@runtime_checkable
class Tokenizer(Protocol):
    vocab_size: int
    eos_id: int
    bos_id: int | None
    pad_id: int

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: list[int]) -> str: ...


class ByteTokenizer:
    """UTF-8 bytes as tokens (256 ids) plus ``<bos>`` = 256 and ``<eos>`` = 257.

    Tiny models trained in tests use it: every string is representable and nothing is loaded.
    """

    def __init__(self) -> None:
        self.vocab_size = 258
        self.bos_id: int | None = 256
        self.eos_id = 257
        self.pad_id = 257

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids: list[int]) -> str:
        return bytes(i for i in ids if 0 <= i < 256).decode("utf-8", errors="replace")

    def __repr__(self) -> str:
        return "ByteTokenizer()"


class HFTokenizer:
    """Adapter of a Hugging Face tokenizer to the protocol (no special tokens added by
    ``encode``; the model wrapper adds BOS where the model wants it)."""

    def __init__(self, tok: Any) -> None:
        if not hasattr(tok, "encode") or not hasattr(tok, "decode"):
            raise ConfigError(
                f"tokenizer: {type(tok).__name__} has no encode()/decode(); pass a Hugging Face "
                "tokenizer or an object implementing mi_text.tokenizers.Tokenizer"
            )
        self.hf = tok
        self.vocab_size = len(tok)
        eos = tok.eos_token_id
        if eos is None:
            eos = tok.sep_token_id if getattr(tok, "sep_token_id", None) is not None else 0
        self.eos_id = int(eos)
        bos = getattr(tok, "bos_token_id", None)
        self.bos_id = None if bos is None else int(bos)
        pad = tok.pad_token_id
        self.pad_id = int(pad) if pad is not None else self.eos_id

    def encode(self, text: str) -> list[int]:
        return list(self.hf.encode(text, add_special_tokens=False))

    def decode(self, ids: list[int]) -> str:
        return str(self.hf.decode(list(ids), skip_special_tokens=True))

    def __repr__(self) -> str:
        return f"HFTokenizer({type(self.hf).__name__}, vocab={self.vocab_size})"


def as_tokenizer(tok: Any) -> Tokenizer:
    """Return ``tok`` if it follows the protocol, else wrap a Hugging Face tokenizer."""
    if isinstance(tok, ByteTokenizer | HFTokenizer):
        return tok
    if hasattr(tok, "convert_tokens_to_ids"):
        return HFTokenizer(tok)
    if isinstance(tok, Tokenizer):
        return tok
    raise ConfigError(
        f"tokenizer: cannot use {type(tok).__name__}; pass a Hugging Face tokenizer or an object "
        "with encode/decode/vocab_size/eos_id/bos_id/pad_id"
    )


_WORD_RE = None


def _word_pattern():  # compiled lazily
    import re

    global _WORD_RE
    if _WORD_RE is None:
        _WORD_RE = re.compile(r"\d|[^\W\d_]+|[^\w\s]|_")
    return _WORD_RE


class WordTokenizer:
    """Closed-vocabulary word tokenizer for small targets: words, single digits and punctuation
    are tokens (so a number is spelled digit by digit and every secret of a digit format is
    representable); ids 0-3 are ``<pad>``, ``<bos>``, ``<eos>``, ``<unk>``.

    Build it from a corpus with :meth:`fit`.
    """

    SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")

    def __init__(self, vocab: list[str]) -> None:
        self.itos = list(self.SPECIALS) + [w for w in vocab if w not in self.SPECIALS]
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        self.vocab_size = len(self.itos)
        self.pad_id, self.bos_id, self.eos_id, self.unk_id = 0, 1, 2, 3

    @classmethod
    def fit(cls, texts: list[str], *, lowercase: bool = False, min_count: int = 1) -> WordTokenizer:
        from collections import Counter

        counts: Counter[str] = Counter()
        for t in texts:
            counts.update(_word_pattern().findall(t.lower() if lowercase else t))
        vocab = [str(d) for d in range(10)]
        vocab += sorted(w for w, c in counts.items() if c >= min_count and w not in vocab)
        tok = cls(vocab)
        tok.lowercase = lowercase
        return tok

    lowercase = False

    def tokens(self, text: str) -> list[str]:
        return _word_pattern().findall(text.lower() if self.lowercase else text)

    def encode(self, text: str) -> list[int]:
        return [self.stoi.get(w, self.unk_id) for w in self.tokens(text)]

    def decode(self, ids: list[int]) -> str:
        out = ""
        prev = ""
        for i in ids:
            i = int(i)
            if i < len(self.SPECIALS) or i >= self.vocab_size:
                continue
            w = self.itos[i]
            glue = (
                not out
                or (w.isdigit() and (prev.isdigit() or prev == "-"))
                or (w == "-" and prev.isdigit())
                or (not w[0].isalnum() and w not in "(-")
                or prev in ("(", "'")
                or w == "'"
            )
            out += w if glue else " " + w
            prev = w
        return out

    def __repr__(self) -> str:
        return f"WordTokenizer(vocab={self.vocab_size})"
