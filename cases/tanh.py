"""One hidden layer of H tanh units, one input, one output, true function 0 (Aoyagi & Watanabe
2005, IEICE Trans. J88-D-II(10):2112-2124; Watanabe 2009, "Algebraic Geometry and Statistical
Learning Theory", the three-layer perceptron example; `rlct.exact.tanh`).

Model: f(x, w) = sum_{h=1}^{H} a_h tanh(b_h x), w = (a_1..a_H, b_1..b_H), d = 2H; inputs
x ~ Uniform(-1, 1), outputs y = sigma eps (the true function is 0), per-example loss
(y - f(x, w))^2 / (2 sigma^2), hence K(w) = E_x[f(x, w)^2] / (2 sigma^2). Localized at w* = 0,
where lambda = (H + i^2 + i) / (4 i + 2), i = floor(sqrt(H)), m = 2 if H = i^2 else 1 (the
exact value holds there: `rlct.exact.tanh` explains why K ~ sum_{k<H} (sum_h a_h b_h^(2k+1))^2
near 0; the volume-scaling oracle checks lambda on the true K for H <= 3 in
tests/test_exact_tanh.py).

The minibatch loss costs C b H tanh evaluations per call (all chains in one einsum). The
full-data loss L_n (the baseline L_n(w*), the control-variate anchor and full-batch samplers)
is evaluated in row chunks of at most `CHUNK_ELEMENTS` (chains x rows x H) numbers, with its
gradient computed in the same pass, so that at H = 10^4 it never materializes an (n, H) array.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import torch
from torch import Tensor

from rlct.cases.base import Case, Footprint, Problem, cv_sgld_settings, torch_generator
from rlct.exact import RLCT
from rlct.exact._validate import as_int, as_positive_float
from rlct.exact.tanh import tanh_network
from rlct.numeric.settings import SamplerSettings
from rlct.numeric.target import Target

DATA_STREAM = 2
# (chains x rows x H) numbers per chunk of the full-data loss: ~34 MB per float64 array.
CHUNK_ELEMENTS = 1 << 22
# The minibatch loss: control variates evaluate 2C chains' rows of b examples, and autograd keeps
# about three (2C, b, H) arrays alive.
MINIBATCH_COPIES = 3

# Taylor coefficients of 1 - tanh(b)/b = b^2/3 - 2 b^4/15 + 17 b^6/315 - 62 b^8/2835 + ...
_SERIES = (1 / 3, -2 / 15, 17 / 315, -62 / 2835, 1382 / 155925, -21844 / 6081075)
_SERIES_BELOW = 0.05  # |b| below this: the series (error < 1e-16 relative); above: the closed form


def mean_tanh_squared(b: float) -> float:
    """E[tanh(b x)^2] for x ~ Uniform(-1, 1), = 1 - tanh(b)/b (from the integral of
    1 - sech^2(b x) over [0, 1]), by its Taylor series near b = 0, where the closed form
    cancels."""
    if abs(b) < _SERIES_BELOW:
        b2 = b * b
        return b2 * sum(c * b2**k for k, c in enumerate(_SERIES))
    return 1.0 - math.tanh(b) / b


def forward(w: Tensor, x: Tensor, hidden: int) -> Tensor:
    """f(x, w) for chains w (C, 2H) and inputs x (C, b) -> (C, b)."""
    a, b = w[:, :hidden], w[:, hidden:]
    return torch.einsum("ch,cbh->cb", a, torch.tanh(x.unsqueeze(-1) * b.unsqueeze(1)))


def _full_loss_and_grad(w: Tensor, x: Tensor, y: Tensor, hidden: int, scale: float,
                        with_grad: bool) -> tuple[Tensor, Tensor | None]:
    """L_n(w) = scale * mean_i (y_i - f(x_i, w))^2 for all chains (C,), and its gradient (C, 2H)
    (analytic: dL/da_h = -2 scale mean r tanh(b_h x), dL/db_h = -2 scale a_h mean r x sech^2(b_h x),
    r = y - f), accumulated over row chunks."""
    chains, n = w.shape[0], x.shape[0]
    rows = max(1, CHUNK_ELEMENTS // (chains * hidden))
    a, b = w[:, :hidden], w[:, hidden:]
    loss = torch.zeros(chains, dtype=w.dtype, device=w.device)
    grad_a = torch.zeros_like(a) if with_grad else None
    grad_b = torch.zeros_like(b) if with_grad else None
    for start in range(0, n, rows):
        xc, yc = x[start : start + rows], y[start : start + rows]
        t = torch.tanh(xc[None, :, None] * b[:, None, :])  # (C, rows, H)
        r = yc[None, :] - torch.einsum("ch,crh->cr", a, t)  # (C, rows)
        loss += r.square().sum(dim=1)
        if grad_a is not None and grad_b is not None:
            grad_a -= torch.einsum("cr,crh->ch", r, t)
            grad_b -= a * torch.einsum("cr,crh->ch", r * xc[None, :], 1.0 - t.square())
    loss *= scale / n
    if grad_a is None or grad_b is None:
        return loss, None
    return loss, torch.cat([grad_a, grad_b], dim=1) * (2.0 * scale / n)


class _FullDataLoss(torch.autograd.Function):
    """L_n(w) whose backward pass returns the gradient computed with it, chunk by chunk."""

    @staticmethod
    def forward(ctx: Any, w: Tensor, x: Tensor, y: Tensor, hidden: int, scale: float) -> Tensor:
        loss, grad = _full_loss_and_grad(w, x, y, hidden, scale, with_grad=True)
        ctx.save_for_backward(grad)
        return loss

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor | None, ...]:
        (grad,) = ctx.saved_tensors
        return grad_output[:, None] * grad, None, None, None, None


class TanhCase(Case):
    name = "tanh"
    description = ("one hidden layer of H tanh units, one input, one output, true function 0 "
                   "(Aoyagi & Watanabe 2005), d = 2H")
    scales = {
        "H1": {"hidden": 1},
        "H2": {"hidden": 2},
        "H3": {"hidden": 3},
        "H4": {"hidden": 4},
        "H100": {"hidden": 100},
        "H1e3": {"hidden": 1000},
        "H1e4": {"hidden": 10_000},
    }

    @classmethod
    def validate(cls, **parameters: Any) -> dict[str, Any]:
        unknown = set(parameters) - {"hidden", "n", "noise_std"}
        if unknown:
            raise ValueError(f"{sorted(unknown)[0]}: unknown parameter of case 'tanh'")
        hidden = as_int("hidden", parameters.get("hidden", 1), minimum=1)
        n = as_int("n", parameters.get("n", 100_000), minimum=2)
        noise_std = as_positive_float("noise_std", parameters.get("noise_std", 1.0), text=True)
        return {"hidden": hidden, "n": n, "noise_std": noise_std}

    @property
    def dim(self) -> int:
        return 2 * self.parameters["hidden"]

    def footprint(self) -> Footprint:
        """d parameters; n rows of one input and one output; the full-data loss's chunk (a few
        arrays of `CHUNK_ELEMENTS`) and the minibatch loss's (2C, b, H) intermediates at the
        recommended C and b (H = 10^4: 78 million numbers, 0.6 GB in float64)."""
        hidden = self.parameters["hidden"]
        settings = self.recommended()
        rows = 2 * settings.chains * (settings.batch_size or 1)
        return Footprint(dim=self.dim, n=self.parameters["n"], row_elements=2,
                         build_elements=4 * CHUNK_ELEMENTS + MINIBATCH_COPIES * rows * hidden)

    def exact(self) -> RLCT:
        return tanh_network(self.parameters["hidden"])

    def build(
        self, *, seed: int = 0, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float64
    ) -> Problem:
        hidden, n, sigma = self.parameters["hidden"], self.parameters["n"], self.parameters["noise_std"]
        generator = torch_generator(seed, DATA_STREAM)
        x = 2.0 * torch.rand(n, generator=generator, dtype=dtype) - 1.0
        y = sigma * torch.randn(n, generator=generator, dtype=dtype)  # true function 0
        x, y = x.to(device), y.to(device)
        scale = 1.0 / (2.0 * sigma**2)

        def loss(w: Tensor, batch: tuple[Tensor, ...]) -> Tensor:
            xb, yb = batch  # (C, b) each
            return scale * (yb - forward(w, xb, hidden)).square().mean(dim=1)

        def full_data_loss(w: Tensor) -> Tensor:
            if torch.is_grad_enabled() and w.requires_grad:
                return _FullDataLoss.apply(w, x, y, hidden, scale)
            return _full_loss_and_grad(w, x, y, hidden, scale, with_grad=False)[0]

        target = Target(loss=loss, data=(x, y), w_star=torch.zeros(2 * hidden, dtype=dtype, device=device),
                        name=f"tanh[H={hidden}]", full_data_loss=full_data_loss)
        return Problem(case=self.name, parameters=dict(self.parameters), target=target, exact=self.exact())

    def finite_nbeta_reference(self, settings: SamplerSettings) -> float | None:
        """H = 1 only: n beta E[K] under the localized tempered posterior
        p(a, b) ~ exp(-n beta K - gamma (a^2 + b^2) / 2) with the population
        K(a, b) = s a^2 g(b), s = 1 / (2 sigma^2), g(b) = E[tanh(b x)^2] = 1 - tanh(b)/b
        (`mean_tanh_squared`). K is quadratic in a, so the a-integral is Gaussian and exact: given
        b, a ~ N(0, 1 / q(b)) with q = 2 n beta s g(b) + gamma, E[n beta K | b] = n beta s g / q,
        and b has the marginal density ~ exp(-gamma b^2 / 2) q(b)^(-1/2); what remains is one
        adaptive quadrature in b (QUADPACK, a few ms). It equals the nested two-dimensional
        quadrature `tempered_mean_nested` of the same K to ~1e-14 (tests/test_case_tanh.py), which
        takes ~0.5 s. None for H > 1: K then has no closed form and 2H > 2 variables."""
        if self.parameters["hidden"] != 1 or settings.localization <= 0:
            return None
        from scipy import integrate

        from rlct.numeric.oracles.tempered import TAIL_SDS

        gamma = settings.localization
        tempered = settings.resolved_nbeta(self.parameters["n"]) / (2.0 * self.parameters["noise_std"] ** 2)

        def marginal(b: float) -> float:
            return math.exp(-0.5 * gamma * b * b) / math.sqrt(2.0 * tempered * mean_tanh_squared(b) + gamma)

        def energy(b: float) -> float:
            g = tempered * mean_tanh_squared(b)
            return marginal(b) * g / (2.0 * g + gamma)

        bound = TAIL_SDS / math.sqrt(gamma)

        def quad(f: Any) -> float:
            return float(integrate.quad(f, -bound, bound, points=[-1e-3, 0.0, 1e-3], limit=500,
                                        epsabs=1e-13, epsrel=1e-12)[0])

        return quad(energy) / quad(marginal)

    def recommended(self) -> SamplerSettings:
        """SGLD with control variates at the calibrated recipe's nbeta = 1000, gamma = 1, batch 256
        (`cv_sgld_settings`; full-batch MALA would cost n H tanh evaluations per step), with
        16 chains and a step size set by the stiffest direction instead of CV_STEP_TIMES_NBETA.

        Step size: in a, n beta L has curvature n beta G(b) / sigma^2, G_hh' = E[tanh(b_h x)
        tanh(b_h' x)], whose top eigenvalue is ~0.18 H for b ~ N(0, 1/gamma) (the spread of b
        where a ~ 0); eps = min(3e-4, 1.2e-3 / H) min(1, sigma^2) keeps eps x curvature ~ 0.2
        (stable, a few percent of discretization bias in that one mode). The flat directions (b where a ~ 0)
        relax only at rate eps gamma, i.e. over ~1 / eps steps: 3,300 steps for H <= 4, which the
        recipe's eps = 3e-5 would make 33,000 (measured H = 1, eps = 3e-5, 10,000 steps: 0.255,
        against the finite-nbeta reference 0.369). Many chains are cheap at small H (the step
        cost is overhead) and average over the slow b-directions.

        Measured (sigma = 1, 2 cores shared with other jobs; not calibrated beyond these runs):
        H = 1 (lambda = 1/2, m = 2; finite-nbeta reference 0.3695 at nbeta = 1000, gamma = 1):
        float32 seeds 0 and 1: 0.350 +- 0.014 and 0.373 +- 0.020 (6.6-12 s); float64 (`rlct
        validate --quick`): 0.377 +- 0.024 and 0.339 +- 0.018 (8 s per job alone, 42 s with four
        processes on the two cores); with 4 chains and 10,000 steps the chain spread was 3x
        larger (0.389 +- 0.064, 0.312 +- 0.044). H = 2 (lambda = 2/3, m = 1):
        0.580 +- 0.026, 0.594 +- 0.024 (18 s). H = 4 (lambda = 1, m = 2): 0.773 +- 0.028 (19 s).
        The estimator's own bias at nbeta = 1000 is about -(m - 1) / log(nbeta) = -0.145 for
        m = 2 (H = 1: the reference is 26% below lambda).

        H >= 5 (H100 and up): 4 chains, 20,000 steps (5,000 burn-in) at eps = 1.2e-3 / H;
        relaxing the b-directions would take ~H / 1.2e-3 steps, far beyond these chains, so the
        estimates stay far below lambda (measured H = 100, lambda = 5: 0.48 +- 0.07 after 4,000
        steps at eps = 1.2e-5; 1.55 +- 0.09 after 8,000 steps at eps = 6e-5, 76 s)."""
        hidden = self.parameters["hidden"]
        base = cv_sgld_settings(steps=8_000, burnin=2_000, chains=16)
        if hidden > 4:
            base = cv_sgld_settings(steps=20_000, burnin=5_000, chains=4)
        return replace(base, step_size=min(3e-4, 1.2e-3 / hidden) * min(1.0, self.parameters["noise_std"] ** 2))
