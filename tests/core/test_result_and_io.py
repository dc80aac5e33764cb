import io
import json
import os
import stat

import pytest
import torch

from mi_core import AttackResult, ConfigError
from mi_core.io import atomic_write_json, load_state_dict, save_state_dict


def test_result_roundtrip_with_image_grid(tmp_path):
    rec = torch.rand(4, 1, 8, 8)
    res = AttackResult(
        "mi-face",
        "image",
        "white-box",
        rec,
        targets=torch.arange(4),
        scores=torch.rand(4),
        queries=12,
        seconds=1.5,
        seed=3,
        config={"lr": 0.1},
        arrays={"class_means": torch.rand(4, 1, 8, 8)},
        info={"iterations": [1, 2, 3, 4]},
    )
    res.save(tmp_path / "r")
    assert (tmp_path / "r" / "reconstructions.png").stat().st_size > 0
    back = AttackResult.load(tmp_path / "r")
    assert torch.equal(back.reconstructions, rec)
    assert torch.equal(back.arrays["class_means"], res.arrays["class_means"])
    assert back.queries == 12 and back.config == {"lr": 0.1} and back.info["iterations"][-1] == 4


def test_text_result_roundtrip(tmp_path):
    res = AttackResult("x", "text", "black-box-scores", ["my ssn is 123"], scores=[0.5])
    back = AttackResult.load(res.save(tmp_path / "t"))
    assert back.reconstructions == ["my ssn is 123"] and back.scores == [0.5]


def test_atomic_json_leaves_no_temp_files(tmp_path):
    atomic_write_json(tmp_path / "a.json", {"x": torch.tensor(1.5), "nan": float("nan")})
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 1.5, "nan": None}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_checkpoints_load_safely(tmp_path):
    sd = {"w": torch.rand(3)}
    save_state_dict(tmp_path / "m.safetensors", sd)
    assert torch.equal(load_state_dict(tmp_path / "m.safetensors")["w"], sd["w"])
    buf = io.BytesIO()
    torch.save({"w": _Evil()}, buf)
    (tmp_path / "evil.pt").write_bytes(buf.getvalue())
    with pytest.raises(Exception, match=r"(?i)weights.only|unsupported|not an allowed"):
        load_state_dict(tmp_path / "evil.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(ConfigError, match="not a state dict"):
        load_state_dict(tmp_path / "list.pt")


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_atomic_writes_respect_the_umask(tmp_path, umask):
    """Files come out as ``open`` would make them (0644 under umask 022), not tempfile's 0600."""
    old = os.umask(umask)
    try:
        path = atomic_write_json(tmp_path / "r.json", {"a": 1})
        res = AttackResult("x", "image", "white-box", torch.rand(2, 1, 4, 4)).save(tmp_path / "c")
    finally:
        os.umask(old)
    want = 0o666 & ~umask
    assert stat.S_IMODE(path.stat().st_mode) == want
    for f in res.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == want, f.name
