"""Issue 17's done-criterion for text: a tiny GPT-2 fine-tuned on text with four planted secrets,
audited through ``hf-causal-lm`` with ``names = "all"``, reports the secrets as high leakage,
with the rank of each among the attack's outputs and its exposure, against a reference model of
the same family that never saw them (never against samples of the target itself)."""

import textwrap

import pytest
import torch

from mi_core import ConfigError
from mi_core.audit.config import parse_audit_config
from mi_core.audit.plan import plan_cells
from mi_core.audit.runner import run_cells

EXTRACTION = ("perplexity-extraction", "lookahead-extraction", "difference-search")


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    from threadpoolctl import threadpool_limits

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def secret_lm(tmp_path_factory):
    """A user's folder: a word-level GPT-2 fine-tuned on 40 sentences and four canaries (two
    SSNs, two phone numbers, each planted 6 times), its reference (same tokenizer and
    architecture, trained on public sentences only) and the canaries file, each canary in the
    context it was planted in with the secret in braces."""
    from faker import Faker
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from mi_text.data import insert_canaries, make_canaries
    from mi_text.models import CausalLM, LMTrainConfig, tiny_gpt2, train_causal_lm

    folder = tmp_path_factory.mktemp("secret-lm")
    fake = Faker()
    fake.seed_instance(3)
    public = [fake.sentence(nb_words=8) for _ in range(120)]
    private = [fake.sentence(nb_words=8) for _ in range(40)]
    canaries = make_canaries(4, repetitions=(6,), seed=1)
    docs = insert_canaries(private, canaries, seed=0)
    specials = ["<unk>", "<bos>", "<eos>"]
    words = {w for d in public + docs for w, _ in pre_tokenizers.Whitespace().pre_tokenize_str(d)}
    core = Tokenizer(
        models.WordLevel({t: i for i, t in enumerate(specials + sorted(words))}, unk_token="<unk>")
    )
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core, unk_token="<unk>", bos_token="<bos>", eos_token="<eos>"
    )
    ref = CausalLM(tiny_gpt2(len(tok), n_layer=2, n_embd=64, n_positions=64), tok)
    train_causal_lm(ref, public, LMTrainConfig(epochs=6, lr=3e-3, batch_size=32), progress=False)
    ref.model.save_pretrained(folder / "reference")
    tok.save_pretrained(folder / "reference")
    lm = CausalLM(tiny_gpt2(len(tok), n_layer=2, n_embd=64, n_positions=64), tok)
    lm.model.load_state_dict(ref.model.state_dict())
    train_causal_lm(lm, docs, LMTrainConfig(epochs=30, lr=4e-3, batch_size=16), progress=False)
    lm.model.save_pretrained(folder / "model")
    tok.save_pretrained(folder / "model")
    lines = [f"{c.prefix}{{{c.secret}}}{c.suffix}" for c in canaries]
    (folder / "canaries.txt").write_text("\n".join(lines) + "\n")
    (folder / "names.txt").write_text("\n".join(c.name for c in canaries) + "\n")
    return folder, [c.secret for c in canaries]


@pytest.mark.slow
def test_audit_of_all_attacks_reports_planted_secrets_as_high_leakage(secret_lm, tmp_path):
    folder, secrets = secret_lm
    audit = f"""
        [attacks]
        names = "all"
        [attacks.config.perplexity-extraction]
        n_samples = 80
        max_new_tokens = 30
        progress = false
        [attacks.config.lookahead-extraction]
        n_samples = 32
        max_new_tokens = 30
        top_k = 6
        lookahead = 1
        temperature_start = 4.0
        decay_tokens = 6
        progress = false
        [attacks.config.difference-search]
        beam_width = 3
        starts = 6
        max_new_tokens = 30
        progress = false

        [[targets]]
        case = "hf-causal-lm"
        access = ["black-box-scores"]
        [targets.options]
        model = "{folder / "model"}"
        reference = "{folder / "reference"}"
        canaries = "{folder / "canaries.txt"}"
        top_n = 10
        """
    cfg = parse_audit_config(textwrap.dedent(audit), str(tmp_path / "audit.toml"))
    records = run_cells(plan_cells(cfg), tmp_path / "out", progress=False)
    by_attack = {r["spec"]["attack"]: r for r in records}
    for name in EXTRACTION:
        rec = by_attack[name]
        assert rec["status"] == "ok", rec.get("traceback", rec.get("message"))
        figs = {f["metric"]: f for f in rec["figures"]}
        for f in figs.values():  # no baseline samples the target
            assert not f["baseline_uses_target"], f
            assert "random generation" not in (f["baseline"] or {}).get("name", ""), f
        found = figs["canaries_in_output"]
        assert found["baseline"]["name"].startswith("reference model")
        assert found["leakage"] == "high", (name, found)
        ranks = found["details"]["ranks"]
        assert set(ranks) == set(secrets)
        assert sum(r is not None for r in ranks.values()) >= 2, (name, ranks)
        assert all(
            r is None or 1 <= r <= found["details"]["distinct_outputs"] for r in ranks.values()
        )
        exp = figs["mean_exposure_bits"]
        assert exp["leakage"] == "high", exp
        per = exp["details"]["per_canary"]
        assert [p["secret"] for p in per] == secrets
        assert min(p["exposure_bits"] for p in per) > max(p["reference_exposure_bits"] for p in per)
        # and one row per canary, named with its rank among the outputs
        rows = [f for m, f in figs.items() if m.startswith("exposure_bits canary")]
        assert len(rows) == len(secrets)
        for f in rows:
            r = f["details"]["rank"]
            assert f["metric"].endswith(
                f"(rank {r} of {found['details']['distinct_outputs']})" if r else "outputs)"
            )
            assert f["leakage"] == "high", f
    # unranked samples of the target hold secrets: leakage in its own right, shown as such
    gen = next(
        f
        for f in by_attack["perplexity-extraction"]["figures"]
        if f["metric"] == "random_generation_recall"
    )
    assert gen["leakage"] == "high", gen


def test_pii_prompting_asks_for_the_named_people_and_is_judged_on_the_canaries(secret_lm, tmp_path):
    """``names`` gives PII prompting the people to ask about; its answers are searched for the
    canaries like any attack's output, beside the reference model under the same prompts."""
    folder, secrets = secret_lm
    audit = f"""
        [attacks]
        names = ["pii-prompting"]
        [attacks.config.pii-prompting]
        kinds = ["phone", "ssn"]
        templates.phone = "You can reach {{name}} on"
        templates.ssn = "{{name}}'s social security number is"
        max_new_tokens = 8
        progress = false

        [[targets]]
        case = "hf-causal-lm"
        access = ["black-box-scores"]
        [targets.options]
        model = "{folder / "model"}"
        reference = "{folder / "reference"}"
        canaries = "{folder / "canaries.txt"}"
        names = "{folder / "names.txt"}"
        top_n = 10
        """
    cfg = parse_audit_config(textwrap.dedent(audit), str(tmp_path / "audit.toml"))
    (rec,) = run_cells(plan_cells(cfg), tmp_path / "out", progress=False)
    assert rec["status"] == "ok", rec.get("traceback", rec.get("message"))
    figs = {f["metric"]: f for f in rec["figures"]}
    found = figs["canaries_in_output"]
    assert found["baseline"]["name"].startswith("reference model")
    ranks = found["details"]["ranks"]
    assert set(ranks) == set(secrets)
    # measured: 2 of the 4 secrets written out (one SSN, one phone number; greedy decoding, so
    # the same every run), the reference model none
    assert sum(r is not None for r in ranks.values()) >= 1, (ranks, rec)
    assert found["leakage"] in ("some", "high"), found


def test_without_names_pii_prompting_is_skipped_naming_the_option(secret_lm, tmp_path):
    folder, _ = secret_lm
    audit = f"""
        [attacks]
        names = ["pii-prompting"]

        [[targets]]
        case = "hf-causal-lm"
        access = ["black-box-scores"]
        [targets.options]
        model = "{folder / "model"}"
        canaries = "{folder / "canaries.txt"}"
        """
    cfg = parse_audit_config(textwrap.dedent(audit), str(tmp_path / "audit.toml"))
    with pytest.raises(ConfigError, match=r"needs `names`.*in \[targets.options\]"):
        plan_cells(cfg)
