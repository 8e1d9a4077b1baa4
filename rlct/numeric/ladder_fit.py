r"""λ and m from the estimator's target on a ladder of inverse temperatures.

The LLC estimator at inverse temperature t = nβ reads (with an exact sampler and n ≫ t)

.. math::
    λ_t = t\,E_t[K] = -\frac{d \log Z(t)}{d \log t}, \qquad Z(t) = \int e^{-tK(w)} φ(w)\,dw,

(theory.md sec. 8). Where the zeta function ∫K^zφ has its largest pole at −λ with order m,
Z(t) = t^{-λ} P(\log t) + O(t^{-λ'} (\log t)^{m'-1}) with P a polynomial of degree exactly m − 1
(Watanabe 2009, "Algebraic Geometry and Statistical Learning Theory", Thm 6.1 / 7.1; the Mellin
transform residues, `rlct.numeric.oracles.asymptotic_fit`), so with x = log t

.. math::
    λ_t = λ - \frac{P'(x)}{P(x)} + O(e^{-(λ'-λ)x} x^{k}),\qquad
    \frac{P'}{P} = \sum_{j=1}^{m-1} \frac{1}{x + a_j}

(P factored over its roots −a_j; the leading coefficient cancels). **This is the form fitted**:
the m − 1 log terms are kept *exactly* (their coefficients are 1, not free), with the shifts
a_j free: a_j carries the constant terms of P, which are O(1/x²) in λ_t and cannot be dropped at
x = log 10² … log 10⁶. The next pole's correction e^{−κx}, κ = λ' − λ, is kept only in the
models that have enough rungs to pay for it. Thermodynamic integration of log Z was not chosen:
on a geometric ladder of a handful of rungs the integral ∫ λ_s d log s is a coarse quadrature,
and its log-log slope is the same information as λ_t, fitted less directly.

The candidate models (k = number of fitted parameters):

=====================  ==  ======================================================  ===
name                   m   λ_t(x)                                                  k
=====================  ==  ======================================================  ===
``flat``               1   λ                                                       1
``log``                2   λ − 1/(x + a)                                           2
``log2``               3   λ − 1/(x + a₁) − 1/(x + a₂)                             3
``power``              1   λ + c e^{−κ(x − x_max)}                                 3
``log+power``          2   λ − 1/(x + a) + c e^{−κ(x − x_max)}                     4
=====================  ==  ======================================================  ===

``log2`` (m = 3) is a candidate only with ``max_multiplicity=3``: on the noise-free ladders of
the Lau et al. Table 1 set its two free shifts mimicked the power correction of the m = 2
monomials (x²y², x³y³ read m = 3 with λ 7–13% high), so the default stops at m = 2. The models
hold every x + a_j ≥ `MIN_SHIFT` on the ladder (P > 0 there) and κ·(x_max − x_min) ≥
`MIN_DECAY`: a power correction that does not fall by e² across the ladder cannot be told apart
from a log term, and is not admitted. A model is fitted only if the ladder has at least k + 1
rungs. χ² is weighted by σ_i² = se_i² + (``rel_floor``·λ_{t_i})². **Selection** is by nested
tests, simplest first: start from ``flat``; while the current model does not fit (χ² p-value
< `ADEQUATE_P`), move to the smallest model that lowers χ² by at least `MIN_IMPROVEMENT` (9, a
3σ likelihood ratio). So m > 1 is claimed only when a flat ladder is rejected *and* the log term
explains the trend, and a power correction (m = 1) only when the log term does not fit: where
both would fit (a log and a slow power law are hard to tell apart over a few decades) the log
form is kept and the power model is named as a rival ("m not determined"). Where no model fits,
the least AICc = χ² + 2k + 2k(k+1)/(N−k−1) is reported with a warning. ``rel_floor`` (default 10⁻³)
stands for the terms every model drops, so that noise-free input (quadrature) is not fitted to
its last digit. λ̂'s standard error is the weighted least-squares one, scaled up by √(χ²/dof)
when the model fits worse than the stated errors. A continuous m̂ (with its standard error) comes
from the ``free`` fit λ − μ/(x + a), m̂ = 1 + μ: a value far from an integer says the asymptotic
form does not yet hold on the ladder.

Signs that the fit does not apply are returned as ``warnings`` (strings), never hidden:
too few rungs or too short a range for the log term, a non-monotone ladder (a significant rise
and a significant fall), m̂ far from an integer, another m that fits about as well with a
different λ ("m not determined"), and no model that fits the stated errors.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, stats

MIN_RUNGS = 3
MIN_SHIFT = 0.25  # smallest x + a_j on the ladder (P(x) > 0 with a margin)
MAX_SHIFT_FACTOR = 20.0  # largest x + a_j is this times x_max (beyond it 1/(x + a) is flat)
MIN_DECAY = 2.0  # kappa * (x_max - x_min) >= 2: the power correction falls by e^2 on the ladder
MAX_KAPPA = 4.0
SHORT_RANGE_DECADES = 3.0  # below this span the log term changes too little to resolve m
DEFAULT_REL_FLOOR = 1e-3
GRID_POINTS = 48
ADEQUATE_P = 0.01  # a model fits when P(chi2_dof >= chi2) >= this
MIN_IMPROVEMENT = 9.0  # chi2 drop that justifies a larger model (a 3-sigma likelihood ratio)
FAR_FROM_INTEGER = 0.3
BAD_FIT_P = 1e-3


def check_ladder(nbetas: Sequence[float], n: float | None = None, *, name: str = "nbeta_ladder",
                 max_fraction_of_n: float = 0.01) -> np.ndarray:
    """The ladder as a float array; ``ValueError`` naming ``name`` unless it has at least three
    finite, positive, strictly increasing values, each at most ``max_fraction_of_n``·n (nβ ≪ n:
    the estimator's target is nβ E[L_n − L_n(w*)], which follows K's geometry only while the data
    fluctuation is small; see `rlct.numeric.ladder` for the measured effect at n/10)."""
    try:
        values = np.asarray([float(v) for v in nbetas], dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected numbers, got {nbetas!r}") from None
    if values.ndim != 1 or values.size < MIN_RUNGS:
        raise ValueError(f"{name}: expected at least {MIN_RUNGS} inverse temperatures, got {values.size}")
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"{name}: every nbeta must be a finite positive number, got {values.tolist()}")
    if np.any(np.diff(values) <= 0):
        raise ValueError(f"{name}: must be strictly increasing, got {values.tolist()}")
    if n is not None and values[-1] > max_fraction_of_n * n:
        raise ValueError(
            f"{name}: largest nbeta {values[-1]:g} is not well below n = {n:g} (need nbeta <= "
            f"{max_fraction_of_n:g} n = {max_fraction_of_n * n:g}; raise n or lower the ladder)"
        )
    return values


@dataclass(frozen=True)
class ModelFit:
    """One candidate model fitted to the ladder.

    Attributes:
        name: ``flat``, ``log``, ``log2``, ``power``, ``log+power`` or ``free``.
        multiplicity: the m the model assumes (``free``: the rounded 1 + μ).
        lam, lam_stderr: λ̂ and its standard error.
        params: every fitted parameter by name (``a``, ``a1``, ``a2``, ``c``, ``kappa``, ``mu``).
        param_stderr: their standard errors (same keys, with ``lam``).
        chi2, dof, aicc: weighted χ², N − k, and the selection criterion.
        p_value: P(χ²_dof ≥ chi2), NaN when dof = 0.
    """

    name: str
    multiplicity: int
    lam: float
    lam_stderr: float
    params: dict[str, float]
    param_stderr: dict[str, float]
    chi2: float
    dof: int
    aicc: float
    p_value: float


@dataclass(frozen=True)
class LadderFit:
    """λ̂ and m̂ from a ladder (module docstring).

    Attributes:
        lam, lam_stderr: λ̂ of the selected model and its standard error.
        multiplicity: m of the selected model.
        m_continuous, m_stderr: 1 + μ̂ of the free fit λ − μ/(x + a) and its standard error (NaN
            with fewer than four rungs).
        model: name of the selected model.
        candidates: every fitted model, best AICc first.
        warnings: reasons to distrust λ̂ or m̂ (module docstring).
        nbetas, values, stderrs: the input ladder.
        rival: the best-fitting model of another m that also fits (p ≥ `ADEQUATE_P`, at most one
            parameter more), or None; m is not determined where its λ is more than 2 se away.
    """

    lam: float
    lam_stderr: float
    multiplicity: int
    m_continuous: float
    m_stderr: float
    model: str
    candidates: tuple[ModelFit, ...]
    warnings: tuple[str, ...]
    nbetas: tuple[float, ...]
    values: tuple[float, ...]
    stderrs: tuple[float, ...]
    rival: ModelFit | None = None

    @property
    def m_determined(self) -> bool:
        """False where a model of another m also fits and puts λ more than 2 se away."""
        return self.rival is None or abs(self.rival.lam - self.lam) <= 2 * math.hypot(
            self.rival.lam_stderr, self.lam_stderr)

    @property
    def lam_interval(self) -> tuple[float, float]:
        """λ̂ ± 2 se, widened to cover a rival's λ ± 2 se (a rival of another m that fits)."""
        pairs = [(self.lam, self.lam_stderr)]
        if self.rival is not None:
            pairs.append((self.rival.lam, self.rival.lam_stderr))
        return (min(v - 2 * e for v, e in pairs), max(v + 2 * e for v, e in pairs))

    def summary(self) -> dict[str, Any]:
        return {
            "lambda_corrected": self.lam,
            "lambda_corrected_se": self.lam_stderr,
            "m_hat": self.multiplicity,
            "m_continuous": self.m_continuous,
            "m_continuous_se": self.m_stderr,
            "ladder_model": self.model,
            "ladder_warnings": list(self.warnings),
            "ladder_nbetas": list(self.nbetas),
            "ladder_values": list(self.values),
            "ladder_stderrs": list(self.stderrs),
        }


@dataclass(frozen=True)
class _Spec:
    """A model: nonlinear parameters (profiled on a grid, then polished), linear coefficients
    of ``basis`` (the first is λ's, always 1) and a fixed ``offset``; all functions of
    (x, nonlinear params)."""

    name: str
    multiplicity: int
    nonlinear: tuple[str, ...]
    bounds: tuple[tuple[float, float], ...]
    linear: tuple[str, ...]
    basis: Callable[[np.ndarray, np.ndarray], np.ndarray]  # -> (N, len(linear))
    offset: Callable[[np.ndarray, np.ndarray], np.ndarray]  # -> (N,)

    @property
    def k(self) -> int:
        return len(self.nonlinear) + len(self.linear)


def _specs(x: np.ndarray) -> list[_Spec]:
    x_min, x_max = float(x.min()), float(x.max())
    span = x_max - x_min
    log_shift = (math.log(MIN_SHIFT), math.log(MAX_SHIFT_FACTOR * max(x_max, 1.0)))
    kappa = (min(MIN_DECAY / span, MAX_KAPPA), MAX_KAPPA)

    def shifted(s: np.ndarray | float) -> np.ndarray:  # x + a with a = e^s - x_min
        return np.asarray(x - x_min + np.exp(s))

    def ones(x_: np.ndarray, _: np.ndarray) -> np.ndarray:
        return np.ones((x_.size, 1))

    def zero(x_: np.ndarray, _: np.ndarray) -> np.ndarray:
        return np.zeros(x_.size)

    def power_basis(x_: np.ndarray, q: np.ndarray) -> np.ndarray:
        return np.stack([np.ones(x_.size), np.exp(-q[-1] * (x_ - x_max))], axis=1)

    return [
        _Spec("flat", 1, (), (), ("lam",), ones, zero),
        _Spec("log", 2, ("s",), (log_shift,), ("lam",), ones, lambda x_, q: -1.0 / shifted(q[0])),
        _Spec("log2", 3, ("s1", "s2"), (log_shift, log_shift), ("lam",), ones,
              lambda x_, q: -1.0 / shifted(q[0]) - 1.0 / shifted(q[1])),
        _Spec("power", 1, ("kappa",), (kappa,), ("lam", "c"), power_basis, zero),
        _Spec("log+power", 2, ("s", "kappa"), (log_shift, kappa), ("lam", "c"), power_basis,
              lambda x_, q: -1.0 / shifted(q[0])),
        _Spec("free", 0, ("s",), (log_shift,), ("lam", "mu"),
              lambda x_, q: np.stack([np.ones(x_.size), -1.0 / shifted(q[0])], axis=1), zero),
    ]


def _linear_solve(spec: _Spec, x: np.ndarray, y: np.ndarray, sigma: np.ndarray, q: np.ndarray
                  ) -> tuple[np.ndarray, float]:
    design = spec.basis(x, q) / sigma[:, None]
    target = (y - spec.offset(x, q)) / sigma
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    return coef, float(np.sum((design @ coef - target) ** 2))


def _fit_spec(spec: _Spec, x: np.ndarray, y: np.ndarray, sigma: np.ndarray) -> ModelFit:
    n_points = x.size
    if spec.nonlinear:
        axes = [np.linspace(lo, hi, GRID_POINTS if len(spec.nonlinear) == 1 else GRID_POINTS // 2)
                for lo, hi in spec.bounds]
        best_q, best = None, math.inf
        for q in np.array(np.meshgrid(*axes, indexing="ij")).reshape(len(axes), -1).T:
            chi2 = _linear_solve(spec, x, y, sigma, q)[1]
            if chi2 < best:
                best_q, best = q, chi2
        assert best_q is not None
        coef0 = _linear_solve(spec, x, y, sigma, best_q)[0]
        start = np.concatenate([coef0, best_q])
    else:
        start = _linear_solve(spec, x, y, sigma, np.zeros(0))[0]
    n_lin = len(spec.linear)

    def residuals(theta: np.ndarray) -> np.ndarray:
        coef, q = theta[:n_lin], theta[n_lin:]
        return (spec.basis(x, q) @ coef + spec.offset(x, q) - y) / sigma

    lower = np.array([-np.inf] * n_lin + [b[0] for b in spec.bounds])
    upper = np.array([np.inf] * n_lin + [b[1] for b in spec.bounds])
    start = np.clip(start, lower, upper)
    if spec.nonlinear:
        solved = optimize.least_squares(residuals, start, bounds=(lower, upper), x_scale="jac")
        theta = solved.x if np.sum(solved.fun**2) <= np.sum(residuals(start) ** 2) else start
    else:
        theta = start
    chi2 = float(np.sum(residuals(theta) ** 2))
    jac = optimize.approx_fprime(theta, residuals, 1e-7) if theta.size else np.zeros((n_points, 0))
    dof = n_points - spec.k
    try:
        cov = np.linalg.pinv(jac.T @ jac)
    except np.linalg.LinAlgError:
        cov = np.full((theta.size, theta.size), np.nan)
    inflation = max(1.0, chi2 / dof) if dof > 0 else 1.0
    se = np.sqrt(np.maximum(np.diag(cov), 0.0) * inflation)
    names = spec.linear + spec.nonlinear
    params = {k: float(v) for k, v in zip(names, theta)}
    x_min = float(x.min())
    param_se = {k: float(v) for k, v in zip(names, se)}
    for key in ("s", "s1", "s2"):  # report the shift a = e^s - x_min and its se (delta method), not s
        if key in params:
            shift = math.exp(params.pop(key))
            params["a" + key[1:]] = shift - x_min
            param_se["a" + key[1:]] = shift * param_se.pop(key)
    aicc = chi2 + 2 * spec.k + (2 * spec.k * (spec.k + 1) / (n_points - spec.k - 1)
                                 if n_points - spec.k - 1 > 0 else math.inf)
    multiplicity = spec.multiplicity
    if spec.name == "free":
        multiplicity = max(1, int(round(1.0 + params["mu"])))
    return ModelFit(
        name=spec.name, multiplicity=multiplicity, lam=params["lam"], lam_stderr=param_se["lam"],
        params={k: v for k, v in params.items() if k != "lam"}, param_stderr=param_se,
        chi2=chi2, dof=dof, aicc=float(aicc),
        p_value=float(stats.chi2.sf(chi2, dof)) if dof > 0 else math.nan,
    )


def fit_ladder(
    nbetas: Sequence[float],
    values: Sequence[float],
    stderrs: Sequence[float] | None = None,
    *,
    rel_floor: float = DEFAULT_REL_FLOOR,
    max_multiplicity: int = 2,
) -> LadderFit:
    """Fit λ_t = nβ E_t[K] on a ladder of nβ with the asymptotic forms of the module docstring.

    Args:
        nbetas: the ladder t_1 < … < t_N (N ≥ 3).
        values: λ_t at each rung (an estimate, or an exact tempered mean).
        stderrs: their standard errors (None: exact values, only ``rel_floor`` weights them).
        rel_floor: relative error added in quadrature to every rung (dropped terms; > 0).
        max_multiplicity: largest m among the candidates (2 or 3).
    """
    t = check_ladder(nbetas)
    y = np.asarray(values, dtype=float)
    if y.shape != t.shape:
        raise ValueError(f"values: expected {t.size} values, one per rung, got {y.size}")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"values: every rung must be finite, got {y.tolist()} (a flagged rung is not fitted)")
    se = np.zeros_like(y) if stderrs is None else np.asarray(stderrs, dtype=float)
    if se.shape != t.shape or not np.all(np.isfinite(se)) or np.any(se < 0):
        raise ValueError(f"stderrs: expected {t.size} finite non-negative numbers, got {np.asarray(stderrs).tolist()}")
    if not (math.isfinite(rel_floor) and rel_floor > 0):
        raise ValueError(f"rel_floor: expected a positive number, got {rel_floor!r}")
    if max_multiplicity not in (2, 3):
        raise ValueError(f"max_multiplicity: expected 2 or 3, got {max_multiplicity!r}")
    x = np.log(t)
    sigma = np.sqrt(se**2 + (rel_floor * np.maximum(np.abs(y), 1e-300)) ** 2)
    fits, free = [], None
    for spec in _specs(x):
        if spec.name == "log2" and max_multiplicity < 3:
            continue
        if x.size < spec.k + 1:
            continue
        fit = _fit_spec(spec, x, y, sigma)
        if spec.name == "free":
            free = fit
        else:
            fits.append(fit)
    best = _select(fits)
    fits.sort(key=lambda f: (f is not best, f.aicc))
    rival = _rival(best, fits)
    warnings = _warnings(t, y, sigma, best, rival, free)
    return LadderFit(
        lam=best.lam, lam_stderr=best.lam_stderr, multiplicity=best.multiplicity,
        m_continuous=1.0 + free.params["mu"] if free else math.nan,
        m_stderr=free.param_stderr["mu"] if free else math.nan,
        model=best.name, candidates=tuple(fits), warnings=tuple(warnings), rival=rival,
        nbetas=tuple(float(v) for v in t), values=tuple(float(v) for v in y),
        stderrs=tuple(float(v) for v in se),
    )


def _adequate(fit: ModelFit) -> bool:
    return fit.dof > 0 and fit.p_value >= ADEQUATE_P


def _select(fits: list[ModelFit]) -> ModelFit:
    """Start from ``flat``; while the current model does not fit (p < `ADEQUATE_P`), move to the
    simplest model (fewest parameters, then least χ²) that lowers χ² by at least
    `MIN_IMPROVEMENT`. Where none fits, the least AICc."""
    by_size = sorted(fits, key=lambda f: (len(f.param_stderr), f.chi2))
    current = by_size[0]
    while not _adequate(current):
        better = [f for f in by_size if len(f.param_stderr) > len(current.param_stderr)
                  and f.chi2 <= current.chi2 - MIN_IMPROVEMENT]
        if not better:
            break
        current = better[0]
    if not _adequate(current):
        return min(fits, key=lambda f: f.aicc)
    return current


def _rival(best: ModelFit, fits: list[ModelFit]) -> ModelFit | None:
    """The best-fitting model of another m that fits (p >= `ADEQUATE_P`) with at most one
    parameter more than ``best``, or None."""
    rivals = [f for f in fits if f.multiplicity != best.multiplicity and _adequate(f)
              and len(f.param_stderr) <= len(best.param_stderr) + 1]
    return min(rivals, key=lambda f: f.chi2) if rivals else None


def _warnings(t: np.ndarray, y: np.ndarray, sigma: np.ndarray, best: ModelFit,
              rival: ModelFit | None, free: ModelFit | None) -> list[str]:
    out = []
    decades = math.log10(t[-1] / t[0])
    if decades < SHORT_RANGE_DECADES:
        out.append(f"short range: the ladder spans {decades:.1f} decades (< {SHORT_RANGE_DECADES:g}); "
                   "the log term of m > 1 changes too little across it to tell m reliably")
    if t.size < 5:
        out.append(f"few rungs: {t.size} rungs leave the power-correction models "
                   f"{'no' if t.size < 4 else t.size - 3} degree(s) of freedom; 5 or more are advised")
    step = np.diff(y)
    step_se = np.sqrt(sigma[1:] ** 2 + sigma[:-1] ** 2)
    if np.any(step > 2 * step_se) and np.any(step < -2 * step_se):
        out.append("non-monotone ladder: lambda_t rises and falls by more than 2 se between rungs; "
                   "the asymptotic forms assume a monotone approach (check the sampler at each rung)")
    if free is not None:
        m_cont, m_se = 1.0 + free.params["mu"], free.param_stderr["mu"]
        nearest = max(1, round(m_cont))
        if abs(m_cont - nearest) > FAR_FROM_INTEGER and abs(m_cont - nearest) > 2 * m_se:
            out.append(f"m far from an integer: the free fit gives m = {m_cont:.2f} +- {m_se:.2f}; "
                       "the asymptotic form does not hold yet on this ladder (extend it upward)")
    if rival is not None and abs(rival.lam - best.lam) > 2 * math.hypot(rival.lam_stderr, best.lam_stderr):
        out.append(f"m not determined: model {rival.name} (m = {rival.multiplicity}, lambda = "
                   f"{rival.lam:.4g}) fits as well as {best.name} (m = {best.multiplicity}, "
                   f"lambda = {best.lam:.4g}); extend the ladder")
    if best.dof > 0 and best.p_value < BAD_FIT_P:
        out.append(f"no model fits: the best ({best.name}) has chi2 = {best.chi2:.1f} on {best.dof} dof "
                   f"(p = {best.p_value:.1e}); lambda_t is not yet in its asymptotic regime or the "
                   "standard errors are too small")
    return out
