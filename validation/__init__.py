"""The validation suite: sweeps of LLC estimates against exact learning coefficients.

A sweep is a list of independent `Job`s (case, scale, parameters, sampler settings, seed,
device, dtype), each identified by a content hash. Jobs run on an executor (in-process, a
process pool, or Dask); the parent process writes one JSON file per finished job atomically, so
a killed sweep resumes where it stopped. Reports (Markdown, CSV, PNG plots, manifest) are
generated from the stored results.

Modules: `jobs` (the job and its id), `run` (one job -> one tidy row), `store` (the results
directory), `executors` (serial, process pool, Dask), `engine` (run jobs, resume), `sweep`
(`validate`, `calibrate`), `grid` (calibration grids from TOML), `aggregate` (cells, headline,
recommendation per parameter-count bucket), `plots`, `manifest`, `report` (Markdown),
`devinterp_adapter` (our settings in devinterp's terms; devinterp's estimator on our cases),
`testing` (scripted stand-ins for tests of this machinery), `defaults` (constants the command
line shows without importing the rest).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rlct.validation.jobs import Job
    from rlct.validation.store import ResultStore

__all__ = ["Job", "ResultStore"]


def __getattr__(name: str) -> Any:
    """`Job` and `ResultStore` on first use: importing the package (e.g. for the command line's
    defaults) does not import pandas."""
    if name == "Job":
        from rlct.validation.jobs import Job

        return Job
    if name == "ResultStore":
        from rlct.validation.store import ResultStore

        return ResultStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
