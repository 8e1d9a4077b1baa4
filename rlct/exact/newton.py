"""Learning coefficients of polynomial K from the Newton polyhedron (exact rationals).

K = sum_alpha c_alpha w^alpha >= 0 near w = 0, prior phi ~ prod |w_j|^(h_j) near 0. With the
Newton polyhedron P = conv(U_alpha (alpha + R^d_>=0)) and the Newton distance
t = min{t : t (h + 1) in P}:

* **Non-degenerate K** (Arnold, Gusein-Zade & Varchenko 1985, "Singularities of Differentiable
  Maps II", ch. 8; Watanabe 2009, "Algebraic Geometry and Statistical Learning Theory", ch. 7):
  if for *every* compact face gamma of P (not only the face hit by the diagonal) the face
  polynomial K_gamma has no zero on the torus (R \\ 0)^d, then lambda = 1/t and m is the
  codimension of the face of P containing t (h + 1) in its relative interior. On the orthant
  [0, eps)^d the same holds with the positive torus (R_>0)^d; the exponents then enter without
  a factor 2, as in `normal_crossing` (K = u -> 1, u + v -> 2, u v -> 1 with m = 2).
* **Ideal form** K = sum_i f_i^2 given as the list [f_i] (Lin 2011, "Algebraic Methods for
  Evaluating Integrals in Bayesian Statistics", PhD thesis, UC Berkeley): P is the Newton
  polyhedron of the ideal <f_i> (of the union of the supports), lambda = 1/(2 t) and m as
  above, if for every compact face gamma the f_{i,gamma} have no common zero on the torus
  ("sos-nondegenerate"; then K's own face polynomials sum_i f_{i,gamma}^2 have no zero, since
  P(K) = 2 P).
* **One generator** [f] whose face polynomials do vanish on the torus (e.g. f = x^2 - y^3):
  Varchenko 1976 ("Newton polyhedra and estimation of oscillating integrals", Funct. Anal.
  Appl. 10:175-196) needs only that no f_gamma has a *singular* zero on the torus; then the
  strict transform of f under the toric resolution is smooth and transverse, contributes poles
  only at negative integers, and if t > 1 the largest pole of int |f|^s phi is -1/t of order the
  codimension above. Since K = f^2, lambda = 1/(2 t) (x^2 - y^3: t = 6/5, lambda = 5/12, m = 1).

Why every compact face: the theorem's hypothesis is about all of them. Its proof resolves K by
the toric modification built from P and needs the strict transform of K to be empty (or, for
Varchenko, smooth and transverse) over *every* face; where a face polynomial vanishes on the
torus that fails, and the theorem draws no conclusion, even if that face does not contain the
diagonal point. So a degenerate face anywhere makes the answer "degenerate".

If non-degeneracy fails ("degenerate") or cannot be decided exactly ("undecided"), the Newton
value is still returned, flagged in ``status``/``certificate``: it is then only an upper bound,
lambda <= 1/t (1/(2 t) for the ideal form), which holds for every K >= 0 with this Newton
polyhedron. Proof: for |w_i| <= 1 and alpha in P, alpha >= sum_v mu_v v (a convex combination
of vertices), so |w^alpha| <= prod_v |w^v|^mu_v <= sum_v |w^v| (weighted AM-GM); hence
K <= C g with g = sum_v |w^v|. Since G = sum_v w^(2 v) <= g^2 <= N G and G is non-degenerate
with polyhedron 2P, vol{g < eps} ~ vol{G < eps^2} ~ eps^(1/t) (log)^(m-1); and {g < eps/C} is
inside {K < eps}, so K's sublevel volumes are at least as large: lambda_K <= 1/t (the same with
the prior weight). Lin's software reports 1/t as "exact for monomial ideals, upper bound
otherwise". Nothing is claimed about m in that case.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from rlct.exact.polyhedron import NewtonPolyhedron
from rlct.exact.polynomial_input import (
    Polynomial,
    as_expression,
    resolve_prior,
    resolve_variables,
    to_polynomial,
)
from rlct.exact.result import RLCT, format_fraction
from rlct.exact.torus_zeros import (
    TorusVerdict,
    face_polynomial_verdict,
    singular_point_verdict,
    system_verdict,
)

DOMAINS = ("neighbourhood", "orthant")
SOURCE = (
    "Newton polyhedron: Arnold, Gusein-Zade & Varchenko 1985, Singularities of Differentiable "
    "Maps II, ch. 8; Watanabe 2009, Algebraic Geometry and Statistical Learning Theory, ch. 7"
)
SOURCE_IDEAL = (
    "Newton polyhedron of the ideal <f_i>, K = sum f_i^2: Lin 2011, Algebraic Methods for "
    "Evaluating Integrals in Bayesian Statistics (PhD thesis, UC Berkeley)"
)
SOURCE_VARCHENKO = (
    "Varchenko 1976, Newton polyhedra and estimation of oscillating integrals, Funct. Anal. Appl. "
    "10:175-196 (real non-degenerate f, Newton distance > 1); K = f^2"
)
UPPER_BOUND_NOTE = (
    "not certified: the Newton value is only an upper bound, lambda <= 1/t (true for every K >= 0 "
    "with this Newton polyhedron); the multiplicity shown is the Newton one and is not claimed"
)


def newton(
    K: object,
    variables: Sequence[object] | None = None,
    prior: Mapping[Any, object] | Sequence[object] | None = None,
    domain: str = "neighbourhood",
) -> RLCT:
    """lambda and m of a polynomial K at w = 0 from its Newton polyhedron.

    Args:
        K: a polynomial K >= 0 (sympy expression or text such as ``"x**2 + y**4"``), or a list
            of polynomials [f_1, ..., f_r] meaning K = sum f_i^2 (the ideal form).
        variables: the variables in order (symbols or names); default: the free symbols of K
            sorted by name. Variables absent from K are allowed (they add no constraint).
        prior: exponents h of a prior ~ prod |w_j|^(h_j) near 0, as a dict {variable: h} or a
            list in variable order; exact non-negative rationals. Default: all 0.
        domain: ``"neighbourhood"`` of 0 in R^d (torus (R \\ 0)^d) or the ``"orthant"``
            [0, eps)^d (torus (R_>0)^d).

    Returns:
        An `RLCT` with scope "local" at w = 0 whose ``status`` is "certified" (non-degeneracy
        proven on every compact face: lambda and m are exact), "degenerate" (a compact face
        polynomial vanishes on the torus) or "undecided" (not decided exactly). ``certificate``
        is the status followed by ": reason". Only "certified" values are exact; otherwise
        lambda <= the returned value.

    Raises:
        ValueError: "K: ..." for non-polynomials, non-rational coefficients, K(0) != 0, K = 0, or
            a K that visibly takes negative values near 0 (a vertex term with a negative
            coefficient or, on the neighbourhood, an odd exponent; a negative face polynomial);
            "variables: ...", "prior: ...", "domain: ..." for those arguments.
    """
    if domain not in DOMAINS:
        raise ValueError(f"domain: expected one of {DOMAINS}, got {domain!r}")
    ideal = isinstance(K, (list, tuple))
    raw = list(K) if ideal else [K]  # type: ignore[call-overload]
    if ideal and not raw:
        raise ValueError("K: the list of generators f_i is empty")
    expressions = [as_expression(item, "K") for item in raw]
    if all(e.is_number for e in expressions):  # no variables at all: K is a constant
        constants = [e for e in expressions if e != 0]
        if not constants:
            raise ValueError("K: is identically zero")
        raise ValueError(f"K: is the constant {constants[0]}, which does not vanish at w = 0")
    symbols = resolve_variables(expressions, variables)
    names = [s.name for s in symbols]
    polys = [to_polynomial(e, symbols, "K") for e in expressions]
    h = resolve_prior(prior, symbols)
    zero = (0,) * len(symbols)
    for i, p in enumerate(polys):
        if zero in p:
            what = "K(0)" if not ideal else f"f_{i + 1}(0)"
            raise ValueError(f"K: {what} = {p[zero]} != 0; K must vanish at w = 0")
    polys = [p for p in polys if p]
    if not polys:
        raise ValueError("K: is identically zero")

    support = sorted({e for p in polys for e in p})
    polyhedron = NewtonPolyhedron(support)
    if not ideal:
        _check_vertex_signs(polys[0], polyhedron, names, domain)
    direction = [hj + 1 for hj in h]
    t = polyhedron.distance(direction)
    diagonal_point = [t * v for v in direction]
    multiplicity = polyhedron.codimension_at(diagonal_point)
    value = 1 / t if not ideal else 1 / (2 * t)

    status, reason, source, checked = _certify(polys, ideal, polyhedron, names, domain, t)
    principal = polyhedron.face_through(diagonal_point)
    principal_points = [
        polyhedron.points[i] for i in range(len(polyhedron.points)) if principal.points >> i & 1
    ]
    notes = [
        f"Newton distance t = {format_fraction(t)} along (h + 1) = "
        f"({', '.join(format_fraction(v) for v in direction)}); lambda = "
        + ("1/t" if not ideal else "1/(2 t)"),
        f"t (h + 1) lies in the relative interior of a face of codimension {multiplicity} "
        f"through the exponents {_exponent_list(principal_points, names)}"
        + ("" if principal.support == (1 << len(names)) - 1 else " (a non-compact face)"),
        f"{len(polyhedron.facets)} facets"
        + ("" if checked is None else f", {checked} compact faces checked"),
        f"variables: {', '.join(names)}",
    ]
    if any(h):
        notes.append(
            "prior ~ " + " * ".join(f"|{n}|^{format_fraction(x)}" for n, x in zip(names, h) if x)
        )
    if status != "certified":
        notes.append(UPPER_BOUND_NOTE)
    return RLCT(
        value=value,
        multiplicity=multiplicity,
        source=source,
        scope="local",
        certificate=f"{status}: {reason}",
        point="w = 0" if domain == "neighbourhood" else "w = 0 on the orthant [0, eps)^d",
        notes=tuple(notes),
        status=status,
    )


def _check_vertex_signs(
    poly: Polynomial, polyhedron: NewtonPolyhedron, names: Sequence[str], domain: str
) -> None:
    """K takes negative values near 0 if a vertex term can be negative (it dominates K along a
    curve w = (s^a_1 c_1, ..., s^a_d c_d), s -> 0, with a in the vertex's normal cone)."""
    for v in polyhedron.vertices:
        c = poly[v]
        term = _term_text(c, v, names)
        if c < 0:
            raise ValueError(
                f"K: takes negative values near 0: the vertex term {term} of its Newton "
                "polyhedron has a negative coefficient"
            )
        odd = [n for n, e in zip(names, v) if e % 2 == 1]
        if domain == "neighbourhood" and odd:
            raise ValueError(
                f"K: takes negative values near 0: the vertex term {term} of its Newton "
                f"polyhedron has an odd exponent in {', '.join(odd)} (use domain='orthant' if "
                "the parameters are >= 0)"
            )


def _certify(
    polys: list[Polynomial],
    ideal: bool,
    polyhedron: NewtonPolyhedron,
    names: Sequence[str],
    domain: str,
    t: Fraction,
) -> tuple[str, str, str, int | None]:
    """(status, reason, source, number of compact faces enumerated or None) of the
    non-degeneracy check over all compact faces."""
    torus = "(R \\ 0)^d" if domain == "neighbourhood" else "(R_>0)^d"
    if not ideal and _positive_on_torus(polys[0], domain):
        # Every face polynomial is a sub-sum of terms that are all > 0 on the torus.
        rule = "all exponents even and " if domain == "neighbourhood" else ""
        return (
            "certified",
            f"non-degenerate: {rule}all coefficients positive, so every face polynomial is > 0 "
            f"on the torus {torus}",
            SOURCE,
            None,
        )
    n_faces = len(polyhedron.compact_faces)
    faces = [f for f in polyhedron.compact_faces if f.points.bit_count() > 1]
    verdicts: list[tuple[list[tuple[int, ...]], TorusVerdict]] = []
    found_zero = False
    for face in faces:
        points = polyhedron.face_points(face)
        restricted = [{e: p[e] for e in points if e in p} for p in polys]
        if ideal:
            verdict = system_verdict(restricted, names, domain)
            if verdict.kind == "zero":
                verdicts.append((points, verdict))
                break  # one face suffices to show the ideal is degenerate
        else:
            # After one degenerate face, the other faces are only searched for negative values
            # (which would make K an invalid input); their zeros no longer matter.
            verdict = face_polynomial_verdict(restricted[0], names, domain, found_zero)
            if verdict.kind == "negative":
                raise ValueError(
                    f"K: takes negative values near 0: the face polynomial {verdict.reason}"
                )
            if found_zero:
                continue
            found_zero = verdict.kind == "zero"
        verdicts.append((points, verdict))
    source = SOURCE_IDEAL if ideal else SOURCE
    what = "the f_i restricted to" if ideal else "K_gamma on"
    degenerate = [(p, v) for p, v in verdicts if v.kind == "zero"]
    unknown = [(p, v) for p, v in verdicts if v.kind == "unknown"]
    if not degenerate and not unknown:
        return (
            "certified",
            f"non-degenerate: {what} each of the {n_faces} compact faces "
            f"{'have no common zero' if ideal else 'has no zero'} on the torus {torus}",
            source,
            n_faces,
        )
    if ideal and len(polys) == 1:
        varchenko = _varchenko(polys[0], polyhedron, names, domain, t)
        if varchenko is not None:
            return (*varchenko, n_faces)
    if degenerate:
        points, verdict = degenerate[0]
        return (
            "degenerate",
            f"{what} the face through {_exponent_list(points, names)} "
            f"{'have a common zero' if ideal else 'vanishes'} on the torus {torus} "
            f"({verdict.reason})",
            source,
            n_faces,
        )
    points, verdict = unknown[0]
    return (
        "undecided",
        f"{len(unknown)} of {len(verdicts)} non-vertex compact faces not decided exactly, e.g. "
        f"the face through {_exponent_list(points, names)} ({verdict.reason})",
        source,
        n_faces,
    )


def _positive_on_torus(poly: Polynomial, domain: str) -> bool:
    """All terms > 0 on the torus: positive coefficients (and even exponents on R \\ 0)."""
    if any(c <= 0 for c in poly.values()):
        return False
    return domain == "orthant" or all(e % 2 == 0 for exps in poly for e in exps)


def _varchenko(
    f: Polynomial, polyhedron: NewtonPolyhedron, names: Sequence[str], domain: str, t: Fraction
) -> tuple[str, str, str] | None:
    """Certificate for K = f^2 by Varchenko's real non-degeneracy, or None."""
    if t <= 1:
        return None
    for face in polyhedron.compact_faces:
        if face.points.bit_count() < 2:
            continue
        points = polyhedron.face_points(face)
        verdict = singular_point_verdict({e: f[e] for e in points if e in f}, names, domain)
        if verdict.kind != "nonzero":
            return None
    torus = "(R \\ 0)^d" if domain == "neighbourhood" else "(R_>0)^d"
    return (
        "certified",
        f"real non-degenerate f (Varchenko): no f_gamma has a singular zero on the torus {torus} "
        f"on any of the {len(polyhedron.compact_faces)} compact faces, and the Newton distance of "
        f"f is t = {format_fraction(t)} > 1",
        SOURCE_VARCHENKO,
    )


def _term_text(c: Fraction, exponents: Sequence[int], names: Sequence[str]) -> str:
    """``-3/2*x**2*y`` (no sympy printing: this is called for every vertex)."""
    monomial = "*".join(f"{n}**{e}" if e != 1 else n for n, e in zip(names, exponents) if e)
    if not monomial:
        return str(c)
    if c == 1:
        return monomial
    if c == -1:
        return "-" + monomial
    return f"{c}*{monomial}"


def _exponent_list(points: Sequence[Sequence[int]], names: Sequence[str]) -> str:
    return "{" + ", ".join(_term_text(Fraction(1), p, names) for p in points) + "}"
