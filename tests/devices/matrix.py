"""The device matrix: every registered attack, prior-training step and training defense, run for
a step or two on tiny models with an explicit ``device``.

``test_meta_device.py`` runs each entry with ``device="cpu"`` while torch's default device is
``meta``: a tensor or module created without the right device lands on ``meta`` and the run
fails (meta tensors hold no data: mixing them with CPU tensors, reading them or copying them
out raises). ``test_gpu.py`` (the ``gpu`` marker) runs the same entries with ``device="cuda"``.

An entry is ``Entry(name, fixtures, run)``: ``fixtures`` names a builder in :data:`FIXTURES`
(tiny models and data, built once per session on the CPU, outside the meta mode), and
``run(device, fx)`` runs the thing under test on ``device`` and returns what :func:`check`
inspects (an ``AttackResult``, a prior, a trained module). To cover another package, add a
fixtures builder and its entries (:data:`ENTRIES` is the concatenation of the package lists) and
the package's modality to :data:`COVERED`; ``test_every_registered_*`` then holds it to it.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class Entry:
    name: str  # "attack:gmi", "prior:kedmi", "defense:mid"
    fixtures: str
    run: Callable[[str, Any], Any]


@contextlib.contextmanager
def meta_default_device() -> Iterator[None]:
    """Torch's default device is ``meta`` inside the block: factory calls and module
    constructions without an explicit device produce meta tensors."""
    torch.set_default_device("meta")
    try:
        yield
    finally:
        torch.set_default_device(None)


def check(out: Any, device: str) -> None:
    """Results on the CPU and finite; priors and trained modules on ``device``."""
    from mi_core.result import AttackResult
    from mi_vision.priors.prior import GeneratorPrior

    want = torch.device(device).type
    if isinstance(out, AttackResult):
        tensors = {"reconstructions": out.reconstructions, "targets": out.targets}
        tensors.update({"scores": out.scores} if out.scores is not None else {})
        tensors.update({f"arrays[{k}]": v for k, v in out.arrays.items()})
        for name, t in tensors.items():
            if isinstance(t, torch.Tensor):
                assert t.device.type == "cpu", f"{name} is on {t.device}, results live on the CPU"
                if t.is_floating_point():
                    assert bool(torch.isfinite(t).all()), f"{name} holds NaN/inf"
        return
    if isinstance(out, GeneratorPrior):
        assert out.device is not None and out.device.type == want, out.device
        with torch.no_grad():
            x = out.sample(2, torch.Generator().manual_seed(0), labels=_labels(out, want))
        assert x.device.type == want and bool(torch.isfinite(x).all())
        return
    if isinstance(out, torch.nn.Module):
        for name, p in out.named_parameters():
            assert p.device.type == want, f"{name} is on {p.device}, trained on {want}"
            assert bool(torch.isfinite(p).all()), f"{name} holds NaN/inf"
        return
    raise AssertionError(f"nothing to check in a {type(out).__name__}")


def _labels(prior: Any, device: str) -> torch.Tensor | None:
    if prior.num_classes is None:
        return None
    return torch.zeros(2, dtype=torch.long, device=device)


# ------------------------------------------------------------------------------------------------
# vision: a tiny CNN target on 8x8 digits 0-2, public digits 5-9, priors trained for one step


@functools.cache
def vision_fixtures() -> dict[str, Any]:
    from mi_core import TargetInfo, make_view
    from mi_vision.attacks.secretgen import corrupt
    from mi_vision.data import load_digits, split_classes
    from mi_vision.models import SmallCNN
    from mi_vision.priors import GeneratorPrior, train_prior
    from mi_vision.training import TrainConfig, train_classifier

    torch.manual_seed(0)
    x, y = load_digits()
    (px, py), (ux, _) = split_classes(x, y, range(3))
    px, py, ux = px[:60], py[:60], ux[:48]
    target = train_classifier(
        SmallCNN(1, 3, width=4, feature_dim=8), px, py, TrainConfig(epochs=1), progress=False
    )
    info = TargetInfo(modality="image", input_shape=(1, 8, 8), num_classes=3, input_range=(0, 1))
    white = make_view(target, "white-box", info=info)
    tiny = {"steps": 1, "batch_size": 8, "latent_dim": 8, "g_width": 4, "d_width": 4}
    tiny.update(progress=False, top_n=4)
    priors = {
        "gmi": train_prior(ux, {**tiny, "kind": "gmi", "mapping_layers": 2}, seed=0),
        "kedmi": train_prior(ux, {**tiny, "kind": "kedmi"}, target=white, seed=0),
        "plg-mi": train_prior(ux, {**tiny, "kind": "plg-mi"}, target=white, seed=0),
        "lokt": train_prior(ux, {**tiny, "kind": "lokt"}, target=white, seed=0),
    }
    gen = priors["gmi"]
    priors["gmi-z"] = GeneratorPrior.from_networks(
        gen.modules["generator"], gen.discriminator, kind="gmi", space="z"
    )
    first = torch.stack([px[py == c][0] for c in range(3)])
    return {
        "target": target,
        "info": info,
        "private": (px, py),
        "public": ux,
        "tiny_prior": tiny,
        "priors": priors,
        "corrupted": corrupt(first, torch.arange(3)),
        "observed": torch.softmax(torch.randn(4, 3, generator=torch.Generator().manual_seed(1)), 1),
    }


def _knowledge(fx: dict[str, Any], **extra: Any) -> Any:
    from mi_core import Knowledge

    return Knowledge(
        target_labels=[0, 1, 2],
        prior=fx["priors"]["gmi"],  # W space (a mapping network): P-space clipping, W searches
        auxiliary=fx["public"],
        extra={"priors": dict(fx["priors"]), "corrupted": fx["corrupted"], **extra},
    )


def _attack(name: str, config: dict[str, Any], **extra: Any) -> Callable[[str, Any], Any]:
    def run(device: str, fx: dict[str, Any]) -> Any:
        from mi_core import make_view
        from mi_core.registry import get_attack

        cls = get_attack(name)
        view = make_view(fx["target"], cls.access, info=fx["info"])
        attack = cls({**config, "device": device, "progress": False})
        knowledge = _knowledge(fx, **{k: v(fx) if callable(v) else v for k, v in extra.items()})
        return attack.run(view, knowledge, seed=0)

    return run


GAN = {"samples_per_class": 1}
VISION_ATTACKS = [
    ("mi-face", {"max_iter": 2}, {}),
    ("deep-inversion", {"steps": 2, "samples_per_class": 1, "flip": True}, {}),
    ("gmi", {**GAN, "steps": 2, "augment": "standard"}, {}),
    ("kedmi", {**GAN, "steps": 2, "samples": 2}, {}),
    ("plg-mi", {**GAN, "steps": 2, "n_aug": 1}, {}),
    (
        "lomma",
        {
            "base_config": {"steps": 2, "samples": 1, "samples_per_class": 1},
            "distill_epochs": 1,
            "public_samples": 16,
            "student_width": 2,
        },
        {},
    ),
    ("brep-mi", {**GAN, "steps": 2, "points": 4, "init_batch": 8, "init_rounds": 2}, {}),
    (
        "ppa",
        {
            "candidates": 8,
            "samples_per_class": 2,
            "keep": 1,
            "steps": 2,
            "n_aug_init": 1,
            "n_aug_final": 1,
        },
        {},
    ),
    ("mirror-w", {**GAN, "candidates": 8, "steps": 2, "p_samples": 32}, {}),
    (
        "mirror-b",
        {**GAN, "candidates": 8, "population": 4, "elite": 1, "steps": 2, "p_samples": 32},
        {},
    ),
    (
        "rlb-mi",
        {**GAN, "steps": 3, "hidden": 8, "batch_size": 2, "warmup": 1, "final_candidates": 2},
        {},
    ),
    (
        "if-gmi",
        {"samples_per_class": 2, "steps": (1, 1), "candidates": 4, "keep": 1, "n_aug_final": 1},
        {},
    ),
    (
        "lokt",
        {
            **GAN,
            "surrogates": 2,
            "surrogate_samples": 16,
            "surrogate_epochs": 1,
            "student_width": 2,
            "steps": 2,
            "n_aug": 1,
        },
        {},
    ),
    ("vmi", {"samples_per_class": 2, "steps": 2, "samples": 2, "w_samples": 32}, {}),
    ("secretgen", {**GAN, "candidates": 2, "inpaint_steps": 1, "steps": 1}, {}),
    (
        "c2fmi",
        {
            **GAN,
            "public_samples": 16,
            "epochs": 1,
            "hidden": 8,
            "population": 4,
            "coarse_steps": 1,
            "steps": 1,
            "elite": 1,
        },
        {},
    ),
    ("bmi-s", {**GAN, "steps": 1, "points": 2, "candidates": 8}, {}),
    ("dmmia", {**GAN, "steps": 2}, {}),
    (
        "p2i-mi",
        {
            **GAN,
            "train_samples": 16,
            "public_samples": 16,
            "epochs": 1,
            "batch_size": 8,
            "hidden": 8,
            "top_n": 2,
        },
        {},
    ),
    ("inversion-model", {"epochs": 1, "aux_samples": 16, "hidden": 8, "reads": "auto"}, {}),
]

VISION = [
    Entry(f"attack:{name}", "vision", _attack(name, cfg, **extra))
    for name, cfg, extra in VISION_ATTACKS
]
# variants that take other code paths of the same attacks
VISION += [
    Entry(
        "attack:inversion-model (domain alignment)",
        "vision",
        _attack(
            "inversion-model",
            {"epochs": 1, "aux_samples": 16, "hidden": 8, "domain_alignment": True, "truncate": 2},
            observed_outputs=lambda fx: fx["observed"],
        ),
    ),
    Entry(
        "attack:lomma (gmi base, feature term)",
        "vision",
        _attack(
            "lomma",
            {
                "base": "gmi",
                "base_config": {"steps": 2, "samples_per_class": 1},
                "augmented_models": 1,
                "students": ("cnn",),
                "distill_epochs": 1,
                "public_samples": 16,
                "student_width": 2,
            },
        ),
    ),
]


def _prior(kind: str, **over: Any) -> Callable[[str, Any], Any]:
    def run(device: str, fx: dict[str, Any]) -> Any:
        from mi_core import make_view
        from mi_vision.priors import train_prior

        access = {"plg-mi": "white-box", "kedmi": "black-box-scores", "lokt": "label-only"}
        view = make_view(fx["target"], access[kind], info=fx["info"]) if kind in access else None
        cfg = {**fx["tiny_prior"], "kind": kind, "steps": 2, "device": device, **over}
        return train_prior(fx["public"], cfg, target=view, seed=0)

    return run


PRIORS = [
    Entry("prior:gmi", "vision", _prior("gmi", n_critic=1)),
    Entry("prior:gmi (mapping network)", "vision", _prior("gmi", n_critic=1, mapping_layers=2)),
    Entry("prior:dcgan", "vision", _prior("dcgan")),
    Entry("prior:kedmi", "vision", _prior("kedmi")),
    Entry("prior:plg-mi", "vision", _prior("plg-mi")),
    Entry("prior:lokt", "vision", _prior("lokt")),
]


# ------------------------------------------------------------------------------------------------
# mi-defense: training defenses on a tiny MLP (8x8 digits), DP-GNN on a tiny graph


@functools.cache
def defense_fixtures() -> dict[str, Any]:
    from types import SimpleNamespace

    from mi_vision.data import load_digits

    torch.manual_seed(0)
    x, y = load_digits()
    g = torch.Generator().manual_seed(0)
    n = 12
    adj = (torch.rand(n, n, generator=g) < 0.3).float().triu(1)
    edge_index = torch.nonzero(adj + adj.T).T.contiguous()
    graph = SimpleNamespace(
        x=torch.randn(n, 5, generator=g), edge_index=edge_index, y=torch.arange(n) % 2
    )
    return {"x": x[:48], "y": y[:48], "x_public": x[48:96], "y_public": y[48:96], "graph": graph}


def _mlp() -> torch.nn.Module:
    from mi_vision.models import MLP

    with torch.device("cpu"):  # the user's model, built before training on any device
        torch.manual_seed(0)
        return MLP((1, 8, 8), 10, hidden=8, activation="relu")


def _defense(name: str, config: dict[str, Any], **fit: Any) -> Callable[[str, Any], Any]:
    def run(device: str, fx: dict[str, Any]) -> Any:
        from mi_core.registry import get_defense

        defense = get_defense(name)({**config, "device": device})
        kwargs = {"epochs": 1, "batch_size": 16, "progress": False}
        kwargs.update({k: fx[v] for k, v in fit.items()})
        return defense.fit(_mlp(), fx["x"], fx["y"], **kwargs)

    return run


class TinyGCN(torch.nn.Module):
    """``model(x, edge_index) -> logits``: one dense graph convolution and a linear head."""

    def __init__(self, d: int, k: int) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(d, 8)
        self.head = torch.nn.Linear(8, k)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        a = torch.zeros(n, n, device=x.device).index_put(
            (edge_index[0], edge_index[1]), torch.ones(edge_index.shape[1], device=x.device)
        ) + torch.eye(n, device=x.device)
        h = torch.relu(a @ self.lin(x) / a.sum(1, keepdim=True))
        return self.head(h)


def _dp_gnn(device: str, fx: dict[str, Any]) -> Any:
    from mi_core.registry import get_defense

    with torch.device("cpu"):
        torch.manual_seed(0)
        model = TinyGCN(5, 2)
    defense = get_defense("dp-gnn")({"device": device})
    idx = torch.arange(6, device="cpu")
    return defense.fit(model, fx["graph"], idx, epochs=2, progress=False)


def _mc_gpb(device: str, fx: dict[str, Any]) -> Any:
    from mi_core.registry import get_defense

    with torch.device("cpu"):
        torch.manual_seed(0)
        model = TinyGCN(5, 2)
    defense = get_defense("mc-gpb")({"device": device, "layers": ("lin",), "pairs": 8})
    idx = torch.arange(6, device="cpu")
    return defense.fit(
        model, fx["graph"], idx, val_idx=torch.arange(6, 12, device="cpu"), epochs=2, progress=False
    )


DEFENSES = [
    Entry("defense:mid", "defense", _defense("mid", {"bottleneck": 4})),
    Entry("defense:bido", "defense", _defense("bido", {})),
    Entry("defense:negative-label-smoothing", "defense", _defense("negative-label-smoothing", {})),
    Entry(
        "defense:dp-sgd", "defense", _defense("dp-sgd", {"epsilon": None, "noise_multiplier": 1.0})
    ),
    Entry(
        "defense:tl-dmi",
        "defense",
        _defense("tl-dmi", {"pretrain_epochs": 1}, x_public="x_public", y_public="y_public"),
    ),
    Entry("defense:tl-dmi (fisher choice)", "defense", _defense("tl-dmi", {"fisher_samples": 4})),
    Entry("defense:dp-gnn", "defense", _dp_gnn),
    Entry("defense:mc-gpb", "defense", _mc_gpb),
]


# ------------------------------------------------------------------------------------------------
# diffusion priors and the attacks that use them, extraction from generators (mi-vision)

TINY_DIFFUSION = {
    "steps": 1,
    "batch_size": 8,
    "channels": (8, 16),
    "attention": False,
    "warmup": 1,
    "sample_steps": 2,
    "decode_steps": 2,
    "progress": False,
}


@functools.cache
def diffusion_fixtures() -> dict[str, Any]:
    from mi_core import make_view
    from mi_vision.priors.diffusion import train_diffusion_prior

    fx = dict(vision_fixtures())
    labels = make_view(fx["target"], "label-only", info=fx["info"])
    fx["conditional"] = train_diffusion_prior(fx["public"], TINY_DIFFUSION, target=labels)
    fx["unconditional"] = train_diffusion_prior(
        fx["public"], {**TINY_DIFFUSION, "conditional": False}
    )
    return fx


def _diffusion_attack(name: str, config: dict[str, Any]) -> Callable[[str, Any], Any]:
    def run(device: str, fx: dict[str, Any]) -> Any:
        from mi_core import Knowledge, make_view
        from mi_core.registry import get_attack

        cls = get_attack(name)
        view = make_view(fx["target"], cls.access, info=fx["info"])
        knowledge = Knowledge(
            target_labels=[0, 1, 2], prior=fx["conditional"], auxiliary=fx["public"]
        )
        attack = cls({**config, "device": device, "progress": False})
        return attack.run(view, knowledge, seed=0)

    return run


def _extraction(name: str, which: str, config: dict[str, Any]) -> Callable[[str, Any], Any]:
    def run(device: str, fx: dict[str, Any]) -> Any:
        import copy

        from mi_core import Knowledge
        from mi_core.registry import get_attack
        from mi_vision.extraction import generator_view

        cls = get_attack(name)
        prior = fx["priors"]["gmi"] if which == "gan" else fx[which]
        if device != "cpu":  # a white-box generator computes where it lives
            prior = copy.deepcopy(prior).to(device)
        view = generator_view(prior, cls.access)
        attack = cls({**config, "device": device, "progress": False})
        return attack.run(view, Knowledge(), seed=0)

    return run


def _diffusion_prior(**over: Any) -> Callable[[str, Any], Any]:
    def run(device: str, fx: dict[str, Any]) -> Any:
        from mi_core import make_view
        from mi_vision.priors.diffusion import train_diffusion_prior

        labels = make_view(fx["target"], "label-only", info=fx["info"])
        cfg = {**TINY_DIFFUSION, "steps": 2, "device": device, **over}
        target = labels if cfg.get("conditional", True) else None
        return train_diffusion_prior(fx["public"], cfg, target=target, seed=0)

    return run


EXTRACT = {"n_samples": 12, "tiles": 1, "min_size": 2, "threshold": 0.5, "batch": 8}
DIFFUSION = [
    Entry(
        "attack:diffusion-mi",
        "diffusion",
        _diffusion_attack("diffusion-mi", {"samples_per_class": 1, "candidates": 2, "n_aug": 1}),
    ),
    Entry(
        "attack:diff-mi",
        "diffusion",
        _diffusion_attack(
            "diff-mi",
            {
                "samples_per_class": 1,
                "finetune_steps": 1,
                "finetune_batch": 3,
                "finetune_sample_steps": 2,
                "steps": 2,
                "n_aug": 1,
                "top_n": 2,
            },
        ),
    ),
    Entry(
        "attack:diffusion-guidance",
        "diffusion",
        _diffusion_attack("diffusion-guidance", {"samples_per_class": 1, "sample_steps": 2}),
    ),
    Entry(
        "attack:diffusion-extraction",
        "diffusion",
        _extraction("diffusion-extraction", "unconditional", EXTRACT),
    ),
    Entry(
        "attack:diffusion-extraction (conditional)",
        "diffusion",
        _extraction("diffusion-extraction", "conditional", EXTRACT),
    ),
    Entry("attack:gan-extraction", "diffusion", _extraction("gan-extraction", "gan", EXTRACT)),
    Entry(
        "attack:side",
        "diffusion",
        _extraction(
            "side",
            "unconditional",
            {
                **EXTRACT,
                "n_cluster_samples": 16,
                "clusters": 2,
                "pca_dim": 4,
                "classifier_steps": 2,
                "classifier_width": 8,
                "sample_steps": 2,
            },
        ),
    ),
    Entry("prior:diffusion", "diffusion", _diffusion_prior()),
    Entry("prior:diffusion (unconditional)", "diffusion", _diffusion_prior(conditional=False)),
]


# ------------------------------------------------------------------------------------------------
# mi-graph: a small stochastic block model, a GCN trained for a few epochs


@functools.cache
def graph_fixtures() -> dict[str, Any]:
    from mi_graph.attacks.mc_gra import released_outputs
    from mi_graph.data import edge_density, sample_nodes, sbm_graph
    from mi_graph.models import build_model
    from mi_graph.training import TrainConfig, train_node_classifier

    torch.manual_seed(0)
    g = sbm_graph(seed=0)
    gcn = build_model("gcn", g.x.shape[1], 4)
    train_node_classifier(gcn, g, TrainConfig(epochs=3), seed=0, progress=False)
    nodes = sample_nodes(g.num_nodes, 12, seed=1)
    emb, post = released_outputs(gcn, g, nodes)
    shadow = g.subgraph(torch.arange(200, 260))
    return {
        "graph": g,
        "target": gcn,
        "nodes": nodes,
        "density": edge_density(g.edge_index, g.num_nodes),
        "embeddings": emb,
        "posteriors": post,
        "shadow": shadow,
    }


def _graph_attack(name: str, config: dict[str, Any], **know: Any) -> Callable[[str, Any], Any]:
    def run(device: str, fx: dict[str, Any]) -> Any:
        from mi_core.registry import get_attack
        from mi_graph.knowledge import graph_knowledge
        from mi_graph.targets import GraphTarget, graph_view

        cls = get_attack(name)
        g, nodes = fx["graph"], fx["nodes"]
        view = graph_view(GraphTarget(fx["target"], g), cls.access)
        args: dict[str, Any] = {"features": g.x[nodes], "density": fx["density"]}
        for key in know:
            args[key] = {
                "labels": g.y[nodes],
                "embeddings": fx["embeddings"],
                "posteriors": fx["posteriors"],
                "auxiliary": fx["shadow"],
                "partial_edges": g.edge_index[:, :0],
            }[key]
        attack = cls({**config, "device": device, "progress": False})
        return attack.run(view, graph_knowledge(nodes, **args), seed=0)

    return run


GRAPH = [
    Entry("attack:graphmi", "graph", _graph_attack("graphmi", {"epochs": 2}, labels=True)),
    Entry(
        "attack:mc-gra",
        "graph",
        _graph_attack(
            "mc-gra",
            {"epochs": 2, "readout": "chain"},
            labels=True,
            embeddings=True,
            posteriors=True,
        ),
    ),
    Entry(
        "attack:rl-graphmi",
        "graph",
        _graph_attack("rl-graphmi", {"epochs": 2, "samples": 2}, labels=True),
    ),
    Entry(
        "attack:inverse-mapping",
        "graph",
        _graph_attack("inverse-mapping", {"ae_epochs": 1, "finetune_epochs": 1}, auxiliary=True),
    ),
    Entry(
        "attack:link-stealing",
        "graph",
        _graph_attack(
            "link-stealing",
            {"setting": 4, "mlp_epochs": 1, "max_shadow_edges": 50},
            auxiliary=True,
        ),
    ),
    Entry("attack:linkteller", "graph", _graph_attack("linkteller", {})),
]


# ------------------------------------------------------------------------------------------------
# mi-text: untrained tiny models over one small vocabulary (the matrix checks where tensors go)

WORDS = [
    "the",
    "code",
    "of",
    "ann",
    "is",
    "1",
    "2",
    "3",
    "4",
    ".",
    "a",
    "film",
    "was",
    "great",
    "awful",
    "you",
    "are",
    "an",
    "assistant",
]


@functools.cache
def text_fixtures() -> dict[str, Any]:
    from mi_text.inverters import InverterConfig
    from mi_text.models import (
        BagOfWordsEncoder,
        CausalLM,
        SentenceEncoder,
        TextClassifier,
        tiny_gpt2,
    )
    from mi_text.targets import ChatLM, ChatService, PromptedLM, SystemPromptService
    from mi_text.tokenizers import WordTokenizer

    torch.manual_seed(0)
    sentences = [" ".join(WORDS[i : i + 6]) for i in range(0, len(WORDS) - 6)]
    tok = WordTokenizer.fit(sentences + WORDS)

    def lm(seed: int) -> Any:
        return CausalLM(
            tiny_gpt2(tok.vocab_size, n_layer=1, n_embd=16, n_head=2, n_positions=64, seed=seed),
            tok,
        )

    encoder = SentenceEncoder(BagOfWordsEncoder(tok.vocab_size, dim=8, layers=1, seed=0), tok)
    with torch.no_grad():
        leaked = encoder(sentences[:2])
    prompts = ["you are an assistant .", "you are a film assistant ."]
    return {
        "tok": tok,
        "target": lm(0),
        "base": lm(1),
        "clf": TextClassifier(tok, 2, dim=8, seed=0),
        "encoder": encoder,
        "leaked": leaked,
        "sentences": sentences,
        "service": SystemPromptService(PromptedLM(lm(2)), prompts),
        "local": PromptedLM(lm(2)),
        "chat": ChatService(ChatLM(lm(2), "{prompt} {user}", max_new_tokens=2), prompts),
        "chat_local": ChatLM(lm(2), "{prompt} {user}", max_new_tokens=2),
        "prompts": prompts,
        "inverter": InverterConfig(
            unroll=True, chunk=8, d_model=16, heads=2, layers=1, epochs=1, max_length=8
        ),
        "geia": InverterConfig(d_model=16, heads=2, layers=1, epochs=1, max_length=8),
    }


def _fx(fx: dict[str, Any], v: Any) -> Any:
    """A fixture value for ``"fx:name"``, else ``v`` (dict values resolved too)."""
    if isinstance(v, str) and v.startswith("fx:"):
        return fx[v[3:]]
    if isinstance(v, dict):
        return {k: _fx(fx, x) for k, x in v.items()}
    return v


def _text_attack(
    name: str, target: str, config: dict[str, Any], knowledge: dict[str, Any]
) -> Callable[[str, Any], Any]:
    def run(device: str, fx: dict[str, Any]) -> Any:
        import copy

        from mi_core import Knowledge, make_view
        from mi_core.registry import get_attack

        cls = get_attack(name)
        model = fx[target]
        if device != "cpu" and cls.access.value == "white-box":  # computes where it lives
            model = copy.deepcopy(model).to(device)
        post = {} if target in ("clf", "service") else {"postprocess": None}
        view = make_view(model, cls.access, **post)
        import dataclasses

        quiet = (
            {"progress": False}
            if "progress" in {f.name for f in dataclasses.fields(cls.Config)}
            else {}
        )
        attack = cls({**_fx(fx, config), "device": device, **quiet})
        return attack.run(view, Knowledge(**_fx(fx, knowledge)), seed=0)

    return run


def _output2prompt(device: str, fx: dict[str, Any]) -> Any:
    from mi_core import Knowledge
    from mi_text.attacks.output2prompt import Output2Prompt
    from mi_text.targets import chat_view

    attack = Output2Prompt(
        inverter=fx["geia"], outputs=1, reply_tokens=2, beams=1, device=device, progress=False
    )
    k = Knowledge(prior=fx["chat_local"], auxiliary=fx["prompts"], target_labels=[0, 1])
    return attack.run(chat_view(fx["chat"]), k, seed=0)


def _k(**fields: Any) -> dict[str, Any]:
    return fields


SAMPLE = {"n_samples": 2, "max_new_tokens": 2, "batch_size": 2}
TEXT = [
    Entry(
        "attack:perplexity-extraction",
        "text",
        _text_attack(
            "perplexity-extraction",
            "target",
            {**SAMPLE, "ranking": "reference"},
            _k(prior="fx:base"),
        ),
    ),
    Entry(
        "attack:lookahead-extraction",
        "text",
        _text_attack(
            "lookahead-extraction", "target", {**SAMPLE, "lookahead": 1}, _k(prior="fx:base")
        ),
    ),
    Entry(
        "attack:difference-search",
        "text",
        _text_attack(
            "difference-search",
            "target",
            {"beam_width": 2, "max_new_tokens": 2, "starts": 1},
            _k(prior="fx:base"),
        ),
    ),
    Entry(
        "attack:divergence-attack",
        "text",
        _text_attack(
            "divergence-attack",
            "target",
            {
                "words": ("film",),
                "repeats": 2,
                "instruction": "the {words}",
                "samples": 1,
                "max_new_tokens": 2,
                "ngram": 2,
            },
            _k(auxiliary="fx:sentences", extra={"tokenizer": "fx:tok"}),
        ),
    ),
    Entry(
        "attack:pii-prompting",
        "text",
        _text_attack(
            "pii-prompting",
            "target",
            {"shots": 1, "max_new_tokens": 2, "kinds": ("email",)},
            _k(
                target_labels=["ann"],
                auxiliary=[("bob", "email", "a"), ("cid", "email", "b")],
                extra={"tokenizer": "fx:tok"},
            ),
        ),
    ),
    Entry(
        "attack:confidence-search",
        "text",
        _text_attack(
            "confidence-search",
            "clf",
            {"n_tokens": 1, "beam_width": 1},
            _k(
                known_attributes=["the code is"],
                target_labels=[1],
                extra={"candidates": ["1", "2"]},
            ),
        ),
    ),
    Entry(
        "attack:relaxed-token-inversion",
        "text",
        _text_attack(
            "relaxed-token-inversion",
            "clf",
            {"n_tokens": 1, "steps": 2, "restarts": 1},
            _k(
                known_attributes=["the code is"],
                target_labels=[1],
                extra={"candidates": ["1", "2"]},
            ),
        ),
    ),
    Entry(
        "attack:soft-prompt-extraction",
        "text",
        _text_attack(
            "soft-prompt-extraction",
            "target",
            {
                "prompt_tokens": 1,
                "steps": 1,
                "batch_size": 1,
                "trials": 1,
                "suffix_tokens": 2,
                "validation": 0.0,
            },
            _k(
                auxiliary=[("the code of ann is", " 1 ."), ("the code of", " 2 .")],
                target_labels=["the code of ann is"],
            ),
        ),
    ),
    Entry(
        "attack:geia",
        "text",
        _text_attack(
            "geia",
            "encoder",
            {"inverter": "fx:geia", "beams": 1},
            _k(auxiliary="fx:sentences", target_labels="fx:leaked"),
        ),
    ),
    Entry(
        "attack:geia-correction",
        "text",
        _text_attack(
            "geia-correction",
            "encoder",
            {"inverter": "fx:geia", "beams": 1, "rounds": 1, "candidates": 2},
            _k(auxiliary="fx:sentences", target_labels="fx:leaked"),
        ),
    ),
    Entry(
        "attack:keyword-inference",
        "text",
        _text_attack(
            "keyword-inference",
            "encoder",
            {"max_iter": 5, "hidden": 4},
            _k(auxiliary="fx:sentences", target_labels="fx:leaked"),
        ),
    ),
    Entry(
        "attack:two-stage-inversion",
        "text",
        _text_attack(
            "two-stage-inversion",
            "encoder",
            {},
            _k(prior="fx:encoder", auxiliary="fx:sentences", target_labels="fx:leaked"),
        ),
    ),
    Entry(
        "attack:logit-inversion",
        "text",
        _text_attack(
            "logit-inversion",
            "service",
            {"inverter": "fx:inverter", "beams": 1},
            _k(prior="fx:local", auxiliary="fx:prompts", target_labels=[0, 1]),
        ),
    ),
    Entry(
        "attack:logit-bias-inversion",
        "text",
        _text_attack(
            "logit-bias-inversion",
            "service",
            {"inverter": "fx:inverter", "beams": 1, "token_subset": 4},
            _k(prior="fx:local", auxiliary="fx:prompts", target_labels=[0]),
        ),
    ),
    Entry("attack:output2prompt", "text", _output2prompt),
]


FIXTURES: dict[str, Callable[[], dict[str, Any]]] = {
    "vision": vision_fixtures,
    "diffusion": diffusion_fixtures,
    "graph": graph_fixtures,
    "text": text_fixtures,
    "defense": defense_fixtures,
}
ENTRIES: list[Entry] = [*VISION, *PRIORS, *DIFFUSION, *GRAPH, *TEXT, *DEFENSES]
#: modalities whose every registered attack must have an entry (tabular attacks query
#: scikit-learn estimators, or a user's model through its own predict: no torch, no device)
COVERED = ("image", "graph", "text")
#: registered attacks of a covered modality not yet device-aware, with the reason (kept empty:
#: a new attack joins the matrix with its first commit)
PENDING: dict[str, str] = {}


def run_entry(entry: Entry, device: str) -> Any:
    return entry.run(device, FIXTURES[entry.fixtures]())
