"""GAN priors: the generator interface, training on tensors / folders, saving, resuming after a
kill, and a user's StyleGAN-like generator plugged in without its training code."""

import os
import subprocess
import sys
import textwrap

import pytest
import torch

from mi_core import ConfigError, Knowledge, make_view
from mi_core.registry import get_attack
from mi_vision.attacks.mirror import MirrorW
from mi_vision.attacks.ppa import PPA
from mi_vision.priors import (
    DCGANGenerator,
    GeneratorPrior,
    MappingGenerator,
    PriorConfig,
    load_or_train_prior,
    train_prior,
)


def test_generator_interface_z_and_w_spaces():
    torch.manual_seed(0)
    gen = MappingGenerator(latent_dim=8, channels=1, size=8, width=8, mapping_layers=2)
    w_prior = GeneratorPrior.from_networks(gen)
    z_prior = GeneratorPrior.from_networks(gen, space="z")
    g = torch.Generator().manual_seed(0)
    z = w_prior.sample_z(5, g)
    w = w_prior.to_search(z)
    assert w.shape == (5, 8) and not torch.equal(w, z)
    assert torch.allclose(w_prior.generate(w), z_prior.generate(z))  # same images, two spaces
    x = w_prior.generate(w)
    assert x.shape == (5, 1, 8, 8) and x.min() >= 0 and x.max() <= 1
    # P space: the input of the mapping network's last LeakyReLU, invertible
    assert torch.allclose(w_prior.from_p(w_prior.to_p(w)), w, atol=1e-6)
    mu, sigma = w_prior.p_stats(500, g)
    assert mu.shape == (8,) and bool((sigma > 0).all())
    with pytest.raises(ConfigError, match="no mapping network"):
        GeneratorPrior.from_networks(DCGANGenerator(8, 1, 8, 8)).p_stats(10)


def test_blocks_compose_to_the_generator():
    """G = G_L o ... o G_1 (survey Eq. 7): any split point reproduces the images."""
    torch.manual_seed(0)
    prior = GeneratorPrior.from_networks(DCGANGenerator(8, 1, 16, 8))
    z = prior.sample_z(3)
    for k in range(len(prior.blocks) + 1):
        head, tail = prior.split(k)
        assert torch.allclose(tail(head(z)), prior.generate(z))


def test_conditional_generator_needs_labels():
    prior = GeneratorPrior.from_networks(DCGANGenerator(8, 1, 8, 8, num_classes=3))
    with pytest.raises(ConfigError, match="conditional"):
        prior.generate(prior.sample_z(2))
    assert prior.generate(prior.sample_z(2), torch.tensor([0, 2])).shape == (2, 1, 8, 8)


def test_prior_config_errors_name_the_field():
    with pytest.raises(ConfigError, match=r"prior\.kind: unknown value 'vae'"):
        train_prior(torch.rand(8, 1, 8, 8), kind="vae")
    with pytest.raises(ConfigError, match=r"target: a kedmi prior is trained with the target"):
        train_prior(torch.rand(8, 1, 8, 8), kind="kedmi", steps=1)
    with pytest.raises(ConfigError, match="power of two"):
        DCGANGenerator(8, 1, 12, 8)


def test_train_on_an_image_folder_save_and_load(tmp_path):
    from PIL import Image

    folder = tmp_path / "public"
    folder.mkdir()
    g = torch.Generator().manual_seed(0)
    for i in range(12):
        arr = (torch.rand(20, 20, 3, generator=g) * 255).byte().numpy()
        Image.fromarray(arr).save(folder / f"{i}.png")
    from mi_vision.data import ImageSource

    source = ImageSource(folder, size=16, channels=1)
    assert source.shape == (1, 16, 16) and len(source) == 12
    prior = train_prior(
        source,
        kind="dcgan",
        steps=3,
        batch_size=4,
        latent_dim=8,
        g_width=8,
        d_width=8,
        progress=False,
    )
    assert prior.sample(2).shape == (2, 1, 16, 16)
    prior.save(tmp_path / "saved")
    again = GeneratorPrior.load(tmp_path / "saved")
    z = prior.sample_z(4)
    assert torch.equal(prior.generate(z), again.generate(z))
    assert again.kind == "dcgan" and again.discriminator is not None


def test_load_or_train_prior_caches(tmp_path, monkeypatch):
    data = torch.rand(32, 1, 8, 8)
    cfg = {
        "kind": "dcgan",
        "steps": 2,
        "batch_size": 8,
        "latent_dim": 4,
        "g_width": 4,
        "d_width": 4,
        "progress": False,
    }
    first = load_or_train_prior(tmp_path / "p", data, cfg)
    import mi_vision.priors.training as training

    def boom(*a, **k):
        raise AssertionError("trained again instead of loading the cache")

    monkeypatch.setattr(training, "train_prior", boom)
    second = load_or_train_prior(tmp_path / "p", data, cfg)
    z = first.sample_z(2)
    assert torch.equal(first.generate(z), second.generate(z))
    with pytest.raises(AssertionError, match="trained again"):  # another config retrains
        load_or_train_prior(tmp_path / "p", data, {**cfg, "steps": 3})


KILL = textwrap.dedent(
    """
    import os, signal, sys, torch
    from mi_vision.priors import train_prior
    from mi_vision.priors.nets import DCGANDiscriminator
    torch.set_num_threads(1)
    calls = {"n": 0}
    kill_at = int(sys.argv[2])
    original = DCGANDiscriminator.forward
    def forward(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(self, *a, **k)
    DCGANDiscriminator.forward = forward
    sys.path.insert(0, os.path.dirname(__file__))
    from spec import DATA, SPEC
    prior = train_prior(DATA, **SPEC, checkpoint=sys.argv[1], progress=False, seed=0)
    torch.save(prior.modules["generator"].state_dict(), sys.argv[3])
    """
)

SPEC_FILE = """
import torch
DATA = torch.rand(64, 1, 8, 8, generator=torch.Generator().manual_seed(1))
SPEC = dict(kind="gmi", steps=40, batch_size=8, latent_dim=4, g_width=4, d_width=4,
            mapping_layers=1, checkpoint_every=5)
"""


@pytest.mark.slow
def test_prior_training_resumes_after_a_kill(tmp_path):
    """WGAN-GP training killed mid-run (SIGKILL) resumes from its checkpoint to the very same
    weights as an uninterrupted run."""
    (tmp_path / "train.py").write_text(KILL)
    (tmp_path / "spec.py").write_text(SPEC_FILE)
    env = {**os.environ, "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1"}

    def run(kill_at):
        return subprocess.run(
            [
                sys.executable,
                str(tmp_path / "train.py"),
                str(tmp_path / "k.ckpt"),
                str(kill_at),
                str(tmp_path / "k.pt"),
            ],
            capture_output=True,
            text=True,
            env=env,
        )

    killed = run(16 * 8 + 3)  # 16 discriminator calls per step: dies in step 9, after step 5
    assert killed.returncode == -9 and (tmp_path / "k.ckpt").exists()
    resumed = run(-1)
    assert resumed.returncode == 0, resumed.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        from spec import DATA, SPEC
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("spec", None)
    reference = train_prior(DATA, **SPEC, progress=False, seed=0)  # uninterrupted, in-process
    ref = reference.modules["generator"].state_dict()
    got = torch.load(tmp_path / "k.pt", weights_only=True)
    assert all(torch.equal(ref[k], got[k]) for k in ref)


class FakeStyleGAN(torch.nn.Module):
    """A user's StyleGAN2-ADA-like generator: z_dim, mapping(z, c, truncation_psi) -> ws
    (N, num_ws, w_dim) with a final lrelu * sqrt(2), synthesis(ws, noise_mode) in [-1, 1]."""

    def __init__(self, base):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = base.latent_dim, 0, base.latent_dim, 2
        self.base = base

    def mapping(self, z, c, truncation_psi=1.0):
        w = self.base.mapping(z) * (2**0.5)
        return w[:, None].repeat(1, self.num_ws, 1)

    def synthesis(self, ws, noise_mode="const"):
        return self.base.synthesis(ws.mean(1) / (2**0.5)) * 2 - 1


@pytest.mark.parametrize("attack", [MirrorW, PPA])
def test_a_stylegan_like_generator_plugs_in(gan_case, attack):
    """Mirror-w and PPA search the W space of a user's StyleGAN-like object passed as the
    prior (wrapped automatically), with P-space clipping through its mapping network."""
    user_gen = FakeStyleGAN(gan_case.priors["gmi"].modules["generator"])
    view = make_view(gan_case.target(), "white-box", info=gan_case.target_info())
    cfg = {"steps": 30, "samples_per_class": 2, "candidates": 200, "progress": False}
    if attack is PPA:
        cfg.update(keep=1, augment="noflip")
    result = attack(cfg).run(view, Knowledge(target_labels=[0, 1, 2], prior=user_gen), seed=0)
    assert result.reconstructions.shape[1:] == (1, 8, 8)
    assert result.arrays["latents"].shape[1:] == (2, 16)  # (num_ws, w_dim)
    if attack is MirrorW:
        assert result.info["p_clip"].startswith("[mu - 1.0 sigma")
    assert float(result.scores.mean()) > 0.5  # the target is confident in its classes


def test_prior_config_validates_in_the_dataclass():
    with pytest.raises(ConfigError, match="mapping_layers"):
        PriorConfig(kind="plg-mi", mapping_layers=2)


def test_prior_training_time_is_reported_apart(gan_case):
    """An attack that trains its own prior reports that time apart (``info["prior_seconds"]``,
    part of ``seconds``), so reports can show the attack's own time beside it."""
    view = make_view(gan_case.target(), "white-box", info=gan_case.target_info())
    prior_cfg = {"steps": 5, "batch_size": 8, "latent_dim": 4, "g_width": 4, "d_width": 4}
    cfg = {"steps": 2, "samples_per_class": 1, "prior": prior_cfg, "progress": False}
    knowledge = Knowledge(target_labels=[0, 1], auxiliary=gan_case.public[:64])
    trained = get_attack("gmi")(cfg).run(view, knowledge, seed=0)
    assert 0 < trained.info["prior_seconds"] <= trained.seconds
    given = Knowledge(target_labels=[0, 1], prior=gan_case.priors["gmi-z"])
    reused = get_attack("gmi")(cfg).run(view, given, seed=0)
    assert 0 <= reused.info["prior_seconds"] <= reused.seconds
