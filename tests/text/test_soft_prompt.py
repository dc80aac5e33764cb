"""Soft-prompt extraction (Ethicist, Zhang et al. 2023): a soft prompt tuned on known
(prefix, suffix) pairs makes a language model emit the memorised suffixes of other training
prefixes, which the plain prefixes do not elicit; with the tuning switched off the same check
fails."""

import random

import pytest
import torch

from mi_core import AccessError, ConfigError, Knowledge, make_view
from mi_text.attacks.soft_prompt_extraction import SoftPromptExtraction, smoothed_suffix_loss
from mi_text.models import CausalLM, LMTrainConfig, tiny_gpt2, train_causal_lm
from mi_text.tokenizers import WordTokenizer

SEEDS = range(5)


@pytest.fixture(scope="module")
def memorised_codes():
    """A word-level GPT-2 trained on records "the code of NAME is ..." for 32 names: each name's
    private record with a 4-digit code (3 copies) and 5 copies of a public record "... is not
    set .", so that the plain prefix mostly continues with "not set"."""
    from faker import Faker

    fake = Faker()
    fake.seed_instance(1)
    names = list(dict.fromkeys(fake.first_name().lower() for _ in range(200)))[:32]
    rng = random.Random(1)
    codes = {n: " ".join(str(rng.randrange(10)) for _ in range(4)) for n in names}
    docs = []
    for n in names:
        docs += [f"the code of {n} is not set ."] * 5 + [f"the code of {n} is {codes[n]} ."] * 3
    rng.shuffle(docs)
    tok = WordTokenizer.fit(docs)
    lm = CausalLM(tiny_gpt2(tok.vocab_size, n_layer=2, n_embd=64, n_positions=64, seed=1), tok)
    train_causal_lm(lm, docs, LMTrainConfig(epochs=40, lr=4e-3, batch_size=24), progress=False)
    known, targets = names[:16], names[16:]
    knowledge = Knowledge(
        auxiliary=[(f"the code of {n} is", f" {codes[n]} .") for n in known],
        target_labels=[f"the code of {n} is" for n in targets],
    )
    return {"lm": lm, "codes": codes, "knowledge": knowledge}


def _digit_accuracy(res, codes):
    """Share of the target codes' digits in the right place in the attack's guesses."""
    acc = []
    for prefix, suffix in zip(res.info["prefixes"], res.info["suffixes"], strict=True):
        true = codes[prefix.split()[3]].split()
        guess = suffix.replace(" ", "")[:4]
        acc.append(sum(a == b for a, b in zip(guess, true)) / 4)
    return sum(acc) / len(acc)


def _mean_over_seeds(s, **config):
    vals = []
    for seed in SEEDS:
        res = SoftPromptExtraction(
            trials=16, suffix_tokens=6, progress=False, **{"prompt_tokens": 4, **config}
        ).run(make_view(s["lm"], "white-box"), s["knowledge"], seed=seed)
        vals.append(_digit_accuracy(res, s["codes"]))
    return sum(vals) / len(vals), res


# measured (digit accuracy, mean over the 5 attack seeds; target seeds 0 / 1 / 2): soft prompt
# 0.40 / 0.32 / 0.25, plain prefix 0.21 / 0.00 / 0.14, untuned prompt 0.26 / 0.01 / 0.14 (AVX2
# kernels, as the suite caps them; on AVX-512 kernels target seed 0 gave 0.12 against 0.06)
MARGIN = 0.08


@pytest.mark.slow
def test_soft_prompt_elicits_memorised_suffixes(memorised_codes):
    s = memorised_codes
    soft, res = _mean_over_seeds(s, steps=80, lr=0.1)
    plain, base = _mean_over_seeds(s, prompt_tokens=0)
    assert soft >= plain + MARGIN, (soft, plain)
    assert res.queries > base.queries  # tuning costs forward passes
    conf = res.scores.tolist()
    assert conf == sorted(conf, reverse=True)  # guesses ranked by calibrated confidence
    assert 1 <= res.info["best_step"] <= 80


@pytest.mark.slow
def test_untuned_soft_prompt_fails_the_same_check(memorised_codes):
    s = memorised_codes
    untuned, _ = _mean_over_seeds(s, steps=0)
    plain, _ = _mean_over_seeds(s, prompt_tokens=0)
    assert untuned < plain + MARGIN, (untuned, plain)


def test_smoothing_adds_the_largest_token_losses():
    nll = torch.tensor([[0.0, 1.0, 3.0, 2.0], [5.0, 0.0, 0.0, 1.0]])
    mask = torch.tensor([[False, True, True, True], [True, True, True, True]])
    plain = smoothed_suffix_loss(nll, mask, k=0, alpha=0.7)
    assert plain == pytest.approx(12.0 / 7)
    # top-2 of the suffix tokens: (3, 2) and (5, 1) -> mean 2.75
    assert smoothed_suffix_loss(nll, mask, k=2, alpha=0.5) == pytest.approx(12.0 / 7 + 1.375)


def test_soft_prompt_checks_access_and_knowledge(memorised_codes):
    s = memorised_codes
    with pytest.raises(AccessError, match="white-box"):
        SoftPromptExtraction(progress=False).run(
            make_view(s["lm"], "black-box-scores", postprocess=None), s["knowledge"]
        )
    with pytest.raises(ConfigError, match=r"knowledge\.auxiliary: .*\(prefix, suffix\)"):
        SoftPromptExtraction(progress=False).run(
            make_view(s["lm"], "white-box"), Knowledge(target_labels=["the code of x is"])
        )
    with pytest.raises(ConfigError, match="top_p"):
        SoftPromptExtraction(top_p=0.0)
