"""Deduplication of LM training text lowers the exposure of repeated canaries (Kandpal et al.
2022) at no perplexity cost; a small word-level GPT-2 from mi-text, trained in the test."""

import random

import pytest
import torch

pytest.importorskip("transformers")


def sentences(n, seed):
    from faker import Faker

    fake = Faker()
    fake.seed_instance(seed)
    return [fake.sentence(nb_words=8) for _ in range(n)]


@pytest.mark.slow
def test_dedup_lowers_exposure_of_repeated_canaries():
    from mi_defense.data.dedup import Deduplication
    from mi_text.data import insert_canaries, make_canaries, random_secret
    from mi_text.generation import sequence_nll
    from mi_text.lm_access import local_query
    from mi_text.metrics import exposure
    from mi_text.models import CausalLM, LMTrainConfig, tiny_gpt2, train_causal_lm
    from mi_text.tokenizers import WordTokenizer

    private, heldout = sentences(60, 2), sentences(30, 3)
    canaries = make_canaries(8, repetitions=(1, 20), seed=0)
    docs = insert_canaries(private, canaries, seed=0)
    deduped = Deduplication().transform(docs)
    assert len(deduped) == len(set(docs)) < len(docs)
    tok = WordTokenizer.fit(private + heldout + [c.text for c in canaries])

    def train(texts):
        lm = CausalLM(tiny_gpt2(tok.vocab_size, n_layer=2, n_embd=64, n_positions=64), tok)
        train_causal_lm(lm, texts, LMTrainConfig(epochs=10, lr=4e-3, batch_size=24), progress=False)
        return lm.eval()

    def mean_exposure(lm, reps):
        q, rng = local_query(lm), random.Random(0)
        out = []
        for c in (c for c in canaries if c.repetitions == reps):
            cands = [c.with_secret(random_secret(c.kind, rng)) for _ in range(100)]
            nll = sequence_nll(q, [lm.encode(t) for t in [c.text, *cands]])
            out.append(exposure(float(nll[0]), nll[1:].tolist(), c.space_size, method="normal"))
        return sum(out) / len(out)

    def heldout_nll(lm):
        return float(sequence_nll(local_query(lm), [lm.encode(t) for t in heldout]).mean())

    torch.manual_seed(0)
    dup = train(docs)
    torch.manual_seed(0)
    dedup = train(deduped)
    # measured (exposure with a normal fit to 100 candidates): canaries repeated 20 times
    # 30.9 bits -> 8.1 bits after dedup, about the 5.9 bits of canaries seen once
    assert mean_exposure(dup, 20) >= mean_exposure(dedup, 20) + 10
    assert mean_exposure(dedup, 20) <= mean_exposure(dedup, 1) + 5
    assert heldout_nll(dedup) <= heldout_nll(dup) * 1.1  # no perplexity cost on unseen text
