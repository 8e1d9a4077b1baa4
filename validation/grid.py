"""Calibration grids: which sampler settings `rlct calibrate` sweeps, read from TOML.

A grid file has up to three kinds of tables; unknown keys anywhere are rejected with a
``ValueError`` naming the key::

    [sweep]                       # what to run the grid on
    seeds = 2                     # seeds per (case, scale, setting)
    scales = "all"                # "smallest", "all", or a list of scale names
    case_scales = {dln = ["1e2", "1e3"]}  # optional; per-case scales, overriding `scales`
    estimators = ["rlct", "devinterp"]    # optional (default ["rlct"]): whose LLC estimator
                                          # runs each setting; devinterp runs only the settings
                                          # it has (plain SGLD, pSGLD), needs the devinterp extra
    cases = ["dln", "rrr"]        # optional; default every registered case
    max_parameters = 1000000      # optional; larger scales are listed as not run, with their
                                  # cost (default: 1e6 on CPU, 1e8 on CUDA); or per device:
                                  # max_parameters = {cpu = 500000, cuda = 100000000}
    dtype = "float64"
    prune = true                  # optional (default false): run bucket by bucket and seed by
                                  # seed, and skip a setting's remaining jobs once one of its runs
                                  # missed the max target (module `rlct.validation.sweep`)

    [targets]                     # what "good enough" means for the recommendation: per run,
                                  # the sampler error |lambda_hat - lambda_beta| / lambda_beta
                                  # (the total error |lambda_hat - lambda| / lambda in cells
                                  # without a reference), median and max over a bucket's runs
    median_relative_error = 0.05
    max_relative_error = 0.15
    bucket_edges = [1e3, 1e5, 1e7]   # parameter-count buckets: "<1e3", "1e3-1e5", ..., ">=1e7"

    [[grid]]                      # one or more sub-grids; each is a Cartesian product
    cases = ["dln", "poly"]       # optional: run this sub-grid on these cases only
    buckets = ["1e3-1e5"]         # optional: ... and on the cells of these buckets only
    estimators = ["rlct"]         # optional: ... by these of the sweep's estimators only
    sampler = ["sgld"]            # keys not given take the base values below
    step_size = [1e-5, 1e-4, 1e-3]
    nbeta = ["default", "batch"]  # "default": n / log n; "batch": b / log b (devinterp's)
    localization = [1.0, 100.0]
    chains = [4]
    steps = [4000]
    burnin_fraction = [0.5]       # burnin = round(steps * fraction)
    batch_size = [256, "full"]    # "full": the whole data set each step
    psgld_alpha = [0.99]
    psgld_eps = [1e-5]
    control_variate = [false, true]  # SGLD-CV: control variates anchored at w*

The settings swept are the union of the sub-grids' products (duplicates removed).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from rlct.numeric.settings import SamplerSettings
from rlct.validation.jobs import ESTIMATORS

GRID_KEYS = (
    "sampler",
    "step_size",
    "nbeta",
    "localization",
    "chains",
    "steps",
    "burnin_fraction",
    "batch_size",
    "psgld_alpha",
    "psgld_eps",
    "control_variate",
)
DEVICE_KINDS = ("cpu", "cuda")
SELECTOR_KEYS = ("cases", "buckets", "estimators")  # where a sub-grid runs, not settings
NBETA_SYMBOLS = ("default", "batch")
SCALE_SYMBOLS = ("smallest", "all")

DEFAULT_GRID_TOML = """\
# The built-in calibration grid of `rlct calibrate` (print it with `rlct calibrate --show-grid`).
# Pairs of hyperparameters around one base setting (sgld, step 1e-4, n/log n, gamma 1, 4 chains,
# 4000 steps, half burn-in, batch 256), so each pair gets a heatmap without a full product.

[sweep]
seeds = 2
scales = "all"
dtype = "float64"

[targets]
median_relative_error = 0.05
max_relative_error = 0.15
bucket_edges = [1e3, 1e5, 1e7]

[[grid]]  # step size x localization
step_size = [1e-6, 1e-5, 1e-4, 1e-3]
localization = [1.0, 10.0, 100.0]

[[grid]]  # step size x inverse temperature
step_size = [1e-6, 1e-5, 1e-4, 1e-3]
nbeta = ["default", "batch"]

[[grid]]  # chain length x batch size
steps = [2000, 4000, 10000]
batch_size = [64, 256, 1024]

[[grid]]  # preconditioned SGLD: step size x localization
sampler = ["psgld"]
step_size = [1e-6, 1e-5, 1e-4, 1e-3]
localization = [1.0, 100.0]
"""


def _load_toml(text: str, origin: str) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise ValueError(
                "grid: reading TOML needs Python >= 3.11 or `pip install tomli`"
            ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"grid: {origin} is not valid TOML: {err}") from None


def _check_keys(where: str, table: Any, known: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(table, Mapping):
        raise ValueError(f"{where}: expected a table, got {type(table).__name__}")
    for key in table:
        if key not in known:
            raise ValueError(f"{where}.{key}: unknown key; known keys: {', '.join(known)}")
    return table


def _as_list(where: str, value: Any) -> list[Any]:
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if not values:
        raise ValueError(f"{where}: expected at least one value")
    return values


def _number(where: str, value: Any, *, integer: bool = False) -> float | int:
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok or not math.isfinite(value):
        kind = "an integer" if integer else "a number"
        raise ValueError(f"{where}: expected {kind}, got {value!r}")
    return value


@dataclass(frozen=True)
class SubGrid:
    """One Cartesian product of settings values (each a non-empty tuple)."""

    sampler: tuple[str, ...] = ("sgld",)
    step_size: tuple[float, ...] = (1e-4,)
    nbeta: tuple[float | str, ...] = ("default",)
    localization: tuple[float, ...] = (1.0,)
    chains: tuple[int, ...] = (4,)
    steps: tuple[int, ...] = (4000,)
    burnin_fraction: tuple[float, ...] = (0.5,)
    batch_size: tuple[int | str, ...] = (256,)
    psgld_alpha: tuple[float, ...] = (0.99,)
    psgld_eps: tuple[float, ...] = (1e-5,)
    control_variate: tuple[bool, ...] = (False,)
    cases: tuple[str, ...] | None = None  # None: every case of the sweep
    buckets: tuple[str, ...] | None = None  # None: every parameter-count bucket
    estimators: tuple[str, ...] | None = None  # None: every estimator of the sweep

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "grid") -> SubGrid:
        _check_keys(where, data, (*GRID_KEYS, *SELECTOR_KEYS))
        values: dict[str, Any] = {}
        for key in SELECTOR_KEYS:
            if key in data:
                names = data[key]
                if not isinstance(names, list) or not names or not all(
                    isinstance(x, str) for x in names
                ):
                    what = {"cases": "case names", "buckets": "bucket labels"}.get(key, key)
                    raise ValueError(f"{where}.{key}: expected a list of {what}, got {names!r}")
                values[key] = tuple(names)
        for key, raw in data.items():
            if key in SELECTOR_KEYS:
                continue
            items = _as_list(f"{where}.{key}", raw)
            for i, item in enumerate(items):
                name = f"{where}.{key}[{i}]"
                if key == "sampler":
                    if not isinstance(item, str):
                        raise ValueError(f"{name}: expected a sampler name, got {item!r}")
                elif key == "nbeta":
                    if isinstance(item, str):
                        if item not in NBETA_SYMBOLS:
                            raise ValueError(
                                f"{name}: expected a number or one of {NBETA_SYMBOLS}, got {item!r}"
                            )
                    else:
                        _number(name, item)
                elif key == "batch_size":
                    if item != "full":
                        _number(name, item, integer=True)
                elif key == "control_variate":
                    if not isinstance(item, bool):
                        raise ValueError(f"{name}: expected true or false, got {item!r}")
                elif key in ("chains", "steps"):
                    _number(name, item, integer=True)
                else:
                    _number(name, item)
                if key == "burnin_fraction" and not 0 <= item < 1:
                    raise ValueError(f"{name}: expected a fraction in [0, 1), got {item!r}")
            values[key] = tuple(items)
        grid = cls(**values)
        grid.settings(where)  # validate every combination now, naming the sub-grid
        return grid

    def to_dict(self) -> dict[str, list[Any]]:
        return {
            f.name: list(getattr(self, f.name))
            for f in fields(self)
            if getattr(self, f.name) is not None
        }

    def applies_to(self, case_name: str, bucket: str | None = None) -> bool:
        """True if this sub-grid runs on ``case_name`` (and, given, on a cell of ``bucket``)."""
        if self.cases is not None and case_name not in self.cases:
            return False
        return bucket is None or self.buckets is None or bucket in self.buckets

    def settings(self, where: str = "grid") -> list[SamplerSettings]:
        out = []
        axes = [getattr(self, key) for key in GRID_KEYS]
        for combo in itertools.product(*axes):
            point = dict(zip(GRID_KEYS, combo, strict=True))
            batch = None if point["batch_size"] == "full" else int(point["batch_size"])
            nbeta = point["nbeta"]
            if nbeta == "default":
                nbeta = None
            elif nbeta == "batch":  # devinterp's default b / log b; full batch: n / log n
                nbeta = None if batch is None or batch < 2 else batch / math.log(batch)
            steps = int(point["steps"])
            burnin = min(steps - 1, int(round(steps * float(point["burnin_fraction"]))))
            try:
                out.append(
                    SamplerSettings(
                        sampler=point["sampler"],
                        step_size=float(point["step_size"]),
                        nbeta=None if nbeta is None else float(nbeta),
                        localization=float(point["localization"]),
                        chains=int(point["chains"]),
                        steps=steps,
                        burnin=burnin,
                        batch_size=batch,
                        psgld_alpha=float(point["psgld_alpha"]),
                        psgld_eps=float(point["psgld_eps"]),
                        control_variate=bool(point["control_variate"]),
                    )
                )
            except ValueError as err:
                raise ValueError(f"{where}.{err}") from None
        return out


@dataclass(frozen=True)
class CalibrationGrid:
    """A calibration sweep: sub-grids of settings, what to run them on, and the targets."""

    grids: tuple[SubGrid, ...] = field(default_factory=lambda: (SubGrid(),))
    seeds: int = 2
    scales: str | tuple[str, ...] = "all"
    cases: tuple[str, ...] | None = None
    case_scales: tuple[tuple[str, str | tuple[str, ...]], ...] = ()
    estimators: tuple[str, ...] = ("rlct",)
    max_parameters: int | tuple[tuple[str, int], ...] | None = None  # one cap, or per device
    dtype: str = "float64"
    prune: bool = False
    median_target: float = 0.05
    max_target: float = 0.15
    bucket_edges: tuple[float, ...] = (1e3, 1e5, 1e7)

    def __post_init__(self) -> None:
        if isinstance(self.seeds, bool) or not isinstance(self.seeds, int) or self.seeds < 1:
            raise ValueError(f"sweep.seeds: expected a positive integer, got {self.seeds!r}")
        if isinstance(self.scales, str) and self.scales not in SCALE_SYMBOLS:
            raise ValueError(
                f"sweep.scales: expected one of {SCALE_SYMBOLS} or a list of names, "
                f"got {self.scales!r}"
            )
        for case_name, which in self.case_scales:
            if isinstance(which, str) and which not in SCALE_SYMBOLS:
                raise ValueError(
                    f"sweep.case_scales.{case_name}: expected one of {SCALE_SYMBOLS} or a list "
                    f"of names, got {which!r}"
                )
        if not self.estimators or any(e not in ESTIMATORS for e in self.estimators):
            raise ValueError(
                f"sweep.estimators: expected a non-empty list from {ESTIMATORS}, "
                f"got {list(self.estimators)!r}"
            )
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"sweep.dtype: expected float32 or float64, got {self.dtype!r}")
        caps = (
            [] if self.max_parameters is None
            else [("", self.max_parameters)] if not isinstance(self.max_parameters, tuple)
            else list(self.max_parameters)
        )
        for device, cap in caps:
            where = "sweep.max_parameters" + (f".{device}" if device else "")
            if device and device not in DEVICE_KINDS:
                raise ValueError(f"sweep.max_parameters: unknown device {device!r}; expected {DEVICE_KINDS}")
            if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
                raise ValueError(f"{where}: expected a positive integer, got {cap!r}")
        for name in ("median_target", "max_target"):
            value = getattr(self, name)
            if not 0 < value:
                raise ValueError(f"targets.{name}: expected a positive number, got {value!r}")
        edges = list(self.bucket_edges)
        increasing = all(a < b for a, b in zip(edges, edges[1:], strict=False))
        if not increasing or any(e <= 0 for e in edges):
            raise ValueError(
                f"targets.bucket_edges: expected increasing positive numbers, got {edges}"
            )
        if not self.grids:
            raise ValueError("grid: expected at least one [[grid]] table")
        if not isinstance(self.prune, bool):
            raise ValueError(f"sweep.prune: expected true or false, got {self.prune!r}")
        labels = self.bucket_labels()
        for i, grid in enumerate(self.grids):
            for name in grid.estimators or ():
                if name not in self.estimators:
                    raise ValueError(
                        f"grid[{i}].estimators: {name!r} is not one of the sweep's estimators "
                        f"{list(self.estimators)}"
                    )
            for bucket in grid.buckets or ():
                if bucket not in labels:
                    raise ValueError(
                        f"grid[{i}].buckets: unknown bucket {bucket!r}; the bucket edges "
                        f"{list(self.bucket_edges)} give {labels}"
                    )

    def parameter_cap(self, device: str) -> int | None:
        """The grid's parameter cap on ``device`` ("cpu", "cuda" or "cuda:N"), or None (the
        sweep's default for the device applies)."""
        if not isinstance(self.max_parameters, tuple):
            return self.max_parameters
        kind = "cuda" if device.startswith("cuda") else "cpu"
        return dict(self.max_parameters).get(kind)

    def bucket_labels(self) -> list[str]:
        """The buckets' labels, small to large ("<1e3", "1e3-1e4", ..., ">=1e6")."""
        from rlct.validation.aggregate import bucket_labels

        return bucket_labels(self.bucket_edges)

    def bucket_of(self, dim: float) -> str:
        from rlct.validation.aggregate import bucket_of

        return bucket_of(dim, self.bucket_edges)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], origin: str = "grid") -> CalibrationGrid:
        _check_keys("grid file", data, ("sweep", "targets", "grid"))
        sweep = _check_keys(
            "sweep",
            data.get("sweep", {}),
            ("seeds", "scales", "case_scales", "estimators", "cases", "max_parameters", "dtype",
             "prune"),
        )
        targets = _check_keys(
            "targets",
            data.get("targets", {}),
            ("median_relative_error", "max_relative_error", "bucket_edges"),
        )
        raw_grids = data.get("grid", {})
        tables = raw_grids if isinstance(raw_grids, list) else [raw_grids]
        where = (lambda i: f"grid[{i}]") if isinstance(raw_grids, list) else (lambda i: "grid")
        grids = tuple(SubGrid.from_dict(t, where(i)) for i, t in enumerate(tables))
        kwargs: dict[str, Any] = {"grids": grids}
        if "seeds" in sweep:
            kwargs["seeds"] = sweep["seeds"]
        if "scales" in sweep:
            scales = sweep["scales"]
            if isinstance(scales, list):
                if not scales or not all(isinstance(s, str) for s in scales):
                    raise ValueError(f"sweep.scales: expected scale names, got {scales!r}")
                scales = tuple(scales)
            kwargs["scales"] = scales
        if "case_scales" in sweep:
            table = sweep["case_scales"]
            if not isinstance(table, Mapping):
                raise ValueError(
                    f"sweep.case_scales: expected a table of case = scales, got {table!r}"
                )
            pairs: list[tuple[str, str | tuple[str, ...]]] = []
            for case_name, which in table.items():
                if isinstance(which, list):
                    if not which or not all(isinstance(s, str) for s in which):
                        raise ValueError(
                            f"sweep.case_scales.{case_name}: expected scale names, got {which!r}"
                        )
                    which = tuple(which)
                elif not isinstance(which, str):
                    raise ValueError(
                        f"sweep.case_scales.{case_name}: expected scale names, got {which!r}"
                    )
                pairs.append((case_name, which))
            kwargs["case_scales"] = tuple(pairs)
        if "estimators" in sweep:
            names = sweep["estimators"]
            if not isinstance(names, list) or not all(isinstance(s, str) for s in names):
                raise ValueError(f"sweep.estimators: expected a list of names, got {names!r}")
            kwargs["estimators"] = tuple(dict.fromkeys(names))
        if "cases" in sweep:
            names = sweep["cases"]
            if not isinstance(names, list) or not all(isinstance(s, str) for s in names):
                raise ValueError(f"sweep.cases: expected a list of case names, got {names!r}")
            kwargs["cases"] = tuple(names)
        if "max_parameters" in sweep:
            raw = sweep["max_parameters"]
            if isinstance(raw, Mapping):
                kwargs["max_parameters"] = tuple(
                    (str(k), int(_number(f"sweep.max_parameters.{k}", v, integer=True)))
                    for k, v in raw.items()
                )
            else:
                kwargs["max_parameters"] = int(_number("sweep.max_parameters", raw))
        if "dtype" in sweep:
            kwargs["dtype"] = sweep["dtype"]
        if "prune" in sweep:
            kwargs["prune"] = sweep["prune"]
        if "median_relative_error" in targets:
            kwargs["median_target"] = float(
                _number("targets.median_relative_error", targets["median_relative_error"])
            )
        if "max_relative_error" in targets:
            kwargs["max_target"] = float(
                _number("targets.max_relative_error", targets["max_relative_error"])
            )
        if "bucket_edges" in targets:
            edges = _as_list("targets.bucket_edges", targets["bucket_edges"])
            kwargs["bucket_edges"] = tuple(
                float(_number(f"targets.bucket_edges[{i}]", e)) for i, e in enumerate(edges)
            )
        return cls(**kwargs)

    @classmethod
    def from_toml(cls, text: str, origin: str = "grid") -> CalibrationGrid:
        return cls.from_dict(_load_toml(text, origin), origin)

    @classmethod
    def from_file(cls, path: str | Path) -> CalibrationGrid:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise ValueError(f"grid: cannot read {str(path)!r}: {err.strerror}") from None
        return cls.from_toml(text, str(path))

    @classmethod
    def default(cls) -> CalibrationGrid:
        return cls.from_toml(DEFAULT_GRID_TOML, "the built-in grid")

    def scales_for(self, case_name: str) -> str | tuple[str, ...]:
        """The scales swept for one case: its `sweep.case_scales` entry, else `sweep.scales`."""
        return dict(self.case_scales).get(case_name, self.scales)

    def settings(
        self, case_name: str | None = None, bucket: str | None = None, estimator: str | None = None
    ) -> list[SamplerSettings]:
        """The union of the sub-grids' settings, duplicates removed, in grid order; with
        ``case_name`` (``bucket``, ``estimator``), only the sub-grids that apply to that case
        (to a cell of that bucket, for that estimator): their ``cases``, ``buckets`` and
        ``estimators``."""
        seen: set[tuple[Any, ...]] = set()
        out = []
        for i, grid in enumerate(self.grids):
            if case_name is not None and not grid.applies_to(case_name, bucket):
                continue
            if estimator is not None and grid.estimators is not None and estimator not in grid.estimators:
                continue
            for s in grid.settings(f"grid[{i}]"):
                key = tuple(sorted(s.to_dict().items()))
                if key not in seen:
                    seen.add(key)
                    out.append(s)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "sweep": {
                "seeds": self.seeds,
                "scales": self.scales if isinstance(self.scales, str) else list(self.scales),
                "case_scales": {
                    name: which if isinstance(which, str) else list(which)
                    for name, which in self.case_scales
                },
                "estimators": list(self.estimators),
                "cases": None if self.cases is None else list(self.cases),
                "max_parameters": (
                    dict(self.max_parameters) if isinstance(self.max_parameters, tuple)
                    else self.max_parameters
                ),
                "dtype": self.dtype,
                "prune": self.prune,
            },
            "targets": {
                "median_relative_error": self.median_target,
                "max_relative_error": self.max_target,
                "bucket_edges": list(self.bucket_edges),
            },
            "grid": [g.to_dict() for g in self.grids],
        }
