"""Text data: PII canaries (synthetic private records made with ``faker``), inserting them into
a corpus with repetitions, reading WikiText-2 / SST-2 files, and user corpora through the
``datasets`` library (optional import).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mi_core.errors import ConfigError

SECRET_FORMATS = {
    # format -> (template of digits, size of the secret space)
    "ssn": ("ddd-dd-dddd", 10**9),
    "phone": ("ddd-ddd-dddd", 10**10),
    "pin": ("dddddd", 10**6),
}

_TEMPLATES = {
    "ssn": [
        "{name}'s social security number is {secret}.",
        "The SSN on file for {name} is {secret}.",
    ],
    "phone": [
        "You can reach {name} on {secret}.",
        "{name}'s mobile number is {secret}.",
    ],
    "pin": [
        "The PIN of {name}'s card is {secret}.",
    ],
}


@dataclass(frozen=True)
class Canary:
    """A synthetic private record: ``text = prefix + secret + suffix``.

    ``kind`` names the secret's format (``ssn``, ``phone``, ``pin``, or ``custom`` for a user's
    secret, whose digits and letters are its random part); ``repetitions`` is how many times it
    was put into the training data (0 when unknown); ``name`` is the person the record is about
    (``""`` when unknown), whom PII prompting asks for it.
    """

    prefix: str
    secret: str
    suffix: str
    kind: str
    repetitions: int = 1
    name: str = ""

    @property
    def text(self) -> str:
        return f"{self.prefix}{self.secret}{self.suffix}"

    @property
    def space_size(self) -> int:
        """Number of candidate secrets of the canary's format (|R| of Carlini et al. 2019)."""
        if self.kind in SECRET_FORMATS:
            return SECRET_FORMATS[self.kind][1]
        return 10 ** sum(c.isdigit() for c in self.secret) * 26 ** sum(
            c.isalpha() for c in self.secret
        )

    def with_secret(self, secret: str) -> str:
        return f"{self.prefix}{secret}{self.suffix}"

    def random_candidate(self, rng: random.Random) -> str:
        """The canary's text with a uniformly random secret of its format in place of the
        secret (a member of the candidate set R of the exposure)."""
        if self.kind in SECRET_FORMATS:
            return self.with_secret(random_secret(self.kind, rng))
        return self.with_secret(random_like(self.secret, rng))


def random_like(secret: str, rng: random.Random) -> str:
    """``secret`` with each digit replaced by a random digit and each letter by a random letter
    of the same case (the format of a user's secret)."""
    out = []
    for c in secret:
        if c.isdigit():
            out.append(str(rng.randrange(10)))
        elif c.isalpha():
            letter = chr(ord("a") + rng.randrange(26))
            out.append(letter.upper() if c.isupper() else letter)
        else:
            out.append(c)
    return "".join(out)


def parse_canary(line: str) -> Canary:
    """A user's canary: ``"You can reach Ann on {555-010-9999}."`` (the secret in braces, the
    text around it the context it was planted in) or a bare secret (``"555-010-9999"``)."""
    text = line.strip()
    if not text:
        raise ConfigError("canaries: an empty line is not a canary")
    m = re.fullmatch(r"([^{}]*)\{([^{}]+)\}([^{}]*)", text)
    if m is None:
        if "{" in text or "}" in text:
            raise ConfigError(
                f"canaries: {text!r}: mark the secret with one pair of braces, e.g. "
                "'my PIN is {123456}', or give the bare secret"
            )
        return Canary("", text, "", "custom", 0)
    pre, secret, post = m.groups()
    if not any(c.isalnum() for c in secret):
        raise ConfigError(f"canaries: {text!r}: the secret in braces has no digit or letter")
    return Canary(pre, secret, post, "custom", 0)


def random_secret(kind: str, rng: random.Random) -> str:
    """A uniformly random secret of format ``kind``."""
    if kind not in SECRET_FORMATS:
        raise ConfigError(
            f"kind: unknown secret format {kind!r}; allowed: {sorted(SECRET_FORMATS)}"
        )
    fmt = SECRET_FORMATS[kind][0]
    return "".join(str(rng.randrange(10)) if c == "d" else c for c in fmt)


def make_canaries(
    n: int,
    *,
    repetitions: Sequence[int] = (1,),
    kinds: Sequence[str] = ("ssn", "phone"),
    seed: int = 0,
    locale: str = "en_US",
) -> list[Canary]:
    """``n`` PII canaries (fake names from ``faker``, random SSN-like / phone secrets), spread
    evenly over the ``repetitions`` (e.g. ``(1, 5, 20)``) in the order given."""
    if n < 1:
        raise ConfigError(f"n: must be >= 1, got {n}")
    if not repetitions or any(r < 1 for r in repetitions):
        raise ConfigError(f"repetitions: need positive counts, got {list(repetitions)}")
    for k in kinds:
        if k not in SECRET_FORMATS:
            raise ConfigError(f"kinds: unknown format {k!r}; allowed: {sorted(SECRET_FORMATS)}")
    from faker import Faker

    fake = Faker(locale)
    fake.seed_instance(seed)
    rng = random.Random(seed)
    out = []
    names: set[str] = set()
    while len(out) < n:
        name = fake.name()
        if name in names:
            continue
        names.add(name)
        i = len(out)
        kind = kinds[i % len(kinds)]
        template = rng.choice(_TEMPLATES[kind])
        pre, post = template.split("{secret}")
        out.append(
            Canary(
                prefix=pre.format(name=name),
                secret=random_secret(kind, rng),
                suffix=post,
                kind=kind,
                repetitions=repetitions[i * len(repetitions) // n],
                name=name,
            )
        )
    return out


def insert_canaries(corpus: Sequence[str], canaries: Iterable[Canary], seed: int = 0) -> list[str]:
    """The corpus with each canary's text added ``canary.repetitions`` times, shuffled."""
    docs = list(corpus)
    for c in canaries:
        docs.extend([c.text] * c.repetitions)
    random.Random(seed).shuffle(docs)
    return docs


# ------------------------------------------------------------------------- real corpora


def read_wikitext(
    path: str | Path, *, min_words: int = 8, max_words: int | None = None
) -> list[str]:
    """Paragraphs of a WikiText raw file (headings and empty lines dropped; ``max_words``
    truncates a paragraph to its first sentences within that many words)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"wikitext: {p} does not exist")
    out = []
    for line in p.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("="):
            continue
        line = line.replace(" @-@ ", "-").replace(" @,@ ", ",").replace(" @.@ ", ".")
        line = re.sub(r" ([.,;:!?')])", r"\1", line).replace("( ", "(")
        if max_words is not None:
            line = _truncate_sentences(line, max_words)
        if len(line.split()) >= min_words:
            out.append(line)
    return out


def _truncate_sentences(text: str, max_words: int) -> str:
    sents = split_sentences(text)
    keep: list[str] = []
    count = 0
    for s in sents:
        n = len(s.split())
        if keep and count + n > max_words:
            break
        keep.append(s)
        count += n
    out = " ".join(keep)
    return " ".join(out.split()[:max_words])


def split_sentences(text: str) -> list[str]:
    """Split on sentence-final punctuation followed by white space."""
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]


def wikitext_sentences(path: str | Path, *, min_words: int = 5, max_words: int = 30) -> list[str]:
    """Sentences of a WikiText raw file with ``min_words``..``max_words`` words."""
    out = []
    for para in read_wikitext(path, min_words=1):
        for s in split_sentences(para):
            if min_words <= len(s.split()) <= max_words:
                out.append(s)
    return out


def read_sst2(path: str | Path) -> tuple[list[str], list[int]]:
    """Sentences and labels of an SST-2 TSV (``label<TAB>sentence`` or GLUE's
    ``sentence<TAB>label`` with a header)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"sst2: {p} does not exist")
    texts, labels = [], []
    for line in p.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) != 2:
            continue
        a, b = parts
        if a.strip() in ("0", "1"):
            labels.append(int(a))
            texts.append(b.strip())
        elif b.strip() in ("0", "1"):
            labels.append(int(b))
            texts.append(a.strip())
    if not texts:
        raise ConfigError(f"sst2: {p} holds no label<TAB>sentence rows")
    return texts, labels


def load_text_dataset(
    path_or_name: str, *, split: str = "train", column: str = "text", **kwargs: object
) -> list[str]:
    """A user corpus through ``datasets.load_dataset`` (local files such as ``"text"`` /
    ``"csv"`` with ``data_files=``, or a hub name for users). Needs ``pip install
    'mi-text[datasets]'``."""
    try:
        import datasets
    except ImportError as exc:
        raise ConfigError(
            "load_text_dataset needs the 'datasets' package: pip install 'mi-text[datasets]'"
        ) from exc
    ds = datasets.load_dataset(path_or_name, split=split, **kwargs)
    if column not in ds.column_names:
        raise ConfigError(
            f"column: {column!r} is not a column of the dataset; columns: {ds.column_names}"
        )
    return [str(t) for t in ds[column] if str(t).strip()]
