import os
import tempfile

# The same numbers on every x86-64 machine: torch, MKL and oneDNN pick their kernels by the CPU's
# instruction set, and AVX-512 kernels round differently from AVX2 ones. The attack tests train
# small GANs, diffusion models and LMs whose outcome at test scale moves with that rounding
# (measured on an AVX-512 machine without these caps: DMMIA, BMI-S, LOKT, diffusion-MI, Diff-MI
# and soft-prompt extraction fell below margins they hold on AVX2), so the suite caps all three at
# AVX2, which every x86-64 CPU of the last decade has. Set before torch is imported; a variable
# already set wins.
os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")
os.environ.setdefault("MKL_ENABLE_INSTRUCTIONS", "AVX2")
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
# built-in cases share their seeded target / evaluation-model weights between the audits of a
# test worker (and the Ray workers and CLI subprocesses it starts): trained once per worker
os.environ.setdefault("MI_CASE_CACHE", tempfile.mkdtemp(prefix="mi-case-cache-"))

if "PYTEST_XDIST_WORKER" in os.environ:
    # the workers share the cores: one thread each (also for the subprocesses tests start)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")


# property tests draw the same examples on every run and machine (the suite must not pass or fail
# by chance); `HYPOTHESIS_PROFILE=explore` draws fresh ones
try:
    from hypothesis import settings as _hyp

    _hyp.register_profile("ci", derandomize=True)
    _hyp.register_profile("explore", derandomize=False)
    _hyp.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
except ImportError:  # pragma: no cover
    pass


# The longest test files start first: with one file per worker at a time (--dist loadfile), a
# long file that happens to start last leaves the other core idle at the end of the run. Rough
# seconds per file on 2 cores (pytest --durations); files not listed keep their order, after.
HEAVY_FIRST = (
    "test_audit_runs.py",
    "test_packaging.py",
    "test_demo_audit.py",
    "test_slice3_attacks.py",
    "test_gan_attacks.py",
    "test_diffusion.py",
    "test_image_extraction.py",
    "test_prompt_extraction.py",
    "test_case_and_models.py",
    "test_mi_face.py",
    "test_loop.py",
    "test_lint.py",
    "test_graphmi.py",
    "test_priors.py",
    "test_isolation.py",
    "test_embedding_inversion.py",
    "test_output2prompt.py",
)


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(HEAVY_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: order kept within
