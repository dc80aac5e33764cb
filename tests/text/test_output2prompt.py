"""output2prompt (Zhang, Morris & Shmatikov 2024): an inverter reads a deployment's ordinary
replies (text only, no probabilities) and writes its hidden system prompt, against the best
constant guess from the attacker's own prompt corpus; with the inverter's training switched off
the same check fails."""

import random

import pytest

from mi_core import AccessError, ConfigError, Knowledge, make_view
from mi_text.attacks.output2prompt import Output2Prompt
from mi_text.inverters import InverterConfig
from mi_text.metrics import exact_match, token_f1
from mi_text.models import CausalLM, LMTrainConfig, tiny_gpt2, train_causal_lm
from mi_text.targets import ChatLM, ChatService, chat_view
from mi_text.tokenizers import WordTokenizer

ROLES = ["travel", "legal", "cooking", "medical", "tax", "coding", "music", "garden"]
FIRMS = ["acme", "globex", "initech", "umbrella", "hooli", "vandelay", "wonka", "tyrell"]
GREET = {"french": "bonjour", "german": "hallo", "spanish": "hola", "italian": "ciao"}
MESSAGES = ("hi", "who made you ?")
TEMPLATE = "system : {prompt} user : {user} assistant :"


def _prompt(role, firm, lang):
    return f"you are a {role} assistant for {firm} . answer in {lang} ."


def _reply(role, firm, lang, msg):
    return {
        "hi": f"{GREET[lang]} ! i am the {role} assistant .",
        "who made you ?": f"i was made by {firm} .",
    }[msg]


@pytest.fixture(scope="module")
def chat_setup():
    """A word-level GPT-2 trained on chat transcripts whose replies depend on the system prompt
    (a greeting in the prompt's language, its role, its company); 20 hidden prompts that neither
    the target's training nor the attacker's 236 prompts contain."""
    rng = random.Random(7)
    combos = [(r, f, la) for r in ROLES for f in FIRMS for la in GREET]
    rng.shuffle(combos)
    hidden, train = combos[:20], combos[20:]
    transcripts = [
        TEMPLATE.format(prompt=_prompt(*c), user=m) + " " + _reply(*c, m)
        for c in train
        for m in MESSAGES
    ]
    tok = WordTokenizer.fit(transcripts + [_prompt(*c) for c in hidden])
    lm = CausalLM(tiny_gpt2(tok.vocab_size, n_layer=1, n_embd=128, n_positions=48, seed=0), tok)
    train_causal_lm(
        lm,
        transcripts,
        LMTrainConfig(epochs=20, lr=2e-3, batch_size=16, max_length=40),
        progress=False,
    )
    return {
        "service": ChatService(
            ChatLM(lm, TEMPLATE, max_new_tokens=10), [_prompt(*c) for c in hidden]
        ),
        "local": ChatLM(lm, TEMPLATE, max_new_tokens=10),  # the public model, held locally
        "aux": [_prompt(*c) for c in train],
        "hidden": [_prompt(*c) for c in hidden],
    }


def _k(s):
    return Knowledge(
        auxiliary=s["aux"], prior=s["local"], target_labels=list(range(len(s["hidden"])))
    )


def _constant_guess(s):
    # the attacker's best guess without the model: the corpus prompt closest (token F1) to all
    # others -- the template with the commonest fillers
    sample = s["aux"][:200]
    best = max(sample, key=lambda p: token_f1([p] * len(sample), sample))
    return [best] * len(s["hidden"])


def _attack(s, seeds, **inv):
    """Mean token F1 and exact match over ``seeds`` (the inverter's seed) and the last result."""
    f1s, ems = [], []
    for seed in seeds:
        cfg = InverterConfig(
            **{
                "d_model": 64,
                "layers": 1,
                "epochs": 10,
                "batch_size": 16,
                "lr": 4e-3,
                "max_length": 14,
                **inv,
            }
        )
        res = Output2Prompt(
            inverter=cfg,
            user_messages=MESSAGES,
            outputs=2,
            reply_tokens=8,
            beams=2,
            progress=False,
        ).run(chat_view(s["service"]), _k(s), seed=seed)
        f1s.append(token_f1(res.reconstructions, s["hidden"]))
        ems.append(exact_match(res.reconstructions, s["hidden"]))
    return sum(f1s) / len(f1s), sum(ems) / len(ems), res


# measured (2 replies per prompt, inverter seeds 0-4): token F1 1.00 and exact match 1.00 on
# every seed; the best constant guess 0.735 / 0.00 (the template is shared: only the role, the
# company and the language differ); the untrained inverter 0.12-0.27 / 0.00. A target trained
# for 12 epochs instead of 20 replies less faithfully and the inverter reaches 0.80 / 0.00: the
# exact-match margin needs replies that name the role and company. The task is easy for a
# working inverter; the benchmark's SmolLM2 row is the realistic figure.
F1_MARGIN, EM_MARGIN = 0.12, 0.5


@pytest.mark.slow
def test_output2prompt_beats_the_constant_guess(chat_setup):
    s = chat_setup
    f1, em, res = _attack(s, range(5))
    guess = _constant_guess(s)
    base_f1, base_em = token_f1(guess, s["hidden"]), exact_match(guess, s["hidden"])
    assert f1 >= base_f1 + F1_MARGIN, (
        f1,
        base_f1,
        res.reconstructions[:3],
        res.info["replies"][:2],
    )
    assert em >= base_em + EM_MARGIN, (em, base_em, res.reconstructions[:3])
    assert res.queries == 2 * len(s["hidden"])  # one request per reply
    assert res.access == "label-only"


@pytest.mark.slow
def test_untrained_inverter_fails_the_same_check(chat_setup):
    s = chat_setup
    f1, em, _ = _attack(s, range(2), lr=1e-9)
    guess = _constant_guess(s)
    assert f1 < token_f1(guess, s["hidden"]) + F1_MARGIN
    assert em < exact_match(guess, s["hidden"]) + EM_MARGIN


def test_chat_service_answers_text_only(chat_setup):
    s = chat_setup
    view = chat_view(s["service"])
    out = view([{"target": 0, "user": "hi"}, {"target": 0, "user": "hi"}])
    assert out[0] == out[1] and isinstance(out[0], str)
    assert view.queries == 2
    with pytest.raises(ConfigError, match="deployment id 99"):
        view([{"target": 99, "user": "hi"}])
    with pytest.raises(ConfigError, match="request: expected"):
        view([0])
    with pytest.raises(AccessError):
        make_view(s["service"], "label-only").restrict("black-box-scores")
    # make_view releases the reply text too (not an argmax of it)
    assert make_view(s["service"], "label-only")([{"target": 0, "user": "hi"}]) == out[:1]


def test_output2prompt_respects_the_query_budget(chat_setup):
    s = chat_setup
    attack = Output2Prompt(
        inverter=InverterConfig(d_model=16, heads=2, layers=1, epochs=1, max_length=14),
        user_messages=MESSAGES,
        outputs=2,
        reply_tokens=8,
        beams=1,
        progress=False,
    )
    with pytest.raises(Exception, match="budget"):
        attack.run(chat_view(s["service"], budget=2 * len(s["hidden"]) - 1), _k(s))


def test_output2prompt_checks_its_inputs(chat_setup):
    s = chat_setup
    with pytest.raises(ConfigError, match="user_messages: 9 outputs"):
        Output2Prompt(outputs=9)
    with pytest.raises(ConfigError, match="device"):
        Output2Prompt(device="tpu")
    with pytest.raises(ConfigError, match=r"knowledge\.prior: expected a mi_text.targets.ChatLM"):
        Output2Prompt(progress=False).run(
            chat_view(s["service"]),
            Knowledge(auxiliary=s["aux"], prior=object(), target_labels=[0]),
        )
    with pytest.raises(ConfigError, match=r"knowledge\.auxiliary"):
        Output2Prompt(progress=False).run(
            chat_view(s["service"]),
            Knowledge(auxiliary="one prompt", prior=s["local"], target_labels=[0]),
        )
