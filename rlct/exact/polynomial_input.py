"""Input handling for polynomial functions K: safe text parsing, exact coefficient extraction,
variable order and prior exponents.

A polynomial is represented exactly as ``{exponent tuple: Fraction coefficient}`` (no zero
coefficients). Text is parsed by a small recursive-descent parser that builds sympy objects
directly, so no text is ever evaluated (no ``eval``): only numbers, variable names,
``+ - * / ( )`` and powers with a non-negative integer literal exponent are accepted.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

import sympy

Polynomial = dict[tuple[int, ...], Fraction]

MAX_EXPONENT = 1000  # largest exponent literal accepted in text (guards against x**10**9)
MAX_EXPONENT_OF_SUM = 60  # largest power of a compound base such as (x + y)**60
MAX_TEXT_LENGTH = 20_000

_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
    r"|(?P<name>[A-Za-z][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|[-+*/^()]))"
)


def parse_polynomial_text(text: str, name: str = "K") -> sympy.Expr:
    """Parse ``text`` such as ``"x**2*y**2 + z^4 - 3/2*x*y"`` into a sympy expression.

    Decimal literals are read exactly (``0.1`` is 1/10). Names become plain symbols (``pi`` and
    ``E`` are variables, not constants). Function calls, attribute access and any other
    syntax raise ``ValueError`` starting with ``name``.
    """
    if not isinstance(text, str):
        raise ValueError(f"{name}: expected a string, got {type(text).__name__}")
    if len(text) > MAX_TEXT_LENGTH:
        raise ValueError(f"{name}: expression longer than {MAX_TEXT_LENGTH} characters")
    tokens = _tokenize(text, name)
    parser = _Parser(tokens, name)
    expr = parser.expression()
    if parser.position != len(tokens):
        kind, value = tokens[parser.position]
        raise ValueError(f"{name}: unexpected {value!r} in {text!r}")
    return expr


def _tokenize(text: str, name: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    stripped = text.rstrip()
    while pos < len(stripped):
        match = _TOKEN.match(stripped, pos)
        if match is None or match.end() == pos:
            bad = stripped[pos:].lstrip()[:1]
            raise ValueError(f"{name}: unexpected character {bad!r} in {text!r}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    if not tokens:
        raise ValueError(f"{name}: empty expression")
    return tokens


class _Parser:
    """expr := term (('+'|'-') term)*;  term := unary (('*'|'/') unary)*;
    unary := ('+'|'-') unary | power;  power := atom (('**'|'^') exponent)?;
    atom := number | name | '(' expr ')';  exponent := integer | '(' integer ')'."""

    def __init__(self, tokens: list[tuple[str, str]], name: str) -> None:
        self.tokens = tokens
        self.position = 0
        self.name = name

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise ValueError(f"{self.name}: the expression ends unexpectedly")
        self.position += 1
        return token

    def _expect(self, value: str) -> None:
        token = self._take()
        if token[1] != value:
            raise ValueError(f"{self.name}: expected {value!r}, got {token[1]!r}")

    def expression(self) -> sympy.Expr:
        result = self.term()
        while (tok := self._peek()) is not None and tok[1] in ("+", "-"):
            self._take()
            rhs = self.term()
            result = result + rhs if tok[1] == "+" else result - rhs
        return result

    def term(self) -> sympy.Expr:
        result = self.unary()
        while (tok := self._peek()) is not None and tok[1] in ("*", "/"):
            self._take()
            rhs = self.unary()
            if tok[1] == "*":
                result = result * rhs
            else:
                if not rhs.is_Number:
                    raise ValueError(
                        f"{self.name}: division is only allowed by a number (got / {rhs}); "
                        "K must be a polynomial"
                    )
                if rhs == 0:
                    raise ValueError(f"{self.name}: division by zero")
                result = result / rhs
        return result

    def unary(self) -> sympy.Expr:
        tok = self._peek()
        if tok is not None and tok[1] in ("+", "-"):
            self._take()
            operand = self.unary()
            return -operand if tok[1] == "-" else operand
        return self.power()

    def power(self) -> sympy.Expr:
        base = self.atom()
        tok = self._peek()
        if tok is not None and tok[1] in ("**", "^"):
            self._take()
            exponent = self._exponent()
            if exponent > MAX_EXPONENT_OF_SUM and not (base.is_Symbol or base.is_Number):
                raise ValueError(
                    f"{self.name}: exponent {exponent} of a compound base is larger than "
                    f"{MAX_EXPONENT_OF_SUM} (the expansion would be huge)"
                )
            nxt = self._peek()
            if nxt is not None and nxt[1] in ("**", "^"):
                raise ValueError(f"{self.name}: chained powers are not allowed; use parentheses")
            return sympy.Pow(base, sympy.Integer(exponent))
        return base

    def _exponent(self) -> int:
        parenthesised = self._peek() == ("op", "(")
        if parenthesised:
            self._take()
        kind, value = self._take()
        if parenthesised and self._peek() != ("op", ")"):
            raise ValueError(
                f"{self.name}: exponents must be non-negative integer literals, got an "
                f"expression starting with {value!r}"
            )
        if kind != "number" or not value.isdigit():
            raise ValueError(
                f"{self.name}: exponents must be non-negative integer literals, got {value!r}"
            )
        exponent = int(value)
        if exponent > MAX_EXPONENT:
            raise ValueError(f"{self.name}: exponent {exponent} is larger than {MAX_EXPONENT}")
        if parenthesised:
            self._expect(")")
        return exponent

    def atom(self) -> sympy.Expr:
        kind, value = self._take()
        if kind == "number":
            return sympy.Rational(Fraction(value))
        if kind == "name":
            nxt = self._peek()
            if nxt is not None and nxt[1] == "(":
                raise ValueError(
                    f"{self.name}: function calls such as {value}(...) are not allowed; "
                    "K must be a polynomial"
                )
            return sympy.Symbol(value)
        if value == "(":
            inner = self.expression()
            self._expect(")")
            return inner
        raise ValueError(f"{self.name}: unexpected {value!r}")


# ------------------------------------------------------------------------------------------
def as_expression(value: object, name: str) -> sympy.Expr:
    """A sympy expression from a sympy object, an int/Fraction, or text (parsed safely)."""
    if isinstance(value, str):
        return parse_polynomial_text(value, name)
    if isinstance(value, bool):
        raise ValueError(f"{name}: expected a polynomial, got {value!r}")
    if isinstance(value, sympy.Basic):
        if not isinstance(value, sympy.Expr):
            raise ValueError(f"{name}: expected a polynomial expression, got {value!r}")
        return value
    if isinstance(value, numbers.Rational):
        return sympy.Rational(Fraction(value))
    raise ValueError(f"{name}: expected a sympy expression or a string, got {value!r}")


def resolve_variables(
    expressions: Sequence[sympy.Expr], variables: Sequence[object] | None
) -> tuple[sympy.Symbol, ...]:
    """The variables in order: the given ones, or the free symbols sorted by name."""
    free: set[sympy.Symbol] = set()
    for e in expressions:
        free |= {s for s in e.free_symbols if isinstance(s, sympy.Symbol)}
    if variables is None:
        ordered = tuple(sorted(free, key=lambda s: s.name))
        if not ordered:
            raise ValueError("K: has no variables (it is a constant)")
        return ordered
    if isinstance(variables, (str, sympy.Basic)):
        raise ValueError("variables: expected a list of symbols or names")
    symbols: list[sympy.Symbol] = []
    for v in variables:
        if isinstance(v, str):
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", v):
                raise ValueError(f"variables: {v!r} is not a valid variable name")
            symbols.append(sympy.Symbol(v))
        elif isinstance(v, sympy.Symbol):
            symbols.append(v)
        else:
            raise ValueError(f"variables: expected symbols or names, got {v!r}")
    names = [s.name for s in symbols]
    if len(set(names)) != len(names):
        raise ValueError(f"variables: duplicate names in {names}")
    if not symbols:
        raise ValueError("variables: need at least one variable")
    # Match by name so that Symbol('x', real=True) and Symbol('x') are the same variable.
    by_name = {s.name: s for s in free}
    missing = sorted(set(by_name) - set(names))
    if missing:
        raise ValueError(f"K: contains symbols {missing} that are not in variables {names}")
    return tuple(by_name.get(s.name, s) for s in symbols)


def to_polynomial(expr: sympy.Expr, variables: Sequence[sympy.Symbol], name: str) -> Polynomial:
    """Exact ``{exponents: Fraction}`` of ``expr`` as a polynomial in ``variables``.

    Raises ``ValueError`` (message starting with ``name``) for non-polynomials (``sin(x)``,
    ``1/x``, ``x**0.5``), floating-point numbers and non-rational coefficients.
    """
    if expr.atoms(sympy.Float):
        raise ValueError(
            f"{name}: floating-point numbers are not exact; write rationals such as 1/2 "
            f"(got {expr})"
        )
    try:
        poly = sympy.Poly(expr, *variables)
    except (sympy.PolynomialError, sympy.GeneratorsError, TypeError, ValueError) as err:
        raise ValueError(f"{name}: not a polynomial in {list(variables)}: {expr} ({err})") from None
    out: Polynomial = {}
    for monom, coeff in poly.terms():
        if coeff == 0:
            continue
        if not (isinstance(coeff, sympy.Rational) or coeff.is_Rational):
            if coeff.free_symbols:
                raise ValueError(f"{name}: coefficient {coeff} is not a number")
            raise ValueError(f"{name}: coefficient {coeff} is not a rational number")
        out[tuple(int(e) for e in monom)] = Fraction(int(coeff.p), int(coeff.q))
    return out


def resolve_prior(
    prior: Mapping[Any, object] | Sequence[object] | None,
    variables: Sequence[sympy.Symbol],
) -> tuple[Fraction, ...]:
    """Prior exponents h (prior ~ prod |w_j|^h_j), one per variable; default all 0."""
    d = len(variables)
    if prior is None:
        return (Fraction(0),) * d
    names = [v.name for v in variables]
    values: list[object]
    if isinstance(prior, Mapping):
        values = [0] * d
        for key, h in prior.items():
            key_name = key.name if isinstance(key, sympy.Symbol) else key
            if not isinstance(key_name, str) or key_name not in names:
                raise ValueError(f"prior: unknown variable {key!r} (variables: {', '.join(names)})")
            values[names.index(key_name)] = h
    elif isinstance(prior, (str, bytes)) or not isinstance(prior, Sequence):
        raise ValueError("prior: expected a dict {variable: exponent} or a list of exponents")
    else:
        if len(prior) != d:
            raise ValueError(f"prior: expected {d} exponents (one per variable), got {len(prior)}")
        values = list(prior)
    out = []
    for nm, h in zip(names, values):
        out.append(_prior_exponent(nm, h))
    return tuple(out)


def _prior_exponent(var: str, h: object) -> Fraction:
    if isinstance(h, (bool, float)) or (isinstance(h, sympy.Basic) and not h.is_Rational):
        raise ValueError(f"prior: exponent of {var} must be an exact rational, got {h!r}")
    try:
        if isinstance(h, sympy.Rational):
            value = Fraction(int(h.p), int(h.q))
        elif isinstance(h, (numbers.Rational, str)):
            value = Fraction(h)
        else:
            raise TypeError
    except (TypeError, ValueError, ZeroDivisionError):
        raise ValueError(f"prior: exponent of {var} must be an exact rational, got {h!r}") from None
    if value < 0:
        raise ValueError(f"prior: exponent of {var} must be >= 0, got {value}")
    return value
