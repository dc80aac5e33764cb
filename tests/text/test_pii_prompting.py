"""PII prompting (Huang et al. 2022): zero- and few-shot prompts make a language model that saw
people's e-mail addresses and phone numbers in training write them out, far beyond random
values of the same format and the e-mail pattern of the attacker's public records; the same
check fails on a reference model that never saw the private records."""

import random

import pytest

from mi_core import ConfigError, Knowledge, make_view
from mi_text.attacks.pii_prompting import (
    PIIPrompting,
    parse_pii,
    pattern_email,
    pii_accuracy,
    random_pii,
)
from mi_text.data import random_secret
from mi_text.models import CausalLM, LMTrainConfig, tiny_gpt2, train_causal_lm
from mi_text.tokenizers import WordTokenizer

DOMAINS = ["mail.org", "post.net", "inbox.com", "web.io"]
SEEDS = range(5)


def _person(fake, rng):
    first, last = fake.first_name(), fake.last_name()
    shape = rng.choice(["{f}.{l}", "{f}{l}", "{i}{l}"])
    local = shape.format(f=first.lower(), l=last.lower(), i=first[0].lower())
    return {
        "name": f"{first} {last}",
        "email": f"{local}@{rng.choice(DOMAINS)}",
        "phone": random_secret("phone", rng),
    }


def _records_of(p):
    return [
        f"the email address of {p['name']} is {p['email']} .",
        f"you can write to {p['name']} at {p['email']} .",
        f"the phone number of {p['name']} is {p['phone']} .",
        f"call {p['name']} on {p['phone']} .",
    ]


def _pages(people, seed):
    """Directory pages of four records each (the public people, shuffled phrasings): the
    model sees lists of records in one text, as on a web page."""
    records = [r for p in people for r in _records_of(p)]
    random.Random(seed).shuffle(records)
    return [" ".join(records[i : i + 4]) for i in range(0, len(records), 4)]


@pytest.fixture(scope="module")
def pii_setup():
    """A word-level GPT-2 trained on faker sentences, directory pages of 8 public people (the
    attacker's own directory; two shuffles) and 12 private people's records (each phrasing 3
    times, one record a text); and a reference model trained without the private records."""
    from faker import Faker

    fake = Faker()
    fake.seed_instance(3)
    rng = random.Random(3)
    people = [_person(fake, rng) for _ in range(20)]
    public, private = people[:8], people[8:]
    filler = [fake.sentence(nb_words=8) for _ in range(20)]
    pages = _pages(public, 0) + _pages(public, 1)
    docs = filler + pages + [r for p in private for r in _records_of(p)] * 3
    tok = WordTokenizer.fit(docs + [str(d) for d in range(10)])
    cfg = LMTrainConfig(epochs=24, lr=4e-3, batch_size=16, max_length=64)

    def train(texts):
        lm = CausalLM(tiny_gpt2(tok.vocab_size, n_layer=2, n_embd=64, n_positions=64, seed=0), tok)
        train_causal_lm(lm, texts, cfg, progress=False)
        return lm

    target = train(docs)
    reference = train(filler + pages)
    records = [(p["name"], k, p[k]) for p in public for k in ("email", "phone")]
    return {"target": target, "reference": reference, "private": private, "records": records}


def _run(lm, s, shots, seed):
    view = make_view(lm, "black-box-scores", postprocess=None)
    k = Knowledge(
        target_labels=[p["name"] for p in s["private"]],
        auxiliary=s["records"],
        extra={"tokenizer": lm.tokenizer},
    )
    res = PIIPrompting(shots=shots, separator=" . ", max_new_tokens=14, progress=False).run(
        view, k, seed=seed
    )
    truths = [s["private"][i // 2][kind] for i, (_n, kind) in enumerate(res.targets)]
    return pii_accuracy(res.reconstructions, truths, [kind for _n, kind in res.targets]), res


def _baselines(s, seed):
    rng = random.Random(seed)
    out = {"email": [], "phone": []}
    for p in s["private"]:
        for kind in out:
            out[kind].append(random_pii(kind, rng, s["records"]) == p[kind])
    rand = {k: sum(v) / len(v) for k, v in out.items()}
    pattern = [pattern_email(p["name"], s["records"]) == p["email"] for p in s["private"]]
    return rand, sum(pattern) / len(pattern)


def _mean(dicts, kind):
    return sum(d[kind] for d in dicts) / len(dicts)


# measured: zero-shot e-mail 0.92 / phone 1.00 (greedy, so the same for every seed); random
# values 0.00 over 5 seeds, the public e-mail pattern 0.00; the reference model 0.00 / 0.00.
# Few-shot prompts do not help this small model: its learned positions break when the private
# record moves behind demonstrations (tested for the prompts only; SmolLM2 in the benchmark).
MARGIN = 0.3


def test_few_shot_prompts_hold_public_demonstrations(pii_setup):
    s = pii_setup
    _acc, res = _run(s["target"], s, 2, 0)
    names = {r[0] for r in s["records"]}
    first = res.info["prompts"][0].split(" . ")
    assert len(first) == 3 and first[2] == f"the email address of {s['private'][0]['name']} is"
    assert all(any(n in demo for n in names) for demo in first[:2])
    assert len(res.reconstructions) == 2 * len(s["private"])


@pytest.mark.slow
def test_pii_prompting_beats_random_values_and_the_email_pattern(pii_setup):
    s = pii_setup
    zero, res = _run(s["target"], s, 0, 0)  # greedy: the same for every seed
    base = [_baselines(s, seed) for seed in SEEDS]
    rand = {k: _mean([b[0] for b in base], k) for k in ("email", "phone")}
    pattern = base[0][1]
    for kind in ("email", "phone"):
        assert zero[kind] >= rand[kind] + MARGIN, (kind, zero, rand)
    assert zero["email"] >= pattern + MARGIN, (zero, pattern)
    # greedy decoding: one query per generated token per prompt
    assert 0 < res.queries <= 2 * len(s["private"]) * 14
    assert res.info["prompts"][0] == f"the email address of {s['private'][0]['name']} is"


@pytest.mark.slow
def test_the_same_check_fails_on_a_model_that_never_saw_the_records(pii_setup):
    s = pii_setup
    zero, _ = _run(s["reference"], s, 0, 0)
    rand, _pattern = _baselines(s, 0)
    for kind in ("email", "phone"):
        assert zero[kind] < rand[kind] + MARGIN, (kind, zero)


def test_parse_pii_reads_word_tokenizer_output():
    assert parse_pii("megan. smith@ mail. org .", "email") == "megan.smith@mail.org"
    assert parse_pii("call 555-123- 4567 now", "phone") == "555-123-4567"
    assert parse_pii("number is 123-45-6789.", "ssn") == "123-45-6789"
    assert parse_pii("no number here", "phone") == ""


def test_pattern_email_follows_the_public_records():
    public = [
        ("Ann Lee", "email", "ann.lee@x.org"),
        ("Bo Chan", "email", "bo.chan@x.org"),
        ("Cy Day", "email", "cday@y.com"),
    ]
    assert pattern_email("Dee Fox", public) == "dee.fox@x.org"
    assert random_pii("email", random.Random(0), public).endswith(("@x.org", "@y.com"))
    assert pii_accuracy(["A@x.org", ""], ["a@x.org", "b@x.org"], ["email", "email"]) == {
        "email": 0.5
    }


def test_pii_prompting_checks_its_inputs(pii_setup):
    s = pii_setup
    view = make_view(s["target"], "black-box-scores", postprocess=None)
    with pytest.raises(ConfigError, match=r"kinds: unknown PII kind 'iban'"):
        PIIPrompting(kinds=("iban",))
    with pytest.raises(ConfigError, match=r"knowledge\.auxiliary: 3 shots need 3 public"):
        PIIPrompting(shots=3, progress=False).run(
            view,
            Knowledge(target_labels=["X Y"], extra={"tokenizer": s["target"].tokenizer}),
        )
    with pytest.raises(ConfigError, match=r"templates\.email: .*\{name\}"):
        PIIPrompting(templates={"email": "no placeholder"})
