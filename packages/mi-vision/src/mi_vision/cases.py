"""Built-in audit cases for images (targets that install offline; see ``mi list cases``)."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from mi_core.audit.case import AuditCase, CellDefaults
from mi_core.io import load_state_dict, save_state_dict
from mi_core.metrics.base import Figure
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetInfo, TargetView
from mi_vision.data import load_digits, train_test_split
from mi_vision.evaluate import ImageEvaluator
from mi_vision.evaluation_model import EvalModelConfig, load_or_train_evaluation_model
from mi_vision.models import SmallCNN, SoftmaxRegression
from mi_vision.training import TrainConfig, accuracy, train_classifier


def _artifacts(workdir: Path, case: str) -> Path:
    """Where a built-in case keeps its seeded target and evaluation-model weights: its work
    folder, or ``$MI_CASE_CACHE/<case>`` when that is set (processes that build the same case
    share them, e.g. the test suite's audits, their Ray workers and CLI subprocesses; the
    weights depend only on the case and the seed, so sharing changes no number)."""
    shared = os.environ.get("MI_CASE_CACHE")
    if not shared:
        return workdir
    path = Path(shared) / case
    path.mkdir(parents=True, exist_ok=True)
    return path


def _cached(model: nn.Module, path: Path, train: Any, device: Any = "cpu") -> nn.Module:
    """Load ``model``'s weights from ``path`` (safetensors) or train and save them, on
    ``device`` (the weights file is the same from any device)."""
    model.to(device)
    if path.exists():
        model.load_state_dict(load_state_dict(path))
        return model.eval()
    train(model)
    save_state_dict(path, model.state_dict())
    return model.eval()


class DigitsSoftmaxCase(AuditCase):
    """8x8 digits (sklearn), softmax-regression target; a CNN evaluation model judges the
    reconstructions. The MI-Face setting of Fredrikson et al. 2015 at digit scale."""

    name = "digits-softmax"
    modality = "image"
    description = "softmax regression on sklearn's 8x8 digits (MI-Face setting)"
    default_cells = (CellDefaults("mi-face", "white-box", {"max_iter": 3000, "gamma": 0.0}),)
    #: the demo compares MI-Face on a target retrained with MID (survey Eq. 13)
    default_defenses = (("mid", {"beta": 0.1, "bottleneck": 16}),)
    #: training of the target (also under a training defense)
    train_config = TrainConfig(epochs=60, lr=1e-2)

    def prepare(self, workdir: Path, seed: int) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        x, y = load_digits()
        (self.x_train, self.y_train), (self.x_test, self.y_test) = train_test_split(
            x, y, 0.25, seed
        )
        torch.manual_seed(seed)
        self.model = _cached(
            SoftmaxRegression((1, 8, 8), 10),
            _artifacts(workdir, self.name) / f"target-seed{seed}.safetensors",
            lambda m: train_classifier(
                m,
                self.x_train,
                self.y_train,
                self.train_config,
                seed=seed,
                desc="target",
            ),
            self.torch_device(),
        )
        self.eval_model, self.eval_report = load_or_train_evaluation_model(
            _artifacts(workdir, self.name) / f"eval-seed{seed}.safetensors",
            self.x_train,
            self.y_train,
            EvalModelConfig(arch="cnn", width=16, epochs=40, augment="noflip", seed=seed + 1),
            progress=False,
        )
        self.seed = seed

    def target(self) -> nn.Module:
        return self.model

    def target_info(self) -> TargetInfo:
        return TargetInfo(
            modality="image", input_shape=(1, 8, 8), num_classes=10, input_range=(0.0, 1.0)
        )

    def provides(self, access: Access) -> set[str]:
        return {"target_labels"}

    def knowledge(self, access: Access) -> Knowledge:
        return Knowledge(target_labels=list(range(10)))

    def evaluate(self, result: AttackResult) -> list[Figure]:
        ev = ImageEvaluator(self.eval_model, self.x_train, self.y_train, seed=self.seed)
        return ev.evaluate(result)

    def with_defense(self, defense: Any, workdir: Path, seed: int) -> DigitsSoftmaxCase:
        """A copy whose target is retrained under a training defense (``defense.fit(module, x,
        y, ...)``, as mi-defense's training defenses provide); the evaluation model is shared."""
        if defense.kind.value != "training" or not hasattr(defense, "fit"):
            return super().with_defense(defense, workdir, seed)  # raises NotApplicable
        cfg = self.train_config
        torch.manual_seed(seed)
        model = defense.fit(
            SoftmaxRegression((1, 8, 8), 10),
            self.x_train,
            self.y_train,
            epochs=cfg.epochs,
            lr=cfg.lr,
            batch_size=cfg.batch_size,
            seed=seed,
            progress=False,
        )
        out = copy.copy(self)
        out.model = model.eval()
        return out

    def utility(self, view: TargetView | None = None) -> dict[str, float]:
        """Test accuracy of the target, or of what a defended view releases."""
        return _test_accuracy(self.model, view, self.x_test, self.y_test)


#: priors whose training distils the target (retrained when a defense retrains the target)
TARGET_PRIORS = ("kedmi", "plg-mi")


class DigitsGANCase(AuditCase):
    """The GMI protocol at digit scale: sklearn's 8x8 digits 0-4 are private (a small CNN
    target; a ResNet evaluation model), digits 5-9 are public and train three tiny GAN priors
    (WGAN-GP with a mapping network, KEDMI's and PLG-MI's). Attacks get the general prior (in Z)
    as ``knowledge.prior``, the priors their access allows in ``knowledge.extra["priors"]``
    (the target-trained KEDMI and PLG-MI priors at white-box only) and the public images as
    ``knowledge.auxiliary``."""

    name = "digits-gan"
    modality = "image"
    description = "small CNN on digits 0-4; GAN priors trained on digits 5-9 (GMI protocol)"
    default_cells = (
        CellDefaults("gmi", "white-box", {"steps": 200, "samples_per_class": 4}),
        CellDefaults("brep-mi", "label-only", {"steps": 150, "samples_per_class": 2}),
        CellDefaults("mirror-b", "black-box-scores", {"steps": 20, "population": 16, "elite": 2}),
    )
    #: the demo's defense: negative label smoothing (Struppek et al. 2024) at the strength that
    #: lowered GMI and KEDMI in the defense benchmark at under a point of accuracy
    default_defenses = (("negative-label-smoothing", {"alpha": -0.2}),)

    #: prior training of each kind (tiny networks, a few hundred steps)
    PRIORS: ClassVar[dict[str, dict[str, Any]]] = {
        "gmi": {"kind": "gmi", "steps": 300, "n_critic": 2, "mapping_layers": 2},
        "kedmi": {"kind": "kedmi", "steps": 300},
        "plg-mi": {"kind": "plg-mi", "steps": 200, "top_n": 50, "augment": "noflip"},
    }

    def prepare(self, workdir: Path, seed: int) -> None:
        from mi_vision.data import split_classes

        workdir.mkdir(parents=True, exist_ok=True)
        x, y = load_digits()
        (px, py), (ux, _) = split_classes(x, y, range(5))
        (self.x_train, self.y_train), (self.x_test, self.y_test) = train_test_split(
            px, py, 0.2, seed
        )
        self.public = ux
        torch.manual_seed(seed)
        self.model = _cached(
            SmallCNN(1, 5, width=8, feature_dim=32),
            _artifacts(workdir, self.name) / f"target-seed{seed}.safetensors",
            lambda m: train_classifier(
                m,
                self.x_train,
                self.y_train,
                TrainConfig(epochs=8, lr=3e-3),
                seed=seed,
                desc="target",
            ),
            self.torch_device(),
        )
        self.eval_model, self.eval_report = load_or_train_evaluation_model(
            _artifacts(workdir, self.name) / f"eval-seed{seed}.safetensors",
            self.x_train,
            self.y_train,
            EvalModelConfig(arch="resnet", width=8, epochs=8, augment="noflip", seed=seed + 1),
            progress=False,
        )
        self.priors = self._train_priors(workdir, seed, tuple(self.PRIORS))
        gen = self.priors["gmi"]
        # the baseline of every attack: unoptimised samples of the general (public) prior
        self.baseline = gen.sample(1000, torch.Generator().manual_seed(seed + 17)).cpu()
        self.seed = seed

    def _train_priors(self, workdir: Path, seed: int, kinds: tuple[str, ...]) -> dict[str, Any]:
        """Train (or load) the priors of ``kinds``; KEDMI's and PLG-MI's use the target."""
        from mi_core.views import make_view
        from mi_vision.priors import GeneratorPrior, load_or_train_prior

        white = make_view(self.model, "white-box", info=self.target_info())
        common = {"lr": 1e-3, "g_width": 16, "d_width": 16, "latent_dim": 16, "progress": False}
        common["device"] = str(self.torch_device())  # where the target is
        priors: dict[str, Any] = {}
        for kind in kinds:
            priors[kind] = load_or_train_prior(
                workdir / f"prior-{kind}-seed{seed}",
                self.public,
                {**common, **self.PRIORS[kind]},
                target=white if kind in TARGET_PRIORS else None,
                seed=seed,
            )
        if "gmi" in priors:
            gen = priors["gmi"]
            priors["gmi-z"] = GeneratorPrior.from_networks(
                gen.modules["generator"], gen.discriminator, kind="gmi", space="z"
            )
        return priors

    def with_defense(self, defense: Any, workdir: Path, seed: int) -> DigitsGANCase:
        """A copy whose target is retrained under a training defense (``defense.fit``); the
        priors that distil the target (KEDMI, PLG-MI) are retrained against the defended
        target, the public GMI prior and the evaluation model are shared."""
        if defense.kind.value != "training" or not hasattr(defense, "fit"):
            return super().with_defense(defense, workdir, seed)  # raises NotApplicable
        workdir.mkdir(parents=True, exist_ok=True)
        out = copy.copy(self)
        # retrained, not cached: a defense may change the architecture (MID's bottleneck)
        torch.manual_seed(seed)
        model = defense.fit(
            SmallCNN(1, 5, width=8, feature_dim=32),
            self.x_train,
            self.y_train,
            epochs=8,
            lr=3e-3,
            seed=seed,
            progress=False,
        )
        out.model = model.eval()
        out.priors = {**self.priors, **out._train_priors(workdir, seed, TARGET_PRIORS)}
        return out

    def target(self) -> nn.Module:
        return self.model

    def target_info(self) -> TargetInfo:
        return TargetInfo(
            modality="image", input_shape=(1, 8, 8), num_classes=5, input_range=(0.0, 1.0)
        )

    def provides(self, access: Access) -> set[str]:
        return {"target_labels", "prior", "priors", "auxiliary"}

    def knowledge(self, access: Access) -> Knowledge:
        """White-box cells get every prior; weaker cells only the general (public) ones:
        KEDMI's and PLG-MI's priors were trained through the white-box target, uncounted, so
        they would hand a label-only or black-box attacker what its access does not release.
        An attack that needs such a prior there trains it from ``knowledge.auxiliary`` through
        its own view, and those queries are charged to the cell. SecretGen gets the first
        private training image of each class with its centre masked."""
        from mi_vision.attacks.secretgen import corrupt

        priors = dict(self.priors)
        if Access.parse(access) is not Access.WHITE_BOX:
            priors = {k: p for k, p in priors.items() if k not in TARGET_PRIORS}
        first = torch.stack([self.x_train[self.y_train == c][0] for c in range(5)])
        return Knowledge(
            target_labels=list(range(5)),
            prior=self.priors["gmi-z"],
            auxiliary=self.public,
            extra={"priors": priors, "corrupted": corrupt(first, torch.arange(5))},
        )

    def evaluate(self, result: AttackResult) -> list[Figure]:
        """Figures beside the attack's own unoptimised prior samples, with the general prior's
        samples (the same for every attack) in each figure's ``details["general"]``."""
        ev = ImageEvaluator(
            self.eval_model,
            self.x_train,
            self.y_train,
            baseline=self.baseline,
            baseline_name="general prior samples",
            seed=self.seed,
        )
        return ev.evaluate(result)

    def utility(self, view: TargetView | None = None) -> dict[str, float]:
        """Test accuracy of the target, or of what a defended view releases."""
        return _test_accuracy(self.model, view, self.x_test, self.y_test)


def _test_accuracy(
    model: nn.Module, view: TargetView | None, x: torch.Tensor, y: torch.Tensor
) -> dict[str, float]:
    if view is None:
        return {"test_accuracy": accuracy(model, x, y)}
    pred = torch.as_tensor(view(x))
    pred = pred.argmax(1) if pred.ndim == 2 else pred
    return {"test_accuracy": float((pred == y).float().mean())}
