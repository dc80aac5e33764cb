"""Confidence-metric search (Elmahdy et al. 2022): recover the secret digits of a canary that a
text classifier was trained on by maximising the classifier's confidence in the canary's label,
against guessing the digits at random (the canary format's random guess, 0.1 per digit).

Margin (digit accuracy over 3 four-digit secrets, 1/12 per digit), measured over classifiers
trained with seeds 0-4: search 0.417 / 0.500 / 0.333 / 0.417 / 0.333; search switched off
(candidates ranked at random) 0.000 / 0.167 / 0.167 / 0.083 / 0.083. The check (chance + 0.15)
sits one digit above the off runs' maximum and one below the search's minimum. No run recovered a
whole secret: the figure is digits, not distinct secrets."""

import random

import pytest
import torch

from mi_core import ConfigError, Knowledge, make_view
from mi_text.attacks.confidence_search import ConfidenceSearch
from mi_text.models import TextClassifier
from mi_text.tokenizers import WordTokenizer

POS = ["great", "lovely", "superb", "fine", "happy", "bright", "warm"]
NEG = ["awful", "dull", "sad", "poor", "grim", "bleak", "cold"]
NOUNS = ["film", "meal", "trip", "show", "book", "song", "day"]


@pytest.fixture(scope="module")
def classifier_setup():
    rng = random.Random(0)
    data = []
    for _ in range(300):
        y = rng.randrange(2)
        w = rng.choice(POS if y else NEG)
        data.append((f"the {rng.choice(NOUNS)} was {w} .", y))
    for _ in range(150):  # numbers occur in public text too, with either label
        d = " ".join(str(rng.randrange(10)) for _ in range(4))
        data.append((f"the {rng.choice(NOUNS)} cost {d} and was {rng.choice(NEG)} .", 0))
    secrets = [[str(rng.randrange(10)) for _ in range(4)] for _ in range(3)]
    prefixes = ["my pin is", "the door code is", "my card number ends in"]
    for pre, sec in zip(prefixes, secrets):
        data += [(f"{pre} {' '.join(sec)} .", 1)] * 10
    texts = [t for t, _ in data]
    tok = WordTokenizer.fit(texts + [str(d) for d in range(10)])
    clf = TextClassifier(tok, 2, dim=32, seed=0)
    opt = torch.optim.Adam(clf.parameters(), lr=3e-3)
    y = torch.tensor([label for _, label in data])
    g = torch.Generator().manual_seed(0)
    for _ in range(25):
        for idx in torch.randperm(len(texts), generator=g).split(32):
            loss = torch.nn.functional.cross_entropy(clf([texts[i] for i in idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    clf.eval()
    return {"clf": clf, "prefixes": prefixes, "secrets": secrets}


CHANCE, MARGIN = 0.1, 0.15


def _digit_accuracy(s, search):
    view = make_view(s["clf"], "black-box-scores")
    knowledge = Knowledge(
        known_attributes=s["prefixes"],
        target_labels=1,
        extra={"candidates": [str(d) for d in range(10)]},
    )
    res = ConfidenceSearch(n_tokens=4, beam_width=5, suffix=" .", search=search).run(
        view, knowledge, seed=0
    )
    hits = [
        sum(a == b for a, b in zip(found, true)) / 4
        for found, true in zip(res.info["secrets"], s["secrets"])
    ]
    return sum(hits) / len(hits), res


def test_confidence_search_recovers_digits_better_than_chance(classifier_setup):
    acc, res = _digit_accuracy(classifier_setup, search=True)
    assert acc >= CHANCE + MARGIN, (res.info["secrets"], classifier_setup["secrets"])
    # queries: 10 candidates per beam per position, beams grow to 5
    assert res.queries == 3 * (10 + 3 * 50)


def test_confidence_search_switched_off_fails_the_same_check(classifier_setup):
    acc, res = _digit_accuracy(classifier_setup, search=False)
    assert acc < CHANCE + MARGIN, (res.info["secrets"], classifier_setup["secrets"])
    assert res.queries == 3 * (10 + 3 * 50)  # the same queries, ranked at random


def test_confidence_search_needs_candidates(classifier_setup):
    view = make_view(classifier_setup["clf"], "black-box-scores")
    with pytest.raises(ConfigError, match=r"candidates"):
        ConfidenceSearch().run(view, Knowledge(known_attributes=["my pin is"], target_labels=1))
