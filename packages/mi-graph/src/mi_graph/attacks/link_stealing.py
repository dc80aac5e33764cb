"""Link stealing: infer links from the similarity of a GNN's posteriors (and node attributes).

He, Jia, Backes, Gong, Zhang, "Stealing links from graph neural networks", USENIX Security 2021
(survey Sec. V-B-3, [50]). Black-box: the attacker queries the posteriors of the target nodes.
Two linked nodes get similar posteriors because a GNN aggregates over neighbours. Three kinds of
extra knowledge make ``2^3 = 8`` settings (the paper's numbering):

=========  ======================  =====================================================
setting    knowledge               attack
=========  ======================  =====================================================
0          none                    unsupervised: a distance between posteriors
1          D' (shadow graph)       supervised, transferred: MLP trained on shadow pairs
2          F (node attributes)     unsupervised: a distance between posteriors or features
3          A* (partial graph)      supervised: MLP trained on known (non-)links
4          F, D'                   as 1, plus attribute distances
5          F, A*                   as 3, plus attribute distances
6          A*, D'                  MLP trained on known pairs and shadow pairs
7          F, A*, D'               as 6, plus attribute distances
=========  ======================  =====================================================

Pair features of the supervised attacks: the eight distances (:data:`mi_graph.pairs.DISTANCES`)
between posteriors; the four pair operators (average, Hadamard, weighted-L1, weighted-L2) of the
posteriors' entropies; with attributes, the eight distances between attribute vectors; with only
a partial graph of the same target, also the pair operators of the posteriors themselves (with a
shadow graph the class count may differ, so only dimension-free features are used). Shadow
setting: the attacker trains its own GNN (``shadow_arch``) on the shadow graph with the
:mod:`mi_graph.training` recipe. The attack model is :class:`mi_graph.pairs.PairClassifier`.

Unsupervised scores are ``-distance``; AUC is never flipped (the reference code flips AUCs below
0.5). Pairs the attacker trained on are returned in ``arrays["known_pairs"]`` so evaluators
leave them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch

from mi_core import device as devices
from mi_core.attack import BaseAttack
from mi_core.config import check_choice, check_positive, check_range
from mi_core.errors import ConfigError
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView
from mi_graph.knowledge import GraphKnowledge
from mi_graph.pairs import (
    DISTANCES,
    PairClassifier,
    PairClassifierConfig,
    entropy,
    pair_distance,
    pair_operators,
    pairwise_distance,
    sample_pairs,
)
from mi_graph.relax import pairs_to_matrix, triu_pairs
from mi_graph.targets import NodeQuery

#: (attributes, partial graph, shadow graph) -> setting number of He et al. 2021
SETTINGS = {
    (False, False, False): 0,
    (False, False, True): 1,
    (True, False, False): 2,
    (False, True, False): 3,
    (True, False, True): 4,
    (True, True, False): 5,
    (False, True, True): 6,
    (True, True, True): 7,
}
NEEDS = {v: k for k, v in SETTINGS.items()}


@dataclass
class LinkStealingConfig:
    """Attributes:
    setting: 0-7 (module table); ``None`` picks it from the knowledge given.
    distance: distance of the unsupervised settings (0, 2).
    source: what the unsupervised setting 2 compares, ``posteriors`` or ``features``.
    shadow_arch: architecture of the attacker's shadow GNN (``gcn``, ``sage``, ``gat``,
        ``sgc``).
    negatives: unlinked training pairs per linked one (sampled when not known).
    max_shadow_edges: cap on shadow training links (sampled, seeded).
    mlp_hidden / mlp_epochs / mlp_lr: the attack MLP (paper: 32 units, 50 epochs).
    device: where the attack MLP and the shadow GNN train (``auto``: CUDA when present, else
        the CPU); distances and pair features are computed on the CPU, results live there.
    """

    setting: int | None = None
    distance: str = "correlation"
    source: Literal["posteriors", "features"] = "posteriors"
    shadow_arch: str = "gcn"
    negatives: float = 1.0
    max_shadow_edges: int = 20000
    mlp_hidden: int = 32
    mlp_epochs: int = 50
    mlp_lr: float = 1e-3
    progress: bool = True
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.setting is not None:
            check_choice("setting", self.setting, tuple(range(8)))
        check_choice("distance", self.distance, DISTANCES)
        check_choice("source", self.source, ("posteriors", "features"))
        check_choice("shadow_arch", self.shadow_arch, ("gcn", "sage", "gat", "sgc"))
        check_positive("negatives", self.negatives)
        check_positive("max_shadow_edges", self.max_shadow_edges)
        check_positive("mlp_hidden", self.mlp_hidden)
        check_positive("mlp_epochs", self.mlp_epochs)
        check_positive("mlp_lr", self.mlp_lr)
        check_range("negatives", self.negatives, 0.0, 100.0)


def _distances(x: torch.Tensor, pairs: torch.Tensor) -> list[torch.Tensor]:
    """The eight distances for ``pairs``: through k x k matrices when the pairs cover most of
    them, pair by pair otherwise."""
    k = x.shape[0]
    if pairs.shape[1] * 4 >= k * (k - 1) // 2:
        i, j = pairs
        return [pairwise_distance(x, m)[i, j][:, None] for m in DISTANCES]
    return [pair_distance(x, pairs, m)[:, None] for m in DISTANCES]


def _pair_features(
    post: torch.Tensor,
    pairs: torch.Tensor,
    *,
    feats: torch.Tensor | None,
    with_post_ops: bool,
) -> torch.Tensor:
    """Pair features for ``pairs`` (positions into ``post`` / ``feats``)."""
    i, j = pairs
    blocks = _distances(post, pairs)
    ent = entropy(post)[:, None]
    blocks.append(pair_operators(ent[i], ent[j]))
    if with_post_ops:
        blocks.append(pair_operators(post[i], post[j]))
    if feats is not None:
        blocks += _distances(feats, pairs)
    return torch.nan_to_num(torch.cat(blocks, dim=1).float())


class LinkStealing(BaseAttack):
    """The eight link-stealing attacks of He et al. 2021 (unsupervised and supervised)."""

    name = "link-stealing"
    modality = "graph"
    access = Access.BLACK_BOX_SCORES
    paper = "He et al., USENIX Security 2021"
    summary = "links from posterior (and attribute) similarity; 8 knowledge settings"
    Config = LinkStealingConfig
    requires = ("target_nodes",)

    def required_knowledge(self) -> tuple[str, ...]:
        if self.config.setting is None:  # the setting follows the knowledge given
            return tuple(self.requires)
        feats, partial, shadow = NEEDS[self.config.setting]
        return (
            *self.requires,
            *(["known_attributes"] if feats else []),
            *(["partial_edges"] if partial else []),
            *(["auxiliary:graph"] if shadow else []),
        )

    def setting_for(self, gk: GraphKnowledge) -> int:
        have = (gk.has_features, gk.has_partial_graph, gk.has_auxiliary)
        if self.config.setting is None:
            return SETTINGS[have]
        need = NEEDS[self.config.setting]
        names = (
            "known_attributes of the target nodes",
            "extra['partial_edges']",
            "auxiliary (a shadow graph)",
        )
        missing = [n for n, want, got in zip(names, need, have, strict=True) if want and not got]
        if missing:
            raise ConfigError(
                f"link-stealing.config.setting: setting {self.config.setting} needs knowledge."
                f"{', knowledge.'.join(missing)}, which was not given"
            )
        return self.config.setting

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg: LinkStealingConfig = self.config
        gk = GraphKnowledge(knowledge)
        setting = self.setting_for(gk)
        use_f, use_a, use_d = NEEDS[setting]
        dev = devices.attack_device(cfg.device, view)
        post = torch.as_tensor(view(NodeQuery(gk.nodes)), device="cpu").float()
        if post.ndim != 2 or post.shape[0] != gk.k:
            raise ConfigError(
                f"view: expected ({gk.k}, classes) posteriors for the target nodes, got "
                f"{tuple(post.shape)}"
            )
        feats = gk.target_features("this setting compares node attributes") if use_f else None
        k = gk.k
        arrays: dict[str, Any] = {}
        info: dict[str, Any] = {"setting": setting}
        if setting in (0, 2):
            src = post if (setting == 0 or cfg.source == "posteriors") else feats
            assert src is not None
            scores = -pairwise_distance(src, cfg.distance)
            scores.fill_diagonal_(0)
            info.update(distance=cfg.distance, source="posteriors" if src is post else "features")
            return self._result(scores, targets=gk.nodes, arrays=arrays, info=info)

        gen = torch.Generator().manual_seed(seed)
        train_x: list[torch.Tensor] = []
        train_y: list[torch.Tensor] = []
        known = torch.zeros(k, k, dtype=torch.bool, device="cpu")
        with_post_ops = use_a and not use_d
        if use_a:
            pos, neg = gk.partial_pairs()
            if pos.shape[1] == 0:
                raise ConfigError(
                    "knowledge.extra['partial_edges']: none of the known links joins two target "
                    "nodes; the supervised attack has nothing to learn from"
                )
            known[pos[0], pos[1]] = True
            if neg is None:
                n_neg = max(1, round(cfg.negatives * pos.shape[1]))
                neg = sample_pairs(
                    k, n_neg, gen, avoid=known | torch.eye(k, dtype=torch.bool, device="cpu")
                )
            known[neg[0], neg[1]] = True
            known |= known.clone().T
            pairs = torch.cat([pos, neg], dim=1)
            train_x.append(_pair_features(post, pairs, feats=feats, with_post_ops=with_post_ops))
            train_y.append(
                torch.cat(
                    [
                        torch.ones(pos.shape[1], device="cpu"),
                        torch.zeros(neg.shape[1], device="cpu"),
                    ]
                )
            )
            info["partial_pairs"] = {"links": pos.shape[1], "non_links": neg.shape[1]}
            arrays["known_pairs"] = known
        if use_d:
            sx, sy = self._shadow_pairs(knowledge.auxiliary, use_f, gen, seed, dev)
            train_x.append(sx)
            train_y.append(sy)
            info["shadow_pairs"] = int(sy.numel())
        clf = PairClassifier(
            PairClassifierConfig(hidden=cfg.mlp_hidden, epochs=cfg.mlp_epochs, lr=cfg.mlp_lr),
            device=dev,
        ).fit(torch.cat(train_x), torch.cat(train_y), seed=seed)
        all_pairs = triu_pairs(k)
        proba = clf.predict_proba(
            _pair_features(post, all_pairs, feats=feats, with_post_ops=with_post_ops)
        )
        scores = pairs_to_matrix(proba, all_pairs, k)
        arrays["predicted"] = scores > 0.5
        return self._result(scores, targets=gk.nodes, arrays=arrays, info=info)

    def _shadow_pairs(
        self, shadow: Any, use_f: bool, gen: torch.Generator, seed: int, device: Any = "cpu"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Train a shadow GNN on the shadow graph; pair features and labels of its links and
        as many sampled non-links."""
        from mi_graph.data import clean_edge_index
        from mi_graph.models import build_model
        from mi_graph.training import train_node_classifier

        cfg: LinkStealingConfig = self.config
        for name in ("x", "edge_index", "y"):
            if getattr(shadow, name, None) is None:
                raise ConfigError(
                    f"knowledge.auxiliary.{name}: the shadow graph needs it (features, edges and "
                    "labels to train a shadow GNN)"
                )
        n = int(shadow.num_nodes)
        ei = clean_edge_index(shadow.edge_index, n)
        torch.manual_seed(seed)
        model = devices.build(
            lambda: build_model(cfg.shadow_arch, int(shadow.x.shape[1]), int(shadow.y.max()) + 1),
            device,
        )
        train_node_classifier(
            model, shadow, seed=seed, progress=cfg.progress, desc="shadow GNN", device=device
        )
        with torch.no_grad():
            spost = torch.softmax(model(shadow.x.to(device), ei.to(device)), dim=1).cpu()
        und = ei[:, ei[0] < ei[1]]
        if und.shape[1] == 0:
            raise ConfigError("knowledge.auxiliary.edge_index: the shadow graph has no links")
        if und.shape[1] > cfg.max_shadow_edges:
            pick = devices.randperm(und.shape[1], generator=gen, device="cpu")
            pick = pick[: cfg.max_shadow_edges]
            und = und[:, pick]
        adj = torch.zeros(n, n, dtype=torch.bool, device="cpu")
        adj[ei[0], ei[1]] = True
        eye = torch.eye(n, dtype=torch.bool, device="cpu")
        neg = sample_pairs(n, max(1, round(cfg.negatives * und.shape[1])), gen, avoid=adj | eye)
        pairs = torch.cat([und, neg], dim=1)
        feats = shadow.x.float() if use_f else None
        x = _pair_features(spost, pairs, feats=feats, with_post_ops=False)
        y = torch.cat(
            [torch.ones(und.shape[1], device="cpu"), torch.zeros(neg.shape[1], device="cpu")]
        )
        return x, y
