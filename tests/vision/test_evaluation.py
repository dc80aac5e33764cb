"""The image evaluation protocol (issue: figures a researcher can trust): an independent,
calibrated evaluation model, and the manifold rule that tells reconstructions from adversarial
noise."""

import pytest
import torch
from torch import nn

from mi_core.result import AttackResult
from mi_vision.evaluate import ImageEvaluator, leaked_mask, manifold_thresholds
from mi_vision.evaluation_model import (
    EvalModelConfig,
    expected_calibration_error,
    fit_temperature,
    stratified_split,
    train_evaluation_model,
)


class PatchJudge(nn.Module):
    """A toy evaluation model: features are the pixels; the class is read off a 2x2 corner patch
    whose brightness encodes the class. Images can fool it by painting the patch while being far
    from every private image: an adversarial example by construction."""

    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = k

    def features(self, x):
        return x.flatten(1)

    def forward(self, x):
        v = x[:, 0, :2, :2].mean((1, 2))  # in [0, 1]
        centres = (torch.arange(self.k) + 0.5) / self.k
        return -((v[:, None] - centres[None]) ** 2) * 1000


def _private(k=3, n=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    ys = torch.arange(k).repeat_interleave(n)
    x = torch.rand(k * n, 1, 8, 8, generator=g) * 0.1 + (ys[:, None, None, None] + 0.5) / k * 0.8
    x[:, 0, :2, :2] = ((ys + 0.5) / k)[:, None, None]
    return x.clamp(0, 1), ys


def test_manifold_rule_flags_adversarial_patches_and_keeps_real_reconstructions():
    k = 3
    px, py = _private(k)
    y = torch.arange(k).repeat_interleave(4)
    g = torch.Generator().manual_seed(1)
    own = torch.rand(y.numel(), 1, 8, 8, generator=g)  # the attack's starting point: noise
    judge = PatchJudge(k)
    # adversarial: a high-contrast checkerboard (farther from the private images than the noise
    # it started from) whose corner patch is painted with the class code
    board = (torch.arange(8)[:, None] + torch.arange(8)[None]) % 2
    adv = board.float().expand(y.numel(), 1, 8, 8).clone()
    adv[:, 0, :2, :2] = ((y + 0.5) / k)[:, None, None]
    # a real reconstruction: near-copies of private images of the class
    real = torch.stack([px[py == c][i] for c in range(k) for i in range(4)]) + 0.01
    ev = ImageEvaluator(judge, px, py, pixel=False, fid=False)

    def figs(x):
        res = AttackResult("a", "image", "white-box", x, targets=y, arrays={"prior_samples": own})
        return {f.metric: f for f in ev.evaluate(res)}

    fa, fr = figs(adv), figs(real)
    assert fa["eval_top1"].value == 1.0 and fr["eval_top1"].value == 1.0
    assert fa["eval_top1"].on_manifold is False
    assert fa["eval_top1"].leakage.level == "adversarial"
    assert fa["leak_rate"].value < 0.5  # recognised, but no closer than its own noise
    assert fr["eval_top1"].on_manifold is True
    assert fr["leak_rate"].value == 1.0 and fr["leak_rate"].leakage.level == "high"


def test_thresholds_are_per_class_medians_of_the_reference():
    knn = torch.tensor([1.0, 2.0, 3.0, 10.0, 20.0, 30.0, 5.0])
    y = torch.tensor([0, 0, 0, 1, 1, 1, 2])
    th = manifold_thresholds(knn, y)
    assert th == {0: 2.0, 1: 20.0, 2: 5.0}  # class 2 has one sample: the pooled median
    rec, on, leaked = leaked_mask(
        torch.tensor([0, 1, 1]), torch.tensor([0, 1, 0]), torch.tensor([1.5, 25.0, 1.0]), th
    )
    assert rec.tolist() == [True, True, False]
    assert on.tolist() == [True, False, True]
    assert leaked.tolist() == [True, False, False]


def test_stratified_split_keeps_every_class_on_both_sides():
    y = torch.tensor([0] * 10 + [1] * 5 + [2] * 2)
    tr, ho = stratified_split(y, 0.2, seed=0)
    assert set(y[ho].tolist()) == {0, 1, 2} and set(y[tr].tolist()) == {0, 1, 2}
    assert tr.numel() + ho.numel() == y.numel()
    assert not set(tr.tolist()) & set(ho.tolist())


def test_temperature_fixes_an_overconfident_model():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 4, generator=g)
    y = (x[:, 0] + 0.8 * torch.randn(400, generator=g) > 0).long()
    lin = nn.Linear(4, 2)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[-20.0, 0, 0, 0], [20.0, 0, 0, 0]]))
        lin.bias.zero_()
    before = expected_calibration_error(lin, x, y)
    t = fit_temperature(lin, x, y)
    assert t > 3  # over-confident logits get cooled

    class Scaled(nn.Module):
        def forward(self, z):
            return lin(z) / t

    assert expected_calibration_error(Scaled(), x, y) < before / 2


def test_evaluation_model_on_digits_is_accurate_and_calibrated():
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32)[:, None] / 16.0
    y = torch.tensor(d.target)
    model, report = train_evaluation_model(
        x, y, EvalModelConfig(arch="resnet", width=8, epochs=4, augment="noflip"), progress=False
    )
    assert report["heldout_accuracy"] > 0.85
    assert report["ece_after"] <= report["ece_before"] + 0.02
    assert report["temperature"] > 0 and report["heldout_size"] >= 10 * 30
    assert model(x[:4]).shape == (4, 10) and model.features(x[:4]).shape[0] == 4


def test_bad_configs_name_the_field():
    with pytest.raises(Exception, match="arch"):
        EvalModelConfig(arch="vit")
    with pytest.raises(Exception, match="heldout_fraction"):
        EvalModelConfig(heldout_fraction=0.9)
