"""MC-GPB (Zhou et al., ICML 2023): a GCN trained to forget its adjacency.

Figure: AUC of the cosine similarity of the GCN's hidden node embeddings (the H_A that MC-GRA
aligns its relaxed graph to) for telling edges from non-edges among 120 nodes of a 200-node SBM;
utility: test accuracy of the GCN as served (on the graph it was trained on). Measured with the
default weights (0.5 / 0.5, edge drop 0.2) over draws 0-2: embedding AUC 0.848 / 0.826 / 0.860
-> 0.749 / 0.763 / 0.835 at accuracy 0.94 / 0.96 / 0.99 (undefended 0.99 / 1.0 / 0.99).
"""

import pytest
import torch
import torch.nn.functional as F
from graph_helpers import LayeredGCN, link_auc, sbm

from mi_core import ConfigError
from mi_core.registry import get_defense
from mi_defense.training.mc_gpb import MCGPB, linear_cka, linear_hsic

SEEDS = range(3)


class Graph:
    def __init__(self, x, edge_index, y):
        self.x, self.edge_index, self.y = x, edge_index, y


def _setup(seed):
    x, ei, y, adj = sbm(seed=seed)
    perm = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))
    return {
        "graph": Graph(x, ei, y),
        "adj": adj,
        "train": perm[:40],
        "val": perm[40:80],
        "test": perm[100:],
        "nodes": perm[:120].sort().values,
    }


def _served(model, s):
    g = s["graph"]
    with torch.no_grad():
        h = model.embed(g.x, g.edge_index)
        out = model(g.x, g.edge_index)
    acc = float((out[s["test"]].argmax(1) == g.y[s["test"]]).float().mean())
    return link_auc(h[s["nodes"]], s["adj"], s["nodes"]), acc


def _undefended(s, seed):
    g = s["graph"]
    torch.manual_seed(seed)
    model = LayeredGCN(g.x.shape[1], 4)
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    for _ in range(200):
        model.train()
        opt.zero_grad()
        F.cross_entropy(model(g.x, g.edge_index)[s["train"]], g.y[s["train"]]).backward()
        opt.step()
    return model.eval()


@pytest.mark.slow
def test_mc_gpb_lowers_embedding_link_inference_at_useful_accuracy():
    drops = []
    for seed in SEEDS:
        s = _setup(seed)
        auc0, acc0 = _served(_undefended(s, seed), s)
        defense = MCGPB(layers=("conv1", "conv2"))
        torch.manual_seed(seed)
        model = defense.fit(
            LayeredGCN(s["graph"].x.shape[1], 4),
            s["graph"],
            s["train"],
            val_idx=s["val"],
            seed=seed,
            progress=False,
        )
        auc, acc = _served(model, s)
        assert acc >= 0.9 and acc0 >= 0.95, (seed, acc, acc0)
        drops.append(auc0 - auc)
        assert defense._capture is None  # the hooks are gone after fit
    assert min(drops) > 0.0 and sum(drops) / len(drops) >= 0.04, drops


def test_mc_gpb_is_a_registered_training_defense():
    cls = get_defense("mc-gpb")
    assert cls is MCGPB and cls.kind.value == "training" and cls.modalities == ("graph",)


def test_mc_gpb_penalty_mechanics():
    s = _setup(0)
    g = s["graph"]
    model = LayeredGCN(g.x.shape[1], 4)
    defense = MCGPB(layers=("conv1", "conv2"), pairs=64)
    model, opt, _ = defense.wrap(model, torch.optim.SGD(model.parameters(), lr=0.1))
    gen = torch.Generator().manual_seed(0)
    # the stochastic adjacency keeps both directions of an edge together
    kept = defense.perturb(g.edge_index, gen)
    pairs = {(int(u), int(v)) for u, v in kept.T}
    assert all((v, u) in pairs for u, v in pairs)
    assert 0.6 < kept.shape[1] / g.edge_index.shape[1] < 0.95  # about 1 - 0.2 kept
    out = model(g.x, kept)
    pen = defense.penalty(out, kept, gen)
    assert pen.requires_grad and float(pen) > 0
    pen.backward()
    assert model.conv1.lin.weight.grad is not None
    bad = MCGPB(layers=("conv1", "conv2"), privacy_weights=(1, 1, 1))
    bad.wrap(model, opt)
    with pytest.raises(ConfigError, match="privacy_weights: 3 weights for 2 representations"):
        bad.penalty(model(g.x, kept), kept, gen)


def test_mc_gpb_needs_representation_layers():
    with pytest.raises(ConfigError, match="no message-passing layer"):
        MCGPB().wrap(torch.nn.Linear(3, 2), None)
    with pytest.raises(ConfigError, match="edge_drop: must be < 1"):
        MCGPB(edge_drop=1.0)


def test_linear_cka_is_scale_free_and_hsic_matches_the_gram_form():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(50, 4, generator=g), torch.randn(50, 3, generator=g)
    assert abs(float(linear_cka(a, 7 * a)) - 1.0) < 1e-5
    assert float(linear_cka(a, b)) < 0.5
    n = 50
    h = torch.eye(n) - 1.0 / n
    gram = torch.trace((a @ a.T) @ h @ (b @ b.T) @ h) / n**2
    assert torch.allclose(linear_hsic(a, b), gram, rtol=1e-4)
