"""MC-GPB: the Markov-chain graph privacy bottleneck (training defense for GNNs).

Zhou et al., "On strengthening and defending graph reconstruction attack with Markov chain
approximation", ICML 2023 (survey [47], Sec. VI-B): train the GNN ``A -> H^1 -> ... -> H^L -> Y``
so that its representations forget the adjacency while the output keeps the labels,

    min  CE(H^L, Y)                                   keep I(H^L; Y)
       + sum_l beta_l     D(H^l[u], H^l[v])           lower I(A; H^l): linked nodes' (u, v)
                                                      representations made independent
       + sum_l gamma_l    D(H^l, H^(l+1))             complexity between layers
       with the adjacency made stochastic (each training edge dropped with ``edge_drop``),

where ``D`` is a dependence measure: linear CKA (default) or linear HSIC, as in the reference
code, which also offers KDE and dot products. The privacy term is computed, as the reference
does, on ``pairs`` linked node pairs drawn each step (the defender's own graph); the
inter-layer term on ``pairs`` nodes. Differences from the reference: the edges are dropped anew
every epoch (the reference drops them once before training) and the model kept is the one of the
lowest validation loss (the reference picks, among epochs within 0.05 test accuracy of an
undefended model, the one whose layers give the lowest link AUC against the true graph).

Opacus-style: ``wrap(module, optimizer)`` hooks the layers whose outputs are the node
representations; after each forward on the (perturbed) graph, ``penalty(edge_index)`` is the
term to add to the loss. ``fit(model, graph, train_idx, ...)`` is that loop, end to end. The
model is PyG-style, ``model(x, edge_index) -> logits``; its representation layers are its
message-passing modules (anything with ``propagate`` and ``message``) unless named with
``layers=``. The output logits count as the last representation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from mi_core import device as devices
from mi_core.config import check_choice, check_positive, check_range
from mi_core.defense import TrainingDefense
from mi_core.errors import ConfigError
from mi_defense.training._common import Capture

MEASURES = ("cka", "hsic")


@dataclass
class MCGPBConfig:
    """Attributes:
    edge_drop: probability that a training edge is dropped (each epoch): the stochastic
        adjacency (reference ``--aug_pe``, 0.18 on Cora).
    privacy_weights: ``beta_l`` for each representation (hidden layers, then the output);
        one value is used for every layer (reference on Cora: 1.3 1.3 1.7).
    inter_weights: ``gamma_l`` between consecutive representations; one value for all
        (reference on Cora: 1.4 1.5).
    pairs: linked pairs (and nodes) drawn per step for the dependence terms (reference: 1000).
    measure: ``"cka"`` (linear CKA, scale-free) or ``"hsic"`` (linear HSIC).
    layers: names of the sub-modules whose outputs are the representations; None: the
        model's message-passing layers.
    warmup: epochs over which the penalty's weight rises linearly from 0 to 1 (ours: without it
        the penalty can pin the GNN at chance accuracy before it learns the classes); the model
        kept is the lowest validation loss among epochs after the warm-up.
    device: where to train: ``auto`` (CUDA when present, else the CPU), ``cpu``, ``cuda`` or
        ``cuda:N``; the module is moved there and stays there (edges and pairs are drawn on the
        CPU with the seeded generator, then moved).
    """

    edge_drop: float = 0.2
    privacy_weights: tuple[float, ...] = (0.5,)
    inter_weights: tuple[float, ...] = (0.5,)
    pairs: int = 1000
    measure: Literal["cka", "hsic"] = "cka"
    layers: tuple[str, ...] | None = None
    warmup: int = 50
    device: str = "auto"

    def __post_init__(self) -> None:
        devices.check_device(self.device)
        check_range("edge_drop", self.edge_drop, 0.0, 1.0)
        if self.edge_drop >= 1.0:
            raise ConfigError(f"edge_drop: must be < 1 (1 drops every edge), got {self.edge_drop}")
        for name in ("privacy_weights", "inter_weights"):
            ws = tuple(getattr(self, name))
            if not ws:
                raise ConfigError(f"{name}: give at least one weight (one value = every layer)")
            for w in ws:
                check_positive(name, w, allow_zero=True)
            setattr(self, name, ws)
        check_positive("pairs", self.pairs)
        check_choice("measure", self.measure, MEASURES)
        check_positive("warmup", self.warmup, allow_zero=True)
        if self.layers is not None:
            self.layers = tuple(self.layers)
            if not self.layers:
                raise ConfigError("layers: name at least one sub-module, or None for auto")


def linear_hsic(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Linear HSIC between paired rows of ``a`` (n, p) and ``b`` (n, q):
    ``tr(K H L H) / n^2`` with ``K = a a^T``, ``L = b b^T``, computed as
    ``||a_c^T b_c||_F^2 / n^2`` (centred columns; O(n p q), no n x n Gram matrix)."""
    a = a.flatten(1).float()
    b = b.flatten(1).float()
    n = a.shape[0]
    ac, bc = a - a.mean(0), b - b.mean(0)
    return (ac.T @ bc).pow(2).sum() / (n * n)


def linear_cka(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Linear CKA (Kornblith et al. 2019): HSIC normalised to ``[0, 1]``, scale-free."""
    num = linear_hsic(a, b)
    den = (linear_hsic(a, a) * linear_hsic(b, b)).clamp_min(1e-24).sqrt()
    return num / den


def _message_passing_layers(module: nn.Module) -> list[str]:
    return [
        name
        for name, sub in module.named_modules()
        if name and hasattr(sub, "propagate") and hasattr(sub, "message")
    ]


class MCGPB(TrainingDefense):
    """Markov-chain graph privacy bottleneck (Zhou et al., ICML 2023)."""

    name = "mc-gpb"
    modalities = ("graph",)
    paper = "Zhou et al., ICML 2023 (MC-GPB, survey [47])"
    summary = (
        "train the GNN so linked nodes' representations are independent, with a stochastic "
        "adjacency, keeping the labels"
    )
    Config = MCGPBConfig

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self._capture: Capture | None = None
        self.layer_names: list[str] = []
        self.history: list[dict[str, float]] = []

    def wrap(self, module: nn.Module, optimizer: Any, data_loader: Any = None) -> tuple[Any, ...]:
        """Hook the representation layers of ``module`` (returned unchanged with the optimizer
        and loader); call :meth:`penalty` after each forward pass."""
        names = list(self.config.layers or _message_passing_layers(module))
        if not names:
            raise ConfigError(
                "layers: the model has no message-passing layer (a module with propagate() and "
                "message()); name the sub-modules whose outputs are the node representations, "
                "e.g. MCGPB(layers=('conv1', 'conv2'))"
            )
        if self._capture is not None:
            self._capture.remove()
        self._capture = Capture(module, names)
        self.layer_names = names
        return module, optimizer, data_loader

    def perturb(self, edge_index: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The stochastic adjacency: each undirected edge kept with ``1 - edge_drop``."""
        ei = torch.as_tensor(edge_index, dtype=torch.long, device="cpu")
        if self.config.edge_drop == 0 or ei.shape[1] == 0:
            return ei
        u, v = ei
        lo, hi = torch.minimum(u, v), torch.maximum(u, v)
        n = int(ei.max()) + 1
        key, inverse = torch.unique(lo * n + hi, return_inverse=True)
        keep = torch.rand(key.numel(), generator=generator, device="cpu") >= self.config.edge_drop
        return ei[:, keep[inverse]]

    def _weight(self, weights: tuple[float, ...], i: int) -> float:
        return weights[i] if len(weights) > 1 else weights[0]

    def penalty(
        self, output: torch.Tensor, edge_index: torch.Tensor, generator: torch.Generator
    ) -> torch.Tensor:
        """Privacy + inter-layer terms of the last forward pass (``output``: its logits) on the
        graph ``edge_index``, from ``pairs`` edges / nodes drawn with ``generator``."""
        if self._capture is None:
            raise ConfigError("mc-gpb: call wrap(model, optimizer) before penalty(...)")
        cfg = self.config
        reps = [self._capture.outputs[n] for n in self.layer_names if n in self._capture.outputs]
        if not reps:
            raise ConfigError(
                f"layers: none of {self.layer_names} ran in the last forward pass; call the "
                "model before penalty(...)"
            )
        if reps[-1] is not output:
            reps.append(output)
        n_layers = len(reps)
        for name, ws, need in (
            ("privacy_weights", cfg.privacy_weights, n_layers),
            ("inter_weights", cfg.inter_weights, n_layers - 1),
        ):
            if len(ws) > 1 and len(ws) != need:
                raise ConfigError(
                    f"{name}: {len(ws)} weights for {need} representations (layers "
                    f"{self.layer_names} + the output); give {need} or one for all"
                )
        measure = linear_cka if cfg.measure == "cka" else linear_hsic
        ei = torch.as_tensor(edge_index, dtype=torch.long, device="cpu")
        total = output.new_zeros(())
        if ei.shape[1] > 0:
            pick = torch.randint(0, ei.shape[1], (cfg.pairs,), generator=generator, device="cpu")
            u, v = ei[:, pick].to(output.device)
            for i, h in enumerate(reps):
                w = self._weight(cfg.privacy_weights, i)
                if w > 0:
                    total = total + w * measure(h[u], h[v])
        nodes = torch.randint(0, output.shape[0], (cfg.pairs,), generator=generator, device="cpu")
        nodes = nodes.to(output.device)
        for i in range(n_layers - 1):
            w = self._weight(cfg.inter_weights, i)
            if w > 0:
                total = total + w * measure(reps[i][nodes], reps[i + 1][nodes])
        return total

    def fit(
        self,
        model: nn.Module,
        graph: Any,
        train_idx: torch.Tensor,
        *,
        val_idx: torch.Tensor | None = None,
        epochs: int = 200,
        lr: float = 0.01,
        weight_decay: float = 5e-4,
        seed: int = 0,
        progress: bool = True,
    ) -> nn.Module:
        """Train ``model`` on the labelled nodes ``train_idx`` of ``graph`` (``x``,
        ``edge_index``, ``y``) with the MC-GPB loss; with ``val_idx``, keep the weights of the
        lowest validation loss (on the unperturbed graph) after the warm-up."""
        check_positive("epochs", epochs)
        for attr in ("x", "edge_index", "y"):
            if getattr(graph, attr, None) is None:
                raise ConfigError(f"graph.{attr}: mc-gpb trains on a graph with x, edge_index, y")
        dev = devices.get_device(self.config.device, "mc-gpb.config.device")
        model.to(dev)
        x, edge_index, y = graph.x.to(dev), graph.edge_index.to(dev), graph.y.to(dev)
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
        model, opt, _ = self.wrap(model, opt)
        idx = torch.as_tensor(train_idx, dtype=torch.long, device=dev)
        vidx = None if val_idx is None else torch.as_tensor(val_idx, dtype=torch.long, device=dev)
        best, best_state = float("inf"), None
        self.history = []
        try:
            warm = self.config.warmup
            for epoch in tqdm(range(epochs), desc=self.name, disable=not progress, leave=False):
                model.train()
                ei = self.perturb(graph.edge_index, gen).to(dev)
                opt.zero_grad(set_to_none=True)
                out = model(x, ei)
                ce = F.cross_entropy(out[idx], y[idx])
                reg = self.penalty(out, ei, gen)
                ramp = min(1.0, (epoch + 1) / warm) if warm else 1.0
                (ce + ramp * reg).backward()
                opt.step()
                row = {"ce": float(ce.detach()), "penalty": float(reg.detach())}
                if vidx is not None and epoch + 1 >= min(warm, epochs):
                    model.eval()
                    with torch.no_grad():
                        out = model(x, edge_index)
                        val = float(F.cross_entropy(out[vidx], y[vidx]))
                    row["val_loss"] = val
                    if val < best:
                        best = val
                        best_state = {k: t.detach().clone() for k, t in model.state_dict().items()}
                self.history.append(row)
        finally:
            if self._capture is not None:
                self._capture.remove()
                self._capture = None
        if best_state is not None:
            model.load_state_dict(best_state)
        return model.eval()
