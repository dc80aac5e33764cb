"""One GraphMI pipeline in a fresh process (for peak-RSS and wall-time comparisons).

    python benchmarks/graph_graphmi_proc.py DATASET SEEDS [--targets FRAC]

DATASET is ``cora`` / ``polblogs`` (read from ../shared/data/graphs) or ``sbmN`` (a synthetic
stochastic block model of N nodes, Cora-like degree). Trains the GCN victim the GraphMI way
(10% labelled nodes, 200 epochs, early stopping), then runs GraphMI on ``FRAC`` of the nodes
for each seed in SEEDS (comma separated), and prints one JSON line with the figures of both
read-outs (the paper's, and the paper's plus raw-feature cosine).
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


def peak_rss_mb() -> float:
    """Peak resident memory of this process image (``VmHWM``; unlike ``ru_maxrss`` it does not
    inherit the parent's size at fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def load(name: str):
    from mi_graph.data import load_npz, sbm_graph

    if name.startswith("sbm"):
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
    return load_npz(SHARED / f"{name}.npz")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("seeds")
    ap.add_argument("--targets", type=float, default=0.1)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from mi_graph.attacks.graphmi import GraphMI
    from mi_graph.data import edge_density, sample_nodes
    from mi_graph.knowledge import graph_knowledge
    from mi_graph.metrics import LinkEvaluator, feature_cosine_scores, top_m_prediction
    from mi_graph.models import build_model
    from mi_graph.targets import GraphTarget, graph_view
    from mi_graph.training import train_node_classifier

    # the interpreter + torch + PyG alone (before any data): the floor of every process
    import_rss = peak_rss_mb()
    t0 = time.perf_counter()
    g = load(args.dataset)
    torch.manual_seed(0)
    model = build_model("gcn", g.x.shape[1], int(g.y.max()) + 1)
    report = train_node_classifier(model, g, seed=0, progress=False)
    t_train = time.perf_counter() - t0
    view = graph_view(GraphTarget(model, g), "white-box")
    density = edge_density(g.edge_index, g.num_nodes)
    runs = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        nodes = sample_nodes(g.num_nodes, round(args.targets * g.num_nodes), seed)
        know = graph_knowledge(nodes, features=g.x[nodes], labels=g.y[nodes], density=density)
        attack = GraphMI(epochs=args.epochs, progress=False)
        res = attack.run(view, know, seed=seed)
        # the fused read-out of the same run: GraphMI(readout="embedding+features") computes
        # exactly this (tests/graph/test_graphmi.py checks it)
        fused = res.reconstructions + feature_cosine_scores(g.x[nodes])
        fused.fill_diagonal_(0)
        budget = round(res.info["edge_budget"])
        row = {"seed": seed, "seconds": res.seconds, "label_fit": res.info["label_fit"]}
        for readout, scores in (("embedding", res.reconstructions), ("embedding+features", fused)):
            for baseline in ("feature-cosine", "feature-cosine+label"):
                ev = LinkEvaluator(g, baseline=baseline, draws=20, seed=seed)
                figs = ev.figures(scores, nodes, predicted=top_m_prediction(scores, budget))
                for f in figs:
                    row[f"{readout}:{f.metric}"] = f.value
                    row[f"{f.metric}|{baseline}"] = f.baseline
        runs.append(row)
    out = {
        "dataset": args.dataset,
        "nodes": int(g.num_nodes),
        "targets": round(args.targets * g.num_nodes),
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
