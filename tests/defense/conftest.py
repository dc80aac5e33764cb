"""Small targets for the defense tests, trained in the test session (nothing downloaded, no
data outside the installed packages): an MLP on sklearn's 8x8 digits, its data splits, and a
cheap judge of reconstructions."""

import numpy as np
import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    # small models train far faster on one thread, above all on a shared, busy machine
    from threadpoolctl import threadpool_limits

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def digits():
    """Private training images (the target's), a public auxiliary set (the attacker's) and a
    test set, from sklearn's digits."""
    from mi_vision.data import load_digits, train_test_split

    x, y = load_digits()
    (xtr, ytr), (xte, yte) = train_test_split(x, y, 0.3, 0)
    return {
        "x_train": xtr,
        "y_train": ytr,
        "x_aux": xte[:270],
        "x_test": xte[270:],
        "y_test": yte[270:],
    }


def make_mlp(seed=0):
    from mi_vision.models import MLP

    torch.manual_seed(seed)
    return MLP((1, 8, 8), 10, hidden=64, activation="relu")


@pytest.fixture(scope="session")
def digits_target(digits):
    """An undefended MLP trained on the private digits."""
    from mi_defense.training._common import PlainTraining

    torch.set_num_threads(1)
    return PlainTraining().fit(
        make_mlp(), digits["x_train"], digits["y_train"], epochs=20, progress=False
    )


def accuracy(scores_or_model, x, y):
    out = scores_or_model(x) if callable(scores_or_model) else scores_or_model
    return float((torch.as_tensor(out).argmax(1) == y).float().mean())


def centroid_mse(reconstructions, x, y):
    """Mean squared distance of each class's reconstruction to the private mean image of that
    class (lower = the attack recovers more of the private class)."""
    cent = torch.stack([x[y == c].mean(0) for c in range(reconstructions.shape[0])])
    return float(((reconstructions - cent) ** 2).flatten(1).mean(1).mean())


def image_info():
    from mi_core import TargetInfo

    return TargetInfo(
        modality="image", input_shape=(1, 8, 8), num_classes=10, input_range=(0.0, 1.0)
    )


def mi_face(model, steps=300):
    """MI-Face (white-box) on every class of ``model``; returns the reconstructions."""
    from mi_core import Knowledge, make_view
    from mi_vision.attacks.mi_face import MIFace

    view = make_view(model, "white-box", info=image_info())
    result = MIFace(max_iter=steps, gamma=0.0, progress=False).run(
        view, Knowledge(target_labels=list(range(10))), seed=0
    )
    return result.reconstructions


def noise_baseline(x, y, seed=0):
    """centroid_mse of uniform-noise images (what an attack without the model gets)."""
    g = torch.Generator().manual_seed(seed)
    return centroid_mse(torch.rand((10, *x.shape[1:]), generator=g), x, y)


__all__ = ["accuracy", "centroid_mse", "image_info", "make_mlp", "mi_face", "noise_baseline", "np"]
