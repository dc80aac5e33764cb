"""Every registered attack, prior-training step and training defense runs with an explicit
``device="cpu"`` while torch's default device is ``meta``: a tensor or module created without
the right device would land on ``meta`` and fail the run (see ``matrix.py``)."""

import pytest
import torch
from matrix import COVERED, ENTRIES, FIXTURES, PENDING, Entry, check, meta_default_device


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_runs_on_the_device_it_is_given(entry: Entry):
    fx = FIXTURES[entry.fixtures]()  # tiny models and data, built on the CPU beforehand
    with meta_default_device():
        out = entry.run("cpu", fx)
    check(out, "cpu")


def test_the_meta_mode_catches_a_tensor_created_without_a_device():
    """The harness can fail: an attack step that forgets the device breaks under it."""
    x = torch.ones(3)
    with meta_default_device(), pytest.raises((RuntimeError, NotImplementedError)):
        (x + torch.zeros(3)).sum().item()


def test_every_registered_attack_and_training_defense_is_in_the_matrix():
    from mi_core.defense import DefenseKind
    from mi_core.registry import get_defense, list_attacks, list_defenses

    listed = {e.name.split(" ")[0] for e in ENTRIES}
    attacks = {a["name"] for a in list_attacks() if a["modality"] in COVERED}
    missing = sorted(a for a in attacks if f"attack:{a}" not in listed and a not in PENDING)
    assert not missing, f"attacks without a device-matrix entry: {missing}"
    training = {
        d["name"] for d in list_defenses() if get_defense(d["name"]).kind is DefenseKind.TRAINING
    }
    missing = sorted(d for d in training if f"defense:{d}" not in listed)
    assert not missing, f"training defenses without a device-matrix entry: {missing}"
