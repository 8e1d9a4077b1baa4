"""The analytic-case interface.

A case couples an exact learning coefficient at a stated point w* (from `rlct.exact`) with a
batched torch loss the estimators can sample, at named scales. Subclass `Case` in any module of
the `cases` package and it is registered automatically (no central list to edit).

A subclass declares:
  * ``name`` and ``description`` (class attributes);
  * ``parameters``: the validated constructor parameters (a dict of name -> value), set in
    ``__init__`` via ``validate``;
  * ``scales``: a dict scale name -> keyword parameters (ordered from small to large);
  * ``exact()`` -> `rlct.exact.RLCT` (value, multiplicity, scope, point, why it holds there);
  * ``build(seed, device, dtype)`` -> `Problem` (target = batched loss + data + w*, n);
  * optionally ``recommended(self)`` -> `SamplerSettings` for this instance, and
    ``footprint(self)`` -> `rlct.numeric.memory.Footprint` (sizes known before building, so a
    job too large for the machine is refused before it allocates);
  * optionally a finite-nbeta reference lambda_beta, the estimator's own target at given n beta
    and gamma: ``finite_nbeta_reference(settings)`` -> a number computed without sampling
    (quadrature, poly), or ``reference_settings(settings)`` -> the settings of an exact sampler
    run as a reference job per cell and seed by the sweeps (Gibbs, dln / rrr / multireg).
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import torch

from rlct.exact import RLCT
from rlct.numeric.memory import Footprint, check_job_fits
from rlct.numeric.seeding import numpy_generator, torch_generator
from rlct.numeric.settings import SamplerSettings
from rlct.numeric.target import Target

__all__ = ["Case", "Footprint", "Problem", "get_case", "numpy_generator", "registry", "torch_generator"]

_REGISTRY: dict[str, type[Case]] = {}


@dataclass(frozen=True)
class Problem:
    """What a case builds: everything an estimator needs plus the exact answer."""

    case: str
    parameters: dict[str, Any]
    target: Target
    exact: RLCT
    scale: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return self.target.dim

    @property
    def n(self) -> int:
        return self.target.n

    def for_case(self, case: Case) -> Problem:
        """The same target and extras labelled as ``case`` (its name, parameters and exact value):
        for a case that builds its problem through another case (``rrr`` and ``multireg``
        through ``dln``)."""
        return replace(self, case=case.name, parameters=dict(case.parameters), exact=case.exact(),
                       scale=None)


class Case(ABC):
    """Base class of all analytic cases; see the module docstring."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    scales: ClassVar[dict[str, dict[str, Any]]] = {}
    # True where `build` hands the exact Gibbs sampler its statistics (``Target.multilinear``)
    exact_gibbs: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if getattr(cls, "__abstractmethods__", None):
            return
        if not cls.name:
            raise TypeError(f"{cls.__qualname__}: a case needs a non-empty `name`")
        if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
            other = _REGISTRY[cls.name]
            if (other.__module__, other.__qualname__) != (cls.__module__, cls.__qualname__):
                raise TypeError(f"case name {cls.name!r} is registered twice")
        _REGISTRY[cls.name] = cls

    def __init__(self, **parameters: Any) -> None:
        self.parameters: dict[str, Any] = self.validate(**parameters)

    # -- to implement -------------------------------------------------------------------------
    @classmethod
    @abstractmethod
    def validate(cls, **parameters: Any) -> dict[str, Any]:
        """Check and normalize the parameters; raise ``ValueError`` naming the bad field."""

    @abstractmethod
    def exact(self) -> RLCT:
        """The exact learning coefficient at the point w* that `build` localizes at."""

    @abstractmethod
    def build(
        self, *, seed: int = 0, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float64
    ) -> Problem:
        """Generate the data (from ``seed``) and return the batched target at w*."""

    # -- provided -----------------------------------------------------------------------------
    def recommended(self) -> SamplerSettings:
        """Estimator settings for this instance (override with calibrated values)."""
        return SamplerSettings()

    def finite_nbeta_reference(self, settings: SamplerSettings) -> float | None:
        """n beta E_p[K] under the localized tempered posterior at ``settings``' n beta and gamma,
        computed without sampling (`rlct.numeric.oracles.tempered_mean`), or None where no such
        computation is available. It is what an exact sampler would read with infinite data; it
        differs from lambda by the estimator's own finite-n beta bias."""
        return None

    def reference_settings(self, settings: SamplerSettings) -> SamplerSettings | None:
        """Settings of an exact sampler whose reading at ``settings``' n beta and gamma, on the
        same data (same seed), is this estimator's own target lambda_beta = n beta (E_beta[L_n] -
        L_n(w*)) (theory.md sec. 8), or None where the case has none (the default). The
        validation sweeps plan one reference job with these settings per cell and seed
        (`rlct.validation.sweep`) and split each estimate's error into the sampler's part
        (lambda_hat - lambda_beta) / lambda_beta and the estimator's (lambda_beta - lambda) /
        lambda. The reference must keep ``settings.nbeta`` (None included: it is resolved with
        the same n) and ``settings.localization``; its ``sampler`` must be ``"gibbs"``, the mark
        by which a sweep tells reference jobs from estimates (`rlct.validation.aggregate`)."""
        return None

    def unsupported(self, settings: SamplerSettings) -> str | None:
        """Why this case cannot run ``settings``, or None where it can (every sampler runs on
        every case's batched loss, but the exact Gibbs sampler needs ``exact_gibbs``). The
        calibration grid is checked against it before any job starts."""
        if settings.sampler == "gibbs" and not self.exact_gibbs:
            return (f"sampler 'gibbs' needs the multilinear Gaussian hook, which case "
                    f"{self.name!r} does not have (dln, rrr and multireg do)")
        return None

    def footprint(self) -> Footprint | None:
        """What `build` allocates, known before building (`rlct.numeric.memory.Footprint`: d, n,
        numbers per data row, other numbers built), or None where unknown. With it a job too large
        for the machine is refused before it allocates (`check_memory`); without it, only when
        the estimator starts."""
        return None

    def check_memory(self, settings: SamplerSettings, device: str | torch.device, dtype: torch.dtype) -> None:
        """Raise `rlct.numeric.memory.MemoryBudgetError` (a ValueError) if building this case and
        one estimate at ``settings`` would not fit on ``device``."""
        footprint = self.footprint()
        if footprint is not None:
            check_job_fits(footprint, settings, device, dtype)

    @classmethod
    def at_scale(cls, scale: str, **overrides: Any) -> Case:
        if scale not in cls.scales:
            raise ValueError(f"scale: case {cls.name!r} has scales {list(cls.scales)}, got {scale!r}")
        return cls(**{**cls.scales[scale], **overrides})

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.parameters.items())
        return f"{type(self).__name__}({args})"


def registry() -> dict[str, type[Case]]:
    """All registered cases, discovering the modules of the `cases` package first."""
    from rlct.cases import discover

    discover()
    return dict(sorted(_REGISTRY.items()))


def get_case(name: str) -> type[Case]:
    """The case registered as ``name``. Its module of the same name is imported first, so one
    case does not import every other (start-up time); the others are discovered only when the
    name is not found that way."""
    if isinstance(name, str) and name.isidentifier() and not name.startswith("_") and name != "base":
        try:
            importlib.import_module(f"rlct.cases.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"rlct.cases.{name}":
                raise
    if name in _REGISTRY:
        return _REGISTRY[name]
    cases = registry()
    if name not in cases:
        raise ValueError(f"case: unknown case {name!r}; known: {', '.join(cases)}")
    return cases[name]


CV_STEP_TIMES_NBETA = 0.03  # eps * nbeta: ~1% stationary bias on modes of loss curvature <= ~1


def cv_sgld_settings(*, steps: int, burnin: int, nbeta: float = 1000.0, chains: int = 4,
                     batch_size: int = 256, localization: float = 1.0) -> SamplerSettings:
    """The recipe calibrated on the linear and polynomial cases (reports/calibration): SGLD with
    control variates anchored at w* (Baker et al. 2019), nbeta fixed (n >> nbeta keeps the data
    fluctuation bias ~ nbeta / n small), eps = CV_STEP_TIMES_NBETA / nbeta."""
    return SamplerSettings(
        sampler="sgld", step_size=CV_STEP_TIMES_NBETA / nbeta, nbeta=nbeta, localization=localization,
        chains=chains, steps=steps, burnin=burnin, batch_size=batch_size, control_variate=True,
    )


# Sweeps (burn-in) of the exact Gibbs reference by parameter count: (largest d, sweeps, burn-in).
GIBBS_REFERENCE_SWEEPS = ((10**4, 2000, 500), (10**5, 1000, 300), (None, 400, 100))
GIBBS_REFERENCE_CHAINS = 4


def gibbs_reference_settings(settings: SamplerSettings, dim: int) -> SamplerSettings | None:
    """The exact blocked Gibbs sampler (`rlct.numeric.gibbs`) at ``settings``' nbeta (None stays
    None: n / log n, resolved with the same n) and gamma, `GIBBS_REFERENCE_CHAINS` chains, and
    sweeps by size (`GIBBS_REFERENCE_SWEEPS`): d <= 10^4: 2000 sweeps (500 burn-in), d <= 10^5:
    1000 (300), larger: 400 (100). None when ``settings`` already use the Gibbs sampler (it is
    its own reference). For the cases with ``Target.multilinear`` (dln, rrr, multireg)."""
    if settings.sampler == "gibbs":
        return None
    sweeps, burnin = next((s, b) for limit, s, b in GIBBS_REFERENCE_SWEEPS if limit is None or dim <= limit)
    return SamplerSettings(
        sampler="gibbs", nbeta=settings.nbeta, localization=settings.localization,
        chains=GIBBS_REFERENCE_CHAINS, steps=sweeps, burnin=burnin, batch_size=None,
    )


def mala_settings(*, step_size: float, steps: int, burnin: int, nbeta: float = 1000.0, chains: int = 4,
                  localization: float = 1.0) -> SamplerSettings:
    """Full-batch MALA (Roberts & Tweedie 1996) at the same nbeta and gamma as the SGLD-CV recipe:
    it samples the tempered localized posterior exactly, so what remains is the estimator's own
    finite-nbeta bias. For cases whose L_n(w) comes from sufficient statistics
    (``Target.full_data_loss``), a step costs O(d) in n: no more than a minibatch step."""
    return SamplerSettings(
        sampler="mala", step_size=step_size, nbeta=nbeta, localization=localization,
        chains=chains, steps=steps, burnin=burnin, batch_size=None,
    )

