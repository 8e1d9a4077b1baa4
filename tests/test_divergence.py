"""Divergence handling of the real estimator (`estimate_llc`, rlct/numeric/llc.py): every branch.

Each check runs every DIVERGENCE_CHECK_EVERY = 50 steps (and at the last step) and flags a chain
that produced a non-finite parameter or loss, or whose ||w - w*|| exceeds the localization radius
divergence_factor * sqrt(d / gamma). Flagged chains are excluded from the mean (NaN per chain), named
in ``divergence_reasons``, announced by a RuntimeWarning, and parked at w*.

To make chosen chains misbehave deterministically, the test target below gives chain c (row c of
the batched w, which `Target.loss` evaluates for all chains at once) its own loss: a test double
of the chain contract, used with chain_method="vectorized", without control variates and on the
CPU (device="cpu", so the draws are the same on every machine with or without CUDA). Every other
chain, and the one-row baseline L_n(w*), sees the stiff quadratic 1/2 K |w - w*|^2.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rlct.numeric.llc import DIVERGENCE_CHECK_EVERY, estimate_llc
from rlct.numeric.settings import SamplerSettings
from rlct.numeric.target import Target

CHAINS = 4
STIFFNESS = 100.0  # K: with nbeta = 10, gamma = 1, eps = 1e-3 a healthy chain has sd ~0.036
QUARTIC = 1e9  # 1/4 Q sum (w - w*)^4: an Euler step beyond |w - w*| ~ 6e-4 overshoots and explodes
W_STAR = (0.3, -0.2)
BASE = SamplerSettings(
    sampler="sgld", step_size=1e-3, nbeta=10.0, localization=1.0, chains=CHAINS, steps=400, burnin=100, batch_size=8
)


def chain_target(behaviours: dict[int, str], wells: dict[int, float] | None = None) -> Target:
    """Chain c's loss by ``behaviours[c]``:

    * ``"repel"``: -1/2 K |w - w*|^2, finite; the chain grows by 1 + (eps/2)(nbeta K - gamma) = 1.5
      per step, from ~sqrt(eps) to ~1e7 in 50 steps: it leaves the region, still finite;
    * ``"quartic"``: 1/4 Q sum (w - w*)^4: the first noise step overshoots, |w| cubes each step and
      overflows to inf, then NaN, within ~6 steps (non-finite parameters);
    * ``"nan-loss"``: the healthy quadratic plus a NaN constant: finite parameters, NaN loss;
    * ``"well"``: 1/2 K |w - m_c|^2 with m_c = w* + (wells[c], 0): the chain settles at distance
      wells[c] * nbeta K / (nbeta K + gamma) from w* (sd ~0.04).
    """
    wells = wells or {}
    w_star = torch.tensor(W_STAR, dtype=torch.float64)

    def loss(w, batch):
        (x,) = batch
        delta = w - w_star
        healthy = 0.5 * STIFFNESS * (delta * delta).sum(dim=1) + 0.0 * x.sum(dim=(1, 2))
        if w.shape[0] != CHAINS:  # the baseline L_n(w*) (one row)
            return healthy
        rows = []
        for c in range(CHAINS):
            kind = behaviours.get(c)
            d = delta[c]
            if kind is None:
                rows.append(healthy[c])
            elif kind == "repel":
                rows.append(-0.5 * STIFFNESS * (d * d).sum())
            elif kind == "quartic":
                rows.append(0.25 * QUARTIC * (d**4).sum())
            elif kind == "nan-loss":
                rows.append(healthy[c] + torch.tensor(math.nan, dtype=w.dtype))
            elif kind == "well":
                shift = torch.tensor([wells[c], 0.0], dtype=w.dtype)
                rows.append(0.5 * STIFFNESS * ((d - shift) ** 2).sum())
            else:  # pragma: no cover
                raise ValueError(kind)
        return torch.stack(rows)

    data = (torch.zeros(64, 1, dtype=torch.float64),)
    return Target(loss=loss, data=data, w_star=w_star, name="chains")


def _healthy_reference(settings: SamplerSettings, seed: int):
    """The same run with every chain healthy: the noise and minibatches of chain c do not depend
    on the other chains, so healthy chains must read exactly the same."""
    return estimate_llc(chain_target({}), settings, seed=seed, device="cpu")


def _radius(settings: SamplerSettings, dim: int = 2) -> float:
    return settings.divergence_factor * math.sqrt(dim / settings.localization)


def test_reference_run_has_no_divergence():
    result = _healthy_reference(BASE, seed=0)
    assert not result.any_diverged and result.divergence_reasons == ()
    assert np.isfinite(result.loss_trace).all() and np.isfinite(result.llc_per_chain).all()


def test_non_finite_parameters_are_flagged_parked_and_excluded():
    """Chain 2 explodes (quartic, huge step) to inf/NaN: flagged at the first check as
    non-finite, parked at w* (its loss right after the check is L(w*) = 0), excluded; the other
    chains are bit-for-bit the healthy reference run and their mean is the estimate."""
    with pytest.warns(RuntimeWarning, match=r"1 of 4 chains diverged and were excluded: chain 2: non-finite"):
        result = estimate_llc(chain_target({2: "quartic"}), BASE, seed=0, device="cpu")
    reference = _healthy_reference(BASE, seed=0)
    assert result.diverged.tolist() == [False, False, True, False]
    assert result.divergence_reasons == ("chain 2: non-finite parameters or loss",)
    assert not np.isfinite(result.loss_trace[2, :DIVERGENCE_CHECK_EVERY]).all()
    assert result.loss_trace[2, DIVERGENCE_CHECK_EVERY] == 0.0  # parked: the next step starts at w*
    _assert_healthy_chains_unchanged(result, reference, healthy=[0, 1, 3])


def test_non_finite_loss_with_finite_parameters_is_flagged():
    """Chain 1's parameters stay finite (the NaN is a constant, its gradient is the healthy
    one) but its loss trace is NaN: the loss check alone flags it."""
    with pytest.warns(RuntimeWarning, match="chain 1: non-finite parameters or loss"):
        result = estimate_llc(chain_target({1: "nan-loss"}), BASE, seed=0, device="cpu")
    assert result.diverged.tolist() == [False, True, False, False]
    assert np.isnan(result.llc_per_chain[1]) and np.isfinite(result.llc_mean)
    _assert_healthy_chains_unchanged(result, _healthy_reference(BASE, seed=0), healthy=[0, 2, 3])


def test_leaving_the_localization_region_is_flagged():
    """Chain 3 runs away (finite): flagged at the first check as having left the region of
    radius divergence_factor * sqrt(d / gamma) = 10 sqrt(2) = 14.1, with its distance."""
    with pytest.warns(RuntimeWarning, match=r"chain 3: left the localization region"):
        result = estimate_llc(chain_target({3: "repel"}), BASE, seed=0, device="cpu")
    assert result.diverged.tolist() == [False, False, False, True]
    (reason,) = result.divergence_reasons
    assert reason.startswith("chain 3: left the localization region (||w - w*|| = ")
    assert reason.endswith(f" > {_radius(BASE):.3g})") and f"{_radius(BASE):.3g}" == "14.1"
    distance = float(reason.split("= ")[1].split(" >")[0])
    assert 1e5 < distance < 1e10  # finite, ~1.5^50 sqrt(eps)
    assert np.isfinite(result.loss_trace[3, :DIVERGENCE_CHECK_EVERY]).all()
    assert result.loss_trace[3, DIVERGENCE_CHECK_EVERY] == 0.0  # parked at w*, where its loss is 0
    _assert_healthy_chains_unchanged(result, _healthy_reference(BASE, seed=0), healthy=[0, 1, 2])


@pytest.mark.parametrize("factor_radius", [1.0, 3.0])
def test_the_radius_is_divergence_factor_times_sqrt_d_over_gamma(factor_radius):
    """Chains held at fixed distances 0.8 R and 1.2 R from w* (R = divergence_factor sqrt(d /
    gamma), here gamma = 4 and R = 1 or 3): only the outer one is flagged."""
    gamma = 4.0
    settings = BASE.replace(localization=gamma, divergence_factor=factor_radius / math.sqrt(2 / gamma))
    assert _radius(settings) == pytest.approx(factor_radius)
    wells = {1: 0.8 * factor_radius, 2: 1.2 * factor_radius}
    with pytest.warns(RuntimeWarning, match="1 of 4 chains diverged"):
        result = estimate_llc(chain_target({1: "well", 2: "well"}, wells), settings, seed=1, device="cpu")
    assert result.diverged.tolist() == [False, False, True, False]
    assert "chain 2: left the localization region" in result.divergence_reasons[0]


def test_partial_divergence_averages_the_healthy_chains():
    """Chains 1 (explodes) and 3 (runs away) diverge, 0 and 2 do not. Over 2,000 steps the parked
    chains run off again (a chain is parked once, when first flagged: the exploding one is
    non-finite again 5 steps later, the runaway one's loss overflows at step ~930); nothing of
    either reaches the healthy chains, whose traces equal the all-healthy run's, and the
    estimate, its standard error and diagnostics are those of chains 0 and 2 alone."""
    settings = BASE.replace(steps=2000, burnin=500)
    with pytest.warns(RuntimeWarning, match="2 of 4 chains diverged and were excluded") as record:
        result = estimate_llc(chain_target({1: "quartic", 3: "repel"}), settings, seed=2, device="cpu")
    message = str(record[0].message)
    assert "chain 1: non-finite parameters or loss" in message and "chain 3: left the localization region" in message
    assert result.diverged.tolist() == [False, True, False, True]
    assert len(result.divergence_reasons) == 2
    assert np.isnan(result.llc_per_chain[[1, 3]]).all()
    reference = _healthy_reference(settings, seed=2)
    _assert_healthy_chains_unchanged(result, reference, healthy=[0, 2])
    healthy = reference.llc_per_chain[[0, 2]]
    assert result.llc_mean == pytest.approx(healthy.mean(), rel=1e-12)
    assert result.llc_stderr == pytest.approx(healthy.std(ddof=1) / math.sqrt(2), rel=1e-12)
    assert math.isfinite(result.rhat) and math.isfinite(result.ess) and math.isfinite(result.llc_stderr_ess)


def test_one_healthy_chain_gives_its_value_and_no_standard_error():
    with pytest.warns(RuntimeWarning, match="3 of 4 chains diverged"):
        target = chain_target({0: "repel", 1: "quartic", 3: "nan-loss"})
        result = estimate_llc(target, BASE, seed=0, device="cpu")
    assert result.diverged.tolist() == [True, True, False, True]
    assert result.llc_mean == result.llc_per_chain[2] and math.isfinite(result.llc_mean)
    assert math.isnan(result.llc_stderr)


@pytest.mark.parametrize("chain_method", ["vectorized", "sequential"])
def test_all_chains_diverged_gives_nan(chain_method):
    """Every chain on the quartic with a huge step: no chain is left to average."""
    w_star = torch.tensor(W_STAR, dtype=torch.float64)

    def loss(w, batch):
        (x,) = batch
        return 0.25 * QUARTIC * ((w - w_star) ** 4).sum(dim=1) + 0.0 * x.sum(dim=(1, 2))

    target = Target(loss=loss, data=(torch.zeros(64, 1, dtype=torch.float64),), w_star=w_star)
    with pytest.warns(RuntimeWarning, match="4 of 4 chains diverged"):
        result = estimate_llc(target, BASE, seed=0, chain_method=chain_method, device="cpu")
    assert result.diverged.all() and len(result.divergence_reasons) == CHAINS
    assert all("non-finite" in r for r in result.divergence_reasons)
    assert np.isnan(result.llc_per_chain).all()
    for value in (result.llc_mean, result.llc_stderr, result.llc_stderr_ess, result.rhat, result.ess):
        assert math.isnan(value)


def test_divergence_is_checked_at_the_last_step():
    """A run shorter than DIVERGENCE_CHECK_EVERY steps is still checked, at its last step."""
    settings = BASE.replace(steps=DIVERGENCE_CHECK_EVERY // 2, burnin=5)
    with pytest.warns(RuntimeWarning, match="chain 0: non-finite"):
        result = estimate_llc(chain_target({0: "quartic"}), settings, seed=0, device="cpu")
    assert result.diverged.tolist() == [True, False, False, False]


def test_without_localization_only_non_finite_values_are_flagged():
    """gamma = 0: the radius is infinite, so a runaway chain that is still finite is kept."""
    settings = BASE.replace(localization=0.0, steps=100, burnin=20)
    result = estimate_llc(chain_target({3: "repel"}), settings, seed=0, device="cpu")
    assert not result.any_diverged
    assert result.llc_per_chain[3] < -1e6  # averaged in: the estimator cannot tell


def _assert_healthy_chains_unchanged(result, reference, healthy: list[int]) -> None:
    np.testing.assert_array_equal(result.loss_trace[healthy], reference.loss_trace[healthy])
    np.testing.assert_array_equal(result.llc_per_chain[healthy], reference.llc_per_chain[healthy])
    assert np.isfinite(result.loss_trace[healthy]).all()
    assert result.llc_mean == pytest.approx(np.mean(reference.llc_per_chain[healthy]), rel=1e-12)
