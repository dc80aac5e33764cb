"""PII detection and masking / refusal for language-model outputs.

Huang, Shao, Chang, "Are large pre-trained language models leaking your personal information?",
EMNLP Findings 2022 (survey [46], Sec. VI-A 3): a detection module checks whether generated text
contains personal information and a filtering module masks it or refuses to answer.

Detection runs through Microsoft Presidio (``presidio-analyzer`` / ``presidio-anonymizer``,
the ``pii`` extra), offline: Presidio's pattern recognizers (e-mail, phone numbers through
Google's libphonenumber, credit cards with the Luhn check, IBAN, US SSN, IP addresses, URLs ...)
run on a blank spaCy pipeline, so no model is downloaded. Names and places need a spaCy NER
model: spaCy's official models are not on PyPI (only unofficial re-uploads), so give the name
or path of one you installed as ``spacy_model`` to detect ``PERSON`` / ``LOCATION`` too.
The e-mail recognizer's domain check uses tldextract's bundled suffix list (no fetch).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mi_core.config import check_choice, check_range
from mi_core.defense import OutputDefense
from mi_core.errors import ConfigError, NotApplicable
from mi_core.threat import Access
from mi_core.views import BlackBoxView

DEFAULT_ENTITIES = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "IP_ADDRESS",
)


@dataclass
class PIIFilterConfig:
    """Attributes:
    action: ``mask`` the detected spans or ``refuse`` the whole answer.
    entities: Presidio entity types to detect.
    score_threshold: minimum Presidio confidence of a detection.
    mask: ``type`` replaces a span by ``<ENTITY_TYPE>``; ``char`` by ``*`` of the same length.
    refusal: the answer released instead of a text holding PII (``action="refuse"``).
    spacy_model: an installed spaCy pipeline (name or path) for NER entities (PERSON ...).
    language: language code of the texts.
    """

    action: Literal["mask", "refuse"] = "mask"
    entities: tuple[str, ...] = DEFAULT_ENTITIES
    score_threshold: float = 0.3
    mask: Literal["type", "char"] = "type"
    refusal: str = "[withheld: the answer contained personal information]"
    spacy_model: str | None = None
    language: str = "en"

    def __post_init__(self) -> None:
        check_choice("action", self.action, ("mask", "refuse"))
        check_choice("mask", self.mask, ("type", "char"))
        check_range("score_threshold", self.score_threshold, 0.0, 1.0)
        if not self.entities:
            raise ConfigError("entities: name at least one entity type, e.g. 'EMAIL_ADDRESS'")


def _presidio() -> tuple[Any, Any]:
    try:
        import presidio_analyzer
        import presidio_anonymizer
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigError("pii-filter needs Presidio: pip install 'mi-defense[pii]'") from exc
    return presidio_analyzer, presidio_anonymizer


def _offline_email_recognizer(language: str) -> Any:
    """Presidio's e-mail recognizer with its domain check on tldextract's bundled snapshot."""
    import tldextract
    from presidio_analyzer.predefined_recognizers import EmailRecognizer

    extractor = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    class OfflineEmailRecognizer(EmailRecognizer):
        def validate_result(self, pattern_text: str) -> bool:
            return extractor(pattern_text).fqdn != ""

    return OfflineEmailRecognizer(supported_language=language)


class PIIFilter(OutputDefense):
    """Mask or refuse personal information in generated text (Presidio, offline)."""

    name = "pii-filter"
    modalities = ("text",)
    paper = "Huang et al., EMNLP Findings 2022 (survey [46]); Microsoft Presidio"
    summary = "detect PII in generated text (Presidio, offline) and mask it or refuse"
    Config = PIIFilterConfig

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self._analyzer: Any = None
        self._anonymizer: Any = None

    # -- the engines -------------------------------------------------------------------------
    def _engines(self) -> tuple[Any, Any]:
        if self._analyzer is None:
            analyzer_mod, anonymizer_mod = _presidio()
            from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
            from presidio_analyzer.nlp_engine import NlpEngineProvider

            cfg = self.config
            model = cfg.spacy_model
            if model is None:
                import spacy

                self._blank_dir = tempfile.TemporaryDirectory(prefix="mi-pii-spacy-")
                spacy.blank(cfg.language).to_disk(self._blank_dir.name)
                model = self._blank_dir.name
            provider = NlpEngineProvider(
                nlp_configuration={
                    "nlp_engine_name": "spacy",
                    "models": [{"lang_code": cfg.language, "model_name": model}],
                }
            )
            nlp = provider.create_engine()
            registry = RecognizerRegistry(supported_languages=[cfg.language])
            log = logging.getLogger("presidio-analyzer")
            level = log.level
            log.setLevel(logging.ERROR)  # silence "not added: language not supported" notes
            try:
                registry.load_predefined_recognizers(nlp_engine=nlp, languages=[cfg.language])
            finally:
                log.setLevel(level)
            registry.remove_recognizer("EmailRecognizer")
            registry.add_recognizer(_offline_email_recognizer(cfg.language))
            self._analyzer = AnalyzerEngine(
                nlp_engine=nlp, registry=registry, supported_languages=[cfg.language]
            )
            self._anonymizer = anonymizer_mod.AnonymizerEngine()
            del analyzer_mod
        return self._analyzer, self._anonymizer

    # -- detection and filtering ---------------------------------------------------------------
    def detect(self, text: str) -> list[dict[str, Any]]:
        """PII spans in ``text``: ``{"type", "start", "end", "text", "score"}``."""
        analyzer, _ = self._engines()
        cfg = self.config
        found = analyzer.analyze(
            text=text,
            language=cfg.language,
            entities=list(cfg.entities),
            score_threshold=cfg.score_threshold,
        )
        return [
            {
                "type": r.entity_type,
                "start": r.start,
                "end": r.end,
                "text": text[r.start : r.end],
                "score": float(r.score),
            }
            for r in sorted(found, key=lambda r: r.start)
        ]

    def filter_text(self, text: str) -> str:
        """``text`` with its PII masked, or the refusal when it holds any (``action``)."""
        if not isinstance(text, str):
            raise ConfigError(f"text: expected a string, got {type(text).__name__}")
        analyzer, anonymizer = self._engines()
        cfg = self.config
        found = analyzer.analyze(
            text=text,
            language=cfg.language,
            entities=list(cfg.entities),
            score_threshold=cfg.score_threshold,
        )
        if not found:
            return text
        if cfg.action == "refuse":
            return cfg.refusal
        from presidio_anonymizer.entities import OperatorConfig

        op = (
            OperatorConfig("mask", {"masking_char": "*", "chars_to_mask": 10**6, "from_end": False})
            if cfg.mask == "char"
            else OperatorConfig("replace")
        )
        return anonymizer.anonymize(
            text=text, analyzer_results=found, operators={"DEFAULT": op}
        ).text

    def transform(self, outputs: Any) -> Any:
        """Filter released text: a string, a list of strings, or a mapping with a ``text`` /
        ``texts`` entry."""
        if isinstance(outputs, str):
            return self.filter_text(outputs)
        if isinstance(outputs, Mapping):
            for key in ("text", "texts", "generated_text"):
                if key in outputs:
                    return {**outputs, key: self.transform(outputs[key])}
        if isinstance(outputs, list | tuple) and all(isinstance(o, str) for o in outputs):
            return type(outputs)(self.filter_text(o) for o in outputs)
        raise NotApplicable(
            f"{self.name}: filters released text (strings); this view released "
            f"{type(outputs).__name__}. Wrap a view of a generation API (prompt -> text), or "
            "filter the generated strings with defense.filter_text(text)"
        )

    def check_view(self, view: BlackBoxView) -> None:
        if view.access is Access.LABEL_ONLY:
            raise ConfigError(f"{self.name}: a label-only view releases no text to filter")

    def generate(self, generate_fn: Any) -> Any:
        """Wrap a generation function ``prompt(s) -> text(s)`` so its answers are filtered."""

        def filtered(*args: Any, **kwargs: Any) -> Any:
            return self.transform(generate_fn(*args, **kwargs))

        return filtered
