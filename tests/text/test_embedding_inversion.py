"""Inverting sentence embeddings: keyword inference (Pan et al. 2020), the two-stage mapping
(Song & Raghunathan 2020), GEIA (Li et al. 2023) and GEIA with vec2text-style correction, each
against a baseline that uses the attacker's public data alone (keyword prior, nearest public
sentence). The target encoder is a small transformer encoder over a word vocabulary."""

import random
from dataclasses import replace

import pytest
import torch

from mi_core import ConfigError, Knowledge, make_view
from mi_text.attacks.geia import GEIA
from mi_text.attacks.geia_correction import GEIACorrection
from mi_text.attacks.keyword_inference import KeywordInference, keyword_matrix
from mi_text.attacks.two_stage_inversion import TwoStageInversion
from mi_text.embedding_access import nearest_neighbour_texts
from mi_text.inverters import InverterConfig
from mi_text.metrics import bleu, embedding_cosine, exact_match, keyword_scores, token_f1
from mi_text.models import BagOfWordsEncoder, SentenceEncoder
from mi_text.tokenizers import WordTokenizer

ADJ = [
    "quiet",
    "bright",
    "angry",
    "gentle",
    "broken",
    "golden",
    "hidden",
    "rapid",
    "silent",
    "frozen",
    "wild",
    "honest",
]
NOUN = [
    "doctor",
    "river",
    "engine",
    "teacher",
    "garden",
    "pilot",
    "market",
    "lawyer",
    "forest",
    "singer",
    "bridge",
    "nurse",
]
VERB = [
    "visits",
    "paints",
    "repairs",
    "follows",
    "watches",
    "builds",
    "cleans",
    "finds",
    "sells",
    "guards",
]
PLACE = ["harbor", "station", "church", "village", "castle", "airport", "museum", "valley"]


def sentence(rng):
    return (
        f"the {rng.choice(ADJ)} {rng.choice(NOUN)} {rng.choice(VERB)} the "
        f"{rng.choice(NOUN)} near the {rng.choice(PLACE)}"
    )


@pytest.fixture(scope="module")
def embed_setup():
    rng = random.Random(0)
    public = [sentence(rng) for _ in range(1500)]
    private = [s for s in (sentence(rng) for _ in range(400)) if s not in set(public)][:40]
    tok = WordTokenizer.fit(public + private)
    torch.manual_seed(0)
    encoder = SentenceEncoder(BagOfWordsEncoder(tok.vocab_size, dim=64, layers=1, seed=0), tok)
    encoder.eval()
    view = make_view(encoder, "black-box-scores", postprocess=None)
    with torch.no_grad():
        leaked = encoder(private)  # what leaked: the private sentences' embeddings
    public_copy = SentenceEncoder(BagOfWordsEncoder(tok.vocab_size, dim=64, layers=1, seed=0), tok)
    public_copy.load_state_dict(encoder.state_dict())
    return {
        "public": public,
        "private": private,
        "leaked": leaked,
        "view": view,
        "encoder": encoder,
        "public_copy": public_copy,
    }


def _knowledge(s, **extra):
    return Knowledge(auxiliary=s["public"], target_labels=s["leaked"], extra=extra)


def _baseline(s):
    with torch.no_grad():
        pub = s["encoder"](s["public"])
    return nearest_neighbour_texts(s["leaked"], s["public"], pub)


def _keyword_truth_and_prior(s, keywords):
    """Each private sentence's keywords, and the prior baseline's scores: each sentence gets the
    keywords present in most public sentences (none here), so the fair no-model guess is the
    most frequent keywords, one per slot."""
    truth = [[k for k in keywords if k in p.split()] for p in s["private"]]
    y = keyword_matrix(s["public"], keywords).sum(0)
    top = [keywords[j] for j in y.argsort()[::-1][:3]]
    return truth, keyword_scores([top] * len(truth), truth)


@pytest.mark.parametrize("classifier", ["mlp", "svm"])
def test_keyword_inference_beats_the_keyword_prior(embed_setup, classifier):
    s = embed_setup
    keywords = ADJ + NOUN
    res = KeywordInference(classifier=classifier).run(
        s["view"], _knowledge(s, keywords=keywords), seed=0
    )
    truth, prior = _keyword_truth_and_prior(s, keywords)
    attack = keyword_scores(res.info["predicted"], truth)
    # measured on 5 classifier seeds and 5 data draws: +0.82 to +0.89 over the prior
    assert attack["f1"] >= prior["f1"] + 0.3, (attack, prior)
    assert res.queries == len(s["public"])  # one query per public sentence embedded


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_keyword_inference_fails_its_check_untrained(embed_setup):
    """The same check with the classifiers' training switched off (one iteration): the
    probabilities stay near each keyword's prevalence and the margin is gone (measured -0.03 to
    +0.05 over the prior on 5 seeds and 5 data draws)."""
    s = embed_setup
    keywords = ADJ + NOUN
    truth, prior = _keyword_truth_and_prior(s, keywords)
    for seed in range(3):
        res = KeywordInference(max_iter=1).run(
            s["view"], _knowledge(s, keywords=keywords), seed=seed
        )
        off = keyword_scores(res.info["predicted"], truth)
        assert off["f1"] < prior["f1"] + 0.3, (seed, off, prior)


def test_two_stage_inversion_recovers_words(embed_setup):
    s = embed_setup
    res = TwoStageInversion().run(
        s["view"],
        Knowledge(auxiliary=s["public"], target_labels=s["leaked"], prior=s["public_copy"]),
    )
    attack = token_f1(res.reconstructions, s["private"])
    rng = random.Random(1)
    vocab = sorted({w for p in s["public"] for w in p.split()})
    rand = [" ".join(rng.choice(vocab) for _ in range(9)) for _ in s["private"]]
    assert attack >= token_f1(rand, s["private"]) + 0.2
    # its own start: the ridge map switched off (a penalty so large that every embedding maps to
    # the mean shallow vector of the public sentences), i.e. the same bag of frequent words for
    # every target. Measured on 5 data draws: 0.68-0.76 token F1 against 0.30-0.33 (random
    # words 0.14-0.15), so the map adds at least 0.37.
    off = TwoStageInversion(alpha=1e12).run(
        s["view"],
        Knowledge(auxiliary=s["public"], target_labels=s["leaked"], prior=s["public_copy"]),
    )
    start = token_f1(off.reconstructions, s["private"])
    assert attack >= start + 0.2, (attack, start)
    with pytest.raises(ConfigError, match=r"knowledge\.prior"):
        TwoStageInversion().run(s["view"], _knowledge(s))


GEIA_INV = InverterConfig(d_model=128, layers=2, epochs=4, lr=2e-3, batch_size=64, max_length=12)
# Against the nearest public sentence (token F1 0.853, BLEU 48.2, exact match 0: the template
# shares most words), GEIA over decoder seeds 0-4: token F1 +0.022 to +0.069, BLEU +6.2 to
# +15.3, exact match 0.05-0.20. With its training off (1 epoch at lr 1e-9): F1 -0.68 to -0.79,
# BLEU 0.2-0.3, exact match 0.
F1_MARGIN, BLEU_MARGIN = 0.01, 3.0


def _geia_check(s, result):
    base, ref, out = _baseline(s), s["private"], result.reconstructions
    return (
        token_f1(out, ref) >= token_f1(base, ref) + F1_MARGIN
        and bleu(out, ref) >= bleu(base, ref) + BLEU_MARGIN
        and exact_match(out, ref) > exact_match(base, ref)
    )


@pytest.fixture(scope="module")
def geia_runs(embed_setup):
    s = embed_setup
    inv = GEIA_INV
    k = _knowledge(s)
    plain = GEIA(inverter=inv, beams=3, progress=False).run(s["view"], k, seed=0)
    corr = GEIACorrection(inverter=inv, beams=3, rounds=2, candidates=6, progress=False).run(
        s["view"], k, seed=0
    )
    return plain, corr


@pytest.mark.slow
def test_geia_beats_nearest_public_sentence(embed_setup, geia_runs):
    s = embed_setup
    plain, _ = geia_runs
    assert _geia_check(s, plain)
    assert exact_match(_baseline(s), s["private"]) == 0.0  # held-out sentences are not public


@pytest.mark.slow
def test_correction_switched_off_fails_the_same_check(embed_setup, geia_runs):
    s = embed_setup
    plain, _ = geia_runs
    off = GEIACorrection(inverter=GEIA_INV, beams=3, rounds=0, candidates=6, progress=False)
    assert not _correction_check(s, plain, off.run(s["view"], _knowledge(s), seed=0))


@pytest.mark.slow
def test_untrained_geia_decoder_fails_the_same_check(embed_setup):
    s = embed_setup
    off = replace(GEIA_INV, epochs=1, lr=1e-9)
    assert not _geia_check(
        s, GEIA(inverter=off, beams=3, progress=False).run(s["view"], _knowledge(s), seed=0)
    )


# Two rounds of correction over plain GEIA (decoder seeds 0-4): embedding cosine +0.009 to
# +0.024, token F1 +0.014 to +0.050; with rounds=0 (the correction off) both gains are 0.
COS_GAIN, CORR_F1_GAIN = 0.004, 0.005


def _correction_check(s, plain, corr):
    embed = s["encoder"]
    with torch.no_grad():
        before = embedding_cosine(embed, plain.reconstructions, s["leaked"])
        after = embedding_cosine(embed, corr.reconstructions, s["leaked"])
    f1_gain = token_f1(corr.reconstructions, s["private"]) - token_f1(
        plain.reconstructions, s["private"]
    )
    return after >= before + COS_GAIN and f1_gain >= CORR_F1_GAIN


@pytest.mark.slow
def test_correction_moves_hypotheses_closer_in_embedding_space(embed_setup, geia_runs):
    s = embed_setup
    plain, corr = geia_runs
    assert _correction_check(s, plain, corr)
    assert corr.info["cosine_by_round"] == sorted(corr.info["cosine_by_round"])
    # re-embedding is paid for in queries
    assert corr.queries > plain.queries


def test_embedding_attacks_name_missing_knowledge(embed_setup):
    s = embed_setup
    with pytest.raises(ConfigError, match=r"knowledge\.target_labels"):
        GEIA(progress=False).run(s["view"], Knowledge(auxiliary=s["public"]))
    with pytest.raises(ConfigError, match=r"knowledge\.auxiliary"):
        KeywordInference().run(s["view"], Knowledge(target_labels=s["leaked"]))
