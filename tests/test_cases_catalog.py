"""The registry, and the dln / rrr / poly / linreg / multireg cases: exact values against an independent
check, data reproducibility, shapes, and bad parameters (fast tier)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from independent.dln_geometric import dln_geometric

from rlct.cases import get_case, registry
from rlct.cases.dln import DLNCase
from rlct.cases.poly import PolyCase
from rlct.cases.rrr import RRRCase
from rlct.cli import main

SIMPLE_CASES = ("dln", "rrr", "poly", "linreg", "multireg")


def test_registry_discovers_every_case_module():
    names = set(registry())
    assert set(SIMPLE_CASES) <= names
    for name, cls in registry().items():
        assert cls.name == name and cls.description and cls.scales


@pytest.mark.parametrize("name", SIMPLE_CASES)
def test_every_scale_has_an_exact_local_value(name):
    cls = get_case(name)
    for scale in cls.scales:
        exact = cls.at_scale(scale).exact()
        assert isinstance(exact.value, Fraction) and exact.value > 0
        assert exact.scope in ("local", "global") and exact.source


@pytest.mark.parametrize("name", SIMPLE_CASES)
def test_build_shapes_and_same_seed_same_data(name):
    cls = get_case(name)
    case = cls.at_scale(next(iter(cls.scales)), n=300)
    a, b, c = case.build(seed=4), case.build(seed=4), case.build(seed=5)
    target = a.target
    assert target.n == 300 and target.w_star.shape == (target.dim,)
    for x, y in zip(a.target.data, b.target.data):
        torch.testing.assert_close(x, y, rtol=0, atol=0)
    assert not torch.equal(a.target.data[0], c.target.data[0])
    w = target.w_star.unsqueeze(0).repeat(3, 1)
    batch = target.minibatch(3, 7, torch.Generator().manual_seed(0))
    assert target.loss(w, batch).shape == (3,)
    # The loss is a negative log-likelihood: minimal in expectation at w*.
    full = target.full_loss(w[:1])
    moved = target.full_loss(w[:1] + 0.3)
    assert float(moved[0]) > float(full[0])


@settings(max_examples=150, deadline=None)
@given(
    n_in=st.integers(1, 12), n_hidden=st.integers(1, 12), n_out=st.integers(1, 12),
    data=st.data(),
)
def test_rrr_case_matches_the_geometric_form(n_in, n_hidden, n_out, data):
    """Case 'rrr' (Aoyagi-Watanabe closed form) vs the DLN min-over-t form (independent)."""
    rank = data.draw(st.integers(0, min(n_in, n_hidden, n_out)))
    case = RRRCase(n_in=n_in, n_hidden=n_hidden, n_out=n_out, rank=rank)
    assert case.exact().value == dln_geometric([n_in, n_hidden, n_out], rank).lam


def test_dln_w_star_has_the_true_product_and_minimal_rank():
    case = DLNCase(widths=(6, 5, 4, 7), rank=2, n=50)
    problem = case.build(seed=0)
    from rlct.cases.dln import unflatten

    layers = unflatten(problem.target.w_star.unsqueeze(0), (6, 5, 4, 7))
    for weight in layers:
        assert torch.linalg.matrix_rank(weight[0]) == 2
    x, y = problem.target.data
    residual = y - x @ (layers[2][0] @ layers[1][0] @ layers[0][0]).T
    assert abs(float(residual.std()) - 1.0) < 0.1  # only the unit noise is left


def test_dln_loss_hessian_rank_at_a_bottleneck_equals_twice_lambda():
    """Bottleneck of width r: minimally singular, lambda = rank(Hessian)/2 (a second method)."""
    from rlct.cases.dln import forward

    widths = (3, 2, 4)
    case = DLNCase(widths=widths, rank=2, n=50)
    w_star = case.build(seed=1).target.w_star
    eye = torch.eye(3, dtype=w_star.dtype).unsqueeze(0)
    truth = forward(w_star.unsqueeze(0), eye, widths)

    def population_k(w):  # K(w) = ||P - C||_F^2 / 2 for x ~ N(0, I), unit noise
        return 0.5 * (forward(w.unsqueeze(0), eye, widths) - truth).square().sum()

    eig = torch.linalg.eigvalsh(torch.autograd.functional.hessian(population_k, w_star))
    rank = int((eig > 1e-9 * eig.max()).sum())
    assert eig[eig > 1e-9 * eig.max()].min() > 1e-3 * eig.max()  # a clear spectral gap
    assert Fraction(rank, 2) == case.exact().value == Fraction(2 * (3 + 4 - 2), 2)


@pytest.mark.parametrize("f, copies", [("x; y**2", 1), ("x; y**2", 3), ("x*y", 2), ("x**2; x*y; y**2", 2)])
def test_poly_copies_rule_matches_the_newton_engine_on_the_whole_polynomial(f, copies):
    """lambda(c copies) = c lambda, m = c(m-1)+1, checked by running the Newton engine on the
    ideal of all copies at once (disjoint variables)."""
    import sympy

    from rlct.cases.poly import parse_generators
    from rlct.exact import newton

    exprs, symbols = parse_generators(f)
    generators, variables = [], []
    for c in range(copies):
        rename = {s: sympy.Symbol(f"{s.name}_{c}") for s in symbols}
        generators += [e.xreplace(rename) for e in exprs]
        variables += list(rename.values())
    whole = newton(generators, variables=variables)
    case = PolyCase(f=f, copies=copies).exact()
    assert whole.certificate.startswith("certified")
    assert (case.value, case.multiplicity) == (whole.value, whole.multiplicity)


@pytest.mark.parametrize(
    "f, value, multiplicity",
    [("x*y", Fraction(1, 2), 2), ("x; y**2", Fraction(3, 4), 1), ("x**2; x*y; y**2", Fraction(1, 2), 1),
     ("x**2 - y**3", Fraction(5, 12), 1), ("x*y**2", Fraction(1, 4), 1)],
)
def test_poly_worked_examples(f, value, multiplicity):
    exact = PolyCase(f=f).exact()
    assert (exact.value, exact.multiplicity) == (value, multiplicity)


def test_poly_takes_the_bivariate_engine_where_newton_does_not_certify():
    # K = (y - x^2)^2 + x^6 / 2-scaled: Newton-degenerate; y -> y + x^2 gives y^2 + x^6
    exact = PolyCase(f="y - x**2; x**3", copies=3).exact()
    assert (exact.value, exact.multiplicity) == (3 * Fraction(2, 3), 1)
    assert "adapted coordinates (changes of variables y -> y + 1*x**2)" in exact.certificate
    with pytest.raises(ValueError, match="^f: no engine could certify lambda"):
        PolyCase(f="x - y; z**2").exact()  # three variables, Newton-degenerate


def test_poly_loss_is_half_the_sum_of_squares_in_expectation():
    case = PolyCase(f="x*y; y**2", n=200_000, noise_std=0.5)
    target = case.build(seed=0).target
    w = torch.tensor([[0.3, -0.7]], dtype=torch.float64)
    excess = float(target.full_loss(w)[0] - target.full_loss(target.w_star.unsqueeze(0))[0])
    expected = ((0.3 * -0.7) ** 2 + 0.7**4) / (2 * 0.5**2)
    assert excess == pytest.approx(expected, rel=0.02)


@pytest.mark.parametrize("f, copies", [("x; y**2", 1), ("x**2 - y**3", 3), ("x*y**2", 5), ("x**2; x*y; y**2", 2)])
def test_poly_sufficient_statistics_equal_the_row_wise_loss(f, copies):
    """The O(d) full-data loss (used by MALA) against the mean per-example loss over all n rows."""
    target = PolyCase(f=f, copies=copies, n=3000).build(seed=1).target
    w = 0.4 * torch.randn(3, target.dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert target.full_data_loss is not None
    torch.testing.assert_close(target.full_data_loss(w), target._chunked_loss(w, chunk=512), rtol=1e-12, atol=1e-12)


@settings(max_examples=200, deadline=None)
@given(inputs=st.integers(1, 40), outputs=st.integers(1, 40), data=st.data())
def test_multireg_is_the_one_layer_deep_linear_network(inputs, outputs, data):
    """Case 'multireg' (regular, d/2) vs Aoyagi's closed form with one layer, at any true rank,
    and vs the geometric form (two independent methods)."""
    rank = data.draw(st.integers(0, min(inputs, outputs)))
    exact = get_case("multireg")(inputs=inputs, outputs=outputs).exact()
    assert exact.value == Fraction(inputs * outputs, 2) and exact.multiplicity == 1
    aoyagi = DLNCase(widths=(inputs, outputs), rank=rank).exact()
    assert (aoyagi.value, aoyagi.multiplicity) == (exact.value, exact.multiplicity)
    assert dln_geometric([inputs, outputs], rank).lam == exact.value


def test_multireg_hessian_is_full_rank_and_its_loss_is_the_row_wise_loss():
    case = get_case("multireg")(inputs=3, outputs=4, n=4000)
    target = case.build(seed=2).target
    hess = torch.autograd.functional.hessian(
        lambda w: target.full_data_loss(w.unsqueeze(0))[0], target.w_star
    )
    eig = torch.linalg.eigvalsh(hess)
    assert Fraction(int((eig > 0.5).sum()), 2) == case.exact().value  # eigenvalues of Sxx ~ 1
    w = target.w_star + 0.3 * torch.randn(2, target.dim, generator=torch.Generator().manual_seed(0),
                                          dtype=torch.float64)
    torch.testing.assert_close(target.full_data_loss(w), target._chunked_loss(w, chunk=512),
                               rtol=1e-12, atol=1e-12)


def test_linreg_hessian_is_full_rank():
    case = get_case("linreg")(d=5, n=5000)
    target = case.build(seed=0).target
    hess = torch.autograd.functional.hessian(
        lambda w: target.loss(w.unsqueeze(0), target.full_batch(1))[0], target.w_star
    )
    assert Fraction(int(torch.linalg.matrix_rank(hess)), 2) == case.exact().value


@pytest.mark.parametrize(
    "name, params, field",
    [
        ("dln", {"widths": (3, 0, 2)}, "widths"),
        ("dln", {"widths": (3,)}, "widths"),
        ("dln", {"widths": (3, 2, 2), "rank": 3}, "rank"),
        ("dln", {"widths": (3, 2), "n": 1}, "n"),
        ("dln", {"widths": (3, 2), "noise_std": -1.0}, "noise_std"),
        ("dln", {"widths": (3, 2), "bogus": 1}, "bogus"),
        ("rrr", {"n_in": 2, "n_hidden": 2}, "n_out"),
        ("rrr", {"n_in": 2, "n_hidden": 1, "n_out": 2, "rank": 2}, "rank"),
        ("poly", {"f": "sin(x)"}, "f"),
        ("poly", {"f": "x + 1"}, "f"),
        ("poly", {"f": ""}, "f"),
        ("poly", {"f": "x*y", "copies": 0}, "copies"),
        ("multireg", {"outputs": 3}, "inputs"),
        ("multireg", {"inputs": 3}, "outputs"),
        ("multireg", {"inputs": 0, "outputs": 3}, "inputs"),
        ("multireg", {"inputs": 2, "outputs": 3, "n": 1}, "n"),
        ("multireg", {"inputs": 2, "outputs": 3, "rank": 1}, "rank"),
        ("poly", {"f": "x**2 - y**3", "copies": "two"}, "copies"),
    ],
)
def test_bad_case_parameters_name_the_field(name, params, field):
    with pytest.raises(ValueError, match=rf"^{field}(\[\d+\])?:"):
        get_case(name)(**params)


def test_unknown_case_and_scale():
    with pytest.raises(ValueError, match="^case:"):
        get_case("nope")
    with pytest.raises(ValueError, match="^scale:"):
        get_case("dln").at_scale("1e99")


@pytest.mark.parametrize("argv", [
    ["estimate", "nope"],
    ["estimate", "dln", "--widths", "3,0"],
    ["estimate", "dln", "--scale", "1e2", "--step-size", "-1"],
    ["estimate", "dln", "--scale", "1e2", "--sampler", "nuts"],
    ["estimate", "dln", "--widths"],
    ["cases", "show", "nope"],
])
def test_cli_bad_input_exits_2_with_one_line(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rlct: error:") and "Traceback" not in err[0]


def test_cli_estimate_json_keys(capsys):
    import json

    assert main(["estimate", "rrr", "--n-in", "2", "--n-hidden", "1", "--n-out", "2", "--n", "500",
                 "--steps", "100", "--chains", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("llc_mean", "llc_stderr", "exact_lambda", "relative_error", "rhat", "ess",
                "steps_per_second", "diverged", "step_size", "nbeta", "localization", "chains",
                "steps", "burnin", "batch_size", "sampler", "seed", "device"):
        assert key in out
    assert out["exact_lambda"] == "1" and np.isfinite(out["llc_mean"])


def test_cli_cases_list_and_show(capsys):
    assert main(["cases", "list"]) == 0
    listed = capsys.readouterr().out
    for name in SIMPLE_CASES:
        assert name in listed
    assert main(["cases", "show", "rrr", "--json"]) == 0
    import json

    shown = json.loads(capsys.readouterr().out)
    assert shown["name"] == "rrr" and shown["scales"][0]["lambda"] == "3/2"  # (2, 2, 2), r = 0
    assert shown["scales"][1]["lambda"] == "1" and shown["scales"][1]["multiplicity"] == 2
