r"""Exact blocked Gibbs sampling of the tempered localized posterior of multilinear Gaussian
models (deep linear networks, reduced-rank and multi-output regression): a reference for the
SGLD-family LLC estimator with no discretization error (theory.md sec. 8).

Model. Layers W_l of shape (H_l, H_{l-1}), l = 1..L, product P = W_L ... W_1, and the empirical
loss from sufficient statistics S_xx = X^T X / n (H_0 x H_0), S_yx = Y^T X / n (H_L x H_0),
s_yy = mean ||y||^2:

.. math::
    L_n(W) = \frac{1}{2\sigma^2}\big[\operatorname{tr}(P S_{xx} P^T)
             - 2 \operatorname{tr}(S_{yx}^T P) + s_{yy}\big],

which is ``rlct.cases.dln.make_full_data_loss``. The tempered localized posterior is
p(W) ∝ exp(-nβ L_n(W) - (γ/2)||W - W*||²) (Lau, Furman, Wang, Murfet, Wei 2023, arXiv 2308.12108,
whose estimator λ̂ = nβ(E_p[L_n] - L_n(W*)) this module evaluates under exact draws).

Layer conditionals. Fix every layer but W_l; A = W_L ... W_{l+1}, B = W_{l-1} ... W_1 (identity
when empty), c = nβ/σ², Q = A^T A, R = B S_xx B^T. Then

.. math::
    U(W_l) = \tfrac{c}{2}\big[\langle W_l, Q W_l R\rangle - 2\langle W_l, A^T S_{yx} B^T\rangle\big]
             + \tfrac{\gamma}{2}\|W_l - W_l^*\|^2 + \text{const},

a Gaussian whose precision is c (Q ⊗ R) + γ I in the row-major vec of W_l (the order of the flat
parameter vector; c (R ⊗ Q) + γ I in the column-major vec of theory.md) and whose mean M solves
c Q M R + γ M = c A^T S_yx B^T + γ W_l*. With the symmetric eigendecompositions
Q = V_q diag(q) V_q^T, R = V_r diag(ρ) V_r^T, the rotation W̃ = V_q^T W V_r is orthogonal on the
Frobenius space and diagonalizes the precision: c q_i ρ_j + γ. One exact draw is therefore

    M̃ = V_q^T (c A^T S_yx B^T + γ W_l*) V_r / (c q ρ^T + γ),
    W_l = V_q (M̃ + Z / sqrt(c q ρ^T + γ)) V_r^T,   Z ~ N(0, 1) elementwise,

two batched symmetric eigendecompositions and a few matrix products per layer and chain (for the
last layer Q = I and for the first R = S_xx, whose eigendecomposition is computed once).
Eigenvalues of Q and R below 0 (round-off of PSD matrices) are clamped to 0, so the precision is
≥ γ > 0. A systematic scan l = 1..L is a Gibbs sampler with the posterior as its stationary law;
it is the blocked structure of Salakhutdinov & Mnih 2008 ("Bayesian probabilistic matrix
factorization using Markov chain Monte Carlo", ICML), here with L blocks and a localizing prior.
Its only error is finite chain length: mixing is limited by the coupling between layers.

Flat parameters are W_1 .. W_L concatenated, each row-major (``rlct.cases.dln.unflatten``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor

from rlct.numeric.device import resolve_device
from rlct.numeric.diagnostics import summarize_chains
from rlct.numeric.result import LLCResult
from rlct.numeric.seeding import torch_generator
from rlct.numeric.settings import SamplerSettings

GIBBS_STREAM = 7927  # SeedSequence key of the Gibbs sampler's stream (llc.py uses 7919)
DIVERGENCE_CHECK_EVERY = 50  # sweeps between (synchronizing) checks for non-finite chains
SYMMETRY_EPS_FACTOR = 1e3  # S_xx symmetry / PSD tolerance, in units of the dtype's eps x scale


def _tolerance(matrix: Tensor) -> float:
    scale = max(1.0, float(matrix.abs().max())) if matrix.numel() else 1.0
    return SYMMETRY_EPS_FACTOR * float(torch.finfo(matrix.dtype).eps) * scale * max(1, matrix.shape[-1])


def _as_float_tensor(name: str, value: Any, like: Tensor | None = None) -> Tensor:
    try:
        tensor = torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError) as error:
        raise ValueError(f"{name}: expected a tensor, got {type(value).__name__}") from error
    if not (tensor.is_floating_point() or tensor.dtype in (torch.int32, torch.int64)):
        raise ValueError(f"{name}: expected a real floating tensor, got dtype {tensor.dtype}")
    if like is not None:
        tensor = tensor.to(device=like.device, dtype=like.dtype)
    elif not tensor.is_floating_point():
        tensor = tensor.to(torch.float64)
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{name}: contains non-finite values")
    return tensor


def _positive_number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: expected a finite number > 0, got {value!r}")
    return float(value)


def _integer(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return value


@dataclass(frozen=True, eq=False)  # tensors: compare fields explicitly
class MultilinearGaussian:
    """A multilinear Gaussian model given by its sufficient statistics (module docstring).

    Attributes:
        layer_shapes: (H_l, H_{l-1}) of W_1 .. W_L; consecutive shapes must chain.
        sxx: S_xx = X^T X / n, (H_0, H_0), symmetric positive semidefinite (stored symmetrized).
        syx: S_yx = Y^T X / n, (H_L, H_0).
        syy: mean ||y||^2 (a number or 0-d tensor; stored as a 0-d tensor).
        noise_std: σ > 0.
        w_star: the flat (d,) point W* (layers concatenated, each row-major).
        n: the data-set size (>= 1), recorded in results.

    ``syx``, ``syy`` and ``w_star`` are cast to the device and dtype of ``sxx``.
    """

    layer_shapes: tuple[tuple[int, int], ...]
    sxx: Tensor
    syx: Tensor
    syy: Tensor
    noise_std: float
    w_star: Tensor
    n: int

    def __post_init__(self) -> None:
        shapes = self.layer_shapes
        if isinstance(shapes, (str, bytes)) or not isinstance(shapes, Sequence) or len(shapes) == 0:
            raise ValueError(f"layer_shapes: expected a non-empty list of (rows, cols), got {shapes!r}")
        normalized: list[tuple[int, int]] = []
        for index, shape in enumerate(shapes):
            if not isinstance(shape, Sequence) or len(shape) != 2:
                raise ValueError(f"layer_shapes[{index}]: expected (rows, cols), got {shape!r}")
            rows = _integer(f"layer_shapes[{index}][0]", shape[0], 1)
            cols = _integer(f"layer_shapes[{index}][1]", shape[1], 1)
            if normalized and cols != normalized[-1][0]:
                raise ValueError(
                    f"layer_shapes[{index}]: {cols} columns do not match the {normalized[-1][0]} rows of "
                    f"layer_shapes[{index - 1}]"
                )
            normalized.append((rows, cols))
        object.__setattr__(self, "layer_shapes", tuple(normalized))
        first, last = normalized[0][1], normalized[-1][0]

        sxx = _as_float_tensor("sxx", self.sxx)
        if tuple(sxx.shape) != (first, first):
            raise ValueError(f"sxx: expected shape ({first}, {first}) = (H_0, H_0), got {tuple(sxx.shape)}")
        tol = _tolerance(sxx)
        if float((sxx - sxx.T).abs().max()) > tol:
            raise ValueError("sxx: expected a symmetric matrix")
        sxx = 0.5 * (sxx + sxx.T)
        smallest = float(torch.linalg.eigvalsh(sxx.to(torch.float64)).min())
        if smallest < -tol:
            raise ValueError(f"sxx: expected a positive semidefinite matrix, smallest eigenvalue {smallest:.3g}")
        object.__setattr__(self, "sxx", sxx)

        syx = _as_float_tensor("syx", self.syx, like=sxx)
        if tuple(syx.shape) != (last, first):
            raise ValueError(f"syx: expected shape ({last}, {first}) = (H_L, H_0), got {tuple(syx.shape)}")
        object.__setattr__(self, "syx", syx)
        syy = _as_float_tensor("syy", self.syy, like=sxx)
        if syy.numel() != 1:
            raise ValueError(f"syy: expected a number, got shape {tuple(syy.shape)}")
        object.__setattr__(self, "syy", syy.reshape(()))

        object.__setattr__(self, "noise_std", _positive_number("noise_std", self.noise_std))
        w_star = _as_float_tensor("w_star", self.w_star, like=sxx)
        dim = sum(r * c for r, c in normalized)
        if w_star.ndim != 1 or w_star.numel() != dim:
            raise ValueError(
                f"w_star: expected a flat tensor of length {dim} (sum of rows x cols), got shape "
                f"{tuple(w_star.shape)}"
            )
        object.__setattr__(self, "w_star", w_star)
        _integer("n", self.n, 1)

    @property
    def dim(self) -> int:
        return sum(r * c for r, c in self.layer_shapes)

    @property
    def depth(self) -> int:
        return len(self.layer_shapes)

    @property
    def device(self) -> torch.device:
        return self.sxx.device

    @property
    def dtype(self) -> torch.dtype:
        return self.sxx.dtype

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> MultilinearGaussian:
        """The same model with its tensors on ``device`` and/or cast to ``dtype``."""

        def move(t: Tensor) -> Tensor:
            return t.to(device=device if device is not None else t.device, dtype=dtype or t.dtype)

        return replace(self, sxx=move(self.sxx), syx=move(self.syx), syy=move(self.syy), w_star=move(self.w_star))

    def unflatten(self, w: Tensor) -> list[Tensor]:
        """(C, d) flat parameters -> [W_1 (C, H_1, H_0), ..., W_L (C, H_L, H_{L-1})] (views)."""
        if w.ndim != 2 or w.shape[1] != self.dim:
            raise ValueError(f"w: expected shape (chains, {self.dim}), got {tuple(w.shape)}")
        parts = w.split([r * c for r, c in self.layer_shapes], dim=1)
        return [p.reshape(w.shape[0], r, c) for p, (r, c) in zip(parts, self.layer_shapes)]

    def flatten(self, layers: Sequence[Tensor]) -> Tensor:
        """[W_1 (C, H_1, H_0), ..., W_L] -> (C, d), each layer row-major."""
        if len(layers) != self.depth:
            raise ValueError(f"layers: expected {self.depth} layers, got {len(layers)}")
        for index, (layer, shape) in enumerate(zip(layers, self.layer_shapes)):
            if layer.ndim != 3 or tuple(layer.shape[1:]) != shape:
                raise ValueError(f"layers[{index}]: expected shape (chains, {shape[0]}, {shape[1]}), "
                                 f"got {tuple(layer.shape)}")
        return torch.cat([layer.reshape(layer.shape[0], -1) for layer in layers], dim=1)

    def loss_of_product(self, product: Tensor) -> Tensor:
        """L_n as a function of the end-to-end product P (C, H_L, H_0) -> (C,)."""
        quadratic = (torch.matmul(product, self.sxx) * product).sum(dim=(1, 2))
        cross = (product * self.syx).sum(dim=(1, 2))
        return (quadratic - 2.0 * cross + self.syy) / (2.0 * self.noise_std**2)

    def loss(self, w: Tensor) -> Tensor:
        """L_n(w) for w shaped (C, d) -> (C,)."""
        layers = self.unflatten(w)
        product = layers[0]
        for layer in layers[1:]:
            product = torch.matmul(layer, product)
        return self.loss_of_product(product)

    def star_layers(self) -> list[Tensor]:
        """W* as [W_1* (H_1, H_0), ..., W_L*] (no chain axis)."""
        return [layer[0] for layer in self.unflatten(self.w_star.unsqueeze(0))]


def _eigh_psd(matrix: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Symmetric eigendecomposition of a batch of PSD matrices (C, k, k): (eigenvalues clamped
    at 0, eigenvectors, per-chain flag of non-finite input). Non-finite entries (an overflowed
    chain) are zeroed first so that one bad chain cannot break the batched LAPACK call."""
    finite = torch.isfinite(matrix).flatten(1).all(dim=1)
    matrix = torch.nan_to_num(matrix, nan=0.0, posinf=0.0, neginf=0.0)
    values, vectors = torch.linalg.eigh(0.5 * (matrix + matrix.transpose(-1, -2)))
    return values.clamp_min(0.0), vectors, ~finite


@dataclass(frozen=True, eq=False)
class LayerConditional:
    r"""The Gaussian law of one layer W_l given the others, for C chains, in the rotated basis.

    W = V_q W̃ V_r^T with W̃ ~ N(mean_rotated, diag(1 / precision)) elementwise.
    ``v_q`` / ``v_r`` are ``None`` where they are the identity (Q = I for the last layer).

    Attributes:
        mean_rotated: (C, H_l, H_{l-1}) M̃ = V_q^T M V_r.
        precision: (C, H_l, H_{l-1}) c q_i ρ_j + γ.
        v_q: (C, H_l, H_l) or None; v_r: (C, H_{l-1}, H_{l-1}) or (H_{l-1}, H_{l-1}) shared, or None.
        nonfinite: (C,) chains whose statistics were not finite (the draw is then meaningless).
    """

    mean_rotated: Tensor
    precision: Tensor
    v_q: Tensor | None
    v_r: Tensor | None
    nonfinite: Tensor

    def rotate_back(self, rotated: Tensor) -> Tensor:
        """V_q X V_r^T."""
        out = rotated if self.v_q is None else torch.matmul(self.v_q, rotated)
        return out if self.v_r is None else torch.matmul(out, self.v_r.transpose(-1, -2))

    @property
    def mean(self) -> Tensor:
        """(C, H_l, H_{l-1}) the conditional mean M."""
        return self.rotate_back(self.mean_rotated)

    def sample(self, generator: torch.Generator | None = None) -> Tensor:
        """One exact draw of W_l for every chain, (C, H_l, H_{l-1})."""
        noise = torch.randn(
            self.mean_rotated.shape, generator=generator, device=self.mean_rotated.device,
            dtype=self.mean_rotated.dtype,
        )
        return self.rotate_back(self.mean_rotated + noise * self.precision.rsqrt())

    def covariance(self) -> Tensor:
        """(C, k, k) dense covariance of the row-major vec of W_l, k = H_l H_{l-1}:
        (V_q ⊗ V_r) diag(1 / precision) (V_q ⊗ V_r)^T (for checks on small layers)."""
        chains, rows, cols = self.precision.shape
        dev, dtype = self.precision.device, self.precision.dtype
        v_q = self.v_q if self.v_q is not None else torch.eye(rows, device=dev, dtype=dtype).expand(chains, -1, -1)
        v_r = self.v_r if self.v_r is not None else torch.eye(cols, device=dev, dtype=dtype)
        v_r = v_r.expand(chains, -1, -1)
        kron = torch.einsum("cia,cjb->cijab", v_q, v_r).reshape(chains, rows * cols, rows * cols)
        return torch.matmul(kron / self.precision.reshape(chains, 1, -1), kron.transpose(-1, -2))


def _check_temperature(nbeta: Any, localization: Any) -> tuple[float, float]:
    return _positive_number("nbeta", nbeta), _positive_number("localization", localization)


def _conditional(
    model: MultilinearGaussian,
    before: Tensor | None,
    after: Tensor | None,
    star: Tensor,
    c: float,
    gamma: float,
    sxx_eigen: tuple[Tensor, Tensor],
    chains: int,
) -> LayerConditional:
    """The conditional of a layer given B = ``before`` (C, H_{l-1}, H_0) and A = ``after``
    (C, H_L, H_l), either ``None`` for the identity; ``sxx_eigen`` is S_xx's eigendecomposition."""
    syx = model.syx
    # right-hand side c A^T S_yx B^T + γ W*
    cross = syx if before is None else torch.matmul(syx, before.transpose(-1, -2))
    if after is not None:
        cross = torch.matmul(after.transpose(-1, -2), cross)
    rhs = (c * cross + gamma * star).expand(chains, *star.shape)
    nonfinite = torch.zeros(chains, dtype=torch.bool, device=rhs.device)

    if after is None:  # Q = I
        q = torch.ones(star.shape[-2], device=rhs.device, dtype=rhs.dtype).expand(chains, -1)
        v_q = None
    else:
        q, v_q, bad = _eigh_psd(torch.matmul(after.transpose(-1, -2), after))
        nonfinite |= bad
    if before is None:  # R = S_xx, decomposed once
        rho = sxx_eigen[0].expand(chains, -1)
        v_r: Tensor | None = sxx_eigen[1]
    else:
        rho, v_r, bad = _eigh_psd(torch.matmul(torch.matmul(before, model.sxx), before.transpose(-1, -2)))
        nonfinite |= bad
    precision = c * q.unsqueeze(-1) * rho.unsqueeze(-2) + gamma
    rotated = rhs if v_q is None else torch.matmul(v_q.transpose(-1, -2), rhs)
    if v_r is not None:
        rotated = torch.matmul(rotated, v_r)
    return LayerConditional(rotated / precision, precision, v_q, v_r, nonfinite)


def _sxx_eigen(model: MultilinearGaussian) -> tuple[Tensor, Tensor]:
    values, vectors = torch.linalg.eigh(model.sxx)
    return values.clamp_min(0.0), vectors


def _chain_product(layers: Sequence[Tensor]) -> Tensor | None:
    """layers[-1] @ ... @ layers[0]; None for an empty list (the identity)."""
    product: Tensor | None = None
    for layer in layers:
        product = layer if product is None else torch.matmul(layer, product)
    return product


def conditional(
    model: MultilinearGaussian,
    layers: Sequence[Tensor],
    l: int,
    nbeta: float,
    localization: float,
) -> LayerConditional:
    """The exact Gaussian law of ``layers[l]`` (0-based: W_{l+1} in the 1-based notation of the
    docstring) given the other layers, for every chain.

    Args:
        model: the statistics and W*.
        layers: [W_1 (C, H_1, H_0), ..., W_L] (``model.unflatten(w)``); ``layers[l]`` is ignored.
        l: 0-based index of the layer to condition on the others.
        nbeta: nβ > 0.
        localization: γ > 0 (the conditional is improper in flat directions without it).
    """
    c_nbeta, gamma = _check_temperature(nbeta, localization)
    depth = model.depth
    if isinstance(l, bool) or not isinstance(l, int) or not 0 <= l < depth:
        raise ValueError(f"l: expected a layer index in [0, {depth}), got {l!r}")
    if len(layers) != depth:
        raise ValueError(f"layers: expected {depth} layers, got {len(layers)}")
    with torch.no_grad():
        return _conditional(
            model,
            before=_chain_product(layers[:l]),
            after=_chain_product(layers[l + 1 :]),
            star=model.star_layers()[l],
            c=c_nbeta / model.noise_std**2,
            gamma=gamma,
            sxx_eigen=_sxx_eigen(model),
            chains=layers[0].shape[0],
        )


def sample_layer(
    model: MultilinearGaussian,
    layers: Sequence[Tensor],
    l: int,
    nbeta: float,
    localization: float,
    generator: torch.Generator | None = None,
) -> Tensor:
    """One exact draw of ``layers[l]`` (0-based) given the others, all chains at once."""
    return conditional(model, layers, l, nbeta, localization).sample(generator)


@dataclass(frozen=True)
class GibbsSettings:
    """What `gibbs_llc` ran: read like `SamplerSettings` (``steps``, ``burnin``, ``chains``,
    ``sampler``, ``localization``, ``to_dict``, ``replace``); one step is one full sweep."""

    nbeta: float
    localization: float = 1.0
    chains: int = 4
    sweeps: int = 2000
    burnin: int = 500
    sampler: str = "gibbs"

    def __post_init__(self) -> None:
        if self.sampler != "gibbs":
            raise ValueError(f"sampler: expected 'gibbs', got {self.sampler!r}")
        _check_temperature(self.nbeta, self.localization)
        _integer("chains", self.chains, 1)
        _integer("sweeps", self.sweeps, 1)
        _integer("burnin", self.burnin, 0)
        if self.burnin >= self.sweeps:
            raise ValueError(f"burnin: must be < sweeps ({self.sweeps}), got {self.burnin}")

    @property
    def steps(self) -> int:
        """Sweeps per chain, burn-in included (the `SamplerSettings.steps` of a Gibbs run)."""
        return self.sweeps

    @property
    def draws(self) -> int:
        return self.sweeps - self.burnin

    batch_size = None  # full data (sufficient statistics), as SamplerSettings' None
    control_variate = False

    def resolved_nbeta(self, n: int) -> float:
        return float(self.nbeta)

    def replace(self, **changes: Any) -> GibbsSettings:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The fields, plus ``steps`` (= sweeps) for readers of `SamplerSettings.to_dict`."""
        return {**asdict(self), "steps": self.sweeps}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GibbsSettings:
        data = dict(data)
        steps = data.pop("steps", None)
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"settings: unknown keys {sorted(unknown)}")
        settings = cls(**data)
        if steps is not None and steps != settings.sweeps:
            raise ValueError(f"steps: must equal sweeps ({settings.sweeps}), got {steps!r}")
        return settings


def _initial_points(
    model: MultilinearGaussian,
    init: None | str | Tensor,
    chains: int,
    localization: float,
    generator: torch.Generator,
) -> Tensor:
    w_star = model.w_star
    if init is None or (isinstance(init, str) and init == "w_star"):
        return w_star.unsqueeze(0).repeat(chains, 1)
    if isinstance(init, str):
        if init == "dispersed":
            noise = torch.randn((chains, model.dim), generator=generator, device=w_star.device, dtype=w_star.dtype)
            return w_star + noise / math.sqrt(localization)
        raise ValueError(f"init: expected None, 'w_star', 'dispersed' or a tensor, got {init!r}")
    start = _as_float_tensor("init", init, like=w_star)
    if start.ndim == 1:
        start = start.unsqueeze(0).expand(chains, -1)
    if tuple(start.shape) != (chains, model.dim):
        raise ValueError(f"init: expected shape ({chains}, {model.dim}) or ({model.dim},), got {tuple(start.shape)}")
    return start.clone()


def gibbs_llc(
    model: MultilinearGaussian,
    *,
    nbeta: float,
    localization: float = 1.0,
    chains: int = 4,
    sweeps: int = 2000,
    burnin: int = 500,
    seed: int = 0,
    init: None | str | Tensor = None,
    device: str | torch.device | None = None,
) -> LLCResult:
    """λ_β = nβ (E_p[L_n] - L_n(W*)) under exact blocked Gibbs draws (systematic scan).

    Args:
        model: the multilinear Gaussian model and W*.
        nbeta: nβ > 0; localization: γ > 0.
        chains, sweeps, burnin: independent chains, full sweeps per chain (burn-in included),
            sweeps discarded at the start of each chain.
        seed: root seed; every draw comes from one `torch.Generator` (stream ``GIBBS_STREAM``):
            the same seed gives the same numbers on the same device.
        init: ``None`` or ``"w_star"`` (every chain at W*), ``"dispersed"`` (W* + N(0, 1/γ) per
            coordinate, the localization prior's scale; drawn from the same generator), or a
            tensor of starting points, (chains, d) or (d,).
        device: where to sample: ``None`` keeps the model's device; ``"auto"``, ``"cpu"``,
            ``"cuda"`` or a `torch.device` otherwise.

    Returns:
        `LLCResult` with ``loss_trace`` (chain, sweep) = L_n after each full sweep, ``init_loss``
        = L_n(W*), ``acceptance_rate`` None, ``chain_method`` "gibbs", ``settings`` a
        `GibbsSettings` and ``extra`` {"sweeps", "layers", "init"}. Chains whose parameters, loss
        or conditional statistics become non-finite are flagged in ``diverged``, parked at W*
        and excluded from the estimate (with a RuntimeWarning).
    """
    if not isinstance(model, MultilinearGaussian):
        raise ValueError(f"model: expected MultilinearGaussian, got {type(model).__name__}")
    settings = GibbsSettings(nbeta=nbeta, localization=localization, chains=chains, sweeps=sweeps, burnin=burnin)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    nb, gamma = float(nbeta), float(localization)
    dev = model.device if device is None else resolve_device(device)
    if dev != model.device:
        model = model.to(dev)
    dtype = model.dtype
    generator = torch_generator(seed, GIBBS_STREAM, device=dev)
    c = nb / model.noise_std**2
    depth = model.depth

    with torch.no_grad():
        start_w = _initial_points(model, init, chains, gamma, generator)
        layers = [t.contiguous() for t in model.unflatten(start_w)]
        stars = model.star_layers()
        sxx_eigen = _sxx_eigen(model)
        init_loss = float(model.loss(model.w_star.unsqueeze(0))[0])
        trace = torch.full((chains, sweeps), math.nan, dtype=dtype, device=dev)
        diverged = torch.zeros(chains, dtype=torch.bool, device=dev)
        suspect = torch.zeros(chains, dtype=torch.bool, device=dev)
        reasons: list[str] = []

        start = time.perf_counter()
        for sweep in range(sweeps):
            # suffix[l] = W_L ... W_{l+2} (0-based: the layers after l), from the previous sweep
            suffix: list[Tensor | None] = [None] * depth
            for index in range(depth - 2, -1, -1):
                later = suffix[index + 1]
                top = layers[index + 1]
                suffix[index] = top if later is None else torch.matmul(later, top)
            prefix: Tensor | None = None  # W_l ... W_1 of the layers already updated this sweep
            for index in range(depth):
                law = _conditional(model, prefix, suffix[index], stars[index], c, gamma, sxx_eigen, chains)
                draw = law.sample(generator)
                suspect |= law.nonfinite
                layers[index] = draw
                prefix = draw if prefix is None else torch.matmul(draw, prefix)
            assert prefix is not None
            loss = model.loss_of_product(prefix)
            trace[:, sweep] = loss
            suspect |= ~torch.isfinite(loss)
            last = sweep + 1 == sweeps
            if (sweep + 1) % DIVERGENCE_CHECK_EVERY == 0 or last:
                for layer in layers:
                    suspect |= ~torch.isfinite(layer).flatten(1).all(dim=1)
                new = suspect & ~diverged
                if bool(new.any()):
                    first = max(0, sweep + 1 - DIVERGENCE_CHECK_EVERY)
                    for chain in torch.nonzero(new).flatten().tolist():
                        reasons.append(
                            f"chain {chain}: non-finite parameters, loss or conditional statistics "
                            f"(sweeps {first}-{sweep})"
                        )
                    diverged |= new
                    # park diverged chains at W* so that they cannot overflow further
                    layers = [torch.where(new.view(-1, 1, 1), star, layer) for star, layer in zip(stars, layers)]
                suspect = diverged.clone()
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        wall = time.perf_counter() - start

    trace_np = trace.cpu().numpy().astype(np.float64)
    diverged_np = diverged.cpu().numpy()
    summary = summarize_chains(trace_np, diverged_np, burnin, nb, init_loss, reasons)
    init_label = "w_star" if init is None else init if isinstance(init, str) else "given"
    return LLCResult(
        llc_mean=summary.mean,
        llc_stderr=summary.stderr,
        llc_stderr_ess=summary.stderr_ess,
        llc_per_chain=summary.per_chain,
        loss_trace=trace_np,
        init_loss=init_loss,
        rhat=summary.rhat,
        ess=summary.ess,
        acceptance_rate=None,
        diverged=diverged_np,
        divergence_reasons=tuple(reasons),
        nbeta=nb,
        # LLCResult.settings is annotated SamplerSettings; GibbsSettings offers the attributes
        # results are read through (steps, burnin, chains, sampler, localization, to_dict,
        # replace). `estimate_llc(sampler="gibbs")` replaces it by the caller's SamplerSettings.
        settings=cast(SamplerSettings, settings),
        seed=seed,
        device=str(dev),
        dtype=str(dtype).removeprefix("torch."),
        chain_method="gibbs",
        n=model.n,
        dim=model.dim,
        wall_time=wall,
        steps_per_second=chains * sweeps / wall if wall > 0 else math.inf,
        extra={"sweeps": sweeps, "layers": depth, "init": init_label},
    )
