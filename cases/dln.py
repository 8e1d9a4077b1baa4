"""Deep linear networks: Y = W_L ... W_1 X + noise, exact lambda from Aoyagi 2024.

Model: x ~ N(0, I_{H_0}), y = C x + sigma * eps with C = U diag(s) V^T of rank r, eps ~ N(0, I).
Loss (per example): ||y - W_L ... W_1 x||^2 / (2 sigma^2), the Gaussian negative log-likelihood
up to a constant, so K(w) = ||W_L...W_1 - C||_F^2 / (2 sigma^2).

The point w* and why `rlct.exact.dln` (a *global* value) holds there (theory.md sec. 0):
  * r = 0: w* = 0. K is then homogeneous in w, so every true point's local RLCT is attained
    arbitrarily close to 0; the local value at 0 is the global minimum.
  * r > 0: w* is the "minimal-rank" true point: W_1 = [diag(s)^(1/L) V^T; 0],
    W_l = [[diag(s)^(1/L), 0], [0, 0]] for 1 < l < L, W_L = [U diag(s)^(1/L), 0]; every layer
    has rank exactly r. Near this point the network splits (Aoyagi 2024, proof of the main
    theorem; Aoyagi & Watanabe 2005 sec. 4 for L = 2) into a regular part of dimension
    r(H_0 + H_L - r) and a rank-0 deep linear network with widths H_s - r at the origin, which
    is the r = 0 case above; the closed form is exactly this sum (theory.md sec. 4, the
    geometric form). At a generic true point (some layer of rank > r) the local value can be
    larger (theory.md sec. 0: widths [2,2,2], r = 0, B = I, A = 0 gives 2 > 3/2).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import torch
from torch import Tensor

from rlct.cases.base import (
    Case,
    Footprint,
    Problem,
    cv_sgld_settings,
    gibbs_reference_settings,
    mala_settings,
    torch_generator,
)
from rlct.exact import RLCT, dln
from rlct.exact._validate import as_int, as_int_list, as_positive_float
from rlct.numeric.gibbs import MultilinearGaussian
from rlct.numeric.settings import SamplerSettings
from rlct.numeric.target import Target

DATA_STREAM = 1  # SeedSequence key of the data stream


def layer_shapes(widths: tuple[int, ...]) -> list[tuple[int, int]]:
    """Shapes (H_l, H_{l-1}) of W_1 .. W_L."""
    return [(widths[i + 1], widths[i]) for i in range(len(widths) - 1)]


def unflatten(w: Tensor, widths: tuple[int, ...]) -> list[Tensor]:
    """(C, d) flat parameters -> [W_1 (C, H_1, H_0), ..., W_L (C, H_L, H_{L-1})] (views).

    One ``split`` rather than L slices: its backward writes the (C, d) gradient once (a cat)
    instead of zero-filling L full-size buffers and summing them."""
    shapes = layer_shapes(widths)
    parts = w.split([rows * cols for rows, cols in shapes], dim=1)
    return [part.view(w.shape[0], rows, cols) for part, (rows, cols) in zip(parts, shapes)]


def forward(w: Tensor, x: Tensor, widths: tuple[int, ...]) -> Tensor:
    """Network output for C chains: w (C, d), x (C, b, H_0) -> (C, b, H_L).

    Computed on transposed activations, h^T <- W_l h^T (C, H_l, b), so that autograd produces
    each weight gradient contiguous and reshapes it into the flat gradient without a copy."""
    h = x.transpose(1, 2)
    for weight in unflatten(w, widths):
        h = torch.bmm(weight, h)
    return h.transpose(1, 2)


def make_loss(widths: tuple[int, ...], noise_std: float) -> Callable[[Tensor, tuple[Tensor, ...]], Tensor]:
    scale = 1.0 / (2.0 * noise_std**2)

    def loss(w: Tensor, batch: tuple[Tensor, ...]) -> Tensor:
        x, y = batch
        residual = y - forward(w, x, widths)
        return scale * residual.square().sum(dim=2).mean(dim=1)

    return loss


def multilinear_model(
    widths: tuple[int, ...], noise_std: float, x: Tensor, y: Tensor, w_star: Tensor
) -> MultilinearGaussian:
    """The hook for the exact Gibbs sampler (`rlct.numeric.gibbs`): the same L_n through its
    sufficient statistics S_xx = x^T x / n, S_yx = y^T x / n, s_yy = mean ||y||^2 (computed in
    float64 and kept in float64, whatever the data's dtype), the layer shapes and w*."""
    n = x.shape[0]
    x64, y64 = x.double(), y.double()
    return MultilinearGaussian(
        layer_shapes=tuple(layer_shapes(widths)), sxx=x64.T @ x64 / n, syx=y64.T @ x64 / n,
        syy=y64.square().sum(dim=1).mean(), noise_std=noise_std, w_star=w_star.double(), n=n,
    )


def make_full_data_loss(
    widths: tuple[int, ...], noise_std: float, x: Tensor, y: Tensor
) -> Callable[[Tensor], Tensor]:
    """L_n(w) from sufficient statistics, O(sum H_l H_(l-1) H_0) per chain instead of O(n):
    mean ||y - P x||^2 = tr(P Sxx P^T) - 2 tr(P Sxy) + mean ||y||^2, P = W_L ... W_1."""
    n = x.shape[0]
    sxx = x.T @ x / n
    syx = y.T @ x / n
    syy = y.square().sum(dim=1).mean()
    scale = 1.0 / (2.0 * noise_std**2)

    def full_data_loss(w: Tensor) -> Tensor:
        layers = unflatten(w, widths)
        product = layers[0]
        for weight in layers[1:]:
            product = torch.bmm(weight, product)
        quadratic = (torch.matmul(product, sxx.to(w)) * product).sum(dim=(1, 2))
        cross = (product * syx.to(w)).sum(dim=(1, 2))
        return scale * (quadratic - 2.0 * cross + syy.to(w))

    return full_data_loss


# The recommended MALA chain length by d (`DLNCase.recommended`): 200,000 steps up to
# MALA_LONG_CHAIN_MAX_DIM, 40,000 up to MALA_FULL_LENGTH_MAX_DIM, 3,000 above (CPU time).
MALA_LONG_CHAIN_MAX_DIM = 2 * 10**4
MALA_FULL_LENGTH_MAX_DIM = 2 * 10**5


class DLNCase(Case):
    name = "dln"
    exact_gibbs = True
    description = "deep linear network Y = W_L...W_1 X, Gaussian data (Aoyagi 2024)"
    scales = {
        "1e2": {"widths": (10, 10, 10), "rank": 2},
        "1e3": {"widths": (20, 20, 20, 20), "rank": 3},
        "1e4": {"widths": (50, 50, 50, 50, 50), "rank": 10},
        "1e5": {"widths": (160, 160, 160, 160, 160), "rank": 20},
        "1e6": {"widths": (500, 500, 500, 500, 500), "rank": 50},
        "1e7": {"widths": (1000,) * 11, "rank": 100},
    }

    @classmethod
    def validate(cls, **parameters: Any) -> dict[str, Any]:
        unknown = set(parameters) - {"widths", "rank", "n", "noise_std"}
        if unknown:
            raise ValueError(f"{sorted(unknown)[0]}: unknown parameter of case 'dln'")
        if "widths" not in parameters:
            raise ValueError("widths: required")
        widths = tuple(as_int_list("widths", parameters["widths"], minimum=1, min_length=2))
        rank = as_int("rank", parameters.get("rank", 0), minimum=0)
        if rank > min(widths):
            raise ValueError(f"rank: must be <= the smallest width {min(widths)}, got {rank}")
        n = as_int("n", parameters.get("n", 100_000), minimum=2)
        noise_std = as_positive_float("noise_std", parameters.get("noise_std", 1.0))
        return {"widths": widths, "rank": rank, "n": n, "noise_std": noise_std}

    @property
    def dim(self) -> int:
        return sum(r * c for r, c in layer_shapes(self.parameters["widths"]))

    def footprint(self) -> Footprint:
        """d parameters; n rows of H_0 inputs and H_L outputs; w* built in float64 blocks
        (two copies of d float64 numbers), the sufficient statistics and the true product."""
        widths = self.parameters["widths"]
        first, last = widths[0], widths[-1]
        return Footprint(dim=self.dim, n=self.parameters["n"], row_elements=first + last,
                         build_elements=4 * self.dim + first * first + 2 * first * last)

    def exact(self) -> RLCT:
        widths, rank = self.parameters["widths"], self.parameters["rank"]
        base = dln(widths, rank)
        point = "w* = 0" if rank == 0 else "minimal-rank true point (every layer of rank r)"
        return replace(
            base, scope="local", certificate=base.certificate + "; local at w* (see cases/dln.py)",
            point=point,
        )

    def true_point(self, generator: torch.Generator, dtype: torch.dtype) -> Tensor:
        """The flat w* described in the module docstring (random U, V, s from ``generator``)."""
        widths, rank = self.parameters["widths"], self.parameters["rank"]
        layers = len(widths) - 1
        blocks = []
        if rank == 0:
            return torch.zeros(self.dim, dtype=dtype)
        u, _ = torch.linalg.qr(torch.randn(widths[-1], rank, generator=generator, dtype=torch.float64))
        v, _ = torch.linalg.qr(torch.randn(widths[0], rank, generator=generator, dtype=torch.float64))
        s = 1.0 + torch.rand(rank, generator=generator, dtype=torch.float64)
        root = s ** (1.0 / layers)
        for index, (rows, cols) in enumerate(layer_shapes(widths)):
            weight = torch.zeros(rows, cols, dtype=torch.float64)
            if index == 0 and layers == 1:
                weight = u @ torch.diag(s) @ v.T
            elif index == 0:
                weight[:rank] = torch.diag(root) @ v.T
            elif index == layers - 1:
                weight[:, :rank] = u @ torch.diag(root)
            else:
                weight[:rank, :rank] = torch.diag(root)
            blocks.append(weight.reshape(-1))
        return torch.cat(blocks).to(dtype)

    def build(
        self, *, seed: int = 0, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float64
    ) -> Problem:
        widths = self.parameters["widths"]
        n, noise_std = self.parameters["n"], self.parameters["noise_std"]
        generator = torch_generator(seed, DATA_STREAM)
        w_star = self.true_point(generator, dtype)
        product = forward(w_star.unsqueeze(0), torch.eye(widths[0], dtype=dtype).unsqueeze(0), widths)[0]
        x = torch.randn(n, widths[0], generator=generator, dtype=dtype)
        y = x @ product + noise_std * torch.randn(n, widths[-1], generator=generator, dtype=dtype)
        target = Target(
            loss=make_loss(widths, noise_std),
            data=(x.to(device), y.to(device)),
            w_star=w_star.to(device),
            name=f"dln{list(widths)} r={self.parameters['rank']}",
            full_data_loss=make_full_data_loss(widths, noise_std, x.to(device), y.to(device)),
            multilinear=multilinear_model(widths, noise_std, x, y, w_star).to(device),
        )
        return Problem(
            case=self.name,
            parameters=dict(self.parameters),
            target=target,
            exact=self.exact(),
            extra={"torch_module": partial_module(widths, w_star)},
        )

    def recommended(self) -> SamplerSettings:
        """Up to 10^3 parameters: SGLD-CV (`rlct.cases.base.cv_sgld_settings`) at eps = 1e-5 for
        30,000 steps (9,000 burn-in), a third of the calibrated step: against the exact Gibbs
        reference (d = 200, seeds 0 and 1, lambda_beta = 41.06, 40.97) the calibrated eps = 3e-5,
        10,000 steps read 42.54, 42.15 (+3.2%, step-size bias), eps = 1e-5, 30,000 steps 40.74,
        40.65 (-0.8%); full-batch MALA 40,000 steps at eps = 3.7e-5 / 1e-4 / 2e-4 read -1.2% /
        -0.8% / -1.7%. Above: full-batch MALA
        on the sufficient-statistics loss, same nbeta = 1000 and gamma = 1, with
        eps = 1.5e-5 sqrt(1200 / d) (acceptance ~0.55 at d = 1200, ~0.35 at 10^4).

        Why: beyond two layers the chains wander along the flat directions of the true set into
        regions of larger curvature, where a fixed SGLD step is biased upward. Measured on widths
        [20, 20, 20, 20], r = 3 (d = 1200, lambda = 152, n = 10^5, nbeta = 1000): SGLD-CV
        eps = 3e-5 reads 213 and full-batch SGLD eps = 3e-5 keeps rising past 196, while MALA
        settles at 142-143 (gamma = 1 or 0.1, R-hat 1.01); at d = 10^4 (lambda = 950) MALA
        reads 851 (gamma = 1) to 865 (gamma = 0.3) after 30-40k steps. The remaining deficit is
        the estimator's finite-nbeta bias, not the sampler's.

        Corrected by the exact Gibbs references (reports/validation-full, error split): the
        remaining deficit at d >= 10^4 is mostly the sampler's. Along the flat directions of the
        true set only gamma confines a chain, and a Langevin chain started at w* relaxes them at
        rate ~ eps gamma / 2 per step; with eps capped by the stiff directions this needs ~ 3 /
        (eps gamma) steps: 6e5 at d = 10^4, 2e6 at 10^5, 6e6 at 10^6, against 40,000 run. An
        unrelaxed chain reads lambda_beta at an effectively larger gamma: at d = 10^4 Gibbs reads
        913 at gamma = 1 and 859 at gamma = 10, MALA 861 (40,000 steps). A larger step does not
        help: eps x 2 at d = 10^4 has acceptance 0.14 and reads 852 (-6.8%); at d = 1,200 eps
        x 2 reads -2.8% as eps x 1 does. Up to `MALA_LONG_CHAIN_MAX_DIM` the chain was made 5x
        longer (200,000 steps, eps gamma t = 1.0 at d = 10^4; ~15 min per job on one core).
        Measured (reports/validation-full): d = 1,200 improves from -2.6% to -1.8% against
        lambda_beta, but d = 10^4 reads 859.9 (-5.8%, R-hat 1.2) exactly as with 40,000 steps:
        the gamma-relaxation picture above does not explain the d = 10^4 deficit by itself.

        Cause (reports/dln-reach, `rlct.validation.reach_study`, seed-0 data): the exact
        localized posterior at gamma = 1 is not near w*. Along the flat directions of the true
        set it spreads to ||w - w*|| ~ sqrt(#flat / gamma): the Gibbs draws lie at distance 20.8
        at d = 1,200 and 61.8 at d = 10^4, where ||w*|| = 3.3 and 7.0 (every layer ~9x larger than
        at w*). There the transverse curvature is so large that MALA started *at the Gibbs draws*
        accepts nothing at this step (d = 10^4: nothing at eps / 10 or eps / 100 either). A chain
        from w* creeps outward while its acceptance falls (d = 10^4: 0.98 -> 0.26 over 20,000
        steps, distance 19.4), so it reads lambda_beta of a smaller region, i.e. of a larger
        gamma (864 after 20,000 steps, 860 after 200,000). At gamma = 10 the posterior is nearer
        (distance 7.6 at d = 1,200, 21.9 at 10^4) and MALA comes within -0.3% (d = 1,200) and
        -2.9% (10^4, still rising) of its Gibbs lambda_beta in 20,000 steps; but that
        lambda_beta is lower (133.2 and 859.3: estimator bias -12% and -10%). No fixed-step
        sampler from w* reaches the gamma = 1 posterior at d >= 10^4 on this budget: its
        gamma = 1 "sampler error" is the price of a posterior that is not local. The calibration
        report (issue 16) measures the alternatives (gamma = 10, 100).
        These lengths stay. Up to `MALA_FULL_LENGTH_MAX_DIM` the chain
        stays at 40,000 steps (d = 102,400: ~1 h per job), and above (d = 10^6: ~0.9 s per step
        on one CPU core) it is cut to 3,000 steps so that a validation job stays under about an
        hour: far too short (it reads 28,590 against lambda_beta = 82,970, -65.5%, R-hat 2.2;
        reports/validation-full), kept to show what such a chain reads."""
        if self.dim <= 10**3:
            return cv_sgld_settings(steps=30_000, burnin=9_000).replace(step_size=1e-5)
        step_size = 1.5e-5 * math.sqrt(1200 / self.dim)
        if self.dim <= MALA_LONG_CHAIN_MAX_DIM:
            return mala_settings(step_size=step_size, steps=200_000, burnin=40_000)
        if self.dim <= MALA_FULL_LENGTH_MAX_DIM:
            return mala_settings(step_size=step_size, steps=40_000, burnin=8_000)
        return mala_settings(step_size=step_size, steps=3_000, burnin=1_000)

    def reference_settings(self, settings: SamplerSettings) -> SamplerSettings | None:
        """The exact blocked Gibbs sampler (`rlct.numeric.gibbs`, theory.md sec. 8) at
        ``settings``' nbeta and gamma: 4 chains; 2000 sweeps (500 burn-in) up to d = 10^4,
        1000 (300) up to 10^5, 400 (100) above; None when ``settings`` are Gibbs already
        (`rlct.cases.base.gibbs_reference_settings`). rrr and multireg use the same through
        their network.

        Why Gibbs: each layer's conditional is an exact Gaussian, so the draws have no step-size
        bias and their reading is the estimator's own target lambda_beta at this nbeta, gamma
        and data; what is left is Monte Carlo error, reported as a standard error with R-hat and
        ESS. Cost: about one gradient per layer per sweep (two small symmetric
        eigendecompositions and a few matrix products per layer and chain). Mixing is limited
        only by the coupling between layers, hence fewer sweeps suffice than Langevin steps.
        Measured at d = 200 (widths (10, 10, 10), r = 2, nbeta = 1000): lambda_beta = 41.06 +-
        0.11 (lambda = 42), R-hat 1.000, ESS 6107 in 2000 sweeps, 2.7 s."""
        return gibbs_reference_settings(settings, self.dim)


def partial_module(widths: tuple[int, ...], w_star: Tensor) -> Callable[[], torch.nn.Module]:
    """A factory of the same network as a `torch.nn.Sequential` of bias-free Linear layers at
    w* (for tools that need an nn.Module, such as devinterp)."""

    def make() -> torch.nn.Module:
        layers = []
        for weight in unflatten(w_star.detach().cpu().unsqueeze(0), widths):
            linear = torch.nn.Linear(weight.shape[2], weight.shape[1], bias=False, dtype=w_star.dtype)
            with torch.no_grad():
                linear.weight.copy_(weight[0])
            layers.append(linear)
        return torch.nn.Sequential(*layers)

    return make
