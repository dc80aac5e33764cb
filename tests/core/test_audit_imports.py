import pytest
import torch

from mi_core import ConfigError
from mi_core.audit.imports import build_module, load_object
from mi_core.io import save_state_dict


def test_load_object_and_errors():
    assert load_object("torch.nn:Linear") is torch.nn.Linear
    with pytest.raises(ConfigError, match=r"model: expected an import path"):
        load_object("torch.nn.Linear")
    with pytest.raises(ConfigError, match=r"cannot import 'no_such_pkg'"):
        load_object("no_such_pkg:x")
    with pytest.raises(ConfigError, match=r"has no attribute 'Lenear'"):
        load_object("torch.nn:Lenear")


def test_build_module_loads_checkpoint(tmp_path):
    ref = torch.nn.Linear(3, 2)
    save_state_dict(tmp_path / "w.safetensors", ref.state_dict())
    m = build_module(
        "torch.nn:Linear", str(tmp_path / "w.safetensors"), {"in_features": 3, "out_features": 2}
    )
    assert torch.equal(m.weight, ref.weight) and not m.training
    with pytest.raises(ConfigError, match="does not fit"):
        build_module(
            "torch.nn:Linear",
            str(tmp_path / "w.safetensors"),
            {"in_features": 4, "out_features": 2},
        )
