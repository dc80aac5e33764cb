"""Small text targets trained in the test session (no download, no outside data):
a word-level GPT-2 pre-trained on public sentences and a copy fine-tuned on private records with
PII canaries, a tiny sentence encoder, and a synthetic prompt corpus."""

import copy
import random

import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    # small models run far faster on one thread, above all on a shared, busy machine (module
    # scope: set before the module's fixtures train anything, restored after the module)
    from threadpoolctl import threadpool_limits

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(n)


def public_sentences(n, seed):
    from faker import Faker

    fake = Faker()
    fake.seed_instance(seed)
    return [fake.sentence(nb_words=8) for _ in range(n)]


@pytest.fixture(scope="session")
def canary_setup():
    """Base LM (public text) and its fine-tuned copy (private text + canaries repeated 1, 5 and
    20 times), sharing a word-level tokenizer."""
    from mi_text.data import insert_canaries, make_canaries
    from mi_text.models import CausalLM, LMTrainConfig, tiny_gpt2, train_causal_lm
    from mi_text.tokenizers import WordTokenizer

    torch.set_num_threads(1)
    public = public_sentences(200, seed=1)
    private = public_sentences(60, seed=2)
    canaries = make_canaries(12, repetitions=(1, 5, 20), seed=0)
    tok = WordTokenizer.fit(public + private + [c.text for c in canaries])
    base = CausalLM(tiny_gpt2(tok.vocab_size, n_layer=2, n_embd=64, n_positions=64), tok)
    train_causal_lm(base, public, LMTrainConfig(epochs=8, lr=3e-3, batch_size=32), progress=False)
    tuned = copy.deepcopy(base)
    docs = insert_canaries(private, canaries, seed=0)
    train_causal_lm(tuned, docs, LMTrainConfig(epochs=40, lr=4e-3, batch_size=24), progress=False)
    return {
        "tok": tok,
        "base": base,
        "tuned": tuned,
        "canaries": canaries,
        "public": public,
        "rng": random.Random(0),
    }
