"""Audits of a user's own model through the generic cases (``image-model``, ``tabular-model``,
``graph-model``, ``hf-causal-lm``): a model factory module and data files written to a temporary
folder, an audit file naming them, one cheap attack, and the figure checked beside its
baseline. Each case also rejects bad options with an error naming the field."""

import sys
import textwrap

import numpy as np
import pytest
import torch

from mi_core import ConfigError
from mi_core.audit.config import parse_audit_config
from mi_core.audit.plan import plan_cells
from mi_core.audit.runner import load_case, run_cells
from mi_core.io import save_state_dict


def run_audit(text, tmp_path):
    """Plan and run an audit file's cells (as ``mi audit FILE.toml`` does); their records."""
    cfg = parse_audit_config(textwrap.dedent(text), str(tmp_path / "audit.toml"))
    records = run_cells(plan_cells(cfg), tmp_path / "out", progress=False)
    for r in records:
        assert r["status"] == "ok", r.get("traceback", r.get("message"))
    return records


def figure(record, metric):
    return next(f for f in record["figures"] if f["metric"] == metric)


@pytest.fixture(scope="module")
def user_dir(tmp_path_factory):
    """A folder on ``sys.path`` for the user's model modules and data files."""
    path = tmp_path_factory.mktemp("user")
    sys.path.insert(0, str(path))
    yield path
    sys.path.remove(str(path))


def write_module(folder, name, source):
    (folder / f"{name}.py").write_text(textwrap.dedent(source))
    sys.modules.pop(name, None)


# ------------------------------------------------------------------------------------ image

IMAGE_MODEL = """
    import torch
    from torch import nn

    class Softmax(nn.Module):
        def __init__(self, num_classes=10):
            super().__init__()
            self.fc = nn.Linear(64, num_classes)

        def forward(self, x):
            return self.fc(x.flatten(1))

    def build(num_classes=10):
        return Softmax(num_classes)
"""


@pytest.fixture(scope="module")
def image_files(user_dir):
    """The user's module, private digits and a softmax regression fitted to them (sklearn's
    LBFGS, weights copied into the user's module and saved as safetensors)."""
    from sklearn.linear_model import LogisticRegression

    from mi_vision.data import load_digits

    tmp_path = user_dir
    write_module(tmp_path, "user_image_model", IMAGE_MODEL)
    import user_image_model

    x, y = load_digits()
    np.savez(tmp_path / "private.npz", x=x.numpy(), y=y.numpy())
    clf = LogisticRegression(C=1.0, max_iter=200).fit(x.flatten(1).numpy(), y.numpy())
    model = user_image_model.build(10)
    model.fc.weight.data = torch.tensor(clf.coef_, dtype=torch.float32)
    model.fc.bias.data = torch.tensor(clf.intercept_, dtype=torch.float32)
    save_state_dict(tmp_path / "target.safetensors", model.state_dict())
    return tmp_path


def test_image_model_audit_mi_face_beats_noise(image_files, tmp_path):
    tmp = image_files
    rec = run_audit(
        f"""
        [[targets]]
        case = "image-model"
        access = ["white-box"]
        [targets.options]
        model = "user_image_model:build"
        model_kwargs = {{num_classes = 10}}
        checkpoint = "{tmp / "target.safetensors"}"
        input_shape = [1, 8, 8]
        num_classes = 10
        private = "{tmp / "private.npz"}"
        target_labels = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
        eval_epochs = 8

        [attacks]
        names = ["mi-face"]
        [attacks.config.mi-face]
        max_iter = 300
        gamma = 0.0
        """,
        tmp_path,
    )[0]
    top1 = figure(rec, "eval_top1")
    assert top1["baseline"]["name"] == "uniform noise images"
    assert top1["value"] >= 0.5 > top1["baseline"]["value"] + 0.2
    assert rec["utility"]["test_accuracy"] > 0.85


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"input_shape": [8, 8]}, r"targets\.options\.input_shape: give \[channels"),
        ({"private": "nope.npz"}, r"targets\.options\.private: .*nope\.npz does not exist"),
        ({"modle": "x:y"}, r"targets\.options\.modle: unknown field .* allowed fields: .*model"),
        ({"target_labels": [10]}, r"targets\.options\.target_labels: a list of class ids"),
    ],
)
def test_image_model_bad_options_name_the_field(image_files, options, message):
    from mi_vision.user_cases import ImageModelCase

    good = {
        "model": "user_image_model:build",
        "input_shape": [1, 8, 8],
        "num_classes": 10,
        "private": str(image_files / "private.npz"),
    }
    with pytest.raises(ConfigError, match=message):
        ImageModelCase.from_options({**good, **options})


def test_image_model_checkpoint_that_does_not_fit_is_named(image_files, tmp_path):
    opts = {
        "model": "user_image_model:build",
        "model_kwargs": {"num_classes": 5},
        "checkpoint": str(image_files / "target.safetensors"),
        "input_shape": [1, 8, 8],
        "num_classes": 5,
        "private": str(image_files / "private.npz"),
    }
    with pytest.raises(ConfigError, match="does not fit 'user_image_model:build'"):
        load_case("image-model", tmp_path, 0, opts)
