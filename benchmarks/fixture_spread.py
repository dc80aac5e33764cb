"""Do the image tests' margins hold beyond the one fixture they run on?

``uv run python benchmarks/run.py fixture_spread [--quick]``

The attack tests of ``tests/vision/test_gan_attacks.py`` and
``tests/vision/test_slice3_attacks.py`` train the digits-gan case once (``DigitsGANCase``, seed
0: target, evaluation model, priors), those of ``tests/vision/test_diffusion.py`` its ``Digits``
fixture (seed 0, with a diffusion prior), and measure each attack's gain over its own starting
point over a few attack seeds. Their margins were set from those seeds on that one fixture. This
suite prepares the same fixtures from other seeds (other targets, evaluation models and priors
drawn the same way) and runs each test's check (its config, its search switched off, its
margin) on each, so the record shows on how many fixtures the check would hold. Kernels are
capped at AVX2 as in the test suite (``tests/conftest.py``). Reads nothing from ``../shared``;
a few minutes per fixture on 2 cores (``--quick``: fixtures 1-2, else 1-4).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

for _k, _v in (
    ("ATEN_CPU_CAPABILITY", "avx2"),
    ("MKL_ENABLE_INSTRUCTIONS", "AVX2"),
    ("ONEDNN_MAX_CPU_ISA", "AVX2"),
):
    os.environ.setdefault(_k, _v)

from common import record  # noqa: E402

TESTS = Path(__file__).resolve().parents[1] / "tests" / "vision"


def _checks(case, gan, s3):
    """(test, attack, on gains, off gains, margin) for every check of the two test files."""
    for attack, prior, access, config, off, metric, margin, seeds in gan.CASES:
        on = gan._mean_gain(case, attack, prior, access, config, metric, seeds)[1]
        no = gan._mean_gain(case, attack, prior, access, {**config, **off}, metric, seeds)[1]
        yield "test_gan_attacks", attack, metric, on, no, margin
    for attack, (prior, access, config, off, which, margin) in s3.CASES.items():
        on = s3._over_seeds(case, attack, prior, access, config, which)[2]
        no = s3._over_seeds(case, attack, prior, access, {**config, **off}, which)[2]
        yield "test_slice3_attacks", attack, "top1", on, no, margin


def _diffusion_checks(digits, dif):
    for attack, access, config, off, margin, seeds in dif.CASES:
        on = dif._mean_gain(digits, attack, access, config, seeds)[1]
        no = dif._mean_gain(digits, attack, access, {**config, **off}, seeds)[1]
        yield "test_diffusion", attack, "leak_rate", on, no, margin


def run(quick: bool) -> list[dict]:
    import tempfile

    import torch

    from mi_vision.cases import DigitsGANCase

    sys.path.insert(0, str(TESTS))
    import test_diffusion as dif
    import test_gan_attacks as gan
    import test_slice3_attacks as s3

    torch.set_num_threads(1)
    fixtures = (1, 2) if quick else (1, 2, 3, 4)
    rows: dict[tuple[str, str], dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for fs in fixtures:
            case = DigitsGANCase()
            case.prepare(Path(tmp) / f"fixture-{fs}", seed=fs)
            digits = dif.Digits(Path(tmp) / f"diffusion-{fs}", seed=fs)
            checks = [*_checks(case, gan, s3), *_diffusion_checks(digits, dif)]
            for test, attack, metric, on, off, margin in checks:
                row = rows.setdefault((test, attack), {"metric": metric, "margin": margin})
                row.setdefault("on", []).append(sum(on) / len(on))
                row.setdefault("off", []).append(sum(off) / len(off))
    recs = []
    for (test, attack), r in rows.items():
        holds = [a >= r["margin"] and b < r["margin"] for a, b in zip(r["on"], r["off"])]
        recs.append(
            record(
                f"digits-gan fixtures {fixtures[0]}-{fixtures[-1]}",
                attack,
                f"fixtures where the check holds ({r['metric']} gain)",
                sum(holds) / len(holds),
                seed=list(fixtures),
                notes=f"{test}: margin {r['margin']}; the test's own fixture (seed 0) passes",
                per_fixture_on=[round(v, 3) for v in r["on"]],
                per_fixture_off=[round(v, 3) for v in r["off"]],
                margin=r["margin"],
                test=test,
            )
        )
    return recs
