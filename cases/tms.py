r"""Toy model of superposition (TMS), r = 2 hidden dimensions, at its k-gon critical points.

Chen, Lau, Mendel, Wei, Murfet 2023, "Dynamical versus Bayesian phase transitions in a toy model
of superposition", arXiv 2310.06301. Model f(x) = ReLU(W^T W x + b), W in R^{2 x c}, b in R^c,
d = 3c; data in the high-sparsity limit (one feature i uniform, magnitude u ~ U[0, 1]); loss
L = E||x - f(x)||^2. The population loss is a closed form (`rlct.cases._tms_loss`); its k-gon critical
points (k columns a regular k-gon of length l*, bias b*; c - k dead features W_i = 0 with bias
1/(2c) (sigma+) or < 0 (sigma-)) are solved to 45 digits (`rlct.cases._tms_kgon`).

The exact value and why it holds at w* (`rlct.cases._tms_certify`, Watanabe's minimally singular
rule, theory.md sec. 0): at a local minimum where {L = L*} is a submanifold of codimension r and
the Hessian has rank r, lambda = r/2 with multiplicity 1. For every (c, k, sigma+) with
5 <= k <= c <= 8 we certify, at 50 digits: ||grad L|| ~ 1e-44; L analytic near w* (every ReLU
kink of the pair integrals stays >= 0.0625 away); the Hessian spectrum (rank with a gap: smallest
kept eigenvalue >= 2.7e-3, largest dropped <= 3.3e-45; number of negative eigenvalues); the flat
set measured independently (rotation and sigma- moves flat to 1e-51 at finite distance; the PCA
dimension of perturbations projected back onto {L = L*} by gradient descent, kept >= 0.54 vs
dropped <= 7e-6 relative singular values) equals d - rank at every minimum.

Verdict on the rule lambda = (3k - 1)/2 + (3/2) sigma+ (theory.md sec. 5, marked "to verify"):
**confirmed when all dead features have the same sign** (sigma+ = 0 or sigma- = 0): rank
3k - 1 (3k k-gon parameters minus the O(2) orbit) + 3 per sigma+ feature (regular) + 0 per sigma-
feature (its 3 coordinates are flat on an open box: b_i + max(0, |W_i|^2, max_j W_i.W_j) < 0 and
W_i.W_j + b* < 0). Examples: c = 6: 6-gon 17/2, 5+ 17/2, 5- 7; k = c: (3c - 1)/2. **Corrected
when both signs are present** (sigma+ >= 1 and sigma- >= 1, e.g. c = 7, k = 5, sigma+ = 1): the
point is a saddle. A sigma+ output j = ReLU(u W_j.W_i + 1/(2c)) couples W_j to a sigma- column
W_i whose own curvature is zero; the Hessian has 2 negative eigenvalues and L drops along them
(by ~4e-10 at step 1e-3). Such points get no exact value (`exact` raises). 4-gons (l = 1, b = 0)
are listed but carry no exact value either: the ReLU kinks sit at u = 0, L is C^1 but not C^2.

Sampling chart: w = (W[0, :], W[1, :], b) flat. The empirical loss L_n of the sample differs from
L by O(n^-1/2), so the population w* is not critical for L_n; its gradient there would bias the
estimator by a term of order nbeta |grad L_n|^2 / H ~ d/log n. `build` therefore localizes at w*_n,
the minimizer of L_n reached by damped Newton steps from the population w* (moving O(n^-1/2)).
L_n has the same flat set near w*_n (rotations are exact symmetries of L_n; the sigma- boxes are
inert for every sample in [0, 1]) and a Hessian within O(n^-1/2) of the population one, so the
certified lambda = rank/2 is the value the estimator targets at w*_n.

Data-set size and sampler (`recommended`): n = 1e5 by default for k = c (no dead features) and
1e6 with dead features, because at n = 1e5 the posterior reaches the sigma+ kink (margin 1/(2c))
and, with gamma = 1, leaves the sigma- boxes (measured without control variates at n = 1e5:
(6,5,0) 8.57 +- 0.62 vs 7 with gamma = 1; (6,5,1) 9.79 +- 0.62 vs 8.5). Without control variates
the minibatch gradient noise heats the chains at n = 1e6 ((6,5,0): 12.7 +- 2.3), so SGLD-CV is
used throughout. Measured with the recommended settings (4 chains, data seed s, sampler seed
s + 1): c = 5 (lambda 7): 7.26 +- 0.12, 7.57 +- 0.38, 6.59 +- 0.25 (s = 0, 1, 2); c = 6, k = 6
(17/2): 8.82 +- 0.20; c = 6, k = 5 (7, n = 1e6, gamma = 155): 7.18 +- 0.25; c = 6, k = 5,
sigma+ = 1 (17/2, n = 1e6): 8.79 +- 0.32; c = 7, k = 5, sigma+ = 2 (10, n = 1e6): 9.90 +- 0.24;
c = 8, k = 8 (23/2, 52000 steps, ~6 min on one core): 11.61 +- 0.11.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import torch
from torch import Tensor

from rlct.cases._tms_certificates import CERTIFICATES
from rlct.cases._tms_certify import Certificate, kgon_description
from rlct.cases._tms_kgon import kgon_parameters, kgon_point, sigma_minus_box_radius
from rlct.cases._tms_loss import empirical_loss, population_loss_torch, sample_data
from rlct.cases.base import Case, Problem, torch_generator
from rlct.exact import RLCT
from rlct.exact._validate import as_int
from rlct.numeric.settings import SamplerSettings
from rlct.numeric.target import Target

DATA_STREAM = 1  # SeedSequence key of the data stream
C_RANGE = (4, 8)
DEFAULT_N = 100_000  # data-set size without dead features
DEFAULT_N_DEAD = 1_000_000  # with dead features: the posterior must stay inside 1/(2c) margins
SOURCE = (
    "Chen, Lau, Mendel, Wei, Murfet 2023, arXiv 2310.06301 (TMS k-gon critical points); "
    "Watanabe 2009, Algebraic Geometry and Statistical Learning Theory (minimally singular "
    "point: lambda = rank(Hessian)/2, m = 1)"
)
FOURGON_REASON = (
    "at a 4-gon (l = 1, b = 0) every pair (i, j) with W_i.W_j <= 0 has its ReLU kink at u = 0, "
    "so the population loss is C^1 but not C^2 there and no minimally singular value applies"
)
STEP_TIMES_NBETA = 0.17  # SGLD step size times n*beta (2e-5 at the default n = 1e5)
BURNIN_RELAXATIONS = 6  # burn-in length in relaxation times of the softest curved mode
REFINE_MAX_STEPS = 100
REFINE_GRADIENT_TOL = 1e-10  # stop when ||grad L_n|| is below this (negligible: nbeta*g*shift << 1)
REFINE_RCOND = 1e-9  # eigenvalues of the L_n Hessian below this (relative) are treated as flat


@dataclass(frozen=True)
class KGonPoint:
    """One listed critical point of TMS with c features (see `TMSCase.points`)."""

    c: int
    k: int
    sigma_plus: int
    sigma_minus: int
    l: float
    b: float
    loss: float
    status: str  # "minimally singular", "saddle" or "4-gon (C^1, not C^2)"
    learning_coefficient: Fraction | None


class TMSCase(Case):
    """TMS with two hidden dimensions at a k-gon critical point (module docstring)."""

    name = "tms"
    description = (
        "toy model of superposition, 2 hidden dims, k-gon critical points (Chen et al. 2023)"
    )
    scales = {
        "c5": {"c": 5, "k": 5, "sigma_plus": 0},
        "c6": {"c": 6, "k": 6, "sigma_plus": 0},
        "c8": {"c": 8, "k": 8, "sigma_plus": 0},
    }

    @classmethod
    def validate(cls, **parameters: Any) -> dict[str, Any]:
        unknown = set(parameters) - {"c", "k", "sigma_plus", "n"}
        if unknown:
            raise ValueError(f"{sorted(unknown)[0]}: unknown parameter of case 'tms'")
        c = as_int("c", parameters.get("c", 6))
        if not C_RANGE[0] <= c <= C_RANGE[1]:
            raise ValueError(f"c: expected {C_RANGE[0]} <= c <= {C_RANGE[1]}, got {c}")
        k = as_int("k", parameters.get("k", c))
        if not 4 <= k <= c:
            raise ValueError(f"k: expected 4 <= k <= c = {c} (k = 4 only for listing), got {k}")
        sigma_plus = as_int("sigma_plus", parameters.get("sigma_plus", 0))
        if not 0 <= sigma_plus <= c - k:
            raise ValueError(
                f"sigma_plus: expected 0 <= sigma_plus <= c - k = {c - k}, got {sigma_plus}"
            )
        default_n = DEFAULT_N if k == c else DEFAULT_N_DEAD
        n = as_int("n", parameters.get("n", default_n), minimum=2)
        return {"c": c, "k": k, "sigma_plus": sigma_plus, "n": n}

    @property
    def dim(self) -> int:
        return 3 * self.parameters["c"]

    @property
    def sigma_minus(self) -> int:
        p = self.parameters
        return p["c"] - p["k"] - p["sigma_plus"]

    @property
    def certificate(self) -> Certificate | None:
        """The stored certificate of this point (None for 4-gons)."""
        p = self.parameters
        return CERTIFICATES.get((p["c"], p["k"], p["sigma_plus"]))

    def point_description(self) -> str:
        p = self.parameters
        return kgon_description(p["c"], p["k"], p["sigma_plus"])

    def exact(self) -> RLCT:
        p = self.parameters
        point = self.point_description()
        if p["k"] == 4:
            raise ValueError(f"point: 4-gons carry no exact value: {FOURGON_REASON} ({point})")
        cert = self.certificate
        assert cert is not None
        if not cert.is_minimum:
            raise ValueError(
                f"point: no exact value at a saddle: with sigma+ = {p['sigma_plus']} and "
                f"sigma- = {self.sigma_minus} dead features the Hessian has {cert.negative} "
                f"negative eigenvalues (a sigma+ output couples to a flat sigma- column) ({point})"
            )
        lam = cert.learning_coefficient
        if lam is None:  # would mean the stored certificate is inconsistent
            raise ValueError(f"point: Hessian rank {cert.rank} != codimension of the flat set")
        return RLCT(
            value=lam,
            multiplicity=1,
            source=SOURCE,
            scope="local",
            certificate="minimally singular (Morse-Bott) local minimum, certified numerically: "
            + cert.describe(),
            point=point,
            notes=(
                f"lambda = rank/2 = {cert.rank}/2 = (3k - 1)/2 + (3/2) sigma+ with k = {p['k']}, "
                f"sigma+ = {p['sigma_plus']}, sigma- = {self.sigma_minus} (sigma- features are "
                "flat on an open box and contribute 0)",
                f"population loss L* = {cert.loss:.12g} = (h_k + c - k)/(3c) - sigma+/(4c^2)",
            ),
        )

    @classmethod
    def points(cls, c: int = 6) -> tuple[KGonPoint, ...]:
        """Every k-gon critical point with c features (k = 4..c, sigma+ = 0..c - k), with its
        status: minimally singular (with lambda), saddle, or 4-gon (no exact value)."""
        cls.validate(c=c)
        out = []
        for k in range(4, c + 1):
            l_star, b_star = kgon_parameters(k)
            for sigma_plus in range(c - k + 1):
                cert = CERTIFICATES.get((c, k, sigma_plus))
                if cert is None:
                    status, lam = "4-gon (C^1, not C^2)", None
                    loss = (c - 4) / (3 * c) - sigma_plus / (4 * c * c)
                else:
                    status = "minimally singular" if cert.is_minimum else "saddle"
                    lam, loss = cert.learning_coefficient, cert.loss
                out.append(
                    KGonPoint(
                        c,
                        k,
                        sigma_plus,
                        c - k - sigma_plus,
                        float(l_star),
                        float(b_star),
                        loss,
                        status,
                        lam,
                    )
                )
        return tuple(out)

    def population_point(self, dtype: torch.dtype = torch.float64) -> Tensor:
        """The population critical point w* (flat, CPU)."""
        p = self.parameters
        return torch.tensor(
            [float(x) for x in kgon_point(p["c"], p["k"], p["sigma_plus"])], dtype=dtype
        )

    def build(
        self,
        *,
        seed: int = 0,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float64,
    ) -> Problem:
        p = self.parameters
        exact = self.exact()  # raises for 4-gons and saddles: no target without an exact value
        cert = self.certificate
        assert cert is not None
        x = sample_data(p["n"], p["c"], torch_generator(seed, DATA_STREAM), dtype=torch.float64)
        w_population = self.population_point()
        w_star, info = refine_on_data(w_population, x)
        target = Target(
            loss=empirical_loss,
            data=(x.to(device=device, dtype=dtype),),
            w_star=w_star.to(device=device, dtype=dtype),
            name=f"tms c={p['c']} k={p['k']} sigma+={p['sigma_plus']}",
        )
        scale = next(
            (
                name
                for name, values in self.scales.items()
                if all(p[key] == value for key, value in values.items())
            ),
            None,
        )
        return Problem(
            case=self.name,
            parameters=dict(p),
            target=target,
            exact=exact,
            scale=scale,
            extra={"w_population": w_population, "population_loss": cert.loss, **info},
        )

    def recommended(self) -> SamplerSettings:
        """SGLD with control variates anchored at w* (minibatch gradient noise would otherwise
        heat the chains: its variance grows like eps nbeta^2 / batch), eps * nbeta =
        `STEP_TIMES_NBETA` (stable and nearly unbiased for the stiffest mode, Hessian eigenvalue
        ~1.3), and a burn-in of `BURNIN_RELAXATIONS` relaxation times 2 / (eps nbeta mu_min) of
        the softest curved mode mu_min (0.069 at c = 5, 0.021 at c = 6, 0.0027 at c = 8), twice
        that in total. gamma = 1 without sigma- features (nbeta mu_min >= 24 >> gamma); with
        them gamma = (3 / r)^2 so the chains stay inside the inert box of radius r of every
        sigma- column (`sigma_minus_box_radius`: 0.24 next to a 5-gon). Calibration in the
        module docstring."""
        p = self.parameters
        settings = SamplerSettings(
            sampler="sgld", batch_size=1024, chains=4, control_variate=True
        )
        nbeta = settings.resolved_nbeta(p["n"])
        cert = self.certificate
        softest = cert.smallest_kept if cert is not None and cert.is_minimum else 0.069
        relaxation = 2.0 / (STEP_TIMES_NBETA * softest)
        burnin = max(1000, 1000 * math.ceil(BURNIN_RELAXATIONS * relaxation / 1000))
        gamma = 1.0
        if self.sigma_minus and p["k"] >= 5:
            gamma = float(math.ceil((3.0 / sigma_minus_box_radius(p["k"])) ** 2))
        return settings.replace(
            step_size=STEP_TIMES_NBETA / nbeta, burnin=burnin, steps=2 * burnin, localization=gamma
        )


def refine_on_data(w_population: Tensor, x: Tensor) -> tuple[Tensor, dict[str, float]]:
    """Minimize L_n from the population critical point (float64, CPU) by Newton-type steps
    w <- w - H^+ grad L_n(w) preconditioned with the pseudo-inverse of the *population* Hessian
    H at w* (within O(n^-1/2) of the Hessian of L_n, so the iteration contracts fast), halving
    the step whenever L_n would increase. Eigenvalues of H below REFINE_RCOND * max are the flat
    directions (rotation orbit, sigma- boxes) and are not stepped along. Returns w*_n and
    diagnostics."""
    x = x.to(dtype=torch.float64, device="cpu")
    batch = (x.unsqueeze(0),)

    def loss(w: Tensor) -> Tensor:
        return empirical_loss(w.unsqueeze(0), batch)[0]

    def population(w: Tensor) -> Tensor:
        return population_loss_torch(w.unsqueeze(0))[0]

    w = w_population.detach().to(torch.float64).clone()
    values, vectors = torch.linalg.eigh(torch.func.hessian(population)(w))
    keep = values > REFINE_RCOND * values.abs().max()
    inverse = (vectors[:, keep] / values[keep]) @ vectors[:, keep].T
    start_loss = current = float(loss(w))
    gradient = torch.func.grad(loss)(w)
    start_gradient = gradient_norm = float(gradient.norm())
    steps = 0
    while steps < REFINE_MAX_STEPS and gradient_norm >= REFINE_GRADIENT_TOL:
        steps += 1
        step = -(inverse @ gradient)
        scale = 1.0
        while scale > 1e-6 and float(loss(w + scale * step)) > current:
            scale /= 2
        if scale <= 1e-6:
            break
        w = w + scale * step
        current = float(loss(w))
        gradient = torch.func.grad(loss)(w)
        gradient_norm = float(gradient.norm())
    return w, {
        "empirical_loss_at_population_point": start_loss,
        "empirical_gradient_at_population_point": start_gradient,
        "empirical_loss": current,
        "empirical_gradient": gradient_norm,
        "shift": float((w - w_population).norm()),
        "refine_steps": steps,
    }
