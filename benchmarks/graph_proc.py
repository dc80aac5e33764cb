"""Graph attacks in a fresh process (for peak-RSS and wall-time comparisons).

    python benchmarks/graph_proc.py GRAPH SEEDS [--attacks graphmi,mc-gra,rl-graphmi]
                                    [--targets FRAC] [--epochs N] [--threads T]

GRAPH is ``cora`` / ``polblogs`` (read from ../shared/data/graphs), ``sbmN`` (a synthetic
stochastic block model of N nodes, Cora-like degree), a graph file in the CSR npz layout or an
import path ``pkg.mod:graph`` to a PyG ``Data`` (:func:`mi_graph.user_cases.load_graph`).
Trains the GCN victim the GraphMI way (10% labelled nodes, 200 epochs, early stopping), then for
each seed in SEEDS (comma separated) draws ``FRAC`` of the nodes as targets and runs each attack,
printing one JSON line with the figures of every read-out beside the no-model baselines:

* ``graphmi``: the paper's read-out and the paper's plus raw-feature cosine (white-box; the
  attacker knows the targets' features and labels, and the density);
* ``mc-gra``: its default read-out (relaxed adjacency + the attacker's features and labels) and
  the relaxed adjacency alone; the attacker also knows the targets' embeddings and posteriors on
  the private graph (K = {X, H_A, Y_A, Y}); beside it the cosine of those embeddings alone (the
  prior, no optimisation);
* ``rl-graphmi``: label-only, the labels asked from the service; the relaxed adjacency (paper)
  and the fused read-out, beside its own starting point (feature cosine + agreement of the
  queried labels) and the number of queries.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data" / "graphs"
BASELINES = ("feature-cosine", "feature-cosine+label")


def peak_rss_mb() -> float:
    """Peak resident memory of this process image (``VmHWM``; unlike ``ru_maxrss`` it does not
    inherit the parent's size at fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def load(name: str):
    from mi_graph.data import load_npz, sbm_graph

    if name.startswith("sbm") and name[3:].isdigit():
        n = int(name[3:])
        c = 8
        size = n // c
        # Cora-like sparsity: about 4 links inside the block and 1 across per node
        return sbm_graph(
            (size,) * c,
            p_in=4.0 / size,
            p_out=1.0 / (n - size),
            num_features=500,
            words_per_node=12,
            seed=0,
        )
    if name in ("cora", "polblogs", "citeseer"):
        return load_npz(SHARED / f"{name}.npz")
    from mi_graph.user_cases import load_graph

    g = load_graph(name)
    if getattr(g, "y", None) is None:
        raise SystemExit(f"graph {name!r}: node labels (y) are needed to train the victim GCN")
    return g


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("graph")
    ap.add_argument("seeds")
    ap.add_argument("--attacks", default="graphmi")
    ap.add_argument("--targets", type=float, default=0.1)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from mi_graph.attacks.graphmi import GraphMI
    from mi_graph.attacks.mc_gra import MCGRA, released_outputs
    from mi_graph.attacks.rl_graphmi import RLGraphMI
    from mi_graph.data import edge_density, sample_nodes
    from mi_graph.knowledge import graph_knowledge
    from mi_graph.metrics import LinkEvaluator, feature_cosine_scores, top_m_prediction
    from mi_graph.models import build_model
    from mi_graph.targets import GraphTarget, graph_view
    from mi_graph.training import train_node_classifier

    attacks = [a for a in args.attacks.split(",") if a]
    # the interpreter + torch + PyG alone (before any data): the floor of every process
    import_rss = peak_rss_mb()
    t0 = time.perf_counter()
    g = load(args.graph)
    torch.manual_seed(0)
    model = build_model("gcn", g.x.shape[1], int(g.y.max()) + 1)
    report = train_node_classifier(model, g, seed=0, progress=False)
    t_train = time.perf_counter() - t0
    target = GraphTarget(model, g)
    density = edge_density(g.edge_index, g.num_nodes)
    count = round(args.targets * g.num_nodes)
    runs = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        nodes = sample_nodes(g.num_nodes, count, seed)
        row: dict = {"seed": seed}
        evs = {b: LinkEvaluator(g, baseline=b, draws=20, seed=seed) for b in BASELINES}

        def score(
            key: str,
            scores,
            *,
            baselines: bool = False,
            predicted=None,
            evs=evs,
            row=row,
            nodes=nodes,
        ) -> None:
            for b, ev in evs.items():
                for f in ev.figures(scores, nodes, predicted=predicted):
                    row[f"{key}:{f.metric}"] = f.value
                    if baselines:
                        row[f"{f.metric}|{b}"] = f.baseline
                if not baselines:
                    break

        if "graphmi" in attacks:
            know = graph_knowledge(nodes, features=g.x[nodes], labels=g.y[nodes], density=density)
            res = GraphMI(epochs=args.epochs, progress=False).run(
                graph_view(target, "white-box"), know, seed=seed
            )
            # the fused read-out of the same run: GraphMI(readout="embedding+features")
            # computes exactly this (tests/graph/test_graphmi.py checks it)
            fused = res.reconstructions + feature_cosine_scores(g.x[nodes])
            fused.fill_diagonal_(0)
            budget = round(res.info["edge_budget"])
            row.update(seconds=res.seconds, label_fit=res.info["label_fit"])
            score(
                "embedding",
                res.reconstructions,
                baselines=True,
                predicted=top_m_prediction(res.reconstructions, budget),
            )
            score("embedding+features", fused, predicted=top_m_prediction(fused, budget))
        if "mc-gra" in attacks:
            emb, post = released_outputs(model, g, nodes)
            know = graph_knowledge(
                nodes,
                features=g.x[nodes],
                labels=g.y[nodes],
                density=density,
                embeddings=emb,
                posteriors=post,
            )
            res = MCGRA(epochs=args.epochs, progress=False).run(
                graph_view(target, "white-box"), know, seed=seed
            )
            row["mc-gra:seconds"] = res.seconds
            score("mc-gra", res.reconstructions, baselines=True)
            score("mc-gra/relaxed", res.arrays["relaxed_adjacency"])
            h = torch.nn.functional.normalize(emb, dim=1)
            prior = (h @ h.T).clamp_min(0)
            prior.fill_diagonal_(0)
            score("embedding-cosine", prior)
        if "rl-graphmi" in attacks:
            know = graph_knowledge(nodes, features=g.x[nodes], density=density)
            view = graph_view(target, "label-only")
            res = RLGraphMI(epochs=args.epochs, progress=False).run(view, know, seed=seed)
            row["rl-graphmi:seconds"] = res.seconds
            row["rl-graphmi:queries"] = res.queries
            row["rl-graphmi:steps"] = res.info["steps"]
            relaxed, start = res.arrays["relaxed_adjacency"], res.arrays["knowledge_scores"]
            fused = relaxed / relaxed.max().clamp_min(1e-12) + 10.0 * start  # readout default
            fused.fill_diagonal_(0)
            score("rl-graphmi", res.reconstructions, baselines=True)
            score("rl-graphmi+knowledge", fused)
            score("label-agreement", start)
        runs.append(row)
    out = {
        "dataset": args.graph,
        "attacks": attacks,
        "nodes": int(g.num_nodes),
        "edges": int(g.edge_index.shape[1]) // 2,
        "targets": count,
        "test_accuracy": report.test_accuracy,
        "train_seconds": t_train,
        "total_seconds": time.perf_counter() - t0,
        "import_rss_mb": import_rss,
        "peak_rss_mb": peak_rss_mb(),
        "runs": runs,
    }
    sys.stdout.write("RESULT " + json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
