import os

import pytest
from hypothesis import HealthCheck, Phase, settings

# Keep tests reproducible and light on a shared 2-core machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")

# Hypothesis profiles. The same commit must give the same test result on every clean checkout, so
# the default profile ("repro", used by `pytest` and CI) is derandomized: every property test draws
# the same examples (a fixed seed derived from the test's name) and never reads or writes the local
# example database (a checkout that has one would otherwise replay other examples first). Nothing
# timing-dependent decides a result: no deadline, no "too slow" health check. Each test keeps its
# own `max_examples`. The "explore" profile draws fresh random examples on every run and saves
# failures to .hypothesis/ for replay, for a developer hunting new counterexamples:
#     HYPOTHESIS_PROFILE=explore pytest tests/test_newton.py
# A failure found there becomes an explicit regression test (an @example or a fixed case).
settings.register_profile(
    "repro",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "explore",
    derandomize=False,
    deadline=None,
    print_blob=True,
    phases=tuple(Phase),
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repro"))


@pytest.fixture(autouse=True)
def _torch_threads():
    try:
        import torch
    except ImportError:  # pragma: no cover
        yield
        return
    torch.set_num_threads(1)
    yield
