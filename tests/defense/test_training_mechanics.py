"""Training defenses: the losses of the papers, the wrapping of the user's objects, and the errors
for bad input (BatchNorm under DP-SGD, epsilon <= 0, a module without a head)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mi_core import ConfigError
from mi_defense.training._common import find_head, param_layers
from mi_defense.training.bido import BiDO
from mi_defense.training.dependence import coco, gaussian_kernel, linear_kernel, normalized_hsic
from mi_defense.training.dp_gnn import DPGNN
from mi_defense.training.dp_sgd import DPSGD
from mi_defense.training.label_smoothing import NegativeLabelSmoothing, smoothed_cross_entropy
from mi_defense.training.mid import MID, VIBHead
from mi_defense.training.tl_dmi import TLDMI, fisher_information, layers_to_freeze


def mlp(seed=0, d=16, k=4):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(d, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, k)
    )


def blobs(n=256, d=16, k=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, k, (n,), generator=g)
    centers = torch.randn(k, d, generator=g) * 2
    return centers[y] + torch.randn(n, d, generator=g), y


def test_label_smoothing_loss_is_eq_16():
    logits = torch.randn(5, 3)
    y = torch.tensor([0, 1, 2, 1, 0])
    a = -0.1
    soft = (1 - a) * F.one_hot(y, 3).float() + a / 3  # Eq. 15
    expected = -(soft * F.log_softmax(logits, 1)).sum(1).mean()
    assert torch.allclose(smoothed_cross_entropy(logits, y, a), expected)
    assert torch.allclose(smoothed_cross_entropy(logits, y, 0.0), F.cross_entropy(logits, y))


def test_negative_smoothing_ramps_alpha():
    d = NegativeLabelSmoothing(alpha=-0.2, warmup=0.5)
    d.start_epoch(0, 10)
    assert d.current_alpha == pytest.approx(-0.04)
    d.start_epoch(7, 10)
    assert d.current_alpha == pytest.approx(-0.2)


def test_mid_replaces_the_head_and_adds_the_kl():
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    mid = MID(beta=0.1, bottleneck=8)
    model, opt, _ = mid.wrap(model, opt, None)
    assert isinstance(model[4], VIBHead)
    assert any(p is model[4].encoder.weight for g in opt.param_groups for p in g["params"])
    x, y = blobs(32)
    model.train()
    loss = mid.loss(model(x), y, x)
    assert loss > F.cross_entropy(model(x), y) - 1e-6 and model[4].kl > 0
    model.eval()
    assert torch.equal(model(x), model(x))  # the released model answers with the code's mean


def test_head_is_found_or_named():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Linear(4, 8)
            self.fc = nn.Linear(8, 2)

    assert find_head(Net())[1] == "fc"
    with pytest.raises(ConfigError, match=r"no nn\.Linear layer"):
        find_head(nn.Sequential(nn.Conv2d(1, 2, 3)))
    with pytest.raises(ConfigError, match=r"not an nn\.Linear"):
        find_head(Net(), "body.weight")


def test_dependence_measures():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 5, generator=g)
    k = gaussian_kernel(x)
    assert normalized_hsic(k, k) == pytest.approx(1.0, abs=1e-5)
    indep = normalized_hsic(k, gaussian_kernel(torch.randn(64, 5, generator=g)))
    dep = normalized_hsic(k, gaussian_kernel(2 * x + 0.1 * torch.randn(64, 5, generator=g)))
    assert indep < 0.15 < 0.8 < dep
    y = F.one_hot(torch.randint(0, 3, (64,), generator=g), 3).float()
    assert coco(k, linear_kernel(y)) > 0


def test_bido_captures_hidden_layers_and_needs_inputs():
    model = mlp()
    bido = BiDO(lambda_x=0.1, lambda_y=1.0)
    bido.wrap(model, None, None)
    x, y = blobs(32)
    out = model(x)
    assert set(bido.capture.outputs) == {"0", "2"}
    assert torch.isfinite(bido.loss(out, y, x))
    with pytest.raises(ConfigError, match="needs the batch inputs"):
        bido.loss(out, y)
    bido.remove()
    with pytest.raises(ConfigError, match="not a sub-module"):
        BiDO(layers=("nope",)).wrap(model, None, None)


def test_dp_sgd_refuses_batchnorm_and_names_the_fix():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(36, 2))
    x, y = torch.rand(32, 1, 5, 5), torch.randint(0, 2, (32,))
    with pytest.raises(ConfigError, match=r"BatchNorm.*GroupNorm.*ModuleValidator\.fix"):
        DPSGD(epsilon=4.0).fit(model, x, y, epochs=1, progress=False)
    fixed = DPSGD(epsilon=4.0, fix_module=True).fit(model, x, y, epochs=1, progress=False)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fixed.modules())


@pytest.mark.parametrize("eps", [0.0, -2.0])
def test_dp_sgd_epsilon_must_be_positive(eps):
    with pytest.raises(ConfigError, match="epsilon must be > 0"):
        DPSGD(epsilon=eps)
    with pytest.raises(ConfigError, match="give a target epsilon"):
        DPSGD(epsilon=None)


def test_dp_sgd_reports_an_epsilon_within_the_target():
    x, y = blobs(256)
    d = DPSGD(epsilon=2.0)
    model = d.fit(mlp(), x, y, epochs=3, lr=1e-2, batch_size=64, progress=False)
    assert 0 < d.epsilon() <= 2.0 + 1e-6
    assert isinstance(model, nn.Sequential)  # the user's module, unwrapped


def test_dp_sgd_clipping_only_control_has_no_privacy():
    # noise_multiplier=0 clips per-sample gradients and adds no noise: an ablation (the defense
    # benchmark's control row), whose spent epsilon is infinite
    x, y = blobs(128)
    d = DPSGD(epsilon=None, noise_multiplier=0.0)
    model = d.fit(mlp(), x, y, epochs=1, lr=1e-2, batch_size=64, progress=False)
    assert d.epsilon() == float("inf") and isinstance(model, nn.Sequential)
    with pytest.raises(ConfigError, match="noise_multiplier: must be >= 0"):
        DPSGD(epsilon=None, noise_multiplier=-1.0)


def test_tl_dmi_freezes_the_first_layers():
    x, y = blobs(128)
    model = mlp()
    fi = fisher_information(model, x, y, 64)
    assert [n for n, _ in fi] == ["0", "2", "4"] and all(v > 0 for _, v in fi)
    assert layers_to_freeze([("a", 1.0), ("b", 1.0), ("c", 8.0)], 0.5) == 2
    assert layers_to_freeze([("a", 1.0), ("b", 1.0), ("c", 8.0)], 0.85) == 1
    assert layers_to_freeze([("a", 1.0), ("b", 1.0), ("c", 8.0)], 0.95) == 0
    before = model[0].weight.detach().clone()
    d = TLDMI(freeze=1)
    trained = d.fit(model, x, y, epochs=2, progress=False)
    assert torch.equal(trained[0].weight, before) and d.frozen == ["0"]
    assert all(p.requires_grad for p in trained.parameters())
    with pytest.raises(ConfigError, match="nothing to fine-tune"):
        TLDMI(freeze=3).fit(mlp(), x, y, epochs=1, progress=False)
    assert len(param_layers(model)) == 3


def test_dp_gnn_reports_a_graph_level_epsilon():
    class Graph:
        x = torch.randn(40, 6)
        edge_index = torch.randint(0, 40, (2, 120))
        y = torch.randint(0, 3, (40,))

    class Lin(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(6, 3)

        def forward(self, x, edge_index):
            return self.lin(x)

    quiet, loud = DPGNN(noise_multiplier=0.05), DPGNN(noise_multiplier=2.0)
    quiet.fit(Lin(), Graph(), torch.arange(20), epochs=10, progress=False)
    loud.fit(Lin(), Graph(), torch.arange(20), epochs=10, progress=False)
    assert loud.epsilon() < quiet.epsilon()
    with pytest.raises(ConfigError, match="noise_multiplier: must be > 0"):
        DPGNN(noise_multiplier=0.0)
