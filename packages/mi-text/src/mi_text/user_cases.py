"""``hf-causal-lm``: audit your own Hugging Face causal LM for training-data extraction
(``mi audit``; see the root README).

    [[targets]]
    case = "hf-causal-lm"
    access = ["black-box-scores"]
    [targets.options]
    model = "my-org/my-finetuned-lm"      # a hub name or a local save_pretrained folder
    canaries = "canaries.txt"             # secrets known to be in the training data (one a line)
    reference = "gpt2"                    # optional: the public base model the attacker holds
    public = "public.txt"                 # optional: public text (one document a line)

The model and tokenizer load with ``AutoModelForCausalLM`` / ``AutoTokenizer.from_pretrained``
(hub names download once into the Hugging Face cache). The canaries never reach an attack: the
evaluator reports which of them the attack's top-ranked outputs contain (and marks them in the
report), beside as many unranked samples of the same model (random generation), as in the
built-in ``canary-lm`` case.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from mi_core.audit.case import AuditCase
from mi_core.audit.imports import check_options, option_path
from mi_core.errors import ConfigError, MetricError
from mi_core.metrics.base import Figure
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetInfo
from mi_text.cases import CanaryLMCase
from mi_text.generation import sequence_nll
from mi_text.lm_access import local_query
from mi_text.metrics import extraction_precision, secrets_recovered
from mi_text.models import CausalLM, load_causal_lm

REQUIRED = ("model", "canaries")
OPTIONAL = ("reference", "public", "heldout", "top_n", "max_batch")


def _lines(options: dict[str, Any], key: str) -> list[str] | None:
    """A list of strings, or the non-empty lines of the text file the option names."""
    value = options.get(key)
    if value is None or isinstance(value, list):
        if value is not None and not (value and all(isinstance(v, str) and v for v in value)):
            raise ConfigError(f"targets.options.{key}: a non-empty list of strings or a file")
        return value
    path = option_path(options, key, (".txt",))
    assert path is not None
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if not lines:
        raise ConfigError(f"targets.options.{key}: {path} holds no text")
    return lines


def _model_name(options: dict[str, Any], key: str) -> None:
    value = options.get(key)
    if value is None:
        return
    if not isinstance(value, str) or not value:
        raise ConfigError(f"targets.options.{key}: a hub name or a local folder, got {value!r}")
    local = value.startswith((".", "/", "~")) or Path(value).expanduser().exists()
    if local and not (Path(value).expanduser() / "config.json").exists():
        raise ConfigError(
            f"targets.options.{key}: {value} is not a saved model folder (no config.json); "
            "write it with model.save_pretrained() and tokenizer.save_pretrained()"
        )


class HFCausalLMCase(AuditCase):
    """A user's causal LM (hub name or local folder), audited for the extraction of known
    secrets (canaries) from its training data."""

    name = "hf-causal-lm"
    modality = "text"
    description = "your own Hugging Face causal LM (options: model, canaries, reference, public)"
    #: unranked samples of the target drawn for the baseline (as in ``canary-lm``)
    top_n = 20

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> HFCausalLMCase:
        check_options(options, cls.name, REQUIRED, OPTIONAL)
        _model_name(options, "model")
        _model_name(options, "reference")
        for key in ("canaries", "public", "heldout"):
            _lines(options, key)
        for key in ("top_n", "max_batch"):
            v = options.get(key, 1)
            if not isinstance(v, int) or v < 1:
                raise ConfigError(f"targets.options.{key}: a positive integer, got {v!r}")
        return cls(dict(options))

    def prepare(self, workdir: Path, seed: int) -> None:
        o = self.options
        self.seed = seed
        batch = o.get("max_batch", 64)
        self.tuned = load_causal_lm(o["model"], max_batch=batch)
        self.reference = (
            load_causal_lm(o["reference"], max_batch=batch) if o.get("reference") else None
        )
        self.tok = self.tuned.tokenizer
        self.secrets = _lines(o, "canaries") or []
        self.public = _lines(o, "public")
        self.heldout = _lines(o, "heldout")
        self.top_n = o.get("top_n", self.top_n)
        # the baseline: unranked samples of the target, drawn as the built-in case draws them
        self.random_samples = CanaryLMCase._random_samples(self)  # type: ignore[arg-type]

    def target(self) -> CausalLM:
        return self.tuned

    def target_info(self) -> TargetInfo:
        return TargetInfo(modality="text")

    def view_kwargs(self, access: Access) -> dict[str, Any]:
        return {"postprocess": None}

    def knowledge(self, access: Access) -> Knowledge:
        # the tokenizer of an open model is public; a reference model shares it
        return Knowledge(
            prior=self.reference,
            auxiliary=self.public,
            extra={"tokenizer": self.tuned.tokenizer, "start_id": self.tuned.start_id},
        )

    def evaluate(self, result: AttackResult) -> list[Figure]:
        result.info["secrets"] = list(self.secrets)  # the report highlights them
        ranked = [str(r) for r in result.reconstructions]
        n = min(self.top_n, len(ranked), len(self.random_samples))
        if n < 1:
            raise MetricError("result: the attack returned no text to look for canaries in")
        top, base = ranked[:n], self.random_samples[:n]
        found = [s for s in self.secrets if secrets_recovered(top, [s]) > 0]
        return [
            Figure(
                f"extraction_precision@{n}",
                extraction_precision(ranked, self.secrets, n),
                True,
                extraction_precision(self.random_samples, self.secrets, n),
                "random generation",
            ),
            Figure(
                "canaries_recovered",
                secrets_recovered(top, self.secrets),
                True,
                secrets_recovered(base, self.secrets),
                "random generation",
                {"recovered": found, "canaries": len(self.secrets), "top_n": n},
            ),
        ]

    def utility(self, view: Any = None) -> dict[str, float]:
        """Perplexity on the ``heldout`` texts (when given)."""
        if not self.heldout:
            return {}
        with torch.no_grad():
            nll = sequence_nll(
                local_query(self.tuned), [self.tuned.encode(t) for t in self.heldout]
            )
        return {"heldout_perplexity": float(torch.exp(nll.mean()))}
