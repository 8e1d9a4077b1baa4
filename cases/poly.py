"""Polynomial potentials: a regression model whose K is a given sum of squares.

Model (F outputs): x ~ N(0, 1), y = f(w) x + sigma eps, eps ~ N(0, I_F), with
f = (f_1, ..., f_F) polynomials vanishing at w* = 0. Per-example loss
||y - f(w) x||^2 / (2 sigma^2), so K(w) = (1 / (2 sigma^2)) sum_i f_i(w)^2.

Exact lambda at w* = 0 from the Newton polyhedron of the ideal <f_1, ..., f_F>
(`rlct.exact.newton`, certified only when non-degenerate), or from the normal-crossing formula
(`rlct.exact.normal_crossing`) when f is one monomial. `copies` independent copies of the
polynomial on disjoint variables scale the case up: for K = K_1(x) + K_2(y) on disjoint
variables the zeta function factorizes into a convolution, so lambda = lambda_1 + lambda_2 and
m = m_1 + m_2 - 1 (Watanabe 2009, Algebraic Geometry and Statistical Learning Theory, Remark 7.2
/ the product-of-zeta-functions argument); with c copies lambda = c lambda_1 and
m = c (m_1 - 1) + 1. The Newton engine checks this rule on small c in the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import sympy
import torch
from torch import Tensor

from rlct.cases.base import Case, Footprint, Problem, mala_settings, torch_generator
from rlct.exact import RLCT
from rlct.exact._validate import as_int, as_positive_float
from rlct.numeric.settings import SamplerSettings
from rlct.numeric.target import Target

DATA_STREAM = 2
LAU_TABLE1 = ((0, 1), (0, 2), (0, 3), (1, 1), (1, 2), (1, 3), (2, 2), (2, 3), (3, 3))


def monomial_text(a: int, b: int) -> str:
    """``x^a y^b`` as a generator: (1, 2) -> "x*y**2", (0, 3) -> "y**3"."""
    def power(name: str, k: int) -> list[str]:
        return [] if k == 0 else [name if k == 1 else f"{name}**{k}"]

    return "*".join(power("x", a) + power("y", b))


def parse_generators(
    text: str | list[str] | tuple[str, ...],
) -> tuple[tuple[sympy.Expr, ...], tuple[sympy.Symbol, ...]]:
    """``"x*y; y**2"`` -> ((x*y, y**2), (x, y)); each generator must be a polynomial with f(0) = 0."""
    parts = [p.strip() for p in (text.split(";") if isinstance(text, str) else text)]
    if not parts or any(p == "" for p in parts):
        raise ValueError(f"f: expected polynomials separated by ';', got {text!r}")
    exprs = []
    for part in parts:
        try:
            expr = sympy.sympify(part, locals={}, rational=True)
        except (sympy.SympifyError, SyntaxError, TypeError) as err:
            raise ValueError(f"f: could not parse {part!r}: {err}") from None
        if not isinstance(expr, sympy.Expr) or not expr.free_symbols or not expr.is_polynomial(*expr.free_symbols):
            raise ValueError(f"f: {part!r} is not a non-constant polynomial")
        exprs.append(sympy.expand(expr))
    symbols = tuple(sorted(set().union(*(e.free_symbols for e in exprs)), key=lambda s: s.name))
    for part, expr in zip(parts, exprs):
        if expr.subs({s: 0 for s in symbols}) != 0:
            raise ValueError(f"f: {part!r} does not vanish at w* = 0, so K(w*) != 0")
    return tuple(exprs), symbols


def monomial_tables(exprs, symbols) -> tuple[Tensor, Tensor]:
    """Exponents (M, k) and coefficients (M, F) of the union of monomials of the f_i."""
    polys = [sympy.Poly(e, *symbols) for e in exprs]
    monomials = sorted({m for p in polys for m in p.monoms()})
    index = {m: i for i, m in enumerate(monomials)}
    coeffs = torch.zeros(len(monomials), len(polys), dtype=torch.float64)
    for j, p in enumerate(polys):
        for m, c in zip(p.monoms(), p.coeffs()):
            coeffs[index[m], j] = float(c)
    return torch.tensor(monomials, dtype=torch.long), coeffs


def make_evaluator(exponents: Tensor, coeffs: Tensor, copies: int) -> Callable[[Tensor], Tensor]:
    """f on C chains: w (C, copies * k) -> (C, copies, F), built from cumulative products so the
    gradient is exact at 0 (no 0 * w^-1)."""
    k = exponents.shape[1]
    degree = int(exponents.max())

    def evaluate(w: Tensor) -> Tensor:
        v = w.view(w.shape[0], copies, k, 1)
        powers = torch.cat([torch.ones_like(v), v.expand(*v.shape[:-1], degree).cumprod(dim=-1)], dim=-1)
        idx = exponents.to(w.device).T.unsqueeze(0).unsqueeze(0).expand(w.shape[0], copies, k, -1)
        monomials = torch.gather(powers, 3, idx).prod(dim=2)  # (C, copies, M)
        return monomials @ coeffs.to(device=w.device, dtype=w.dtype)

    return evaluate


def real_root_breakpoints(
    exprs: Sequence[sympy.Expr], x: sympy.Symbol, y: sympy.Symbol
) -> Callable[[float], list[float]]:
    """At each y, the real roots in x of every polynomial in ``exprs``: the breakpoints that let
    the nested quadrature `tempered_mean_nested` follow the valleys where K vanishes or nearly so.

    The roots are taken of the distinct irreducible factors over Q (sympy ``factor_list``), not of
    the polynomials themselves: a root of multiplicity k splits under floating-point root finding
    into a cluster of spread ~ eps^(1/k) (k = 20 at x = 0 in deep polynomial networks), whose
    spurious real members would each become a breakpoint."""
    tables: dict[sympy.Poly, np.ndarray] = {}  # per distinct factor: A[i, j] = coefficient of x^i y^j
    for e in exprs:
        for factor, _ in sympy.Poly(sympy.expand(e), x, y).factor_list()[1]:
            if factor.degree(x) > 0 and factor not in tables:
                tables[factor] = np.zeros((factor.degree(x) + 1, factor.degree(y) + 1))
                for (i, j), c in factor.terms():
                    tables[factor][i, j] = float(c)

    def valleys(at: float) -> list[float]:
        out = []
        for table in tables.values():
            values = list((table @ at ** np.arange(table.shape[1]))[::-1])  # highest power of x first
            while values and values[0] == 0.0:
                values.pop(0)
            if len(values) > 1:
                out += [float(r.real) for r in np.roots(values) if abs(r.imag) < 1e-9]
        return out

    return valleys


class PolyCase(Case):
    name = "poly"
    description = "regression with K = sum_i f_i(w)^2 for given polynomials f (Newton polyhedron)"
    # The three 2-parameter scales are ordered m = 1 first: `rlct validate --quick` runs the first.
    # "2" (x^2 y^2, m = 2) shows the finite-nbeta bias of the estimator for m > 1:
    # E[nbeta K] ~ lambda - (m - 1) / log(nbeta) (from Z ~ c t^-lambda (log t)^(m-1)).
    scales = {
        "2-ideal": {"f": "x; y**2"},
        "2": {"f": "x*y"},
        "2-cusp": {"f": "x**2 - y**3"},
        "20": {"f": "x; y**2", "copies": 10},
        "200": {"f": "x**2; x*y; y**2", "copies": 100},
        "2000": {"f": "x*y**2", "copies": 1000, "n": 50_000},
        # The normal crossings K = (x^a y^b)^2 of Lau, Furman, Wang, Murfet & Wei (2023, Table 1),
        # lambda = 1/(2 max(a, b)), m = 2 iff a = b; n = 10^7 so that an n beta ladder up to 10^5
        # stays below n/100 (`rlct.numeric.ladder`). For a = 0, K does not involve x and the
        # case has the one parameter y: x would only add an independent N(0, 1/gamma) coordinate
        # that no loss sees, which changes neither lambda nor any estimate of n beta E[K].
        **{f"lau-{a}-{b}": {"f": monomial_text(a, b), "n": 10**7} for a, b in LAU_TABLE1},
    }

    @classmethod
    def validate(cls, **parameters: Any) -> dict[str, Any]:
        unknown = set(parameters) - {"f", "copies", "n", "noise_std"}
        if unknown:
            raise ValueError(f"{sorted(unknown)[0]}: unknown parameter of case 'poly'")
        if "f" not in parameters:
            raise ValueError("f: required (polynomials separated by ';')")
        exprs, _ = parse_generators(parameters["f"])
        copies = as_int("copies", parameters.get("copies", 1), minimum=1)
        n = as_int("n", parameters.get("n", 100_000), minimum=2)
        noise_std = as_positive_float("noise_std", parameters.get("noise_std", 1.0), text=True)
        return {"f": "; ".join(str(e) for e in exprs), "copies": copies, "n": n, "noise_std": noise_std}

    @property
    def dim(self) -> int:
        _, symbols = parse_generators(self.parameters["f"])
        return len(symbols) * self.parameters["copies"]

    def footprint(self) -> Footprint:
        """d parameters; n rows of one input and copies x (number of generators) outputs."""
        exprs, symbols = parse_generators(self.parameters["f"])
        outputs = len(exprs) * self.parameters["copies"]
        return Footprint(dim=len(symbols) * self.parameters["copies"], n=self.parameters["n"],
                         row_elements=1 + outputs, build_elements=2 * outputs)

    def base_exact(self) -> RLCT:
        """lambda of one copy at 0: normal crossing for a monomial, else the Newton engine, and
        where that does not certify and f has at most two variables, the bivariate engine
        (`rlct.exact.bivariate`: exact for every polynomial in two variables)."""
        from rlct import exact
        from rlct.exact.bivariate import bivariate

        exprs, symbols = parse_generators(self.parameters["f"])
        if len(exprs) == 1 and len(sympy.Poly(exprs[0], *symbols).terms()) == 1:
            (exps, _), = sympy.Poly(exprs[0], *symbols).terms()
            return exact.normal_crossing(list(exps))
        result = exact.newton(list(exprs), variables=list(symbols))
        if result.status != "certified" and len(symbols) <= 2:
            result = bivariate(list(exprs), variables=list(symbols))
        return result

    def exact(self) -> RLCT:
        base = self.base_exact()
        if not base.certificate.startswith(("certified", "closed form")):
            raise ValueError(f"f: no engine could certify lambda ({base.certificate})")
        copies = self.parameters["copies"]
        value = Fraction(base.value) * copies
        multiplicity = copies * (base.multiplicity - 1) + 1
        return RLCT(
            value=value,
            multiplicity=multiplicity,
            source=base.source,
            scope="local",
            certificate=base.certificate + (f"; x{copies} disjoint copies (lambda adds)" if copies > 1 else ""),
            point="w* = 0",
            notes=(f"K = sum of squares of: {self.parameters['f']}",),
        )

    def build(
        self, *, seed: int = 0, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float64
    ) -> Problem:
        exprs, symbols = parse_generators(self.parameters["f"])
        exponents, coeffs = monomial_tables(exprs, symbols)
        copies, n, sigma = self.parameters["copies"], self.parameters["n"], self.parameters["noise_std"]
        f = make_evaluator(exponents, coeffs, copies)
        outputs = coeffs.shape[1]
        generator = torch_generator(seed, DATA_STREAM)
        x = torch.randn(n, 1, generator=generator, dtype=dtype)
        y = sigma * torch.randn(n, copies * outputs, generator=generator, dtype=dtype)  # f(w*) = 0
        scale = 1.0 / (2.0 * sigma**2)

        def loss(w: Tensor, batch: tuple[Tensor, ...]) -> Tensor:
            xb, yb = batch  # (C, b, 1), (C, b, copies * F)
            pred = f(w).reshape(w.shape[0], 1, copies * outputs) * xb
            return scale * (yb - pred).square().sum(dim=2).mean(dim=1)

        # L_n(w) from sufficient statistics (exact, O(d) per chain instead of O(n d)):
        # mean ||y - f x||^2 = mean ||y||^2 - 2 f . mean(x y) + ||f||^2 mean(x^2).
        sxx = x.square().mean().to(device)
        sxy = (x * y).mean(dim=0).to(device)
        syy = y.square().sum(dim=1).mean().to(device)

        def full_data_loss(w: Tensor) -> Tensor:
            fw = f(w).reshape(w.shape[0], copies * outputs)
            return scale * (syy - 2.0 * fw @ sxy + fw.square().sum(dim=1) * sxx)

        target = Target(loss=loss, data=(x.to(device), y.to(device)),
                        w_star=torch.zeros(len(symbols) * copies, dtype=dtype, device=device),
                        name=f"poly[{self.parameters['f']}] x{copies}",
                        full_data_loss=full_data_loss)
        return Problem(case=self.name, parameters=dict(self.parameters), target=target, exact=self.exact())

    def population_loss(self, device: str | torch.device = "cpu") -> Callable[[Tensor], Tensor]:
        """The population loss L(w) = (1 / (2 sigma^2)) (sigma^2 F + ||f(w)||^2) (n = infinity: E x^2 = 1,
        E x y = f(w*) = 0, E ||y||^2 = sigma^2 F), so that L(w) - L(w*) = K(w) exactly. Put in place of
        ``Target.full_data_loss`` it lets a full-batch sampler (MALA, HMC) sample the tempered
        posterior of K itself, free of the data's fluctuation (`rlct.validation.ladder_study`);
        minibatch samplers still see the sampled rows."""
        exprs, symbols = parse_generators(self.parameters["f"])
        exponents, coeffs = monomial_tables(exprs, symbols)
        copies, sigma = self.parameters["copies"], self.parameters["noise_std"]
        f = make_evaluator(exponents.to(device), coeffs.to(device), copies)
        outputs = copies * coeffs.shape[1]
        scale = 1.0 / (2.0 * sigma**2)

        def loss(w: Tensor) -> Tensor:
            return scale * (sigma**2 * outputs + f(w).reshape(w.shape[0], outputs).square().sum(dim=1))

        return loss

    def finite_nbeta_reference(self, settings: SamplerSettings) -> float | None:
        """copies x n beta E[K_1] for one copy (the copies are independent under the product
        posterior), for one or two variables per copy. Monomial generators (K vanishes only on
        the coordinate axes): the log-coordinate quadrature of `rlct.numeric.oracles.tempered_mean`,
        which matches closed-form reductions to ~1e-12. Other generators in two variables (K
        vanishes on curves, e.g. the cusp x^2 = y^3): the nested adaptive quadrature
        `tempered_mean_nested`, with the real roots in x of every generator at each y as
        breakpoints."""
        exprs, symbols = parse_generators(self.parameters["f"])
        if len(symbols) > 2 or settings.localization <= 0:
            return None
        monomial = all(len(sympy.Poly(e, *symbols).terms()) == 1 for e in exprs)
        if not monomial and len(symbols) != 2:
            return None
        from rlct.numeric.oracles import tempered_mean
        from rlct.numeric.oracles.tempered import tempered_mean_nested

        scale = 1.0 / (2.0 * self.parameters["noise_std"] ** 2)
        nbeta = settings.resolved_nbeta(self.parameters["n"])
        if monomial:
            generators = [sympy.lambdify(symbols, e, modules="numpy") for e in exprs]

            def potential(*w):
                return scale * sum(g(*w) ** 2 for g in generators)

            one_copy = tempered_mean(potential, len(symbols), nbeta, settings.localization)
        else:
            x, y = symbols
            vectorized = [sympy.lambdify((x, y), e, modules="numpy") for e in exprs]
            valleys = real_root_breakpoints(exprs, x, y)

            def potential_on_a_line(a: np.ndarray, b: float) -> np.ndarray:
                return scale * sum(np.asarray(g(a, b), dtype=np.float64) ** 2 for g in vectorized)

            one_copy = tempered_mean_nested(potential_on_a_line, nbeta, settings.localization, valleys=valleys)
        return self.parameters["copies"] * one_copy

    def recommended(self) -> SamplerSettings:
        """Full-batch MALA on the sufficient-statistics loss (O(d) per step), nbeta = 1000, gamma = 1,
        eps = 3e-4 (acceptance 0.95-1 up to d = 200, 0.2-0.6 at d = 2000).

        The flat directions of K relax at rate ~ eps * gamma, so the step size sets the chain
        length; MALA takes steps 10x those of the SGLD-CV recipe (eps = 3e-5) with no
        discretization bias. Measured with SGLD-CV (12k steps) against MALA (nbeta = 1000):
        x*y 0.297 vs 0.37, x^2 - y^3 0.316 vs 0.36, 1000 copies of x*y^2 188.8 vs 211.8, where
        the finite-nbeta values of the estimator itself (1-D/2-D quadrature of E_t[t K] under the
        same localization) are 0.381, ~0.37 and 220.1 minus ~10 of data fluctuation."""
        if self.dim >= 1000:
            return mala_settings(step_size=3e-4, steps=30_000, burnin=6_000)
        return mala_settings(step_size=3e-4, steps=20_000, burnin=4_000)
