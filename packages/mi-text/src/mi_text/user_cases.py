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
(hub names download once into the Hugging Face cache).

A canary line is the secret itself (``555-010-9999``) or, better, the text it was planted in
with the secret in braces (``You can reach Ann on {555-010-9999}.``): the exposure ranks the
canary among random secrets of its format (its digits and letters redrawn) in that context.

The canaries never reach an attack. The evaluator (:mod:`mi_text.extraction_eval`) searches
every output of the attack for them, reports each one's rank and exposure (Carlini et al. 2019),
and counts distinct secrets in the top ``top_n``, beside ``reference`` (the base model, which
never saw them) or, without one, the format's random guess. Unranked samples of the model itself
are never the baseline: secrets in them are reported as leakage (``random_generation_recall``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mi_core.audit.case import AuditCase
from mi_core.audit.imports import check_options, option_path
from mi_core.errors import ConfigError
from mi_core.metrics.base import Figure
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetInfo
from mi_text.data import parse_canary
from mi_text.extraction_eval import ExtractionEvaluator, heldout_perplexity
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
        for line in _lines(options, "canaries") or []:
            try:
                parse_canary(line)
            except ConfigError as exc:
                raise ConfigError(f"targets.options.{exc}") from None
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
        self.canaries = [parse_canary(line) for line in _lines(o, "canaries") or []]
        self.secrets = [c.secret for c in self.canaries]
        self.public = _lines(o, "public")
        self.heldout = _lines(o, "heldout")
        self.top_n = o.get("top_n", self.top_n)
        self.evaluator = ExtractionEvaluator(
            self.tuned,
            self.canaries,
            reference=self.reference,
            reference_name=f"reference model {o['reference']} (canaries unseen)"
            if self.reference is not None
            else "",
            top_n=self.top_n,
            seed=seed,
        ).prepare()

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
        result.info.update(self.evaluator.info())  # the report highlights them
        return self.evaluator.figures([str(r) for r in result.reconstructions])

    def utility(self, view: Any = None) -> dict[str, float]:
        """Perplexity on the ``heldout`` texts (when given)."""
        if not self.heldout:
            return {}
        return {"heldout_perplexity": heldout_perplexity(self.tuned, self.heldout)}
