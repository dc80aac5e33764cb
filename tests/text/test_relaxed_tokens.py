"""Relaxed-token inversion (Parikh et al. 2022): a white-box attacker who knows a canary's
template and label recovers its secret digits by optimising soft token mixtures through the
classifier, against random digits of the same format; with the optimisation switched off the
same check fails."""

import random

import pytest
import torch

from mi_core import AccessError, ConfigError, Knowledge, make_view
from mi_text.attacks.relaxed_token_inversion import RelaxedTokenInversion
from mi_text.models import TextClassifier
from mi_text.tokenizers import WordTokenizer

POS = ["great", "lovely", "superb", "fine", "happy", "bright", "warm"]
NEG = ["awful", "dull", "sad", "poor", "grim", "bleak", "cold"]
NOUNS = ["film", "meal", "trip", "show", "book", "song", "day"]
PREFIXES = ["my pin is", "the door code is", "my card number ends in", "my locker code is"]
DIGITS = [str(d) for d in range(10)]
SEEDS = range(5)


def _digits(rng, n=4):
    return [str(rng.randrange(10)) for _ in range(n)]


@pytest.fixture(scope="module")
def flagged_records():
    """A classifier that flags records (label 1): each template occurs 20 times with random
    numbers and label 0, and once (repeated 8 times) with the canary's secret and label 1, so
    that telling them apart needs the secret's digits; plus public sentences with numbers."""
    rng = random.Random(0)
    data = []
    for _ in range(80):
        y = rng.randrange(2)
        data.append((f"the {rng.choice(NOUNS)} was {rng.choice(POS if y else NEG)} .", y))
    for _ in range(40):
        data.append((f"the {rng.choice(NOUNS)} cost {' '.join(_digits(rng))} .", 0))
    secrets = [_digits(rng) for _ in PREFIXES]
    for pre, sec in zip(PREFIXES, secrets):
        data += [(f"{pre} {' '.join(sec)} .", 1)] * 8
        data += [(f"{pre} {' '.join(_digits(rng))} .", 0) for _ in range(20)]
    texts = [t for t, _ in data]
    tok = WordTokenizer.fit(texts + DIGITS)
    clf = TextClassifier(tok, 2, dim=32, seed=0)
    opt = torch.optim.Adam(clf.parameters(), lr=3e-3)
    y = torch.tensor([label for _, label in data])
    g = torch.Generator().manual_seed(0)
    for _ in range(15):
        for idx in torch.randperm(len(texts), generator=g).split(32):
            loss = torch.nn.functional.cross_entropy(clf([texts[i] for i in idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    clf.eval()
    return {"clf": clf, "secrets": secrets}


def _knowledge():
    return Knowledge(known_attributes=PREFIXES, target_labels=1, extra={"candidates": DIGITS})


def _digit_accuracy(found, secrets):
    pairs = [(a, b) for f, s in zip(found, secrets, strict=True) for a, b in zip(f, s)]
    return sum(a == b for a, b in pairs) / len(pairs)


def _attack_vs_random(s, **config):
    """Mean digit accuracy over 5 attack seeds, and of random digits over 5 seeds."""
    attack, rand = [], []
    for seed in SEEDS:
        res = RelaxedTokenInversion(
            n_tokens=4, suffix=" .", steps=100, restarts=2, progress=False, **config
        ).run(make_view(s["clf"], "white-box"), _knowledge(), seed=seed)
        attack.append(_digit_accuracy(res.info["secrets"], s["secrets"]))
        rng = random.Random(seed)
        rand.append(_digit_accuracy([_digits(rng) for _ in PREFIXES], s["secrets"]))
    return sum(attack) / len(attack), sum(rand) / len(rand), res


# measured (mean over the 5 attack seeds, for target seeds 0, 1, 2): the attack recovers 0.59,
# 0.64 and 0.88 of the digits, random digits about 0.10 (chance), the unoptimised projection
# 0.13-0.15
MARGIN = 0.3


def test_relaxed_tokens_recover_canary_digits_beyond_random(flagged_records):
    attack, rand, res = _attack_vs_random(flagged_records)
    assert attack >= rand + MARGIN, (attack, rand)
    assert res.queries == 100 * len(PREFIXES) * 2 + len(PREFIXES) * 2  # steps + projection
    assert res.reconstructions[0].startswith("my pin is ")


def test_relaxed_tokens_without_optimisation_fail_the_same_check(flagged_records):
    attack, rand, _ = _attack_vs_random(flagged_records, lr=1e-8)
    assert attack < rand + MARGIN, (attack, rand)


def test_relaxed_tokens_check_access_and_knowledge(flagged_records):
    clf = flagged_records["clf"]
    with pytest.raises(AccessError, match="white-box"):
        RelaxedTokenInversion(progress=False).run(make_view(clf, "black-box-scores"), _knowledge())
    with pytest.raises(ConfigError, match=r"knowledge\.target_labels"):
        RelaxedTokenInversion(progress=False).run(
            make_view(clf, "white-box"), Knowledge(known_attributes=PREFIXES)
        )
    with pytest.raises(ConfigError, match=r"candidates.*exactly one token"):
        RelaxedTokenInversion(progress=False).run(
            make_view(clf, "white-box"),
            Knowledge(known_attributes=PREFIXES, target_labels=1, extra={"candidates": ["1 2"]}),
        )
    with pytest.raises(ConfigError, match="not a classifier on token embeddings"):
        RelaxedTokenInversion(progress=False).run(make_view(torch.nn.Linear(2, 2)), _knowledge())
    with pytest.raises(ConfigError, match="steps"):
        RelaxedTokenInversion(steps=-1)
