"""PII filtering of LM outputs through Presidio, offline (no spaCy model, no download)."""

import pytest

from mi_core import ConfigError, TargetInfo, make_view
from mi_core.errors import NotApplicable

pytest.importorskip("presidio_analyzer")
from mi_defense.filtering.pii import PIIFilter

pytestmark = pytest.mark.slow  # importing Presidio (and spaCy) takes a while

TEXT = (
    "Reach Jane at jane.doe@example.org or (415) 555-0132; her card is "
    "4111 1111 1111 1111 and the meeting is on Tuesday."
)


@pytest.fixture(scope="module")
def masker():
    return PIIFilter()


def test_masks_emails_phones_and_cards(masker):
    out = masker.filter_text(TEXT)
    assert "jane.doe@example.org" not in out and "555-0132" not in out and "4111" not in out
    assert "<EMAIL_ADDRESS>" in out and "<PHONE_NUMBER>" in out and "<CREDIT_CARD>" in out
    assert out.endswith("the meeting is on Tuesday.")
    kinds = [d["type"] for d in masker.detect(TEXT)]
    assert kinds == ["EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD"]


def test_clean_text_passes_and_refusal(masker):
    assert masker.filter_text("The meeting is on Tuesday.") == "The meeting is on Tuesday."
    refuser = PIIFilter(action="refuse")
    assert refuser.filter_text(TEXT) == refuser.config.refusal


def test_filters_a_generation_api_view(masker):
    """An LM API answering with memorised PII: the wrapped view masks every answer."""
    memorised = {"contact": "Write to bob.smith@corp-mail.com for details."}

    def api(prompts):
        return [memorised.get(p, "I do not know.") for p in prompts]

    view = make_view(api, "black-box-scores", info=TargetInfo(modality="text"))
    defended = masker.wrap(view)
    assert defended(["contact", "weather"]) == [
        "Write to <EMAIL_ADDRESS> for details.",
        "I do not know.",
    ]
    assert view.queries == 2


def test_refuses_non_text_outputs(masker):
    with pytest.raises(NotApplicable, match="filters released text"):
        masker.transform({"token_logprobs": [0.1]})  # an LM scoring API: no text to filter
    with pytest.raises(ConfigError, match="action"):
        PIIFilter(action="drop")
