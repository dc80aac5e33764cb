"""Image metrics (PSNR / SSIM to the nearest private image, PRDC, FID on evaluation features),
the evaluator's baselines, augmentations, selection, and the data loaders."""

import pytest
import torch

from mi_core import AttackResult, MetricError
from mi_vision.augment import Augment, get_augment
from mi_vision.data import ImageFolderDataset, ImageSource, load_celeba, load_facescrub, load_ffhq
from mi_vision.evaluate import ImageEvaluator
from mi_vision.metrics import frechet_distance, prdc, psnr_nearest, ssim_nearest, ssim_pairs

G = torch.Generator().manual_seed(0)
PRIV = torch.rand(6, 1, 8, 8, generator=G)
PY = torch.tensor([0, 0, 0, 1, 1, 1])


def test_pixel_metrics_find_the_nearest_private_image():
    exact = PRIV[[1, 4]]
    noisy = (exact + 0.1 * torch.randn(exact.shape, generator=G)).clamp(0, 1)
    targets = torch.tensor([0, 1])
    assert psnr_nearest(exact, targets, PRIV, PY) > 100  # an exact copy
    assert 15 < psnr_nearest(noisy, targets, PRIV, PY) < 25
    assert ssim_nearest(exact, targets, PRIV, PY) == pytest.approx(1.0, abs=1e-4)
    assert ssim_nearest(noisy, targets, PRIV, PY) < 0.99
    # copies of the *other* class are far: the metric looks within the target class only
    assert psnr_nearest(exact, torch.tensor([1, 0]), PRIV, PY) < 15
    with pytest.raises(MetricError, match="class 7 has no private images"):
        psnr_nearest(exact, torch.tensor([7, 0]), PRIV, PY)
    assert torch.allclose(ssim_pairs(PRIV, PRIV), torch.ones(6))


def test_prdc_and_fid_on_features():
    real = torch.randn(200, 4, generator=G)
    same = real + 0.01 * torch.randn(200, 4, generator=G)
    far = torch.randn(200, 4, generator=G) + 10
    near = prdc(real, same, k=3)
    assert near["precision"] > 0.95 and near["recall"] > 0.95 and near["coverage"] > 0.95
    off = prdc(real, far, k=3)
    assert off["precision"] == 0 and off["coverage"] == 0 and off["density"] == 0
    # mode collapse: every fake at one real point -> precise but no recall / coverage
    collapsed = real[:1].repeat(50, 1)
    c = prdc(real, collapsed, k=3)
    assert c["precision"] == 1 and c["coverage"] < 0.05
    assert frechet_distance(real, same) < 0.05 < 100 < frechet_distance(real, far)
    with pytest.raises(MetricError, match="more than k=3"):
        prdc(real, far[:3], k=3)
    with pytest.raises(MetricError, match="at least 2"):
        frechet_distance(real, far[:1])


def test_evaluator_uses_the_result_s_prior_samples_as_baseline(digits_case):
    x, y = digits_case.x_train, digits_case.y_train
    recon = torch.stack([x[y == c][:5] for c in range(10)]).flatten(0, 1)  # real private images
    targets = torch.arange(10).repeat_interleave(5)
    noise = torch.rand(recon.shape, generator=G)
    result = AttackResult(
        "x", "image", "white-box", recon, targets=targets, arrays={"prior_samples": noise}
    )
    ev = ImageEvaluator(digits_case.eval_model, x, y, diversity=True)
    figs = {f.metric: f for f in ev.evaluate(result)}
    assert figs["eval_top1"].baseline_name == "own prior samples (unoptimised)"
    assert figs["eval_top1"].details["general"]["name"] == "uniform noise images"
    assert figs["eval_top1"].value > 0.95 and figs["eval_top5"].value == 1.0
    assert figs["psnr"].value > 100 and figs["ssim"].value == pytest.approx(1, abs=1e-4)
    for name in ("prdc_precision", "prdc_recall", "prdc_density", "prdc_coverage"):
        assert figs[name].value > figs[name].baseline
    fid = figs["fid_eval_features"]
    assert fid.value < fid.baseline and "no Inception" in fid.details["features"]
    assert sum(figs["eval_top1"].details["baseline_histogram"]) == 50
    assert set(figs["eval_top5"].details["per_class"]) == set(range(10))
    # report evidence: the mean private image of each reconstruction's class, row for row
    means = result.arrays["class_means"]
    assert means.shape == recon.shape
    assert torch.allclose(means[7], x[y == 1].mean(0))


def test_augment_is_seeded_differentiable_and_in_range():
    x = torch.rand(4, 1, 16, 16, requires_grad=True)
    aug = get_augment("standard")
    a = aug(x, torch.Generator().manual_seed(1))
    b = aug(x, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.shape == x.shape and a.min() >= 0 and a.max() <= 1
    (g,) = torch.autograd.grad(a.sum(), x)
    assert g.abs().sum() > 0
    assert torch.allclose(Augment((1.0, 1.0), 0.0, False, 0.0, 0.0)(x), x, atol=1e-5)
    with pytest.raises(Exception, match="augment: unknown preset"):
        get_augment("mixup")


def _write_images(root, names, size=(12, 10)):
    from PIL import Image

    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        arr = (torch.rand(*size, 3, generator=G) * 255).byte().numpy()
        Image.fromarray(arr).save(path)


def test_folder_loaders_for_celeba_ffhq_and_facescrub(tmp_path):
    _write_images(tmp_path / "ffhq", [f"{i:05d}.png" for i in range(3)])
    ffhq = load_ffhq(tmp_path / "ffhq", size=16)
    assert len(ffhq) == 3 and ffhq[0].shape == (3, 16, 16)

    _write_images(tmp_path / "fs" / "actors" / "faces", ["A/1.jpg", "A/2.jpg", "B/1.jpg"])
    _write_images(tmp_path / "fs" / "actresses" / "faces", ["C/1.jpg"])
    fs = load_facescrub(tmp_path / "fs", size=16)
    assert len(fs) == 4 and fs.classes == ["A", "B", "C"] and sorted(fs.targets) == [0, 0, 1, 2]

    _write_images(
        tmp_path / "celeba" / "img_align_celeba", ["000001.jpg", "000002.jpg"], size=(218, 178)
    )
    (tmp_path / "celeba" / "identity_CelebA.txt").write_text("000001.jpg 7\n000002.jpg 9\n")
    celeba = load_celeba(tmp_path / "celeba", size=32)
    img, label = celeba[1]
    assert img.shape == (3, 32, 32) and label == 9

    src = ImageSource(ImageFolderDataset(tmp_path / "fs", size=8, channels=1), size=8)
    assert src.sample(5, torch.Generator().manual_seed(0)).shape == (5, 1, 8, 8)
    with pytest.raises(FileNotFoundError, match="not a directory"):
        ImageFolderDataset(tmp_path / "missing")
