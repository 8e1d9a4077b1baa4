"""Input validation shared by the exact functions: every error names the offending field."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from fractions import Fraction


def as_int(name: str, value: object, *, minimum: int | None = None) -> int:
    """Return ``value`` as an int, or raise ``ValueError`` naming ``name``.

    Accepts Python/numpy integers and integral strings; rejects bools, floats, fractions.
    """
    if isinstance(value, bool):
        raise ValueError(f"{name}: expected an integer, got {value!r}")
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"{name}: expected an integer, got {text!r}") from None
    elif isinstance(value, numbers.Integral):
        value = int(value)
    else:
        raise ValueError(f"{name}: expected an integer, got {value!r}")
    assert isinstance(value, int)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value}")
    return value


def as_positive_float(name: str, value: object, *, text: bool = False) -> float:
    """Return ``value`` as a finite float > 0, or raise ``ValueError`` naming ``name``.

    Accepts ints and floats (not bools); with ``text``, also numeric strings (CLI parameters)."""
    if text and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ValueError(f"{name}: expected a positive number, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name}: expected a positive number, got {value!r}")
    return float(value)


def as_int_list(
    name: str, values: object, *, minimum: int | None = None, min_length: int = 1
) -> list[int]:
    """A list of ints from a sequence or a comma-separated string."""
    if isinstance(values, str):
        text = values.strip()
        items: Sequence[object] = [s.strip() for s in text.split(",")] if text else []
        if any(item == "" for item in items):
            raise ValueError(f"{name}: could not parse {values!r} as comma-separated integers")
    elif isinstance(values, Iterable):
        items = list(values)
    else:
        raise ValueError(f"{name}: expected a list of integers, got {values!r}")
    if len(items) < min_length:
        raise ValueError(
            f"{name}: expected at least {min_length} entr{'y' if min_length == 1 else 'ies'}, "
            f"got {len(items)}"
        )
    return [as_int(f"{name}[{i}]", v, minimum=minimum) for i, v in enumerate(items)]


def as_fraction(name: str, value: object, *, minimum: Fraction | None = None) -> Fraction:
    """An exact rational from an int, Fraction, or "p/q" string (never from a float)."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(f"{name}: expected an exact rational (int, Fraction or 'p/q'), got {value!r}")
    try:
        if isinstance(value, (numbers.Rational, str)):
            frac = Fraction(value)
        else:
            raise TypeError
    except (ValueError, TypeError, ZeroDivisionError):
        raise ValueError(f"{name}: expected an exact rational, got {value!r}") from None
    if minimum is not None and frac < minimum:
        raise ValueError(f"{name}: expected >= {minimum}, got {frac}")
    return frac
