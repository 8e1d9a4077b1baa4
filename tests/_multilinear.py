"""Build a `rlct.numeric.gibbs.MultilinearGaussian` from a DLN or RRR problem's data."""

from __future__ import annotations

from rlct.cases.base import Problem
from rlct.cases.dln import layer_shapes
from rlct.numeric.gibbs import MultilinearGaussian


def problem_widths(problem: Problem) -> tuple[int, ...]:
    p = problem.parameters
    if "widths" in p:
        return tuple(p["widths"])
    return (p["n_in"], p["n_hidden"], p["n_out"])


def model_from_problem(problem: Problem) -> MultilinearGaussian:
    """Sufficient statistics of the problem's data (x, y): S_xx = x^T x / n, S_yx = y^T x / n,
    s_yy = mean ||y||^2; noise_std from the case parameters; w* from the target."""
    x, y = problem.target.data
    n = x.shape[0]
    return MultilinearGaussian(
        layer_shapes=tuple(layer_shapes(problem_widths(problem))),
        sxx=x.T @ x / n,
        syx=y.T @ x / n,
        syy=y.square().sum(dim=1).mean(),
        noise_std=problem.parameters["noise_std"],
        w_star=problem.target.w_star,
        n=n,
    )
