"""Audit runs: resume after a kill, the Ray executor matches the local one, shards merge."""

import os
import subprocess
import sys
import textwrap

import pytest

from mi_core.audit.executors import get_executor
from mi_core.audit.runner import CellSpec, run_cells

pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from dataclasses import dataclass
    import numpy as np
    from mi_core import Access, BaseAttack, Knowledge
    from mi_core.audit.case import AuditCase
    from mi_core.audit.runner import CellSpec, run_cells
    from mi_core.metrics.base import Figure
    from mi_core.registry import register_attack, register_case

    out, log, kill_on = sys.argv[1], sys.argv[2], sys.argv[3]

    @register_case
    class Coin(AuditCase):
        name = "coin"
        modality = "tabular"
        def prepare(self, workdir, seed):
            self.p = 0.8
        def target(self):
            return lambda x: np.tile([0.2, 0.8], (len(x), 1))
        def knowledge(self, access):
            return Knowledge()
        def evaluate(self, result):
            return [Figure("attribute_accuracy", float(result.reconstructions[0]), True, 0.5,
                           "prior")]

    @dataclass
    class Cfg:
        tag: str = "a"

    @register_attack
    class Guess(BaseAttack):
        name = "guess"
        modality = "tabular"
        access = Access.BLACK_BOX_SCORES
        Config = Cfg
        def _run(self, view, knowledge, seed):
            with open(log, "a") as fh:
                fh.write(self.config.tag + "\\n")
            if self.config.tag == kill_on:
                os.kill(os.getpid(), signal.SIGKILL)
            p = view(np.zeros((1, 2)))[0, 1]
            return self._result(np.array([p]))

    specs = [CellSpec("coin", "guess", "black-box-scores", {"tag": t}) for t in "abc"]
    recs = run_cells(specs, out, progress=False)
    print([r["status"] for r in recs])
    """
)


def test_killed_audit_resumes_without_redoing_finished_cells(tmp_path):
    script = tmp_path / "audit.py"
    script.write_text(SCRIPT)
    out, log = tmp_path / "out", tmp_path / "log.txt"
    env = {**os.environ, "TQDM_DISABLE": "1"}

    def run(kill_on):
        return subprocess.run(
            [sys.executable, str(script), str(out), str(log), kill_on],
            capture_output=True,
            text=True,
            env=env,
        )

    killed = run("b")
    assert killed.returncode == -9
    assert log.read_text().split() == ["a", "b"]  # cell a finished, b was in flight
    resumed = run("-")
    assert resumed.returncode == 0, resumed.stderr
    assert "['ok', 'ok', 'ok']" in resumed.stdout
    assert log.read_text().split() == ["a", "b", "b", "c"]  # a was not run again
    cells = sorted(p.name for p in (out / "cells").iterdir())
    assert len(cells) == 3
    assert not list(out.rglob("*.tmp"))  # atomic writes leave nothing half-written


def _same_figures(a, b):
    """Equal figures; float features may differ in the last digits (thread counts differ)."""
    assert [r["id"] for r in a] == [r["id"] for r in b]
    for ra, rb in zip(a, b):
        assert ra["status"] == rb["status"] == "ok"
        for fa, fb in zip(ra["figures"], rb["figures"], strict=True):
            assert fa["metric"] == fb["metric"]
            assert fa["value"] == pytest.approx(fb["value"], rel=1e-4)
            assert fa["baseline"]["value"] == pytest.approx(fb["baseline"]["value"], rel=1e-4)


def test_ray_executor_matches_local_and_shards_merge(tmp_path):
    pytest.importorskip("ray")
    specs = [
        CellSpec("digits-softmax", "mi-face", "white-box", {"max_iter": 300}, shards=2, seed=1)
    ]
    local = run_cells(specs, tmp_path / "local", progress=False)
    assert local[0]["status"] == "ok", local[0].get("traceback")
    assert local[0]["shards"] == 2
    ray_recs = run_cells(
        specs, tmp_path / "ray", executor=get_executor("ray", num_cpus=2), progress=False
    )
    assert ray_recs[0]["status"] == "ok", ray_recs[0].get("traceback")
    _same_figures(local, ray_recs)
    assert (tmp_path / "ray" / "cells" / specs[0].id / "reconstructions.png").exists()
