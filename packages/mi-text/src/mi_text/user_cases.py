"""``hf-causal-lm``: audit your own Hugging Face causal LM for training-data extraction
(``mi audit``; see the root README; ``mi list cases --options hf-causal-lm`` lists the options).

    [[targets]]
    case = "hf-causal-lm"
    access = ["black-box-scores"]
    [targets.options]
    model = "my-org/my-finetuned-lm"      # a hub name or a local save_pretrained folder
    canaries = "canaries.txt"             # secrets known to be in the training data (one a line)
    reference = "gpt2"                    # optional: the public base model the attacker holds
    public = "public.txt"                 # optional: public text (one document a line)
    names = "names.txt"                   # optional: people whose PII to ask for (one a line)

``canaries``, ``public`` and ``heldout`` may also be Hugging Face datasets: a table such as
``public = {dataset = "corpus/", split = "train", text = "text"}`` names a ``save_to_disk``
folder or a hub name and the column holding the text.

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

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from mi_core.audit.case import AuditCase
from mi_core.audit.imports import is_dataset_option, load_dataset_option, option_path
from mi_core.config import build_config
from mi_core.errors import ConfigError
from mi_core.metrics.base import Figure
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetInfo
from mi_text.data import parse_canary
from mi_text.extraction_eval import ExtractionEvaluator, heldout_perplexity
from mi_text.models import CausalLM, load_causal_lm


@dataclass
class HFCausalLMOptions:
    """Options of the ``hf-causal-lm`` case (``[targets.options]``).

    Attributes:
        model: the model under audit: a Hugging Face hub name or a local folder written with
            ``save_pretrained`` (model and tokenizer).
        canaries: the secrets known to be in the training data, for the evaluator only: a list
            of strings, a ``.txt`` file (one a line) or a dataset table ``{dataset = "folder or
            hub name", split = "train", text = "text"}``.
        reference: the public base model the attacker holds (hub name or folder); attacks that
            compare the target with it (difference search, reference ranking) need it.
        public: public text the attacker holds (list, ``.txt`` file or dataset table, one
            document a line / row), e.g. for prompts.
        heldout: held-out text (list, ``.txt`` file or dataset table) for the model's utility
            (perplexity).
        names: people whose personal information may be in the training data (list, ``.txt``
            file or dataset table, one name a line): PII prompting asks the model for each
            one's PII; the evaluator searches its answers for the canaries like any output.
        top_n: how many of each attack's top-ranked outputs are searched for the canaries.
        max_batch: the most sequences the model scores at once (memory).
    """

    model: str
    canaries: str | list[str] | dict[str, Any]
    reference: str | None = None
    public: str | list[str] | dict[str, Any] | None = None
    heldout: str | list[str] | dict[str, Any] | None = None
    names: str | list[str] | dict[str, Any] | None = None
    top_n: int = 20
    max_batch: int = 64

    def __post_init__(self) -> None:
        for key in ("top_n", "max_batch"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key}: a positive integer, got {getattr(self, key)!r}")


def _lines(options: dict[str, Any], key: str) -> list[str] | None:
    """A list of strings, the non-empty lines of the text file the option names, or the text
    column of a Hugging Face dataset (a table ``{dataset = ..., text = "text"}``)."""
    value = options.get(key)
    if is_dataset_option(value):
        where = f"targets.options.{key}"
        ds, cols = load_dataset_option(value, where, {"text": "text"})
        texts = [str(t).strip() for t in ds[cols["text"]] if t is not None and str(t).strip()]
        if not texts:
            raise ConfigError(f"{where}: the dataset's column {cols['text']!r} holds no text")
        return texts
    if value is None or isinstance(value, list):
        if value is not None and not (value and all(isinstance(v, str) and v for v in value)):
            raise ConfigError(f"targets.options.{key}: a non-empty list of strings or a file")
        return value
    path = option_path(options, key, (".txt",))
    assert path is not None
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(
            f"targets.options.{key}: {path} is not UTF-8 text; save it as UTF-8"
        ) from None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
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
    description = (
        "your own Hugging Face causal LM (options: model, canaries, reference, public, names)"
    )
    Options = HFCausalLMOptions
    knowledge_options: ClassVar[dict[str, str]] = {
        "prior:causal-lm": "reference",
        "auxiliary:text": "public",
        "target_labels:names": "names",
    }
    top_n = 20

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> HFCausalLMCase:
        """Check the options and read the texts now (the audit file's read); the models load
        when the audit runs."""
        given = {k: v for k, v in options.items() if v is not None}
        build_config(HFCausalLMOptions, given, where="targets.options")
        _model_name(given, "model")
        _model_name(given, "reference")
        for key in ("canaries", "public", "heldout", "names"):
            _lines(given, key)
        for line in _lines(given, "canaries") or []:
            try:
                parse_canary(line)
            except ConfigError as exc:
                raise ConfigError(f"targets.options.{exc}") from None
        return cls(given)

    def provides(self, access: Access) -> set[str]:
        have = {"tokenizer", "start_id"}  # an open model's tokenizer is public
        if self.options.get("reference"):
            have.add("prior:causal-lm")
        if self.options.get("public") is not None:
            have.add("auxiliary:text")
        if self.options.get("names") is not None:
            have.add("target_labels:names")
        return have

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
        self.names = _lines(o, "names")
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
            target_labels=self.names,
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
