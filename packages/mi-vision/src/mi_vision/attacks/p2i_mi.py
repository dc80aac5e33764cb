"""P2I-MI: black-box model inversion via prediction alignment (Liu et al., ECCV 2024; survey
Sec. IV-A-4, [36]).

No latent search. A *prediction alignment encoder* (PAE) ``E`` maps the target's (log)
predictions to the generator's search space (W for a StyleGAN-like prior):

* training, on the attacker's side only: latents ``w`` of the prior and their images ``G(w)``
  are labelled by the target (counted queries); ``E`` learns ``E(f(G(w))) ~ w`` (latent loss)
  and ``G(E(f(x))) ~ x`` on those images and on public images (image loss through the frozen
  generator; the paper adds LPIPS / identity losses of face models);
* attack, *aligned ensemble*: for class ``c`` the public images the target finds most
  confident for ``c`` are taken; each prediction is aligned towards ``c`` (its ``c`` entry
  raised by ``boost``, the others scaled down to keep a distribution), mapped by ``E``, and the
  latents are averaged with the aligned confidence ``p_c`` as weights. The ``top_n`` images of
  a class are split into ``samples_per_class`` groups, one reconstruction each.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from mi_core import device as devices
from mi_core.config import check_positive, check_range
from mi_core.errors import ConfigError
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView
from mi_vision.attacks.inversion_model import InversionNet, batched
from mi_vision.data import ImageSource
from mi_vision.inversion import GANAttackConfig, GANInversion, generate, prior_baseline
from mi_vision.targets import scores_fn


def align_predictions(p: torch.Tensor, classes: torch.Tensor, boost: float) -> torch.Tensor:
    """P2I-MI's alignment: raise ``p_c`` by ``boost`` (up to ``1 - boost`` already there stays)
    and scale the other entries down so the row still sums to 1."""
    pc = p.gather(1, classes[:, None])
    room = (1.0 - pc).clamp_min(1e-12)
    add = torch.where(pc < 1.0 - boost, torch.full_like(pc, boost), torch.zeros_like(pc))
    out = p - add * p / room
    return out.scatter(1, classes[:, None], pc + add)


@dataclass
class P2IMIConfig(GANAttackConfig):
    """Hyper-parameters of P2I-MI (the authors' in brackets).

    Attributes:
        train_samples: prior latents generated and labelled by the target to train the PAE.
        public_samples: public images labelled by the target (PAE image loss; the ensemble).
        epochs, lr, batch_size, hidden: PAE training.
        latent_weight, image_weight: the PAE's latent loss and image loss weights.
        top_n: public images of each class in the ensemble.
        boost: the alignment step [0.035].
    """

    train_samples: int = 2000
    public_samples: int = 2000
    epochs: int = 30
    lr: float = 1e-3
    batch_size: int = 64
    hidden: int = 256
    latent_weight: float = 1.0
    image_weight: float = 1.0
    top_n: int = 16
    boost: float = 0.035

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("train_samples", "public_samples", "lr", "batch_size", "hidden"):
            check_positive(name, getattr(self, name))
        check_positive("epochs", self.epochs, allow_zero=True)  # 0: an untrained encoder
        check_positive("latent_weight", self.latent_weight, allow_zero=True)
        check_positive("image_weight", self.image_weight, allow_zero=True)
        check_positive("top_n", self.top_n)
        check_range("boost", self.boost, 0.0, 1.0)
        if self.top_n < self.samples_per_class:
            raise ConfigError("top_n: each reconstruction averages at least one public image")


class P2IMI(GANInversion):
    """Prediction-to-latent encoder trained on the attacker's side; aligned ensemble, no search."""

    name = "p2i-mi"
    modality = "image"
    access = Access.BLACK_BOX_SCORES
    paper = "Liu et al., ECCV 2024"
    summary = "black-box, no optimisation: prediction-alignment encoder to W, aligned ensemble"
    Config = P2IMIConfig
    default_prior = (("kind", "gmi"), ("mapping_layers", 3))

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg: P2IMIConfig = self.config
        ctx = self._context(view, knowledge, seed)
        prior = ctx.prior
        if prior.num_classes is not None:
            raise ConfigError(
                "knowledge.prior: P2I-MI maps predictions to an unconditional generator"
            )
        aux = knowledge.require("auxiliary", "P2I-MI trains its encoder and ensembles on them")
        src = aux if isinstance(aux, ImageSource) else ImageSource(aux)
        dev = ctx.device
        probs = scores_fn(view, dev)

        def predict(x: torch.Tensor) -> torch.Tensor:
            return batched(lambda b: probs(ctx.to_input(b)), x, 256).float()

        public = src.get(torch.arange(min(len(src), cfg.public_samples), device="cpu")).to(dev)
        w = prior.to_search(prior.sample_z(cfg.train_samples, ctx.rng))
        with torch.no_grad():
            synth = generate(prior, w, torch.zeros(w.shape[0], dtype=torch.long, device=dev))
        s_synth, s_pub = predict(synth), predict(public)
        if tuple(public.shape[1:]) != tuple(synth.shape[1:]):
            raise ConfigError(
                f"knowledge.auxiliary: public images of shape {tuple(public.shape[1:])}, the "
                f"prior generates {tuple(synth.shape[1:])}"
            )
        torch.manual_seed(seed)
        enc = devices.build(
            lambda: InversionNet(s_synth.shape[1], tuple(w.shape[1:]), cfg.hidden, None, "scores"),
            dev,
        )
        opt = torch.optim.Adam(enc.parameters(), lr=cfg.lr)
        n_s, n_p = w.shape[0], public.shape[0]
        for _ in tqdm(range(cfg.epochs), desc="P2I-MI encoder", disable=not cfg.progress):
            perm = devices.randperm(n_s, generator=ctx.rng, device=dev)
            for i in range(0, n_s, cfg.batch_size):
                idx = perm[i : i + cfg.batch_size]
                pidx = devices.randint(0, n_p, (idx.numel(),), generator=ctx.rng, device=dev)
                w_hat = enc(s_synth[idx])
                loss = cfg.latent_weight * F.mse_loss(w_hat, w[idx])
                if cfg.image_weight > 0:
                    x_hat = prior.generate(torch.cat([w_hat, enc(s_pub[pidx])]))
                    x = torch.cat([synth[idx], public[pidx]])
                    loss = loss + cfg.image_weight * F.mse_loss(x_hat, x)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        enc.eval()
        # the aligned ensemble
        latents, rows = [], []
        k = cfg.samples_per_class
        for c in ctx.classes.tolist():
            top = s_pub[:, c].topk(min(cfg.top_n, n_p)).indices
            cls = torch.full((top.numel(),), c, dtype=torch.long, device=dev)
            aligned = align_predictions(s_pub[top], cls, cfg.boost)
            with torch.no_grad():
                w_c = enc(aligned)
            weight = aligned[:, c]
            for group in torch.arange(top.numel(), device=dev).chunk(k):
                wg = weight[group][:, None]
                latents.append((wg * w_c[group].flatten(1)).sum(0) / wg.sum())
                rows.append(c)
        lat = torch.stack(latents).view(len(rows), *w.shape[1:])
        targets = torch.tensor(rows, dtype=torch.long, device=dev)
        images = generate(prior, lat, targets)
        return self._result(
            images,
            targets=targets,
            scores=self._scores(ctx, images, targets),
            arrays={"latents": lat, "prior_samples": prior_baseline(prior, targets, seed)},
            info={
                "prior": repr(prior),
                "classes": ctx.classes.tolist(),
                "training_queries": int(n_s + n_p),
            },
        )
