"""Toy model of superposition (cases/tms.py, Chen et al. 2023, arXiv 2310.06301).

Independent routes: the pair integral against mpmath quadrature of the piecewise integrand; the
closed-form loss against Monte Carlo of the data distribution and against the three
implementations (mpmath scalar, numpy, torch); the sympy-derived Hessian against torch autograd
(float64) and against high-precision finite differences; the Hessian rank against the flat-set
dimension measured by projection + PCA and the exactly flat finite moves; the certified lambda
against the rule of theory.md sec. 5 (confirmed without mixed dead features, corrected to
"saddle" with them); theory.md's numbers (l*, b*, h_k, 1/(4c^2)).
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rlct.cases import registry
from rlct.cases._tms_certificates import CERTIFICATES
from rlct.cases._tms_certify import certify_point, point_keys
from rlct.cases._tms_flat import exact_flatness
from rlct.cases._tms_kgon import (
    DPS,
    KGON_TABLE,
    SIGMA_MINUS_BIAS,
    gradient_norm,
    h_k,
    hessian_spectrum,
    kgon_loss,
    kgon_point,
    loss_at,
    rotate,
    solve_kgon,
)
from rlct.cases._tms_loss import (
    empirical_loss,
    monte_carlo_loss,
    pair_integral,
    population_hessian,
    population_loss,
    population_loss_numpy,
    population_loss_torch,
    sample_data,
)
from rlct.cases.base import torch_generator
from rlct.cases.tms import TMSCase

# theory.md sec. 5 (5 significant digits, from Chen et al. 2023)
THEORY_LB = {5: (1.17046, -0.28230), 6: (1.32053, -0.61814), 7: (1.44839, -0.96691),
             8: (1.55045, -1.29119)}
THEORY_H = {5: 0.23738, 6: 0.86746, 7: 1.74870, 8: 2.77311}
THEORY_DIGITS = 5e-5  # the table's rounding (half a unit in the 5th decimal, with slack)
MC_SIGMAS = 5.0  # Monte Carlo agreement in standard errors (fixed seeds, so not flaky)
MINIMA = [key for key in point_keys() if CERTIFICATES[key].is_minimum]
FAST_FLAT_KEYS = [(5, 5, 0), (6, 5, 0), (6, 5, 1)]


def random_parameters(c: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=3 * c)


# -- the closed-form population loss -------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    a=st.floats(-3, 3, allow_nan=False),
    b=st.floats(-3, 3, allow_nan=False),
    t=st.integers(0, 1),
)
def test_pair_integral_matches_quadrature(a, b, t):
    with mpmath.workdps(30):
        am, bm = mpmath.mpf(a), mpmath.mpf(b)
        pieces = [0, 1]
        if a != 0 and 0 < -b / a < 1:
            pieces = [0, -bm / am, 1]
        quad = mpmath.quad(lambda u: (t * u - max(u * am + bm, 0)) ** 2, pieces)
        assert abs(quad - pair_integral(am, bm, t)) < mpmath.mpf(10) ** -25


@settings(max_examples=40, deadline=None)
@given(c=st.integers(4, 8), seed=st.integers(0, 10**6), dead=st.integers(0, 3))
def test_three_implementations_of_the_loss_agree(c, seed, dead):
    w = random_parameters(c, seed)
    w[:dead], w[c : c + dead] = 0.0, 0.0  # exercise a_ij = 0 exactly
    scalar = population_loss([float(x) for x in w])
    assert population_loss_numpy(w) == pytest.approx(scalar, rel=1e-13, abs=1e-15)
    torch_value = population_loss_torch(torch.tensor(w).unsqueeze(0))[0].item()
    assert torch_value == pytest.approx(scalar, rel=1e-13, abs=1e-15)


@pytest.mark.parametrize("c, seed", [(4, 1), (5, 2), (6, 3), (8, 4)])
def test_population_loss_matches_monte_carlo(c, seed):
    w = random_parameters(c, seed) * 0.8
    mean, stderr = monte_carlo_loss(w, 400_000, np.random.default_rng(seed))
    assert abs(mean - population_loss_numpy(w)) < MC_SIGMAS * stderr


@pytest.mark.parametrize("key", [(5, 5, 0), (7, 5, 2)])
def test_population_loss_at_a_kgon_matches_monte_carlo_and_the_torch_sample_loss(key):
    w = np.array([float(x) for x in kgon_point(*key)])
    exact = float(loss_at(kgon_point(*key)))
    mean, stderr = monte_carlo_loss(w, 400_000, np.random.default_rng(7))
    assert abs(mean - exact) < MC_SIGMAS * stderr
    c = key[0]
    x = sample_data(200_000, c, torch_generator(3, 1))
    sample = empirical_loss(torch.tensor(w).unsqueeze(0), (x.unsqueeze(0),))[0].item()
    weights, bias = torch.tensor(w[: 2 * c]).reshape(2, c), torch.tensor(w[2 * c :])
    per_example = (x - torch.relu(x @ weights.T @ weights + bias)).square().sum(dim=1)
    assert sample == pytest.approx(per_example.mean().item(), rel=1e-12)
    assert abs(sample - exact) < MC_SIGMAS * per_example.std().item() / math.sqrt(x.shape[0])


@settings(max_examples=30, deadline=None)
@given(c=st.integers(4, 8), seed=st.integers(0, 10**6), theta=st.floats(-3.2, 3.2))
def test_loss_is_invariant_under_rotation_and_feature_permutation(c, seed, theta):
    w = random_parameters(c, seed)
    base = population_loss_numpy(w)
    rotated = np.array([float(x) for x in rotate([mpmath.mpf(x) for x in w], mpmath.mpf(theta))])
    assert population_loss_numpy(rotated) == pytest.approx(base, rel=1e-12)
    perm = np.random.default_rng(seed).permutation(c)
    permuted = np.concatenate([w[:c][perm], w[c : 2 * c][perm], w[2 * c :][perm]])
    assert population_loss_numpy(permuted) == pytest.approx(base, rel=1e-12)


def test_hessian_sympy_matches_autograd_and_high_precision_differences():
    for key in [(5, 5, 0), (8, 6, 1)]:
        w = kgon_point(*key)
        analytic = np.array([[float(h) for h in row] for row in population_hessian(w)])
        wt = torch.tensor([float(x) for x in w], dtype=torch.float64)
        auto = torch.func.hessian(lambda v: population_loss_torch(v.unsqueeze(0))[0])(wt)
        assert np.abs(analytic - auto.numpy()).max() < 1e-12
    # central second differences at 70 digits (step 1e-20: truncation ~1e-40, rounding ~1e-30)
    w = kgon_point(5, 5, 0)
    with mpmath.workdps(DPS):
        analytic_mp = population_hessian(w)
    with mpmath.workdps(70):
        h = mpmath.mpf(10) ** -20
        worst = mpmath.mpf(0)
        for p, q in [(0, 0), (0, 6), (3, 12), (10, 14), (14, 14), (2, 7)]:
            def shifted(dp, dq, p=p, q=q):
                v = list(w)
                v[p] += dp * h
                v[q] += dq * h
                return population_loss(v)
            fd = (shifted(1, 1) - shifted(1, -1) - shifted(-1, 1) + shifted(-1, -1)) / (4 * h * h)
            worst = max(worst, abs(fd - analytic_mp[p][q]))
    assert worst < mpmath.mpf(10) ** -28


# -- the k-gon critical points and theory.md's numbers ---------------------------------------


@pytest.mark.parametrize("k", [5, 8])
def test_kgon_table_regenerates_from_a_grid_start(k):
    from rlct.cases._tms_kgon import _grid_start

    l_star, b_star = solve_kgon(k, start=_grid_start(k))
    with mpmath.workdps(DPS):
        assert abs(l_star - mpmath.mpf(KGON_TABLE[k][0])) < mpmath.mpf(10) ** -42
        assert abs(b_star - mpmath.mpf(KGON_TABLE[k][1])) < mpmath.mpf(10) ** -42


@pytest.mark.parametrize("k", [5, 6, 7, 8])
def test_kgon_parameters_and_h_match_theory(k):
    l_star, b_star = (float(x) for x in KGON_TABLE[k])
    assert abs(l_star - THEORY_LB[k][0]) < THEORY_DIGITS
    assert abs(b_star - THEORY_LB[k][1]) < THEORY_DIGITS
    assert abs(float(h_k(k)) - THEORY_H[k]) < THEORY_DIGITS


@pytest.mark.parametrize("key", point_keys())
def test_loss_normalization_matches_theory(key):
    c, k, sigma_plus = key
    with mpmath.workdps(DPS):
        direct = loss_at(kgon_point(c, k, sigma_plus))
        formula = (h_k(k) + c - k) / (3 * c) - mpmath.mpf(sigma_plus) / (4 * c * c)
        assert abs(direct - formula) < mpmath.mpf(10) ** -45
        assert abs(direct - kgon_loss(c, k, sigma_plus)) < mpmath.mpf(10) ** -45
        if sigma_plus < c - k:  # one more sigma+ feature lowers L by exactly 1/(4c^2)
            drop = direct - loss_at(kgon_point(c, k, sigma_plus + 1))
            assert abs(drop - mpmath.mpf(1) / (4 * c * c)) < mpmath.mpf(10) ** -45


@pytest.mark.parametrize("c", [4, 6, 8])
def test_fourgon_loss_is_c_minus_4_over_3c(c):
    assert population_loss_numpy(np.array([float(x) for x in kgon_point(c, 4, 0)])) == (
        pytest.approx((c - 4) / (3 * c), abs=1e-15)
    )


@pytest.mark.parametrize("key", point_keys())
def test_critical_point_gradient_is_tiny_and_hessian_matches_certificate(key):
    w = kgon_point(*key)
    cert = CERTIFICATES[key]
    assert gradient_norm(w) < mpmath.mpf(10) ** -40
    spectrum = hessian_spectrum(w)
    assert (spectrum.rank, spectrum.negative) == (cert.rank, cert.negative)
    assert float(spectrum.smallest_kept) == pytest.approx(cert.smallest_kept, rel=1e-9)
    # the gap: kept eigenvalues >= 2e-4, dropped ones at the working precision
    assert spectrum.smallest_kept > 2e-4 and spectrum.largest_dropped < mpmath.mpf(10) ** -40
    assert cert.kink_margin > 0.06  # L is analytic in a neighbourhood of w*


@pytest.mark.parametrize("key", FAST_FLAT_KEYS)
def test_flat_dimension_is_measured_and_equals_the_corank(key):
    cert = certify_point(*key)
    assert cert == CERTIFICATES[key] or _close(cert, CERTIFICATES[key])
    assert cert.flat_dimension == 3 * key[0] - cert.rank
    assert cert.flat_smallest_kept > 0.3 and cert.flat_largest_dropped < 1e-4


@pytest.mark.slow
@pytest.mark.parametrize("key", MINIMA)
def test_flat_dimension_of_every_minimum(key):
    cert = certify_point(*key)
    assert _close(cert, CERTIFICATES[key])
    assert cert.flat_dimension == 3 * key[0] - cert.rank


def _close(a, b) -> bool:
    exact_fields = ("rank", "negative", "flat_dimension")
    if any(getattr(a, f) != getattr(b, f) for f in exact_fields):
        return False
    return all(
        math.isclose(getattr(a, f), getattr(b, f), rel_tol=1e-6)
        for f in ("loss", "smallest_kept", "kink_margin")
    )


def test_exact_flatness_of_rotations_and_sigma_minus_moves():
    for key in [(6, 5, 0), (8, 6, 2), (8, 5, 0)]:
        assert exact_flatness(kgon_point(*key), key[1], key[2]) < mpmath.mpf(10) ** -45
    assert all(cert.exact_flatness < 1e-45 for cert in CERTIFICATES.values())


def test_sigma_minus_feature_is_inert_only_inside_its_box():
    c, k = 6, 5
    w = kgon_point(c, k, 0)
    base = loss_at(w)
    with mpmath.workdps(DPS):
        inside = list(w)
        inside[5], inside[11], inside[17] = mpmath.mpf("0.1"), mpmath.mpf("0.1"), mpmath.mpf(-1)
        assert population_loss(inside) == base
        # aligned with column 0 and longer than -b*/l*: the k-gon output 0 fires -> L changes
        outside = list(w)
        outside[5] = mpmath.mpf("0.3")
        assert population_loss(outside) != base
        positive = list(w)
        positive[17] = mpmath.mpf("0.01")  # a positive bias makes its own output fire
        assert population_loss(positive) != base


@settings(max_examples=15, deadline=None)
@given(bias=st.floats(-2.0, -0.01), key=st.sampled_from([(6, 5, 0), (7, 6, 0), (8, 5, 0)]))
def test_rank_does_not_depend_on_the_sigma_minus_bias(bias, key):
    c, k, _ = key
    w = torch.tensor([float(x) for x in kgon_point(*key)], dtype=torch.float64)
    w[2 * c + k :] = bias
    hess = torch.func.hessian(lambda v: population_loss_torch(v.unsqueeze(0))[0])(w)
    values = torch.linalg.eigvalsh(hess).abs()
    assert int((values > 1e-8).sum()) == CERTIFICATES[key].rank
    grad = torch.func.grad(lambda v: population_loss_torch(v.unsqueeze(0))[0])(w)
    assert float(grad.norm()) < 1e-14


# -- the rule of theory.md sec. 5 ------------------------------------------------------------


@pytest.mark.parametrize("key", point_keys())
def test_rule_holds_exactly_when_dead_features_share_a_sign(key):
    cert = CERTIFICATES[key]
    same_sign = cert.sigma_plus == 0 or cert.sigma_minus == 0
    assert cert.is_minimum == same_sign
    if same_sign:
        assert cert.minimally_singular
        assert cert.learning_coefficient == cert.rule == Fraction(cert.rank, 2)
    else:  # saddle: 2 negative eigenvalues and a real descent along them
        assert cert.negative == 2 and cert.descent < 0 and cert.learning_coefficient is None


def test_theory_examples():
    def lam(c, k, sigma_plus=0):
        return TMSCase(c=c, k=k, sigma_plus=sigma_plus).exact().value

    assert lam(6, 6) == Fraction(17, 2) and lam(6, 5, 1) == Fraction(17, 2) and lam(6, 5) == 7
    for c in range(5, 9):
        assert lam(c, c) == Fraction(3 * c - 1, 2)


def test_saddle_and_fourgon_have_no_exact_value():
    with pytest.raises(ValueError, match="^point: no exact value at a saddle"):
        TMSCase(c=7, k=5, sigma_plus=1).exact()
    with pytest.raises(ValueError, match="^point: 4-gons carry no exact value: "):
        TMSCase(c=6, k=4).exact()
    with pytest.raises(ValueError, match="^point: 4-gons"):
        TMSCase(c=5, k=4, sigma_plus=1).build(seed=0)


@pytest.mark.parametrize("c", [4, 6, 8])
def test_fourgon_loss_is_c1_but_not_c2(c):
    """One-sided second derivatives along a k-gon bias differ by 2(c - 2)/c at the 4-gon: the
    orthogonal and dead pairs contribute ReLU(b)^2 (curvature 2 on one side, 0 on the other)."""
    w = kgon_point(c, 4, 0)
    with mpmath.workdps(DPS):
        h = mpmath.mpf(10) ** -12

        def along(t):
            v = list(w)
            v[2 * c] += t
            return population_loss(v)

        right = (along(2 * h) - 2 * along(h) + along(0)) / (h * h)
        left = (along(-2 * h) - 2 * along(-h) + along(0)) / (h * h)
        slope_right, slope_left = (along(h) - along(0)) / h, (along(0) - along(-h)) / h
    assert abs(right - left - mpmath.mpf(2 * (c - 2)) / c) < 1e-9
    assert abs(slope_right) < 1e-9 and abs(slope_left) < 1e-9  # C^1 and critical


def test_points_listing():
    points = TMSCase.points(8)
    assert len(points) == sum(8 - k + 1 for k in range(4, 9))
    statuses = {(p.k, p.sigma_plus): p.status for p in points}
    assert statuses[(4, 0)].startswith("4-gon") and statuses[(5, 1)] == "saddle"
    assert statuses[(8, 0)] == "minimally singular"
    assert [p.learning_coefficient for p in points if p.k == 7] == [Fraction(10), Fraction(23, 2)]
    assert all(p.sigma_plus + p.sigma_minus + p.k == 8 for p in points)


# -- the case ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad, field",
    [
        ({"c": 3}, "c"), ({"c": 9}, "c"), ({"c": "x"}, "c"), ({"c": True}, "c"),
        ({"c": 6, "k": 3}, "k"), ({"c": 6, "k": 7}, "k"), ({"k": 2.5}, "k"),
        ({"c": 6, "k": 5, "sigma_plus": 2}, "sigma_plus"), ({"sigma_plus": -1}, "sigma_plus"),
        ({"n": 1}, "n"), ({"width": 3}, "width"),
    ],
)
def test_bad_parameters_name_the_field(bad, field):
    with pytest.raises(ValueError, match=f"^{field}:"):
        TMSCase(**bad)


def test_exact_value_is_a_local_fraction_with_its_evidence():
    exact = TMSCase.at_scale("c5").exact()
    assert exact.value == Fraction(7) and isinstance(exact.value, Fraction)
    assert exact.multiplicity == 1 and exact.scope == "local"
    assert "5-gon" in exact.point and "Hessian rank 14 of 15" in exact.certificate
    assert "measured dimension 1" in exact.certificate and "2310.06301" in exact.source
    assert TMSCase(c="7", k="6", sigma_plus="1").exact().value == Fraction(10)  # CLI strings


def test_build_shapes_minimizer_and_seeds():
    case = TMSCase(c=6, k=5, sigma_plus=1, n=4000)
    problem = case.build(seed=5)
    target = problem.target
    assert registry()["tms"] is TMSCase
    assert target.dim == 18 == case.dim and target.n == 4000 and target.data[0].shape == (4000, 6)
    x = target.data[0]
    assert torch.all((x > 0).sum(dim=1) == 1) and float(x.max()) <= 1.0
    # w*_n: the minimizer of L_n near the population point, O(n^-1/2) away from it
    info = problem.extra
    assert info["empirical_gradient"] < 1e-9 < info["empirical_gradient_at_population_point"]
    assert info["shift"] < 10 / math.sqrt(4000)
    assert info["empirical_loss"] <= info["empirical_loss_at_population_point"]
    assert target.full_loss(target.w_star.unsqueeze(0))[0].item() == pytest.approx(
        info["empirical_loss"], rel=1e-12
    )
    population = population_loss_torch(target.w_star.unsqueeze(0))[0].item()
    assert abs(population - CERTIFICATES[(6, 5, 1)].loss) < 1e-3
    # batched loss: (C, d) parameters, (C, b, c) minibatches -> (C,)
    w = target.w_star.unsqueeze(0).repeat(3, 1) + 0.01 * torch.randn(3, 18, dtype=torch.float64)
    batch = target.minibatch(3, 64, torch.Generator().manual_seed(0))
    assert target.loss(w, batch).shape == (3,)
    # same seed -> same data and same w*; another seed -> other data
    again = case.build(seed=5).target
    assert torch.equal(again.data[0], x) and torch.equal(again.w_star, target.w_star)
    assert not torch.equal(case.build(seed=6).target.data[0], x)
    assert problem.scale is None and TMSCase.at_scale("c5", n=500).build().scale == "c5"


def test_build_in_float32_keeps_the_point():
    problem = TMSCase(c=5, n=1000).build(seed=0, dtype=torch.float32)
    assert problem.target.w_star.dtype == torch.float32 == problem.target.data[0].dtype
    assert torch.allclose(problem.target.w_star.double(), TMSCase(c=5, n=1000).build(seed=0)
                          .target.w_star, atol=1e-6)


def test_sigma_minus_point_uses_the_documented_bias():
    w = kgon_point(7, 5, 1)
    with mpmath.workdps(DPS):
        assert w[-1] == SIGMA_MINUS_BIAS and w[-2] == mpmath.mpf(1) / 14


@pytest.mark.slow
def test_llc_estimate_within_15_percent_at_the_smallest_scale():
    from rlct.numeric.llc import estimate_llc

    case = TMSCase.at_scale("c5")
    problem = case.build(seed=0)
    result = estimate_llc(problem.target, case.recommended(), seed=1)
    exact = float(problem.exact.value)
    assert not result.any_diverged
    assert result.relative_error(exact) < 0.15, (result.llc_mean, result.llc_stderr, exact)


@pytest.mark.parametrize("k", [5, 6, 8])
def test_sigma_minus_box_radius(k):
    """Inside the radius in every direction the sigma- column is inert; just outside it, in the
    worst direction (a k-gon vertex for k <= 5, else where |W_i|^2 or b_i binds), it is not."""
    from rlct.cases._tms_kgon import sigma_minus_box_radius

    c = k + 1
    w = kgon_point(c, k, 0)
    radius = sigma_minus_box_radius(k)
    base = loss_at(w)
    with mpmath.workdps(DPS):
        for step in range(12):
            angle = 2 * mpmath.pi * step / 12
            inside = list(w)
            inside[k], inside[c + k] = (0.99 * radius * mpmath.cos(angle),
                                        0.99 * radius * mpmath.sin(angle))
            assert population_loss(inside) == base
        fired = []
        for step in range(k):  # along each vertex direction W_j / l*
            outside = list(w)
            scale = 1.01 * radius / mpmath.sqrt(w[step] ** 2 + w[c + step] ** 2)
            outside[k], outside[c + k] = scale * w[step], scale * w[c + step]
            fired.append(population_loss(outside) != base)
        assert all(fired)


def test_recommended_settings_follow_the_dead_features():
    plain = TMSCase(c=5).recommended()
    assert plain.control_variate and plain.localization == 1.0 and plain.sampler == "sgld"
    assert plain.step_size == pytest.approx(0.17 * math.log(100_000) / 100_000)
    minus = TMSCase(c=6, k=5)
    assert minus.parameters["n"] == 1_000_000 and minus.recommended().localization == 155.0
    assert TMSCase(c=6, k=5, sigma_plus=1).recommended().localization == 1.0
    assert TMSCase(c=8).recommended().burnin > TMSCase(c=5).recommended().burnin
