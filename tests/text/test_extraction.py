"""Training-data extraction from a small GPT-2 fine-tuned on private records with PII canaries:
perplexity-metric ranking (Carlini et al. 2021), look-ahead sampling (Yu et al. 2023), the
difference-score search (Zanella-Beguelin et al. 2020) and score_r (Panchendrarajan & Bhoi
2021), each against unranked random generation; canary exposure (Carlini et al. 2019)."""

import random

import pytest
import torch

from mi_core import AccessError, ConfigError, Knowledge, QueryBudgetExceeded, make_view
from mi_core.registry import get_attack, list_attacks
from mi_text.attacks.difference_search import DifferenceSearch
from mi_text.attacks.lookahead_extraction import LookAheadExtraction
from mi_text.attacks.perplexity_extraction import PerplexityExtraction, zlib_bits
from mi_text.data import random_secret
from mi_text.generation import sequence_nll
from mi_text.lm_access import local_query
from mi_text.metrics import exposure, extraction_precision, secrets_recovered

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


@pytest.mark.parametrize("ranking", ["perplexity", "zlib", "reference"])
def test_ranking_beats_unranked_generation(canary_setup, ranking):
    # the same generated samples, judged by the same yardstick: how many of the first 20 hold a
    # private secret when ranked by the membership metric vs in generation order
    res = PerplexityExtraction(
        n_samples=200, max_new_tokens=24, ranking=ranking, progress=False
    ).run(_view(canary_setup), Knowledge(prior=canary_setup["base"]), seed=0)
    secrets = _secrets(canary_setup)
    ranked = extraction_precision(res.reconstructions, secrets, 20)
    unranked = extraction_precision(res.info["unranked"], secrets, 20)
    assert ranked >= 0.6 and ranked >= unranked + 0.2, (ranked, unranked)
    # repeated canaries are the ones that come out
    often = [c.secret for c in canary_setup["canaries"] if c.repetitions == 20]
    assert secrets_recovered(res.reconstructions[:20], often) == 1.0
    assert list(res.scores) == sorted(res.scores)


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


def test_lookahead_extraction_spends_more_queries_and_still_beats_random(canary_setup):
    k = Knowledge(prior=canary_setup["base"])
    res = LookAheadExtraction(
        n_samples=24, max_new_tokens=20, top_k=3, lookahead=2, ranking="reference", progress=False
    ).run(_view(canary_setup), k, seed=0)
    plain = PerplexityExtraction(
        n_samples=24, max_new_tokens=20, top_k=3, ranking="reference", progress=False
    ).run(_view(canary_setup), k, seed=0)
    assert res.queries > 3 * plain.queries
    secrets = _secrets(canary_setup)
    n = min(10, len(res.reconstructions))
    assert extraction_precision(res.reconstructions, secrets, n) >= 0.8


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


def test_exposure_edge_cases():
    # no sampled candidate is more likely: add-one smoothing caps it at log2(2 (n + 1))
    assert exposure(0.0, [1.0, 2.0], 100) == pytest.approx(2.584963, rel=1e-5)
    assert exposure(3.0, [1.0, 2.0], 100) == pytest.approx(0.263034, rel=1e-4)
    # a normal fit extrapolates past the sample
    ref = [10.0 + 0.1 * i for i in range(-10, 11)]
    assert exposure(5.0, ref, 1e9, method="normal") > 20
    with pytest.raises(Exception, match="reference_scores"):
        exposure(0.0, [], 100)


@pytest.mark.parametrize("method", ["beam", "score_r"])
def test_difference_search_beats_random_generation(canary_setup, method):
    view = _view(canary_setup)
    k = Knowledge(prior=canary_setup["base"])
    res = DifferenceSearch(
        method=method, beam_width=5, starts=10, n_samples=200, progress=False
    ).run(view, k, seed=0)
    rand = PerplexityExtraction(n_samples=200, max_new_tokens=24, progress=False).run(
        _view(canary_setup), k, seed=0
    )
    secrets = _secrets(canary_setup)
    found = extraction_precision(res.reconstructions, secrets, 20)
    random_gen = extraction_precision(rand.info["unranked"], secrets, 20)
    assert found >= 0.6 and found >= random_gen + 0.2, (found, random_gen)
    assert res.queries > 0


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
