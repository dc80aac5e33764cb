"""Style gates that CI enforces through the test command: ruff on everything, mypy on mi-core."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool(name):
    exe = Path(sys.executable).parent / name
    return str(exe) if exe.exists() else shutil.which(name)


@pytest.mark.skipif(_tool("ruff") is None, reason="ruff not installed")
def test_ruff_clean():
    for args in (
        ["check", "packages", "tests", "benchmarks", "scripts"],
        ["format", "--check", "packages", "tests", "benchmarks", "scripts"],
    ):
        proc = subprocess.run([_tool("ruff"), *args], cwd=ROOT, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
@pytest.mark.skipif(_tool("mypy") is None, reason="mypy not installed")
def test_mypy_core_clean():
    proc = subprocess.run([_tool("mypy")], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
