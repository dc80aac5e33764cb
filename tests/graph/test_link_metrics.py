"""Link metrics: the pair sets they cover, balanced sampling, no flipping, baselines beside."""

import numpy as np
import pytest
import torch

from mi_core import MetricError
from mi_core.metrics import average_precision, roc_auc
from mi_core.result import AttackResult
from mi_graph.metrics import (
    LinkEvaluator,
    edge_recovery,
    link_ap,
    link_auc,
    precision_at_density,
    top_m_prediction,
)


def _toy(k=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    truth = torch.rand(k, k, generator=g) < 0.1
    truth = torch.triu(truth, 1)
    truth = truth | truth.T
    scores = 0.6 * truth.float() + torch.rand(k, k, generator=g)
    scores = (scores + scores.T) / 2
    return scores, truth


def test_all_pairs_auc_and_ap_are_over_unordered_distinct_pairs():
    scores, truth = _toy()
    iu = np.triu_indices(40, 1)
    s, t = scores.numpy()[iu], truth.numpy()[iu].astype(int)
    assert link_auc(scores, truth) == pytest.approx(roc_auc(s, t))
    assert link_ap(scores, truth) == pytest.approx(average_precision(s, t))


def test_auc_is_never_flipped():
    scores, truth = _toy()
    assert link_auc(-scores, truth) == pytest.approx(1 - link_auc(scores, truth))
    assert link_auc(-scores, truth) < 0.5


def test_balanced_metrics_are_seeded_and_average_draws():
    scores, truth = _toy()
    a = link_ap(scores, truth, balanced=True, seed=3)
    assert a == link_ap(scores, truth, balanced=True, seed=3)
    assert a != link_ap(scores, truth, balanced=True, seed=4)
    # balanced AP sits far above the all-pairs AP of a sparse graph with a noisy score
    noisy = scores + 2 * torch.rand(40, 40, generator=torch.Generator().manual_seed(9))
    noisy = (noisy + noisy.T) / 2
    assert link_ap(noisy, truth, balanced=True) > link_ap(noisy, truth)


def test_precision_at_density_and_predictions():
    scores, truth = _toy()
    m = int(torch.triu(truth, 1).sum())
    pred = top_m_prediction(scores, m)
    assert int(torch.triu(pred, 1).sum()) == m
    pr = edge_recovery(pred, truth)
    assert pr["precision"] == pytest.approx(pr["recall"])
    assert pr["precision"] == pytest.approx(precision_at_density(scores, truth))


def test_excluded_pairs_are_left_out():
    scores, truth = _toy()
    exclude = torch.zeros_like(truth)
    exclude[:20, :20] = True
    sub = link_auc(scores, truth, exclude=exclude)
    keep = ~(exclude | exclude.T) & torch.triu(torch.ones_like(truth), 1)
    assert sub == pytest.approx(roc_auc(scores[keep].numpy(), truth[keep].numpy().astype(int)))


def test_metrics_raise_instead_of_returning_zero():
    with pytest.raises(MetricError, match="both"):
        link_auc(torch.rand(5, 5), torch.zeros(5, 5, dtype=torch.bool))
    with pytest.raises(MetricError, match="square"):
        link_auc(torch.rand(5, 4), torch.zeros(5, 4, dtype=torch.bool))
    with pytest.raises(MetricError, match="hold no edge"):
        precision_at_density(torch.rand(5, 5), torch.zeros(5, 5, dtype=torch.bool))


def test_evaluator_sets_each_figure_beside_the_feature_baseline(sbm, target_nodes):
    truth = LinkEvaluator(sbm).truth(target_nodes)
    result = AttackResult(
        attack="oracle",
        modality="graph",
        access="white-box",
        reconstructions=truth.float(),
        targets=target_nodes,
    )
    figs = {f.metric: f for f in LinkEvaluator(sbm).evaluate(result)}
    assert figs["link_auc"].value == 1.0 and figs["link_precision_at_density"].value == 1.0
    assert figs["link_auc"].baseline < 0.8 and figs["link_auc"].baseline_name == "feature-cosine"
    assert figs["link_auc"].details["edges"] == int(torch.triu(truth, 1).sum())


def test_evaluate_leaves_curve_evidence_keeping_every_link(sbm, target_nodes):
    truth = LinkEvaluator(sbm).truth(target_nodes)
    noisy = truth.float() + torch.rand(truth.shape, generator=torch.Generator().manual_seed(0))
    result = AttackResult(
        attack="noisy-oracle",
        modality="graph",
        access="white-box",
        reconstructions=(noisy + noisy.T) / 2,
        targets=target_nodes,
    )
    ev = LinkEvaluator(sbm, evidence_pairs=2000, seed=3)
    ev.evaluate(result)
    s, y = result.arrays["eval_scores"], result.arrays["eval_labels"]
    edges = int(torch.triu(truth, 1).sum())
    assert len(s) == len(y) == 2000 and int(y.sum()) == edges  # every linked pair kept
    assert set(y.tolist()) == {0, 1}
    assert result.info["eval_pairs"] == {
        "pairs": 120 * 119 // 2,
        "edges": edges,
        "kept_pairs": 2000,
        "kept_edges": edges,
    }
    # the sample is a subset of the evaluated pairs, seeded, and ranks as the full set does
    assert roc_auc(s.numpy(), y.numpy()) == pytest.approx(
        link_auc(result.reconstructions, truth), abs=0.02
    )
    again = AttackResult("x", "graph", "white-box", result.reconstructions, targets=target_nodes)
    ev.evaluate(again)
    assert torch.equal(again.arrays["eval_scores"], s)
    # small pair sets are kept whole; linked pairs beyond half the cap are drawn too
    whole = LinkEvaluator(sbm).evidence(result.reconstructions, target_nodes)[2]
    assert whole["kept_pairs"] == whole["pairs"]
    tight = LinkEvaluator(sbm, evidence_pairs=2 * edges // 3).evidence(noisy, target_nodes)
    assert tight[2]["kept_edges"] == edges // 3 and len(tight[0]) == 2 * edges // 3
