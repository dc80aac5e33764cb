"""Training-data extraction from a small GPT-2 fine-tuned on private records with 12 PII canaries:
perplexity-metric ranking (Carlini et al. 2021), look-ahead sampling (Yu et al. 2023), the
difference-score search (Zanella-Beguelin et al. 2020) and score_r (Panchendrarajan & Bhoi
2021); canary exposure (Carlini et al. 2019).

Each attack is judged on DISTINCT secrets (precision of its top 10 distinct outputs, each secret
counted once) against the base model, which never saw the canaries (its samples hold none), by
the mean over 5 attack seeds; and the same check must fail with the attack's ranking / search
switched off. Margin design (precision@10, means over seeds 0-4, fixture trained with seed 0 /
with seed 1 as a stand-in for another CPU's rounding): see MARGIN.
"""

import random
import statistics

import pytest
import torch

from mi_core import AccessError, ConfigError, Knowledge, QueryBudgetExceeded, make_view
from mi_core.registry import get_attack, list_attacks
from mi_text.attacks.difference_search import DifferenceSearch
from mi_text.attacks.lookahead_extraction import LookAheadExtraction
from mi_text.attacks.perplexity_extraction import PerplexityExtraction, zlib_bits
from mi_text.data import parse_canary, random_secret
from mi_text.extraction_eval import draw_samples
from mi_text.generation import sequence_nll
from mi_text.lm_access import local_query
from mi_text.metrics import (
    canary_ranks,
    distinct_samples,
    exposure,
    extraction_precision,
    random_guess_precision,
    random_guess_recall,
    random_rank_exposure,
    secret_recall,
)

SEEDS = range(5)
K = 10
#: precision@10 of distinct secrets the attack must add to the base model's (0.0 on every seed).
#: Means over seeds 0-4 with the fixture trained as here / trained with seed 1 (a stand-in for
#: another CPU's rounding): ranked by perplexity, zlib or reference 0.84 / 0.82, score_r
#: 0.86 / 0.82, difference beam search 1.0 / 0.8; switched off 0.52 / 0.54 (generation order),
#: 0.48 / 0.50 (beam search off). The check sits midway: 0.13 from either side.
MARGIN = 0.67

TEXT_ATTACKS = {
    "perplexity-extraction": "black-box-scores",
    "lookahead-extraction": "black-box-scores",
    "difference-search": "black-box-scores",
    "confidence-search": "black-box-scores",
    "keyword-inference": "black-box-scores",
    "two-stage-inversion": "black-box-scores",
    "geia": "black-box-scores",
    "geia-correction": "black-box-scores",
    "logit-inversion": "black-box-scores",
    "logit-bias-inversion": "label-only",
    "output2prompt": "label-only",
}


def test_every_text_attack_is_registered():
    rows = {r["name"]: r for r in list_attacks()}
    for name, access in TEXT_ATTACKS.items():
        assert rows[name]["modality"] == "text" and rows[name]["access"] == access
        assert get_attack(name).name == name


def _secrets(setup):
    return [c.secret for c in setup["canaries"]]


def _view(setup, **kw):
    return make_view(setup["tuned"], "black-box-scores", postprocess=None, **kw)


def _precision(setup, attack, seeds=SEEDS, k=K):
    """Mean precision@k of distinct secrets over seeds (and the per-seed values)."""
    secrets = _secrets(setup)
    vals = [
        extraction_precision(
            attack.run(_view(setup), Knowledge(prior=setup["base"]), seed=s).reconstructions,
            secrets,
            k,
        )
        for s in seeds
    ]
    return statistics.mean(vals), vals


@pytest.fixture(scope="module")
def base_samples(canary_setup):
    """The baseline: samples of the base model, which never saw the canaries."""
    return [draw_samples(canary_setup["base"], 100, seed=s) for s in SEEDS]


@pytest.fixture(scope="module")
def base_precision(canary_setup, base_samples):
    secrets = _secrets(canary_setup)
    return statistics.mean(extraction_precision(b, secrets, K) for b in base_samples)


@pytest.fixture(scope="module")
def base_precision_5(canary_setup, base_samples):
    secrets = _secrets(canary_setup)
    return statistics.mean(extraction_precision(b, secrets, LA_K) for b in base_samples)


def _ppl(ranking):
    return PerplexityExtraction(n_samples=100, max_new_tokens=24, ranking=ranking, progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("ranking", ["perplexity", "zlib", "reference"])
def test_ranking_beats_the_base_model_on_distinct_secrets(canary_setup, base_precision, ranking):
    mean, vals = _precision(canary_setup, _ppl(ranking))
    assert mean >= base_precision + MARGIN, (vals, base_precision)


def test_unranked_generation_fails_the_same_check(canary_setup, base_precision):
    # the ranking switched off: the same samples in generation order
    mean, vals = _precision(canary_setup, _ppl("none"))
    assert mean < base_precision + MARGIN, (vals, base_precision)


def test_ranked_samples_are_distinct_and_sorted(canary_setup):
    res = _ppl("zlib").run(_view(canary_setup), Knowledge(prior=canary_setup["base"]), seed=0)
    assert distinct_samples(res.reconstructions) == list(range(len(res.reconstructions)))
    assert list(res.scores) == sorted(res.scores)
    assert len(res.reconstructions) < res.info["generated"] == 100  # repeats were dropped


def test_queries_are_counted_per_sequence_and_budgeted(canary_setup):
    view = _view(canary_setup)
    res = PerplexityExtraction(
        n_samples=8, max_new_tokens=5, ranking="perplexity", deduplicate=False, progress=False
    ).run(view, Knowledge(prior=canary_setup["base"]), seed=0)
    # at most 5 sampling steps per sample (fewer after EOS) + one scoring query per sample
    assert 8 + 8 <= res.queries <= 8 * 5 + 8
    small = _view(canary_setup, budget=20)
    with pytest.raises(QueryBudgetExceeded, match="query budget spent"):
        PerplexityExtraction(n_samples=8, max_new_tokens=5, progress=False).run(
            small, Knowledge(prior=canary_setup["base"])
        )


def test_same_seed_same_samples(canary_setup):
    k = Knowledge(prior=canary_setup["base"])
    a = PerplexityExtraction(n_samples=16, max_new_tokens=8, progress=False).run(
        _view(canary_setup), k, seed=3
    )
    b = PerplexityExtraction(n_samples=16, max_new_tokens=8, progress=False).run(
        _view(canary_setup), k, seed=3
    )
    assert a.reconstructions == b.reconstructions


def test_internet_style_prompts_and_temperature_decay(canary_setup):
    public = canary_setup["public"]
    res = PerplexityExtraction(
        n_samples=20,
        max_new_tokens=8,
        prompt_words=2,
        temperature_start=10.0,
        decay_tokens=4,
        ranking="lowercase",
        progress=False,
    ).run(_view(canary_setup), Knowledge(auxiliary=public, prior=canary_setup["base"]), seed=0)
    starts = {" ".join(p.split()[:2]) for p in public}
    assert all(p in starts for p in res.info["prompts"])
    assert all(t.startswith(p.split()[0]) for t, p in zip(res.reconstructions, res.info["prompts"]))
    assert "lowercase" in res.arrays


def _lookahead(on):
    # a decaying temperature (Carlini et al.'s 10 -> 1, here 4 -> 1) for diverse samples; the
    # look-ahead sampler (top 6 candidates, one greedy token each) and the reference ranking are
    # the search that "off" switches off
    return LookAheadExtraction(
        n_samples=32,
        max_new_tokens=20,
        top_k=6,
        temperature_start=4.0,
        decay_tokens=6,
        lookahead=1 if on else 0,
        ranking="reference" if on else "none",
        progress=False,
    )


#: look-ahead is costly, so it draws 32 samples (about 20-30 distinct): its check reads the top 5.
#: precision@5, mean over seeds 0-4, fixture as here / trained with seed 1: 0.96 / 0.88; switched
#: off 0.40 / 0.28. The check sits midway (0.24 from either side).
LA_K, LA_MARGIN = 5, 0.64


@pytest.mark.slow
def test_lookahead_extraction_beats_the_base_model_on_distinct_secrets(
    canary_setup, base_precision_5
):
    mean, vals = _precision(canary_setup, _lookahead(True), k=LA_K)
    assert mean >= base_precision_5 + LA_MARGIN, (vals, base_precision_5)


def test_lookahead_switched_off_fails_the_same_check(canary_setup, base_precision_5):
    mean, vals = _precision(canary_setup, _lookahead(False), k=LA_K)
    assert mean < base_precision_5 + LA_MARGIN, (vals, base_precision_5)


def test_lookahead_spends_more_queries(canary_setup):
    k = Knowledge(prior=canary_setup["base"])
    cfg = {"n_samples": 4, "max_new_tokens": 6, "top_k": 3, "progress": False}
    on = LookAheadExtraction(lookahead=2, **cfg).run(_view(canary_setup), k, seed=0)
    off = LookAheadExtraction(lookahead=0, **cfg).run(_view(canary_setup), k, seed=0)
    # each generated token also scores 3 candidates with 2 greedy tokens each
    assert on.queries > 3 * off.queries


def test_canary_exposure_is_high_in_the_fine_tuned_model_only(canary_setup):
    rng = random.Random(0)
    tok = canary_setup["tok"]

    def exp_of(lm, canary):
        q = local_query(lm)
        cands = [canary.with_secret(random_secret(canary.kind, rng)) for _ in range(200)]
        nll = sequence_nll(q, [lm.encode(t) for t in [canary.text, *cands]])
        return exposure(float(nll[0]), nll[1:].tolist(), canary.space_size)

    del tok
    often = [c for c in canary_setup["canaries"] if c.repetitions == 20]
    tuned = [exp_of(canary_setup["tuned"], c) for c in often]
    base = [exp_of(canary_setup["base"], c) for c in often]
    # 200 sampled alternatives resolve exposure up to log2(2 * 201) ~ 8.65 bits
    assert min(tuned) > 7.0 and max(base) < 5.0, (tuned, base)


def test_extraction_figures_count_each_secret_once():
    secrets = ["123-45-6789", "555-010-9999", "000-00-0000"]
    same = ["The SSN of Ann is 123-45-6789."] * 5 + ["Ann's SSN is 123-45-6789 ."]
    near = ["The SSN of Ann is 123-45-6789. yes", "You can reach Bo on 555-010-9999."]
    ranked = same + near + ["nothing here at all", "no secret in this one either"]
    # exact and near duplicates are dropped; the second mention of a secret is no new hit
    assert distinct_samples(ranked) == [0, 5, 7, 8, 9]
    assert extraction_precision(ranked, secrets, 4) == pytest.approx(2 / 4)
    assert secret_recall(ranked, secrets, 2) == pytest.approx(1 / 3)
    assert secret_recall(ranked, secrets, 3) == pytest.approx(2 / 3)
    assert canary_ranks(ranked, secrets) == {
        "123-45-6789": 1,
        "555-010-9999": 3,
        "000-00-0000": None,
    }
    # fewer distinct samples than N count as misses
    assert extraction_precision(same, secrets, 10) == pytest.approx(0.1)
    # the random guess of a 9-digit format (10^9 secrets), the exposure of a random ranking
    assert random_guess_recall(secrets[:1], 20) == pytest.approx(20 / 1e9)
    assert random_guess_precision(secrets[:1]) == pytest.approx(1e-9)
    assert random_rank_exposure(200) == pytest.approx(1.44, abs=0.01)
    with pytest.raises(Exception, match="top_n"):
        extraction_precision(ranked, secrets, 0)


def test_user_canaries_carry_their_context_and_format():
    c = parse_canary("You can reach Ann on {555-010-9999}.")
    assert (c.prefix, c.secret, c.suffix) == ("You can reach Ann on ", "555-010-9999", ".")
    assert c.space_size == 10**10
    cand = c.random_candidate(random.Random(0))
    assert cand.startswith("You can reach Ann on ") and cand.endswith(".")
    assert [ch.isdigit() for ch in cand] == [ch.isdigit() for ch in c.text]
    bare = parse_canary("pw Xy7")
    assert bare.text == "pw Xy7" and bare.space_size == 26**4 * 10
    with pytest.raises(ConfigError, match="one pair of braces"):
        parse_canary("my {PIN} is {1234}")


def test_exposure_edge_cases():
    # no sampled candidate is more likely: add-one smoothing caps it at log2(2 (n + 1))
    assert exposure(0.0, [1.0, 2.0], 100) == pytest.approx(2.584963, rel=1e-5)
    assert exposure(3.0, [1.0, 2.0], 100) == pytest.approx(0.263034, rel=1e-4)
    # a normal fit extrapolates past the sample
    ref = [10.0 + 0.1 * i for i in range(-10, 11)]
    assert exposure(5.0, ref, 1e9, method="normal") > 20
    with pytest.raises(Exception, match="reference_scores"):
        exposure(0.0, [], 100)


def _difference(method, on):
    return DifferenceSearch(
        method=method, beam_width=5, starts=10, n_samples=100, search=on, progress=False
    )


@pytest.mark.parametrize("method", ["beam", "score_r"])
def test_difference_search_beats_the_base_model_on_distinct_secrets(
    canary_setup, base_precision, method
):
    # the beam search is deterministic: one run stands for every seed
    seeds = [0] if method == "beam" else SEEDS
    mean, vals = _precision(canary_setup, _difference(method, True), seeds)
    assert mean >= base_precision + MARGIN, (vals, base_precision)


@pytest.mark.parametrize("method", ["beam", "score_r"])
def test_difference_search_switched_off_fails_the_same_check(canary_setup, base_precision, method):
    mean, vals = _precision(canary_setup, _difference(method, False))
    assert mean < base_precision + MARGIN, (vals, base_precision)


def test_beams_end_where_the_target_ends_them(canary_setup):
    # without the nucleus the beams of a canary repeated 20 times run on past its end and crowd
    # out the other canaries that share its first words (measured on fixtures trained with seed
    # 0 / 1: 6 / 4 canaries found from the prompts "You" and "The" with the nucleus, 2 / 2
    # without)
    k = Knowledge(prior=canary_setup["base"])
    secrets = _secrets(canary_setup)
    found = {}
    for top_p in (0.95, 1.0):
        res = DifferenceSearch(
            prompts=("You", "The"), starts=1, beam_width=5, top_p=top_p, progress=False
        ).run(_view(canary_setup), k)
        ranks = canary_ranks(res.reconstructions, secrets)
        found[top_p] = sum(r is not None for r in ranks.values())
    assert found[0.95] >= found[1.0] + 1 and found[1.0] <= 2, found


def test_difference_search_needs_the_base_model(canary_setup):
    with pytest.raises(ConfigError, match=r"knowledge\.prior"):
        DifferenceSearch(progress=False).run(
            _view(canary_setup), Knowledge(extra={"tokenizer": canary_setup["tok"]})
        )


def test_label_only_view_is_refused(canary_setup):
    view = make_view(canary_setup["tuned"], "label-only")
    with pytest.raises(AccessError, match="needs black-box-scores access"):
        PerplexityExtraction(progress=False).run(view, Knowledge(prior=canary_setup["base"]))


def test_bad_config_names_the_field():
    with pytest.raises(ConfigError, match=r"perplexity-extraction\.config\.ranking: unknown value"):
        PerplexityExtraction(ranking="entropy")
    with pytest.raises(ConfigError, match=r"difference-search\.config\.beam_width: must be > 0"):
        DifferenceSearch(beam_width=0)


def test_reference_ranking_needs_a_reference(canary_setup):
    with pytest.raises(ConfigError, match="ranking='reference'"):
        PerplexityExtraction(ranking="reference", progress=False).run(
            _view(canary_setup), Knowledge(extra={"tokenizer": canary_setup["tok"]})
        )


def test_zlib_bits_and_prefix_cache_give_the_same_scores(canary_setup):
    assert zlib_bits("aaaa" * 50) < zlib_bits("".join(chr(65 + i % 26) for i in range(200)))
    lm = canary_setup["tuned"]
    seqs = [lm.encode("You can reach"), lm.encode("The SSN on")]
    with torch.no_grad():
        lm.clear_cache()
        lm(seqs)
        ext = [[*s, 5] for s in seqs]
        cached = lm(ext)
        lm.clear_cache()
        fresh = lm(ext)
    assert torch.allclose(cached["next_logprobs"], fresh["next_logprobs"], atol=1e-4)
    for a, b in zip(cached["token_logprobs"], fresh["token_logprobs"]):
        assert torch.allclose(a, b, atol=1e-4)
    # look-ahead's pattern: score candidates (one-token extensions, rows repeated), then ask
    # again for the rows it picked (answered from the cache), then extend those
    with torch.no_grad():
        lm.clear_cache()
        lm(seqs)
        cands = [[*s, t] for s in seqs for t in (5, 7, 9)]
        lm(cands)
        picked = [cands[2], cands[3]]
        again = lm(picked)
        nxt = lm([[*p, 11] for p in picked])
        lm.clear_cache()
        fresh_again = lm(picked)
        lm.clear_cache()
        fresh_nxt = lm([[*p, 11] for p in picked])
    for got, want in ((again, fresh_again), (nxt, fresh_nxt)):
        assert torch.allclose(got["next_logprobs"], want["next_logprobs"], atol=1e-4)
        for a, b in zip(got["token_logprobs"], want["token_logprobs"], strict=True):
            assert torch.allclose(a, b, atol=1e-4)
