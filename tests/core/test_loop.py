"""The resumable loop: a killed run resumes and ends where an uninterrupted run ends."""

import os
import subprocess
import sys
import textwrap

import pytest
import torch

from mi_core import ConfigError
from mi_core.loop import ResumableLoop, TensorState

SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, torch
    from mi_core.loop import ResumableLoop, GeneratorState, TensorState
    ckpt, kill_at, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    torch.manual_seed(0)
    w = torch.zeros(5, requires_grad=True)
    opt = torch.optim.Adam([w], lr=0.05)
    g = torch.Generator().manual_seed(1)
    loop = ResumableLoop(120, state={"w": TensorState(w=w), "opt": opt, "g": g},
                         checkpoint=ckpt if ckpt != "-" else None, every=10, progress=False,
                         meta={"lr": 0.05})
    for step in loop:
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        target = torch.randn(5, generator=g)
        loss = ((w - target) ** 2).sum()
        opt.zero_grad(); loss.backward(); opt.step()
    torch.save(w.detach(), out)
    """
)


def _run(tmp_path, ckpt, kill_at, out):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    return subprocess.run(
        [sys.executable, str(script), ckpt, str(kill_at), str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "TQDM_DISABLE": "1"},
    )


def test_killed_run_resumes_to_the_same_result(tmp_path):
    ref = _run(tmp_path, "-", -1, tmp_path / "ref.pt")
    assert ref.returncode == 0, ref.stderr
    ckpt = tmp_path / "ckpt.pt"
    killed = _run(tmp_path, str(ckpt), 57, tmp_path / "x.pt")
    assert killed.returncode == -9 and ckpt.exists() and not (tmp_path / "x.pt").exists()
    resumed = _run(tmp_path, str(ckpt), -1, tmp_path / "resumed.pt")
    assert resumed.returncode == 0, resumed.stderr
    a = torch.load(tmp_path / "ref.pt", weights_only=True)
    b = torch.load(tmp_path / "resumed.pt", weights_only=True)
    assert torch.equal(a, b)


def test_finished_loop_yields_nothing_and_meta_mismatch_is_refused(tmp_path):
    ckpt = tmp_path / "c.pt"
    x = torch.zeros(2)
    steps = list(
        ResumableLoop(
            5, state={"x": TensorState(x=x)}, checkpoint=ckpt, meta={"a": 1}, progress=False
        )
    )
    assert steps == [0, 1, 2, 3, 4]
    again = ResumableLoop(
        5, state={"x": TensorState(x=x)}, checkpoint=ckpt, meta={"a": 1}, progress=False
    )
    assert list(again) == [] and again.done
    with pytest.raises(ConfigError, match="another config"):
        ResumableLoop(
            5, state={"x": TensorState(x=x)}, checkpoint=ckpt, meta={"a": 2}, progress=False
        )


def test_early_finish_is_remembered(tmp_path):
    ckpt = tmp_path / "c.pt"
    loop = ResumableLoop(100, checkpoint=ckpt, progress=False)
    for step in loop:
        if step == 3:
            loop.finish()
            break
    assert list(ResumableLoop(100, checkpoint=ckpt, progress=False)) == []
