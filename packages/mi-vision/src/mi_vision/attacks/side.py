"""SIDE: Surrogate condItional Data Extraction from unconditional diffusion models (Chen et al.,
"Extracting training data from unconditional diffusion models", 2024; survey [38], Sec. IV-B).

Conditional models memorise more than unconditional ones; SIDE gives an unconditional model a
surrogate condition:

1. generate ``n_cluster_samples`` images and cluster them (k-means on a PCA of the pixels) into
   ``clusters`` groups, the surrogate classes;
2. train a time-dependent classifier ``p(cluster | x_t, t)`` on noised copies of those images
   (a small CNN with a sinusoidal timestep embedding);
3. sample every cluster with classifier guidance, ``eps - scale * sqrt(1 - a_t) *
   grad log p(cluster | x_t, t)`` (Dhariwal & Nichol 2021), which pulls generations into the
   dense, memorised modes;
4. filter the guided generations as Carlini et al. (cliques of near-identical images).

Access: white box on the generator (the guidance needs the score network: the view's module is a
:class:`~mi_vision.extraction.GenerativeTarget` holding the :class:`DiffusionPrior`); generated
images are counted as queries. Baseline: as many unfiltered, unguided random samples.
``guidance=0`` with ``min_size=1`` is plain sampling, and the tests check that the attack then
no longer beats it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from mi_core import device as devices
from mi_core.attack import BaseAttack
from mi_core.config import check_positive
from mi_core.errors import ConfigError, NotApplicable
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView
from mi_vision.attacks.diffusion_extraction import filter_cliques
from mi_vision.extraction import (
    ExtractionConfig,
    charge,
    extraction_result_arrays,
    require_generator,
)
from mi_vision.priors.diffusion import DiffusionPrior


@dataclass
class SIDEConfig(ExtractionConfig):
    """Hyper-parameters of SIDE.

    Attributes:
        n_cluster_samples: unguided generations clustered into surrogate classes.
        clusters: number of surrogate classes (k-means).
        pca_dim: PCA components of the pixels before k-means.
        classifier_steps, classifier_lr, classifier_width: the time-dependent classifier.
        guidance: classifier-guidance scale (0 = unguided sampling).
        n_samples: guided generations in all, spread evenly over the clusters.
        sample_steps: DDIM steps of the guided sampler.
    """

    n_cluster_samples: int = 500
    clusters: int = 20
    pca_dim: int = 32
    classifier_steps: int = 300
    classifier_lr: float = 2e-3
    classifier_width: int = 32
    guidance: float = 2.0
    sample_steps: int = 25

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("n_cluster_samples", "clusters", "pca_dim", "classifier_lr", "sample_steps"):
            check_positive(name, getattr(self, name))
        for name in ("classifier_steps", "classifier_width"):
            check_positive(name, getattr(self, name))
        check_positive("guidance", self.guidance, allow_zero=True)
        if self.clusters > self.n_cluster_samples:
            raise ConfigError(
                f"clusters: {self.clusters} clusters need at least as many n_cluster_samples "
                f"({self.n_cluster_samples})"
            )


class TimeClassifier(nn.Module):
    """A small CNN ``(x_t, t) -> logits`` with a sinusoidal timestep embedding added to every
    block (the noise-aware classifier of classifier guidance)."""

    def __init__(self, channels: int, num_classes: int, width: int = 32) -> None:
        super().__init__()
        self.width = width
        self.t_mlp = nn.Sequential(
            nn.Linear(width, width * 2), nn.SiLU(), nn.Linear(width * 2, width * 2)
        )
        self.c1 = nn.Conv2d(channels, width, 3, padding=1)
        self.c2 = nn.Conv2d(width, width * 2, 3, stride=2, padding=1)
        self.c3 = nn.Conv2d(width * 2, width * 2, 3, stride=2, padding=1)
        self.norm1, self.norm2 = nn.GroupNorm(8, width), nn.GroupNorm(8, width * 2)
        self.head = nn.Linear(width * 2, num_classes)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        from diffusers.models.embeddings import get_timestep_embedding

        emb = self.t_mlp(get_timestep_embedding(t.reshape(-1).float(), self.width))
        h = F.silu(self.norm1(self.c1(x)))
        h = F.silu(self.norm2(self.c2(h)) + emb[:, :, None, None])
        h = F.silu(self.c3(h) + emb[:, :, None, None])
        return self.head(h.mean(dim=(2, 3)))


def cluster_images(images: torch.Tensor, k: int, pca_dim: int, seed: int) -> torch.Tensor:
    """k-means cluster ids of ``images`` on a PCA of their pixels (scikit-learn)."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    x = images.flatten(1).double().numpy()
    dim = min(pca_dim, x.shape[0], x.shape[1])
    feats = PCA(n_components=dim, random_state=seed).fit_transform(x)
    ids = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(feats)
    return torch.as_tensor(ids, dtype=torch.long, device="cpu")


class SIDE(BaseAttack):
    """Surrogate-conditional extraction from an unconditional diffusion model."""

    name = "side"
    modality = "image"
    access = Access.WHITE_BOX
    paper = "Chen et al., arXiv 2406.12752 (2024)"
    summary = (
        "extraction from unconditional diffusion: cluster generations, train a time-dependent "
        "classifier, sample under its guidance, filter near-identical cliques"
    )
    Config = SIDEConfig

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg: SIDEConfig = self.config
        require_generator(view, f"attack {self.name!r}")
        prior = getattr(view.module, "prior", None)
        if not isinstance(prior, DiffusionPrior):
            raise NotApplicable(
                f"attack {self.name!r} guides a diffusion model's sampler; this generator is "
                f"{type(prior).__name__}"
            )
        if prior.num_classes is not None and prior.null_class is None:
            raise NotApplicable(
                f"attack {self.name!r} targets unconditional diffusion models; this one is "
                "conditional without a null class (use diffusion-extraction per class)"
            )
        dev = devices.attack_device(cfg.device, view)
        prior.to(dev)
        g = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)

        def generate(n: int, guide=None, labels=None, desc: str = "") -> torch.Tensor:  # type: ignore[no-untyped-def]
            out = []
            for i in tqdm(range(0, n, cfg.batch), desc=desc, disable=not cfg.progress, leave=False):
                m = min(cfg.batch, n - i)
                lab = labels[i : i + m] if labels is not None else None
                gd = None if guide is None else _rows(guide, lab)
                out.append(
                    prior.sample(
                        m, g, None, steps=cfg.sample_steps, sampler="ddim", guide=gd, batch=m
                    )
                )
                charge(view, m)
            return torch.cat(out)

        # 1. surrogate classes
        pool = generate(cfg.n_cluster_samples, desc=f"{self.name} pool")
        ids = cluster_images(pool.cpu(), cfg.clusters, cfg.pca_dim, seed).to(dev)
        # 2. time-dependent classifier on noised pool images (built on the CPU, then moved)
        clf = devices.build(
            lambda: TimeClassifier(pool.shape[1], cfg.clusters, cfg.classifier_width), dev
        )
        opt = torch.optim.Adam(clf.parameters(), lr=cfg.classifier_lr)
        x_pool = pool * 2 - 1
        bs = min(128, x_pool.shape[0])
        acc = []
        # without guidance the classifier would never be used: it is not trained
        steps = cfg.classifier_steps if cfg.guidance > 0 else 0
        for _ in tqdm(
            range(steps),
            desc=f"{self.name} classifier",
            disable=not cfg.progress,
            leave=False,
        ):
            pick = devices.randint(0, x_pool.shape[0], (bs,), generator=g, device=dev)
            t = devices.randint(0, prior.timesteps, (bs,), generator=g, device=dev)
            noise = devices.randn(tuple(x_pool[pick].shape), generator=g, device=dev)
            xt = prior.add_noise(x_pool[pick], noise, t)
            logits = clf(xt, t)
            loss = F.cross_entropy(logits, ids[pick])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            acc.append(float((logits.argmax(1) == ids[pick]).float().mean()))
        clf.eval()
        for p in clf.parameters():
            p.requires_grad_(False)

        # 3. guided sampling of every surrogate class
        def guide(x, t, eps, labels):  # type: ignore[no-untyped-def]
            if cfg.guidance == 0.0:
                return eps
            a = prior.alphas_cumprod[int(t)]
            with torch.enable_grad():
                xg = x.detach().requires_grad_()
                tt = torch.full((x.shape[0],), int(t), device=x.device)
                logp = F.log_softmax(clf(xg, tt), 1).gather(1, labels[:, None]).sum()
                (grad,) = torch.autograd.grad(logp, xg)
            return eps - cfg.guidance * (1 - a).sqrt() * grad

        labels = torch.arange(cfg.n_samples, device=dev) % cfg.clusters
        images = generate(cfg.n_samples, guide=guide, labels=labels, desc=self.name)
        # 4. the same filter as Carlini et al.
        flagged, sizes = filter_cliques(images, cfg)
        unguided = pool  # unguided, unfiltered generations: the baseline
        if len(flagged) > pool.shape[0]:
            unguided = torch.cat([pool, generate(len(flagged) - pool.shape[0], desc="baseline")])
        arrays = extraction_result_arrays(images, flagged)
        arrays["random_samples"] = unguided.clone()
        return self._result(
            images[flagged],
            targets=labels[flagged] if flagged else torch.empty(0, dtype=torch.long, device=dev),
            scores=torch.as_tensor(sizes, dtype=torch.float, device="cpu"),
            arrays=arrays,
            info={
                "generated": int(images.shape[0] + pool.shape[0]),
                "flagged": len(flagged),
                "clique_sizes": sizes,
                "cluster_sizes": torch.bincount(ids.cpu(), minlength=cfg.clusters).tolist(),
                "classifier_accuracy": sum(acc[-20:]) / len(acc[-20:]) if acc else None,
                "guidance": cfg.guidance,
                "baseline": "unguided, unfiltered samples (the clustering pool)",
            },
        )


def _rows(guide, labels):  # type: ignore[no-untyped-def]
    def f(x, t, eps, _):  # type: ignore[no-untyped-def]
        return guide(x, t, eps, labels)

    return f
