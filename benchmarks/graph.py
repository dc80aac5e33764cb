"""Graph benchmark: GraphMI, MC-GRA, RL-GraphMI, link stealing, LinkTeller and inverse mapping,
and the graph defenses (MC-GPB, DP-GNN, edge-rand) against the optimising attacks, on Cora and
Polblogs, or on any graph.

    uv run python benchmarks/run.py graph [--quick] [--graph PATH [--name NAME]]

``--graph`` takes a graph in the CSR npz layout (``mi_graph.data.load_npz``) or an import path
``pkg.mod:attr`` to a PyG ``Data`` (or a function returning one, with node labels ``y``); every
section then runs on that graph instead of Cora and Polblogs, so a user reruns every table on
their own graph. Default data: ``../shared/data/graphs/{cora,polblogs}.npz`` (GraphMI's files);
a missing file skips its cases with a message. Threads: torch runs single-threaded here
(``MI_BENCH_THREADS``, default 1): on the shared 2-core machine two OpenMP threads made small
sparse GNN steps up to 100x slower; the reference codes run with the same setting.

Seeds: the optimising attacks run on 10 seeded draws of 10% of the nodes as targets (1 with
``--quick``); every row carries the per-seed values, their mean and spread, and the leakage
verdict of :mod:`mi_core.leakage` against the no-model baseline built from the same knowledge.

Anchors (reference codes run side by side, never part of this repository, full run only):

* GraphMI: ``MI_GRAPHMI_REF`` points at a checkout of zaixizhang/GraphMI
  (``benchmarks/graph_reference.py``); without it the numbers measured for issue 7 (Cora AUC
  0.885-0.890, balanced AP 0.885, 8.5 min, 1.45 GB; Polblogs AUC 0.69, AP 0.54, 1.8 min). The
  reference draws its target nodes unseeded and its AP from one balanced draw.
* MC-GRA: ``MI_MCGRA_REF`` points at the ``MC-GRA`` folder of AndrewZhou924/MC-GRA
  (``benchmarks/graph_mcgra_reference.py``; the paper's command for K = {X, H_A, Y_A, Y}). It
  relaxes all N^2 pairs and attacks all nodes, so it stands beside our 100% row of the scaling
  table (and, marked as such, beside the 10% rows).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics as st
import sys
import time
from pathlib import Path
from typing import Any

import torch
from common import record, shared_file

HERE = Path(__file__).resolve().parent
THREADS = int(os.environ.get("MI_BENCH_THREADS", "1"))
SEEDS = 10
ISSUE_ANCHOR = {
    "cora": {"auc": 0.8875, "ap_balanced": 0.885, "seconds": 510.0, "peak_rss_mb": 1450.0},
    "polblogs": {"auc": 0.69, "ap_balanced": 0.54, "seconds": 108.0, "peak_rss_mb": None},
}
FIGS = {
    "link_auc": "auc",
    "link_ap_balanced": "ap_balanced",
    "link_auc_balanced": "auc_balanced",
    "link_ap": "ap",
    "link_precision_at_density": "precision_at_density",
}
HEADLINE = ("auc", "ap", "precision_at_density")


def _mean(xs: list[float]) -> float:
    return float(st.mean(xs))


#: ``--seeds N`` overrides the number of target draws (1 with --quick, SEEDS otherwise)
SEEDS_OPTION: int | None = None


def _seeds(quick: bool) -> str:
    n = SEEDS_OPTION or (1 if quick else SEEDS)
    return ",".join(str(s) for s in range(n))


def seed_fields(values: list[float], baselines: list[float] | None) -> dict[str, Any]:
    """Per-seed values, their statistics and the leakage verdict against ``baselines``."""
    from mi_core.leakage import assess_seeds

    lk, sa, sb = assess_seeds(values, baselines or None, higher_is_better=True, unit_interval=True)
    return {
        "per_seed": [round(v, 4) for v in values],
        "baseline_per_seed": None if baselines is None else [round(v, 4) for v in baselines],
        "stats": sa.to_dict(),
        "baseline_stats": None if sb is None else sb.to_dict(),
        "spread": lk.spread,
        "leakage": lk.to_dict(),
    }


# ----------------------------------------------------------------------------- processes


def _proc(spec: str, attacks: str, seeds: str, targets: float = 0.1) -> dict:
    from graph_reference import measured_run

    env = {**os.environ, "TQDM_DISABLE": "1"}
    cmd = [
        sys.executable,
        str(HERE / "graph_proc.py"),
        spec,
        seeds,
        "--attacks",
        attacks,
        "--targets",
        str(targets),
        "--threads",
        str(THREADS),
    ]
    code, out, seconds, _ = measured_run(cmd, env=env)
    line = next((ln for ln in out.splitlines() if ln.startswith("RESULT ")), None)
    if code != 0 or line is None:
        raise RuntimeError(f"graph process ({attacks} on {spec}) failed ({code}):\n{out[-3000:]}")
    res = json.loads(line[len("RESULT ") :])  # peak_rss_mb: the process's own VmHWM
    res.update(process_seconds=seconds)
    return res


class Runs:
    """The attack processes of one graph, run once and shared by the sections."""

    def __init__(self, name: str, spec: str, quick: bool) -> None:
        self.name, self.spec, self.quick = name, spec, quick
        self._cache: dict[str, dict] = {}

    def get(self, attack: str) -> dict:
        if attack not in self._cache:
            if self.quick and attack in ("mc-gra", "rl-graphmi"):
                both = _proc(self.spec, "mc-gra,rl-graphmi", _seeds(True))
                self._cache["mc-gra"] = self._cache["rl-graphmi"] = both
            else:
                self._cache[attack] = _proc(self.spec, attack, _seeds(self.quick))
        return self._cache[attack]


# ----------------------------------------------------------------------------- GraphMI


def _graphmi_reference(name: str) -> dict | None:
    ref = os.environ.get("MI_GRAPHMI_REF")
    path = shared_file(f"graphs/{name}.npz") if name in ISSUE_ANCHOR else None
    if not ref or path is None:
        return None
    from graph_reference import run_reference

    print(f"[graph] running the reference GraphMI on {name} (minutes)", flush=True)
    return run_reference(ref, path, threads=THREADS)


def graphmi_rows(runs: Runs) -> list[dict]:
    name, quick = runs.name, runs.quick
    ref = None if quick else _graphmi_reference(name)
    issue = ISSUE_ANCHOR.get(name)
    if ref is not None:
        anchor_name = "reference GraphMI code, run here side by side (one unseeded draw)"
        anchor = {"auc": ref["auc"], "ap_balanced": ref["ap"]}
        a_sec, a_rss = ref["seconds"], ref["peak_rss_mb"]
        a_work = None if ref["import_rss_mb"] is None else a_rss - ref["import_rss_mb"]
    elif issue is not None:
        anchor_name = "reference GraphMI code, measured for issue 7 (not rerun)"
        anchor = {"auc": issue["auc"], "ap_balanced": issue["ap_balanced"]}
        a_sec, a_rss, a_work = issue["seconds"], issue["peak_rss_mb"], None
    else:
        anchor_name, anchor, a_sec, a_rss, a_work = None, {}, None, None, None
    # GraphMI's attacker knows features and labels: its no-model baseline uses both (on
    # Polblogs, identity features make feature cosine meaningless anyway)
    base_key, other = "feature-cosine+label", "feature-cosine"
    rows = []
    res = runs.get("graphmi")
    runs_ = res["runs"]
    for readout, method in (("embedding", "graphmi"), ("embedding+features", "graphmi+features")):
        for fig, metric in FIGS.items():
            values = [r[f"{readout}:{fig}"] for r in runs_]
            base = [r[f"{fig}|{base_key}"] for r in runs_]
            rows.append(
                record(
                    name,
                    method,
                    metric,
                    _mean(values),
                    access="white-box",
                    seconds=_mean([r["seconds"] for r in runs_]),
                    baseline=(base_key, _mean(base)),
                    anchor=(
                        {"name": anchor_name, "value": anchor[metric], "seconds": a_sec}
                        if metric in anchor
                        else None
                    ),
                    other_baseline={other: _mean([r[f"{fig}|{other}"] for r in runs_])},
                    notes=(
                        f"mean over {len(runs_)} seeded draws of {res['targets']} target nodes "
                        f"(10%); readout={readout}; victim GCN test accuracy "
                        f"{res['test_accuracy']:.3f}; pairs i<j, balanced = all links + as many "
                        "non-links, 20 draws"
                    ),
                    **seed_fields(values, base),
                )
            )
    # time and memory: one process doing what the reference's main.py does (load, train the
    # victim, attack one draw of 10% target nodes, score)
    one = res if len(runs_) == 1 else _proc(runs.spec, "graphmi", "0")
    for metric, value, anc in (
        ("process_seconds", one["process_seconds"], a_sec),
        ("peak_rss_mb", one["peak_rss_mb"], a_rss),
        ("working_rss_mb", one["peak_rss_mb"] - one["import_rss_mb"], a_work),
        ("attack_seconds", one["runs"][0]["seconds"], None),
    ):
        ratio = f"; reference / ours = {anc / value:.1f}x" if anc else ""
        rows.append(
            record(
                name,
                "graphmi",
                metric,
                value,
                access="white-box",
                higher=False,
                seconds=one["process_seconds"],
                anchor=None if anc is None else {"name": anchor_name, "value": anc},
                notes=(
                    "fresh process: imports, data, victim training, one GraphMI run, scoring of "
                    f"both read-outs; working_rss = peak RSS minus the RSS right after the "
                    f"imports (ours: torch + PyG = {one['import_rss_mb']:.0f} MB); torch "
                    f"threads={THREADS}; machine shared with other jobs{ratio}"
                ),
            )
        )
    return rows


# ----------------------------------------------------------------------------- MC-GRA


def _mcgra_reference(name: str) -> dict | None:
    ref = os.environ.get("MI_MCGRA_REF")
    from graph_mcgra_reference import COMMANDS

    path = shared_file(f"graphs/{name}.npz") if name in COMMANDS else None
    if not ref or path is None:
        return None
    from graph_mcgra_reference import run_reference

    print(f"[graph] running the reference MC-GRA on {name} (minutes)", flush=True)
    return run_reference(ref, path, threads=THREADS)


_MCGRA_REF: dict[str, dict | None] = {}


def mcgra_reference(name: str, quick: bool) -> dict | None:
    """The reference MC-GRA run on ``name`` (once per benchmark run; never in quick mode)."""
    if quick:
        return None
    if name not in _MCGRA_REF:
        _MCGRA_REF[name] = _mcgra_reference(name)
    return _MCGRA_REF[name]


def mcgra_rows(runs: Runs) -> list[dict]:
    """MC-GRA with K = {X, H_A, Y_A, Y} at 10% target nodes: its read-out (relaxed adjacency +
    the attacker's features and labels) and the relaxed adjacency alone, beside features +
    labels (the no-model baseline of the same knowledge), feature cosine, the embeddings'
    cosine (the prior alone, no optimisation) and GraphMI + features."""
    name, quick = runs.name, runs.quick
    res = runs.get("mc-gra")
    rs = res["runs"]
    gm = runs.get("graphmi")["runs"]
    ref = mcgra_reference(name, quick)
    rows = []
    for key, method in (("mc-gra", "mc-gra"), ("mc-gra/relaxed", "mc-gra/relaxed")):
        for fig, metric in FIGS.items():
            values = [r[f"{key}:{fig}"] for r in rs]
            base = [r[f"{fig}|feature-cosine+label"] for r in rs]
            anchor = None
            if ref is not None and metric == "auc":
                anchor = {
                    "name": "reference MC-GRA code, run here (all nodes as targets, its own "
                    "victim; compare with the 100% scaling row)",
                    "value": ref["auc"],
                    "seconds": ref["seconds"],
                }
            rows.append(
                record(
                    name,
                    method,
                    metric,
                    _mean(values),
                    access="white-box",
                    seconds=_mean([r["mc-gra:seconds"] for r in rs]),
                    baseline=("feature-cosine+label", _mean(base)),
                    anchor=anchor,
                    other_baseline={
                        "feature-cosine": _mean([r[f"{fig}|feature-cosine"] for r in rs]),
                        "embedding-cosine": _mean([r[f"embedding-cosine:{fig}"] for r in rs]),
                        "graphmi+features": _mean([r[f"embedding+features:{fig}"] for r in gm])
                        if len(gm) == len(rs)
                        else None,
                    },
                    notes=(
                        f"mean over {len(rs)} seeded draws of {res['targets']} target nodes "
                        f"(10%); K = {{X, H_A, Y_A, Y}}: features, labels, and the targets' "
                        "embeddings and posteriors on the private graph; read-out "
                        + (
                            "relaxed adjacency alone"
                            if "/" in method
                            else "relaxed adjacency + 0.5 (feature cosine + label agreement)"
                        )
                        + "; embedding-cosine = cosine of the known embeddings (no optimisation); "
                        f"victim GCN test accuracy {res['test_accuracy']:.3f}"
                    ),
                    **seed_fields(values, base),
                )
            )
    return rows


# ----------------------------------------------------------------------------- RL-GraphMI


def rl_rows(runs: Runs) -> list[dict]:
    """RL-GraphMI, label-only, labels asked from the service: the relaxed adjacency (paper) and
    the fused read-out beside feature cosine (the label-only attacker's no-model baseline), its
    own start (feature cosine + agreement of the queried labels) and GraphMI (white-box)."""
    name = runs.name
    res = runs.get("rl-graphmi")
    rs = res["runs"]
    gm = runs.get("graphmi")["runs"]
    rows = []
    for key, method in (
        ("rl-graphmi", "rl-graphmi"),
        ("rl-graphmi+knowledge", "rl-graphmi+knowledge"),
    ):
        for fig, metric in FIGS.items():
            values = [r[f"{key}:{fig}"] for r in rs]
            base = [r[f"{fig}|feature-cosine"] for r in rs]
            rows.append(
                record(
                    name,
                    method,
                    metric,
                    _mean(values),
                    access="label-only",
                    seconds=_mean([r["rl-graphmi:seconds"] for r in rs]),
                    queries=round(_mean([r["rl-graphmi:queries"] for r in rs])),
                    baseline=("feature-cosine", _mean(base)),
                    other_baseline={
                        "label-agreement": _mean([r[f"label-agreement:{fig}"] for r in rs]),
                        "graphmi (white-box)": _mean([r[f"embedding:{fig}"] for r in gm])
                        if len(gm) == len(rs)
                        else None,
                    },
                    notes=(
                        f"mean over {len(rs)} seeded draws of {res['targets']} target nodes; "
                        "label-only view, the attacker knows features and the density, asks the "
                        "service for the targets' labels; read-out "
                        + (
                            "edge probabilities (paper)"
                            if method == "rl-graphmi"
                            else "edge probabilities / max + 10 x (feature cosine + queried-label "
                            "agreement)"
                        )
                        + "; label-agreement = feature cosine + agreement of the queried labels "
                        "(its starting point, no optimisation)"
                    ),
                    **seed_fields(values, base),
                )
            )
    return rows


# ----------------------------------------------------------------------------- defenses


def _train_defended(g: Any, defense: str, strength: dict, seed: int = 0) -> tuple[Any, Any]:
    """A GCN trained the GraphMI way under ``defense``; returns (model, the graph it serves)."""
    from mi_graph.data import _data
    from mi_graph.models import build_model
    from mi_graph.training import split_nodes, train_node_classifier

    torch.manual_seed(seed)
    model = build_model("gcn", g.x.shape[1], int(g.y.max()) + 1)
    tr, va, _ = split_nodes(g.num_nodes, 0.1, 0.1, seed)
    if defense == "none":
        train_node_classifier(model, g, seed=seed, progress=False)
        return model.eval(), g
    if defense == "mc-gpb":
        from mi_defense.training.mc_gpb import MCGPB

        w = strength["weight"]
        d = MCGPB(privacy_weights=(w,), inter_weights=(w,))
        return d.fit(model, g, tr, val_idx=va, seed=seed, progress=False), g
    if defense == "dp-gnn":
        from mi_defense.training.dp_gnn import DPGNN

        d = DPGNN(noise_multiplier=strength["noise_multiplier"])
        model = d.fit(model, g, tr, seed=seed, progress=False)
        strength["epsilon"] = round(d.epsilon(), 1)
        return model, g
    if defense == "edge-rand":
        from mi_defense.data.edge_rand import EdgeRand

        ei, _ = EdgeRand(epsilon=strength["epsilon"], seed=seed).transform(
            (g.edge_index, g.num_nodes)
        )
        served = _data(x=g.x, edge_index=ei, y=g.y, num_nodes=g.num_nodes)
        train_node_classifier(model, served, seed=seed, progress=False)
        return model.eval(), served
    raise ValueError(defense)


def defense_rows(name: str, g: Any, quick: bool) -> list[dict]:
    """MC-GPB, DP-GNN and edge-rand against MC-GRA and GraphMI: AUC and all-pairs AP (against
    the TRUE edges) beside node accuracy (on the graph the GCN serves), 10% target nodes."""
    from mi_graph.attacks.graphmi import GraphMI
    from mi_graph.attacks.mc_gra import MCGRA, released_outputs
    from mi_graph.data import edge_density, sample_nodes
    from mi_graph.knowledge import graph_knowledge
    from mi_graph.metrics import LinkEvaluator
    from mi_graph.targets import GraphTarget, NodeQuery, graph_view
    from mi_graph.training import split_nodes

    points: list[tuple[str, dict]] = [("none", {}), ("mc-gpb", {"weight": 0.5})]
    if not quick:
        points += [
            ("mc-gpb", {"weight": 0.25}),
            ("mc-gpb", {"weight": 1.0}),
            ("dp-gnn", {"noise_multiplier": 0.05}),
            ("dp-gnn", {"noise_multiplier": 1.0}),
            ("edge-rand", {"epsilon": 4.0}),
            ("edge-rand", {"epsilon": 1.0}),
        ]
    nodes = sample_nodes(g.num_nodes, round(0.1 * g.num_nodes), 0)
    test_idx = split_nodes(g.num_nodes, 0.1, 0.1, 0)[2]
    density = edge_density(g.edge_index, g.num_nodes)
    out, undefended = [], {}
    for defense, strength in points:
        t0 = time.perf_counter()
        model, served = _train_defended(g, defense, strength)
        train_s = time.perf_counter() - t0
        target = GraphTarget(model, served)
        with torch.no_grad():
            pred = target(NodeQuery(test_idx)).argmax(1)
        acc = float((pred == g.y[test_idx]).float().mean())
        emb, post = released_outputs(model, served, nodes)
        know = graph_knowledge(
            nodes,
            features=g.x[nodes],
            labels=g.y[nodes],
            density=density,
            embeddings=emb,
            posteriors=post,
        )
        view = graph_view(target, "white-box")
        ev = LinkEvaluator(g, baseline="feature-cosine+label", draws=20, seed=0)
        for attack, cls in (("mc-gra", MCGRA), ("graphmi", GraphMI)):
            res = cls(progress=False).run(view, know, seed=0)
            figs = {FIGS.get(f.metric, f.metric): f for f in ev.figures(res.reconstructions, nodes)}
            for metric in ("auc", "ap"):
                key = (attack, metric)
                if defense == "none":
                    undefended[key] = (figs[metric].value, acc)
                und, und_acc = undefended[key]
                out.append(
                    record(
                        name,
                        defense,
                        metric,
                        figs[metric].value,
                        access="white-box",
                        seconds=res.seconds,
                        baseline=("feature-cosine+label", figs[metric].baseline),
                        attack=attack,
                        strength=dict(strength),
                        modality="graph",
                        undefended=und,
                        utility={"metric": "test_accuracy", "value": acc, "undefended": und_acc},
                        train_seconds=round(train_s, 1),
                        notes=(
                            f"{len(nodes)} target nodes (10%, seed 0), judged against the true "
                            "edges; K = {X, H_A, Y_A, Y} for MC-GRA (embeddings and posteriors "
                            "as the defended service releases them), {X, Y} for GraphMI; "
                            "edge-rand: the GCN is trained and served on the randomised graph"
                        ),
                    )
                )
        done = ", ".join(f"{r['attack']} {r['metric']} {r['value']:.3f}" for r in out[-4:])
        print(f"  {defense} {strength}: accuracy {acc:.3f}; {done}", flush=True)
    return out


# ----------------------------------------------------------------------------- scaling


def scaling_rows(name: str, spec: str) -> list[dict]:
    """GraphMI and MC-GRA at 10%, 50% and 100% of the nodes as targets: one fresh process each
    (time, peak memory, AUC), beside the reference MC-GRA (it relaxes all N^2 pairs whatever
    the targets, so one run stands for every size)."""
    rows = []
    ref = mcgra_reference(name, False)
    for frac in (0.1, 0.5, 1.0):
        for attack in ("graphmi", "mc-gra"):
            res = _proc(spec, attack, "0", targets=frac)
            run = res["runs"][0]
            k = res["targets"]
            key = "embedding" if attack == "graphmi" else "mc-gra"
            secs = run["seconds"] if attack == "graphmi" else run["mc-gra:seconds"]
            base = run["link_auc|feature-cosine+label"]
            note = (
                f"{int(frac * 100)}% of {res['nodes']} nodes = {k} targets "
                f"({k * (k - 1) // 2} relaxed pairs), seed 0; one fresh process (imports, data, "
                "victim training, the attack, scoring)"
            )
            anc = None
            if ref is not None and attack == "mc-gra":
                anc = {
                    "name": "reference MC-GRA code, all nodes (its dense N x N relaxation)",
                    "value": ref["auc"],
                    "seconds": ref["seconds"],
                    "peak_rss_mb": ref["peak_rss_mb"],
                }
            for metric, value, higher in (
                ("auc", run[f"{key}:link_auc"], True),
                ("ap", run[f"{key}:link_ap"], True),
                ("attack_seconds", secs, False),
                ("process_seconds", res["process_seconds"], False),
                ("peak_rss_mb", res["peak_rss_mb"], False),
                ("working_rss_mb", res["peak_rss_mb"] - res["import_rss_mb"], False),
            ):
                rows.append(
                    record(
                        f"{name}-{int(frac * 100)}%",
                        attack,
                        metric,
                        value,
                        access="white-box",
                        higher=higher,
                        seconds=secs,
                        baseline=("feature-cosine+label", base) if metric == "auc" else None,
                        anchor=anc,
                        notes=note,
                        targets=k,
                        pairs=k * (k - 1) // 2,
                    )
                )
            print(
                f"  scaling {attack} {frac}: {secs:.1f} s, {res['peak_rss_mb']:.0f} MB", flush=True
            )
    return rows


# ----------------------------------------------------------------------------- black-box attacks


def _train(graph: Any, seed: int = 0) -> Any:
    from mi_graph.models import build_model
    from mi_graph.training import train_node_classifier

    torch.manual_seed(seed)
    model = build_model("gcn", graph.x.shape[1], int(graph.y.max()) + 1)
    train_node_classifier(model, graph, seed=seed, progress=False)
    return model


def _figures(scores: Any, nodes: Any, graph: Any, **kw: Any) -> dict[str, float]:
    from mi_graph.metrics import LinkEvaluator

    ev = LinkEvaluator(graph, baseline=None, draws=10)
    return {FIGS.get(f.metric, f.metric): f.value for f in ev.figures(scores, nodes, **kw)}


def _feature_baseline(graph: Any, nodes: Any, **kw: Any) -> dict[str, float]:
    from mi_graph.metrics import feature_cosine_scores

    return _figures(feature_cosine_scores(graph.x[nodes]), nodes, graph, **kw)


def link_stealing_rows(name: str, g: Any, model: Any, quick: bool) -> list[dict]:
    from mi_graph.attacks.link_stealing import LinkStealing
    from mi_graph.data import sample_nodes
    from mi_graph.knowledge import graph_knowledge
    from mi_graph.pairs import DISTANCES
    from mi_graph.targets import GraphTarget, graph_view

    rows = []
    nodes = (
        sample_nodes(g.num_nodes, min(1000, g.num_nodes), 0) if quick else torch.arange(g.num_nodes)
    )
    view = graph_view(GraphTarget(model, g), "black-box-scores")
    base = _feature_baseline(g, nodes)
    best = None
    for d in DISTANCES:
        res = LinkStealing(distance=d, progress=False).run(view, graph_knowledge(nodes), seed=0)
        figs = _figures(res.reconstructions, nodes, g)
        for metric in ("auc", "ap_balanced"):
            rows.append(
                record(
                    name,
                    f"link-stealing-0/{d}",
                    metric,
                    figs[metric],
                    access="black-box-scores",
                    seconds=res.seconds,
                    queries=res.queries,
                    baseline=("feature-cosine", base[metric]),
                    notes=f"Attack-0 (no knowledge), {len(nodes)} target nodes, all pairs",
                )
            )
        if best is None or figs["auc"] > best[1]:
            best = (d, figs["auc"], res.seconds, res.queries)
    assert best is not None
    rows.append(
        record(
            name,
            "link-stealing-0/best",
            "auc",
            best[1],
            access="black-box-scores",
            seconds=best[2],
            queries=best[3],
            baseline=("feature-cosine", base["auc"]),
            notes=f"best of the 8 distances ({best[0]}), picked with the ground truth as in [50]; "
            "the default distance (correlation) is reported above",
        )
    )
    return rows


def link_stealing_settings_rows(name: str, g: Any, quick: bool) -> list[dict]:
    """All eight settings on half of the graph; the other half is the shadow graph."""
    from mi_graph.attacks.link_stealing import LinkStealing
    from mi_graph.data import dense_adjacency, induced_subgraph, sample_nodes
    from mi_graph.knowledge import graph_knowledge
    from mi_graph.targets import GraphTarget, graph_view

    half_a = sample_nodes(g.num_nodes, g.num_nodes // 2, 11)
    rest = torch.tensor(sorted(set(range(g.num_nodes)) - set(half_a.tolist())))
    ga, gb = induced_subgraph(g, half_a), induced_subgraph(g, rest)
    model = _train(ga)
    view = graph_view(GraphTarget(model, ga), "black-box-scores")
    nodes = sample_nodes(ga.num_nodes, min(300 if quick else 800, ga.num_nodes), 0)
    truth = dense_adjacency(ga.edge_index, nodes, ga.num_nodes)
    iu = torch.triu_indices(len(nodes), len(nodes), 1)
    linked = truth[iu[0], iu[1]]
    gen = torch.Generator().manual_seed(0)
    pos = iu[:, linked][:, torch.randperm(int(linked.sum()), generator=gen)]
    pos = pos[:, : pos.shape[1] // 2]
    neg = iu[:, ~linked][:, torch.randperm(int((~linked).sum()), generator=gen)[: pos.shape[1]]]
    known = torch.zeros_like(truth)
    known[torch.cat([pos, neg], 1)[0], torch.cat([pos, neg], 1)[1]] = True
    base = _feature_baseline(ga, nodes, exclude=known)
    rows = []
    for setting, (f, a, d) in enumerate(
        [(0, 0, 0), (0, 0, 1), (1, 0, 0), (0, 1, 0), (1, 0, 1), (1, 1, 0), (0, 1, 1), (1, 1, 1)]
    ):
        know = graph_knowledge(
            nodes,
            features=ga.x[nodes] if f else None,
            partial_edges=nodes[pos] if a else None,
            partial_non_edges=nodes[neg] if a else None,
            auxiliary=gb if d else None,
        )
        res = LinkStealing(setting=setting, progress=False).run(view, know, seed=0)
        figs = _figures(res.reconstructions, nodes, ga, exclude=known)
        kn = ",".join(n for n, on in (("F", f), ("A*", a), ("D'", d)) if on) or "none"
        for metric in ("auc", "ap_balanced"):
            rows.append(
                record(
                    f"{name}-half",
                    f"link-stealing-{setting}",
                    metric,
                    figs[metric],
                    access="black-box-scores",
                    seconds=res.seconds,
                    queries=res.queries,
                    baseline=("feature-cosine", base[metric]),
                    notes=(
                        f"knowledge: {kn}; target GCN on half of the graph ({ga.num_nodes} nodes), "
                        f"shadow graph = the other half; {len(nodes)} target nodes; A* = half "
                        "of their links + as many non-links, left out of the evaluation"
                    ),
                )
            )
    return rows


def linkteller_rows(name: str, g: Any, model: Any, quick: bool) -> list[dict]:
    from mi_graph.attacks.linkteller import LinkTeller
    from mi_graph.data import edge_density, sample_nodes
    from mi_graph.knowledge import graph_knowledge
    from mi_graph.metrics import correlation_scores, edge_recovery, top_m_prediction
    from mi_graph.targets import GraphTarget, graph_view

    nodes = sample_nodes(g.num_nodes, min(300 if quick else 500, g.num_nodes), 0)
    density = edge_density(g.edge_index, g.num_nodes)
    view = graph_view(GraphTarget(model, g, modes=("features",)), "black-box-scores")
    know = graph_knowledge(
        nodes, features=g.x, feature_nodes=torch.arange(g.num_nodes), density=density
    )
    res = LinkTeller(progress=False).run(view, know, seed=0)
    truth_figs = _figures(res.reconstructions, nodes, g, predicted=res.arrays["predicted"])
    m = int(torch.triu(res.arrays["predicted"], 1).sum())
    lsa2 = {
        "LSA2-post": correlation_scores(res.arrays["posteriors"]),
        "LSA2-attr": correlation_scores(g.x[nodes]),
    }
    from mi_graph.metrics import feature_cosine_scores

    lsa2["feature-cosine"] = feature_cosine_scores(g.x[nodes])
    base: dict[str, dict[str, float]] = {}
    for key, s in lsa2.items():
        pr = edge_recovery(top_m_prediction(s, m), _truth(g, nodes))
        base[key] = {**_figures(s, nodes, g), "edge_precision": pr["precision"]}
        base[key]["edge_recall"] = pr["recall"]
    rows = []
    for metric in ("edge_precision", "edge_recall", "precision_at_density", "auc", "ap_balanced"):
        rows.append(
            record(
                name,
                "linkteller",
                metric,
                truth_figs[metric],
                access="black-box-scores",
                seconds=res.seconds,
                queries=res.queries,
                baseline=("LSA2-post", base["LSA2-post"][metric]),
                other_baseline={
                    "LSA2-attr": base["LSA2-attr"][metric],
                    "feature-cosine": base["feature-cosine"][metric],
                },
                notes=(
                    f"inductive view (feature queries only) over all {g.num_nodes} nodes; "
                    f"{len(nodes)} target nodes; edge_* = the top {m} pairs predicted with the "
                    "true global density as prior; precision_at_density = top-(true link count "
                    "among the targets)"
                ),
            )
        )
    return rows


def _truth(g: Any, nodes: Any) -> Any:
    from mi_graph.data import dense_adjacency

    return dense_adjacency(g.edge_index, nodes, g.num_nodes)


def inverse_mapping_rows(name: str, g: Any, model: Any, quick: bool) -> list[dict]:
    from mi_graph.attacks.inverse_mapping import InverseMapping
    from mi_graph.data import induced_subgraph, sample_nodes
    from mi_graph.knowledge import graph_knowledge
    from mi_graph.metrics import correlation_scores
    from mi_graph.targets import GraphTarget, NodeQuery, graph_view

    aux_nodes = sample_nodes(g.num_nodes, round(0.3 * g.num_nodes), 5)
    aux = induced_subgraph(g, aux_nodes)
    count = min(500 if quick else 1000, g.num_nodes - len(aux_nodes))
    nodes = sample_nodes(g.num_nodes, count, 6, exclude=aux_nodes)
    view = graph_view(GraphTarget(model, g), "black-box-scores")
    base = _feature_baseline(g, nodes)
    lsa0 = _figures(correlation_scores(view(NodeQuery(nodes))), nodes, g)
    rows = []
    for mode in ("finetune", "autoencoder"):
        res = InverseMapping(mode=mode, progress=False).run(
            view, graph_knowledge(nodes, auxiliary=aux), seed=0
        )
        figs = _figures(res.reconstructions, nodes, g)
        for metric in ("auc", "ap_balanced", "precision_at_density"):
            rows.append(
                record(
                    name,
                    f"inverse-mapping/{mode}",
                    metric,
                    figs[metric],
                    access="black-box-scores",
                    seconds=res.seconds,
                    queries=res.queries,
                    baseline=("feature-cosine", base[metric]),
                    other_baseline={"posterior correlation (link-stealing-0)": lsa0[metric]},
                    notes=(
                        f"auxiliary graph: the {aux.num_nodes} nodes of a random 30% of the graph "
                        f"and their links; {len(nodes)} target nodes among the rest; released "
                        "outputs = posteriors"
                    ),
                )
            )
    return rows


def _plot(records: list[dict], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # plots are a convenience
        return
    rows = [
        r
        for r in records
        if r["metric"] == "auc" and r["baseline"] and "/" not in r["method"].replace("/best", "")
    ]
    if not rows:
        return
    labels = [f"{r['case']}\n{r['method']}" for r in rows]
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(rows)), 4))
    xs = range(len(rows))
    ax.bar([x - 0.2 for x in xs], [r["value"] for r in rows], 0.4, label="attack")
    ax.bar([x + 0.2 for x in xs], [r["baseline"]["value"] for r in rows], 0.4, label="baseline")
    ax.set_xticks(list(xs), labels, rotation=60, ha="right", fontsize=7)
    ax.set_ylim(0.4, 1.0)
    ax.set_ylabel("link AUC (all pairs)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _load(spec: str) -> Any:
    sys.path.insert(0, str(HERE))
    from graph_proc import load

    return load(spec)


def _train(graph: Any, seed: int = 0) -> Any:
    from mi_graph.models import build_model
    from mi_graph.training import train_node_classifier

    torch.manual_seed(seed)
    model = build_model("gcn", graph.x.shape[1], int(graph.y.max()) + 1)
    train_node_classifier(model, graph, seed=seed, progress=False)
    return model


def _graphs(argv: list[str] | None) -> list[tuple[str, str]]:
    """``(name, spec)`` of the graphs to run: ``--graph`` or Cora and Polblogs."""
    parser = argparse.ArgumentParser(prog="run.py graph")
    parser.add_argument(
        "--graph",
        help="a graph in the CSR npz layout, or an import path pkg.mod:attr to a PyG Data (with "
        "node labels y); every table is then computed on it",
    )
    parser.add_argument("--name", help="the graph's name in the tables (default: from --graph)")
    parser.add_argument(
        "--seeds", type=int, help="target draws of the optimising attacks (default 1 / 10)"
    )
    args = parser.parse_args(argv or [])
    if args.seeds is not None:
        if args.seeds < 1:
            parser.error(f"--seeds: at least 1 draw, got {args.seeds}")
        global SEEDS_OPTION
        SEEDS_OPTION = args.seeds
    if args.graph:
        spec = args.graph
        if spec.endswith(".npz"):
            if not Path(spec).exists():
                parser.error(f"--graph: {spec} does not exist")
            spec = str(Path(spec).resolve())
            name = args.name or Path(spec).stem
        elif ":" in spec:
            name = args.name or spec.rsplit(":", 1)[1]
        else:
            parser.error(
                f"--graph: a .npz file (CSR layout) or an import path 'pkg.mod:attr', got {spec!r}"
            )
        return [(name, spec)]
    return [(n, n) for n in ("cora", "polblogs") if shared_file(f"graphs/{n}.npz") is not None]


def _is_reference(argv: list[str] | None) -> bool:
    return (
        bool(argv)
        and "--preset" in argv
        and argv[argv.index("--preset") + 1 :][:1] == ["reference"]
    )


def _reference_dataset(argv: list[str]) -> str | None:
    """The graph named by ``--dataset NAME`` / ``--dataset=NAME`` (None: all of them)."""
    from graph_mcgra_reference import COMMANDS

    name: str | None = None
    for i, a in enumerate(argv):
        if a == "--dataset":
            name = argv[i + 1] if i + 1 < len(argv) else ""
        elif a.startswith("--dataset="):
            name = a.split("=", 1)[1]
    if name is not None and name not in COMMANDS:
        raise SystemExit(f"graph --preset reference --dataset: one of {sorted(COMMANDS)}")
    return name


def reference_rows(argv: list[str]) -> list[dict]:
    """``--preset reference [--dataset NAME]``: the reference MC-GRA code (``MI_MCGRA_REF``) alone
    on Cora and Polblogs into ``graph-reference.json`` (or on the one named, into
    ``graph-reference-NAME.json``), the paper's command for K = {X, H_A, Y_A, Y}: AUC over
    all node pairs, seconds and peak memory of its process, to stand beside the 100% rows of the
    scaling table."""
    if not os.environ.get("MI_MCGRA_REF"):
        raise SystemExit(
            "graph --preset reference: set MI_MCGRA_REF to the MC-GRA folder of a checkout of "
            "AndrewZhou924/MC-GRA outside this repository"
        )
    from graph_mcgra_reference import COMMANDS

    one = _reference_dataset(argv)
    names = [one] if one else list(COMMANDS)
    records = []
    for name in names:
        ref = _mcgra_reference(name)
        if ref is None:
            continue
        for metric, value, higher in (
            ("auc", ref["auc"], True),
            ("process_seconds", ref["seconds"], False),
            ("peak_rss_mb", ref["peak_rss_mb"], False),
        ):
            records.append(
                record(
                    name,
                    "mc-gra (reference code)",
                    metric,
                    value,
                    access="white-box",
                    higher=higher,
                    seconds=ref["seconds"],
                    notes=(
                        f"AndrewZhou924/MC-GRA main.py --dataset={name} {ref['command']}; all "
                        "nodes as targets, dense N x N relaxation, its own victim GCN; "
                        f"{THREADS} thread(s); import floor {ref.get('import_rss_mb')} MB"
                    ),
                )
            )
        print(f"[graph] reference MC-GRA on {name}: AUC {ref['auc']:.3f}", flush=True)
    return records


def run(quick: bool, argv: list[str] | None = None) -> list[dict]:
    if _is_reference(argv):
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        torch.set_num_threads(THREADS)
        return reference_rows(argv or [])
    if argv and "--preset" in argv:  # the paper-scale GPU preset (benchmarks/graph_paper.py)
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import graph_paper

        return graph_paper.run(quick, argv)
    torch.set_num_threads(THREADS)
    t0 = time.time()
    graphs = _graphs(argv)
    records: list[dict] = []
    for name, spec in graphs:
        runs = Runs(name, spec, quick)
        records += graphmi_rows(runs)
        print(f"[graph] GraphMI on {name} done ({time.time() - t0:.0f} s)", flush=True)
        records += mcgra_rows(runs)
        print(f"[graph] MC-GRA on {name} done ({time.time() - t0:.0f} s)", flush=True)
        records += rl_rows(runs)
        print(f"[graph] RL-GraphMI on {name} done ({time.time() - t0:.0f} s)", flush=True)
    if graphs:
        name, spec = graphs[0]
        g = _load(spec)
        records += defense_rows(name, g, quick)
        print(f"[graph] defenses done ({time.time() - t0:.0f} s)", flush=True)
        model = _train(g)
        records += link_stealing_rows(name, g, model, quick)
        print(f"[graph] link stealing done ({time.time() - t0:.0f} s)", flush=True)
        records += link_stealing_settings_rows(name, g, quick)
        print(f"[graph] link stealing settings done ({time.time() - t0:.0f} s)", flush=True)
        records += linkteller_rows(name, g, model, quick)
        print(f"[graph] LinkTeller done ({time.time() - t0:.0f} s)", flush=True)
        records += inverse_mapping_rows(name, g, model, quick)
        print(f"[graph] inverse mapping done ({time.time() - t0:.0f} s)", flush=True)
        if not quick:
            records += scaling_rows(name, spec)
            print(f"[graph] scaling done ({time.time() - t0:.0f} s)", flush=True)
    _plot(records, HERE / "results" / ("graph-quick.png" if quick else "graph.png"))
    return records


def result_name(argv: list[str]) -> str | None:
    """The result file of a run with suite options (None: the default ``graph[-quick].json``)."""
    if _is_reference(argv):  # one graph alone does not overwrite the run of all of them
        one = _reference_dataset(argv)
        return f"graph-reference-{one}.json" if one else "graph-reference.json"
    return "graph-paper.json" if argv and "--preset" in argv else None
