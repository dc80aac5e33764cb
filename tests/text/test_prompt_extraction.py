"""Prompt extraction (Morris et al. 2023): an inverter from next-token probabilities to the
hidden system prompt, with full probabilities and through an argmax + logit-bias API, against
the best constant guess the attacker could make from its own prompt corpus."""

import random
from dataclasses import replace

import pytest
import torch

from mi_core import AccessError, ConfigError, Knowledge, make_view
from mi_text.attacks.logit_bias_inversion import LogitBiasInversion, estimate_gaps
from mi_text.attacks.logit_inversion import LogitInversion
from mi_text.inverters import InverterConfig
from mi_text.metrics import exact_match, token_f1
from mi_text.models import CausalLM, tiny_gpt2
from mi_text.prompt_inversion import gap_features
from mi_text.targets import PromptedLM, SystemPromptService
from mi_text.tokenizers import WordTokenizer

ROLES = [
    "travel",
    "legal",
    "cooking",
    "medical",
    "tax",
    "coding",
    "music",
    "fitness",
    "garden",
    "history",
    "math",
    "chess",
]
FIRMS = "acme globex initech umbrella hooli vandelay wayne stark wonka tyrell cyberdyne oscorp"
FIRMS = FIRMS.split()
LANGS = ["english", "french", "german", "spanish", "italian", "dutch", "polish", "danish"]
TONES = ["brief", "formal", "friendly", "careful", "playful", "strict"]


def prompt(rng):
    return (
        f"you are a {rng.choice(ROLES)} assistant for {rng.choice(FIRMS)} . "
        f"answer in {rng.choice(LANGS)} and be {rng.choice(TONES)} ."
    )


@pytest.fixture(scope="module")
def prompt_setup():
    rng = random.Random(0)
    aux = [prompt(rng) for _ in range(2000)]
    hidden = [p for p in (prompt(rng) for _ in range(300)) if p not in set(aux)][:30]
    tok = WordTokenizer.fit(aux + hidden)
    lm = CausalLM(tiny_gpt2(tok.vocab_size, n_layer=2, n_embd=64, n_positions=64, seed=1), tok)
    service = SystemPromptService(PromptedLM(lm), hidden)
    service.warm(range(len(hidden)))
    local = PromptedLM(lm)  # the public model and template, held by the attacker
    inv = InverterConfig(
        unroll=True, chunk=16, d_model=128, layers=2, epochs=8, lr=2e-3, max_length=20
    )
    return {"aux": aux, "hidden": hidden, "service": service, "local": local, "inv": inv}


def _k(s):
    return Knowledge(
        auxiliary=s["aux"], prior=s["local"], target_labels=list(range(len(s["hidden"])))
    )


def _constant_guess(s):
    # the attacker's best guess without the model: one corpus prompt, the one closest (token
    # F1) to all others -- the template with the commonest fillers
    sample = s["aux"][:200]
    best = max(sample, key=lambda p: token_f1([p] * len(sample), sample))
    return [best] * len(s["hidden"])


def _invert(s, inv, seed=0):
    full_view = make_view(s["service"], "black-box-scores")
    full = LogitInversion(inverter=inv, beams=3, progress=False).run(full_view, _k(s), seed=seed)
    api = make_view(s["service"], "label-only")
    bias = LogitBiasInversion(
        inverter=inv, token_subset=40, tolerance=0.05, beams=3, progress=False
    ).run(api, _k(s), seed=seed)
    return full, bias


@pytest.fixture(scope="module")
def inversions(prompt_setup):
    return _invert(prompt_setup, prompt_setup["inv"])


# Token F1 above the constant guess (0.738), measured over inverter seeds 0-4 on this setup:
# full probabilities +0.256 to +0.262 (exact match 0.93-1.00); argmax + logit bias +0.041 to
# +0.059 (exact match 0-0.03: 40 probed tokens carry much less than the whole distribution).
# The untrained inverters (lr 1e-9) score -0.51 to -0.66 on both.
FULL_MARGIN, BIAS_MARGIN = 0.15, 0.02


def _check(s, full, bias):
    ref, guess = s["hidden"], _constant_guess(s)
    full_ok = token_f1(full.reconstructions, ref) >= token_f1(guess, ref) + FULL_MARGIN
    full_ok = full_ok and exact_match(full.reconstructions, ref) > exact_match(guess, ref)
    bias_ok = token_f1(bias.reconstructions, ref) >= token_f1(guess, ref) + BIAS_MARGIN
    return full_ok, bias_ok


@pytest.mark.slow
def test_inversion_from_full_probabilities_beats_the_constant_guess(prompt_setup, inversions):
    s = prompt_setup
    full, bias = inversions
    assert _check(s, full, bias)[0]
    assert full.queries == len(s["hidden"])  # one next-token distribution per hidden prompt


@pytest.mark.slow
def test_untrained_inverters_fail_the_same_checks(prompt_setup):
    s = prompt_setup
    off = replace(s["inv"], epochs=1, lr=1e-9)  # the inverters' training switched off
    assert _check(s, *_invert(s, off)) == (False, False)


@pytest.mark.slow
def test_inversion_through_argmax_and_logit_bias(prompt_setup, inversions):
    s = prompt_setup
    _, bias = inversions
    ref = s["hidden"]
    assert _check(s, *inversions)[1]
    # 1 argmax + 40 bound checks + binary search steps for the tokens within the bound
    per_prompt = bias.queries / len(ref)
    assert 41 <= per_prompt <= 1 + 40 + 40 * 9


def test_logit_bias_search_recovers_the_probability_gaps(prompt_setup):
    s = prompt_setup
    view = make_view(s["service"], "label-only")
    subset = torch.arange(12)
    est = estimate_gaps(view, 0, subset, bound=20.0, tol=0.01)
    true_lp = make_view(s["service"], "black-box-scores")([0]).float()
    true = 1.0 - gap_features(true_lp, subset, 20.0)[0]
    assert torch.allclose(est / 20.0, true, atol=0.01 / 20 + 1e-4)


def test_label_only_view_gives_only_the_argmax(prompt_setup):
    view = make_view(prompt_setup["service"], "label-only")
    out = view([{"target": 0, "logit_bias": {5: 100.0}}])
    assert out.tolist() == [5]
    with pytest.raises(AccessError, match="needs black-box-scores access"):
        LogitInversion(progress=False).run(view, _k(prompt_setup))


def test_prompt_attacks_check_their_inputs(prompt_setup):
    s = prompt_setup
    with pytest.raises(ConfigError, match=r"token_subset"):
        LogitBiasInversion(token_subset=0)
    with pytest.raises(
        ConfigError, match=r"knowledge\.prior: expected a mi_text.targets.PromptedLM"
    ):
        LogitInversion(progress=False).run(
            make_view(s["service"], "black-box-scores"),
            Knowledge(auxiliary=s["aux"], prior=object(), target_labels=[0]),
        )
    with pytest.raises(ConfigError, match="deployment id 99"):
        make_view(s["service"], "black-box-scores")([99])
