"""Paper-scale graph preset: ``uv run python benchmarks/run.py graph --preset paper [options]``.

GraphMI (Zhang et al., IJCAI 2021) and MC-GRA (Zhou et al., ICML 2023) at their papers' scale,
on a GPU: the *whole* graph is the target set (every node pair of Cora, Citeseer or Polblogs is
a candidate link), a two-layer GCN trained the GraphMI way is the target, and each attack runs
with its reference-code settings (the defaults of its config, which cite them) on ``--device``
(default: CUDA). The CPU suite (``benchmarks/run.py graph``) attacks sampled target sets
instead; the dense relaxed adjacency over all N (N - 1) / 2 pairs is what needs the GPU.

Before anything runs, the preset names the data it needs, checks they are there (and refuses
with what to get otherwise) and prints the expected GPU time. Records go to
``benchmarks/results/graph-paper.json``.

Options: ``--datasets cora,citeseer,polblogs``, ``--data DIR`` (the npz files),
``--attacks graphmi,mc-gra``, ``--seeds N``, ``--device``, ``--dry-run``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data" / "graphs"

#: dataset -> (nodes, what the file is); GraphMI's Table 1 sizes
DATASETS: dict[str, tuple[int, str]] = {
    "cora": (2485, "cora.npz (GraphMI / gnn-meta-attack format: the largest connected component)"),
    "citeseer": (2110, "citeseer.npz (same format)"),
    "polblogs": (1222, "polblogs.npz (same format; no node features: identity features)"),
}

#: attack -> (config at the reference settings, source)
ATTACKS: dict[str, tuple[dict[str, Any], str]] = {
    "graphmi": ({"epochs": 100}, "GraphMIConfig defaults: the reference code's 100 epochs"),
    "mc-gra": ({"epochs": 100}, "MCGRAConfig defaults: the reference code's 100 epochs"),
}

#: rough GPU milliseconds per step on the whole graph (dense pair vector, one A100/H100-class
#: GPU); assumed, not measured (no GPU where this preset was written): an order of magnitude
MS_PER_STEP = {"graphmi": 40.0, "mc-gra": 60.0}


class PresetRefused(SystemExit):
    """The preset cannot run here: the message says what is missing and how to get it."""


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="run.py graph --preset paper", description=__doc__)
    p.add_argument("--preset", choices=["paper"], default="paper")
    p.add_argument("--datasets", default="cora,citeseer,polblogs")
    p.add_argument("--data", help="folder of the npz files (default ../shared/data/graphs)")
    p.add_argument("--attacks", default="graphmi,mc-gra")
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--device", default="cuda")
    p.add_argument("--dry-run", action="store_true", help="check the data, print the estimate")
    return p.parse_args(argv)


def check(args: argparse.Namespace) -> dict[str, Any]:
    """Name the data the preset needs and check they are there; refuse otherwise."""
    root = Path(args.data) if args.data else SHARED
    names = [d.strip() for d in args.datasets.split(",") if d.strip()]
    attacks = [a.strip() for a in args.attacks.split(",") if a.strip()]
    problems = []
    unknown = [d for d in names if d not in DATASETS]
    if unknown:
        problems.append(f"--datasets: unknown {unknown}; the preset has {sorted(DATASETS)}")
    bad = [a for a in attacks if a not in ATTACKS]
    if bad:
        problems.append(f"--attacks: unknown {bad}; the preset has {sorted(ATTACKS)}")
    for d in names:
        if d in DATASETS and not (root / f"{d}.npz").exists():
            problems.append(f"--data: {root / f'{d}.npz'} is missing (needs {DATASETS[d][1]})")
    if problems:
        raise PresetRefused(
            "graph --preset paper cannot run here:\n  "
            + "\n  ".join(problems)
            + "\nThe files are GraphMI's (github.com/zaixizhang/GraphMI, dataset/); nothing is "
            "downloaded: put them under ../shared/data/graphs/ or pass --data."
        )
    return {"root": root, "datasets": names, "attacks": attacks}


def estimate(args: argparse.Namespace, names: list[str], attacks: list[str]) -> str:
    """The expected GPU time per dataset and attack (rough: :data:`MS_PER_STEP`)."""
    lines, total = [], 0.0
    for d in names:
        n = DATASETS[d][0]
        pairs = n * (n - 1) // 2
        for a in attacks:
            steps = ATTACKS[a][0]["epochs"]
            secs = MS_PER_STEP[a] / 1000 * steps * args.seeds + 30.0  # + target training
            total += secs
            lines.append(f"  {d:<9} {a:<8} {pairs:>9,} pairs x {steps} steps: ~{secs / 60:.1f} min")
    head = (
        "expected GPU time (rough, assumed per-step costs on one A100/H100-class GPU; "
        "not measured):"
    )
    return "\n".join([head, *lines, f"  total     ~{total / 60:.0f} min"])


def run(quick: bool, argv: list[str]) -> list[dict[str, Any]]:
    """The preset (``quick`` is ignored: the paper scale has no quick form)."""
    sys.path.insert(0, str(HERE))
    from common import record

    args = parse(argv)
    checked = check(args)
    print(estimate(args, checked["datasets"], checked["attacks"]), flush=True)
    if args.dry_run:  # nothing ran: no result file
        raise SystemExit(0)
    import torch

    from mi_core.device import describe, get_device
    from mi_core.registry import get_attack
    from mi_graph.data import edge_density, load_npz
    from mi_graph.knowledge import graph_knowledge
    from mi_graph.metrics import LinkEvaluator
    from mi_graph.models import build_model
    from mi_graph.targets import GraphTarget, graph_view
    from mi_graph.training import train_node_classifier

    device = get_device(args.device, "--device")
    print(f"device: {describe(device)}", flush=True)
    records: list[dict[str, Any]] = []
    for name in checked["datasets"]:
        g = load_npz(checked["root"] / f"{name}.npz")
        torch.manual_seed(0)
        gcn = build_model("gcn", g.x.shape[1], int(g.y.max()) + 1)
        report = train_node_classifier(gcn, g, seed=0, progress=True, device=device)
        nodes = torch.arange(g.num_nodes)
        density = edge_density(g.edge_index, g.num_nodes)
        view = graph_view(GraphTarget(gcn, g), "white-box")
        records.append(record(name, "target", "test_accuracy", report.test_accuracy, notes="GCN"))
        for attack in checked["attacks"]:
            config, source = ATTACKS[attack]
            for seed in range(args.seeds):
                k = graph_knowledge(nodes, features=g.x, labels=g.y, density=density)
                t0 = time.perf_counter()
                res = get_attack(attack)({**config, "device": str(device)}).run(view, k, seed=seed)
                seconds = time.perf_counter() - t0
                ev = LinkEvaluator(g, baseline=res.info["no_model_baseline"])
                for f in ev.figures(res.reconstructions, nodes):
                    records.append(
                        record(
                            name,
                            attack,
                            f.metric,
                            f.value,
                            access="white-box",
                            seconds=seconds,
                            baseline=(f.baseline_name, f.baseline),
                            seed=seed,
                            notes=f"whole graph ({g.num_nodes} nodes) on {describe(device)}; "
                            f"{source}",
                        )
                    )
                print(f"{name} {attack} seed {seed}: {seconds:.0f} s", flush=True)
    return records
