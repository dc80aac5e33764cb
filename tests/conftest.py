import os
import tempfile

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
