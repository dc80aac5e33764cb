"""MC-GRA (Zhou et al., ICML 2023) against a GCN on a stochastic block model.

The attacker knows the target nodes' features, labels, the edge density and what the service
releases about them on the private graph (node embeddings H_A and posteriors Y_A). Its read-out
adds the optimised relaxed adjacency to the attacker's own evidence (feature cosine + label
agreement), so the no-model baseline is that evidence alone and the model's contribution is the
difference. Measured over target draws 0-4 (120 targets, 50 steps): AUC +0.066 to +0.084, all-pairs
AP +0.042 to +0.056 over features + labels; with the optimisation off both gaps are 0.
"""

import pytest
import torch

from mi_core import AccessError, ConfigError
from mi_core.registry import get_attack, list_attacks
from mi_graph.attacks.mc_gra import MCGRA, embedding_and_logits, released_outputs
from mi_graph.data import edge_density, sample_nodes
from mi_graph.knowledge import graph_knowledge
from mi_graph.metrics import LinkEvaluator
from mi_graph.targets import GraphTarget, graph_view

SEEDS = range(5)


def _knowledge(sbm, gcn, nodes, **kw):
    emb, post = released_outputs(gcn, sbm, nodes)
    args = dict(
        features=sbm.x[nodes],
        labels=sbm.y[nodes],
        density=edge_density(sbm.edge_index, sbm.num_nodes),
        embeddings=emb,
        posteriors=post,
    )
    args.update(kw)
    return graph_knowledge(nodes, **args)


def _gaps(sbm, gcn, epochs):
    """Per target draw: (AUC gap, all-pairs AP gap) of MC-GRA over its no-model baseline."""
    view = graph_view(GraphTarget(gcn, sbm), "white-box")
    out = []
    for seed in SEEDS:
        nodes = sample_nodes(sbm.num_nodes, 120, seed)
        res = MCGRA(epochs=epochs, progress=False).run(view, _knowledge(sbm, gcn, nodes), seed=seed)
        assert res.info["no_model_baseline"] == "feature-cosine+label"
        ev = LinkEvaluator(sbm, baseline=res.info["no_model_baseline"])
        figs = {f.metric: f for f in ev.figures(res.reconstructions, nodes)}
        out.append(
            (
                figs["link_auc"].value - figs["link_auc"].baseline,
                figs["link_ap"].value - figs["link_ap"].baseline,
            )
        )
    return out


def _leaks(gaps):
    """The check: every draw beats features + labels by AUC >= 0.03 and AP >= 0.02."""
    return all(auc >= 0.03 and ap >= 0.02 for auc, ap in gaps)


def test_mc_gra_is_registered():
    assert get_attack("mc-gra") is MCGRA
    row = next(r for r in list_attacks() if r["name"] == "mc-gra")
    assert row["modality"] == "graph" and row["access"] == "white-box"


def test_mc_gra_beats_features_and_labels_on_every_draw(sbm, gcn):
    gaps = _gaps(sbm, gcn, epochs=50)
    assert _leaks(gaps), gaps


def test_mc_gra_check_fails_without_optimisation(sbm, gcn):
    gaps = _gaps(sbm, gcn, epochs=0)
    assert not _leaks(gaps), gaps  # the read-out is then the attacker's evidence alone


def test_mc_gra_uses_what_is_known_and_no_queries(sbm, gcn, target_nodes):
    view = graph_view(GraphTarget(gcn, sbm), "white-box")
    nodes = target_nodes[:50]
    res = MCGRA(epochs=5, progress=False).run(view, _knowledge(sbm, gcn, nodes), seed=0)
    assert res.info["priors"] == ["embeddings", "labels", "posteriors"]
    # module rule: with embeddings known the output terms are off
    assert res.info["weights"] == {"embeddings": 1.0, "posteriors": 0.0, "labels": 0.0}
    assert res.queries == 0 and res.reconstructions.shape == (50, 50)
    assert torch.equal(res.reconstructions, res.reconstructions.T)
    # labels alone: GraphMI's objective (the label term is on)
    only = graph_knowledge(nodes, features=sbm.x[nodes], labels=sbm.y[nodes])
    res = MCGRA(epochs=3, progress=False).run(view, only, seed=0)
    assert res.info["weights"] == {"labels": 1.0} and "predicted" not in res.arrays
    # no labels: the read-out's evidence, and the baseline, are feature cosine alone
    no_labels = _knowledge(sbm, gcn, nodes, labels=None)
    res = MCGRA(epochs=3, progress=False).run(view, no_labels, seed=0)
    assert res.info["no_model_baseline"] == "feature-cosine"
    assert all(p.requires_grad for p in gcn.parameters())  # the user's model is restored


def test_mc_gra_is_deterministic_and_runs_every_measure_and_readout(sbm, gcn, target_nodes):
    view = graph_view(GraphTarget(gcn, sbm), "white-box")
    k = _knowledge(sbm, gcn, target_nodes[:30])
    a = MCGRA(epochs=8, progress=False).run(view, k, seed=3)
    b = MCGRA(epochs=8, progress=False).run(view, k, seed=3)
    assert torch.equal(a.reconstructions, b.reconstructions)
    for cfg in (
        {"measure": "mse"},
        {"measure": "cka"},
        {"readout": "chain"},
        {"readout": "relaxed", "optimizer": "adam", "lr": 0.02},
        {"budget_scale": 1.0},
    ):
        res = MCGRA(epochs=4, progress=False, **cfg).run(view, k, seed=0)
        assert torch.isfinite(res.reconstructions).all(), cfg
    relaxed = torch.triu(res.arrays["relaxed_adjacency"], 1)
    assert float(relaxed.sum()) <= res.info["edge_budget"] + 1e-3


def test_embedding_and_logits_is_one_forward_pass(sbm, gcn):
    calls = {"n": 0}
    handle = gcn.register_forward_hook(lambda *_: calls.__setitem__("n", calls["n"] + 1))
    try:
        h, out = embedding_and_logits(gcn.eval(), sbm.x, sbm.edge_index)
    finally:
        handle.remove()
    assert calls["n"] == 1 and "embed" not in vars(gcn)
    assert torch.allclose(h, gcn.embed(sbm.x, sbm.edge_index))
    assert torch.allclose(out, gcn(sbm.x, sbm.edge_index))


def test_mc_gra_errors_name_the_field(sbm, gcn, target_nodes):
    target = GraphTarget(gcn, sbm)
    view = graph_view(target, "white-box")
    nodes = target_nodes[:10]
    with pytest.raises(AccessError, match="needs white-box access"):
        MCGRA(progress=False).run(
            graph_view(target, "black-box-scores"), _knowledge(sbm, gcn, nodes)
        )
    with pytest.raises(ConfigError, match="needs at least one of node embeddings"):
        MCGRA(progress=False).run(view, graph_knowledge(nodes, features=sbm.x[nodes]))
    with pytest.raises(ConfigError, match=r"knowledge.extra\['posteriors'\]: MC-GRA was asked"):
        only = graph_knowledge(nodes, features=sbm.x[nodes], labels=sbm.y[nodes])
        MCGRA(priors=("posteriors",), progress=False).run(view, only)
    with pytest.raises(ConfigError, match=r"knowledge.extra\['embeddings'\]: expected one row"):
        graph_knowledge(nodes, features=sbm.x[nodes], embeddings=torch.zeros(3, 16))
    wrong = graph_knowledge(nodes, features=sbm.x[nodes], embeddings=torch.rand(10, 5))
    with pytest.raises(ConfigError, match="differs from the model's embeddings"):
        MCGRA(epochs=1, progress=False).run(view, wrong)
    with pytest.raises(ConfigError, match=r"mc-gra.config.measure: unknown value 'kde'"):
        MCGRA(measure="kde")
    with pytest.raises(ConfigError, match="priors: a non-empty subset"):
        MCGRA(priors=("degrees",))
