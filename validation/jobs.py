"""A validation job and its content-hash id.

A `Job` is everything that determines one LLC estimate: the case (by registered name), its
scale and constructor parameters, the sampler settings, the seed, the device and the dtype.
Jobs are independent of each other. Its id is the SHA-256 of a canonical JSON encoding
(sorted keys, no whitespace, tuples as lists, exact rationals as "p/q" strings), so the same
job always gets the same id, across processes, machines and Python versions, and any change
to any field gives a new id. All sampler-settings fields are hashed, so a new field of
`SamplerSettings` changes every id: results made before it existed are not reused; except
``leapfrog_steps`` (added with the hmc sampler), hashed only when it is not 1, its value for every
other sampler, so that adding it changed no existing id.

Reference jobs. A sweep also plans, per cell and seed, a job of the case's exact reference
sampler (`rlct.cases.base.Case.reference_settings`: the blocked Gibbs sampler for dln, rrr and
multireg) at the cell's n beta and gamma on the same data; its reading is lambda_beta, the
estimator's own target, which splits each estimate's error into the sampler's and the
estimator's (`rlct.validation.aggregate.attach_references`). A reference job is an ordinary
`Job` (same schema, same content-hash id, stored and resumed like any other): it is recognized
by ``settings.sampler == "gibbs"`` (`is_reference`), not by a field of its own, so that adding
references changed no id of an existing job. Consequence: a Gibbs setting run as an estimate
(say, in a calibration grid) is read as a reference, not as an estimate.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from rlct.exact.result import format_fraction
from rlct.numeric.settings import SamplerSettings

# Bump only if the meaning of a field changes; it is part of every id.
JOB_SCHEMA = 1
ID_LENGTH = 16  # hex characters of the SHA-256 kept in file names (64 bits)
DTYPES = ("float32", "float64")
ESTIMATORS = ("rlct", "devinterp")  # whose LLC estimator runs the job
REFERENCE_SAMPLER = "gibbs"  # the sampler of reference jobs (see the module docstring)


def canonical(value: Any, name: str = "params") -> Any:
    """A JSON-ready canonical form: dicts with sorted string keys, lists, exact rationals as
    "p/q" strings, finite floats; raises ``ValueError`` naming ``name`` otherwise."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, Fraction):
        return format_fraction(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        as_float = float(value)
        if not math.isfinite(as_float):
            raise ValueError(f"{name}: non-finite number {value!r} cannot be part of a job")
        return as_float
    if isinstance(value, Mapping):
        out = {}
        for key in value:
            if not isinstance(key, str):
                raise ValueError(f"{name}: keys must be strings, got {key!r}")
            out[key] = canonical(value[key], f"{name}.{key}")
        return dict(sorted(out.items()))
    if isinstance(value, (list, tuple)):
        return [canonical(v, f"{name}[{i}]") for i, v in enumerate(value)]
    raise ValueError(f"{name}: cannot encode {type(value).__name__} {value!r} as JSON")


def canonical_json(value: Any, name: str = "job") -> str:
    return json.dumps(canonical(value, name), sort_keys=True, separators=(",", ":"))


def settings_for_id(settings: SamplerSettings) -> dict[str, Any]:
    """``settings.to_dict()`` without the fields that are hashed only when not at their neutral
    value (``leapfrog_steps`` = 1; see the module docstring)."""
    out = settings.to_dict()
    if out.get("leapfrog_steps") == 1:
        del out["leapfrog_steps"]
    return out


def digest_of(description: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of a job description (`Job.to_dict`)."""
    return hashlib.sha256(canonical_json(description).encode("utf-8")).hexdigest()


@dataclass(frozen=True, eq=False)
class Job:
    """One independent LLC estimate of one case instance.

    Attributes:
        case: registered case name (`rlct.cases.registry()`).
        scale: the scale name of the case (a key of ``Case.scales``).
        params: the case's constructor parameters (normally ``Case.scales[scale]``).
        settings: the sampler settings.
        seed: root seed of both the case's data and the sampler.
        device: a concrete device (``"cpu"``, ``"cuda"``, ``"cuda:1"``), never ``"auto"``.
        dtype: ``"float32"`` or ``"float64"``.
        estimator: ``"rlct"`` (ours, `rlct.numeric.llc.estimate_llc`) or ``"devinterp"``
            (devinterp's estimator with the same settings, `rlct.validation.devinterp_adapter`).
            Part of the id only when it is not ``"rlct"`` (ids of our jobs do not mention it).
    """

    case: str
    scale: str
    params: Mapping[str, Any]
    settings: SamplerSettings
    seed: int
    device: str = "cpu"
    dtype: str = "float64"
    estimator: str = "rlct"

    def __post_init__(self) -> None:
        if not isinstance(self.case, str) or not self.case:
            raise ValueError(f"case: expected a non-empty name, got {self.case!r}")
        if not isinstance(self.scale, str) or not self.scale:
            raise ValueError(f"scale: expected a non-empty name, got {self.scale!r}")
        if not isinstance(self.params, Mapping):
            raise ValueError(f"params: expected a mapping, got {type(self.params).__name__}")
        canonical(self.params, "params")  # fail early on anything that cannot be hashed
        if not isinstance(self.settings, SamplerSettings):
            raise ValueError(
                f"settings: expected SamplerSettings, got {type(self.settings).__name__}"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed: expected a non-negative integer, got {self.seed!r}")
        if not isinstance(self.device, str) or self.device.split(":")[0] not in ("cpu", "cuda"):
            raise ValueError(f"device: expected 'cpu' or 'cuda[:k]', got {self.device!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype: expected one of {DTYPES}, got {self.dtype!r}")
        if self.estimator not in ESTIMATORS:
            raise ValueError(f"estimator: expected one of {ESTIMATORS}, got {self.estimator!r}")

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON-ready description (the hashed content, plus the schema)."""
        out = {
            "schema": JOB_SCHEMA,
            "case": self.case,
            "scale": self.scale,
            "params": canonical(self.params, "params"),
            "settings": canonical(settings_for_id(self.settings), "settings"),
            "seed": self.seed,
            "device": self.device,
            "dtype": self.dtype,
        }
        if self.estimator != "rlct":
            out["estimator"] = self.estimator
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Job:
        known = {
            "schema", "case", "scale", "params", "settings", "seed", "device", "dtype", "estimator"
        }
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"job: unknown keys {sorted(unknown)}")
        if data.get("schema", JOB_SCHEMA) != JOB_SCHEMA:
            raise ValueError(f"schema: expected {JOB_SCHEMA}, got {data.get('schema')!r}")
        return cls(
            case=data["case"],
            scale=data["scale"],
            params=dict(data["params"]),
            settings=SamplerSettings.from_dict(dict(data["settings"])),
            seed=data["seed"],
            device=data.get("device", "cpu"),
            dtype=data.get("dtype", "float64"),
            estimator=data.get("estimator", "rlct"),
        )

    @property
    def digest(self) -> str:
        """SHA-256 (hex) of the canonical JSON of `to_dict`."""
        return digest_of(self.to_dict())

    @property
    def id(self) -> str:
        """The first `ID_LENGTH` hex characters of `digest`: the job's file name."""
        return self.digest[:ID_LENGTH]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Job) and self.digest == other.digest

    def __hash__(self) -> int:
        return hash(self.digest)

    def label(self) -> str:
        who = "" if self.estimator == "rlct" else f" ({self.estimator})"
        return f"{self.case}/{self.scale} seed={self.seed}{who} [{self.id}]"


def unique(jobs: list[Job]) -> list[Job]:
    """The jobs without duplicates (same id), in their first order."""
    seen: set[str] = set()
    out = []
    for job in jobs:
        if job.id not in seen:
            seen.add(job.id)
            out.append(job)
    return out


def is_reference(job: Job) -> bool:
    """Whether ``job`` is a reference job (its sampler is `REFERENCE_SAMPLER`; module docstring)."""
    return job.settings.sampler == REFERENCE_SAMPLER
