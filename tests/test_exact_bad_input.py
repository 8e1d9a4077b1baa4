"""Bad input to every function of `rlct.exact`: a ValueError whose message starts with the field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from rlct.exact import dln, normal_crossing, regular, rrr

# (function, keyword arguments, the field the message must start with)
BAD_INPUTS: list[tuple[Callable[..., Any], dict[str, Any], str]] = [
    # dln
    (dln, {"widths": [5, 4, 3], "rank": 4}, "rank"),  # rank above the smallest width
    (dln, {"widths": [5, 4, 3], "rank": -1}, "rank"),
    (dln, {"widths": [5, 0, 3], "rank": 0}, "widths"),
    (dln, {"widths": [5, -2, 3], "rank": 0}, "widths"),
    (dln, {"widths": [5, 2.5, 3], "rank": 0}, "widths"),
    (dln, {"widths": [5, "a", 3], "rank": 0}, "widths"),
    (dln, {"widths": [5, True, 3], "rank": 0}, "widths"),
    (dln, {"widths": [], "rank": 0}, "widths"),
    (dln, {"widths": [5], "rank": 0}, "widths"),
    (dln, {"widths": "", "rank": 0}, "widths"),
    (dln, {"widths": "5", "rank": 0}, "widths"),
    (dln, {"widths": "5,x,3", "rank": 0}, "widths"),
    (dln, {"widths": 5, "rank": 0}, "widths"),
    (dln, {"widths": None, "rank": 0}, "widths"),
    (dln, {"widths": [5, 4, 3], "rank": 2.5}, "rank"),
    (dln, {"widths": [5, 4, 3], "rank": "a"}, "rank"),
    (dln, {"widths": [5, 4, 3], "rank": True}, "rank"),
    # rrr
    (rrr, {"n_in": 5, "n_hidden": 3, "n_out": 5, "rank": 4}, "rank"),
    (rrr, {"n_in": 2, "n_hidden": 3, "n_out": 5, "rank": 3}, "rank"),
    (rrr, {"n_in": 5, "n_hidden": 3, "n_out": 5, "rank": -1}, "rank"),
    (rrr, {"n_in": 0, "n_hidden": 3, "n_out": 5, "rank": 0}, "n_in"),
    (rrr, {"n_in": 5, "n_hidden": 0, "n_out": 5, "rank": 0}, "n_hidden"),
    (rrr, {"n_in": 5, "n_hidden": 3, "n_out": -1, "rank": 0}, "n_out"),
    (rrr, {"n_in": 2.5, "n_hidden": 3, "n_out": 5, "rank": 0}, "n_in"),
    (rrr, {"n_in": 5, "n_hidden": "a", "n_out": 5, "rank": 0}, "n_hidden"),
    (rrr, {"n_in": 5, "n_hidden": 3, "n_out": True, "rank": 0}, "n_out"),
    (rrr, {"n_in": 5, "n_hidden": 3, "n_out": 5, "rank": 0.0}, "rank"),
    # normal_crossing
    (normal_crossing, {"k": []}, "k"),
    (normal_crossing, {"k": ""}, "k"),
    (normal_crossing, {"k": [1, -1]}, "k"),
    (normal_crossing, {"k": [1, 2.5]}, "k"),
    (normal_crossing, {"k": [1, "a"]}, "k"),
    (normal_crossing, {"k": [True]}, "k"),
    (normal_crossing, {"k": [0, 0]}, "k"),  # K = 1 does not vanish
    (normal_crossing, {"k": 3}, "k"),
    (normal_crossing, {"k": [1, 2], "h": [0, -1]}, "h"),
    (normal_crossing, {"k": [1, 2], "h": [0]}, "h"),  # mismatched length
    (normal_crossing, {"k": [1, 2], "h": [0, 0, 0]}, "h"),
    (normal_crossing, {"k": [1, 2], "h": [0, 0.5]}, "h"),
    (normal_crossing, {"k": [1, 2], "h": "0,b"}, "h"),
    (normal_crossing, {"k": [1, 2], "domain": "ball"}, "domain"),
    # regular
    (regular, {"d": 0}, "d"),
    (regular, {"d": -3}, "d"),
    (regular, {"d": 2.5}, "d"),
    (regular, {"d": "a"}, "d"),
    (regular, {"d": True}, "d"),
    (regular, {"d": None}, "d"),
]


@pytest.mark.parametrize(
    ("function", "kwargs", "field"),
    BAD_INPUTS,
    ids=[f"{f.__name__}-{kw}" for f, kw, _ in BAD_INPUTS],
)
def test_bad_input_names_the_field(
    function: Callable[..., Any], kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValueError) as info:
        function(**kwargs)
    message = str(info.value)
    assert message.startswith(field), message
    # "k" must not be satisfied by a message about some other field that starts with k.
    assert message[len(field)] in ":[", message


@pytest.mark.parametrize(
    ("function", "args"),
    [
        (dln, ("5,4,3", "2")),
        (dln, ((5, 4, 3), 2)),
        (rrr, ("5", "3", "5", "0")),
        (normal_crossing, ("1,2", "0,0", "orthant")),
        (regular, ("5",)),
    ],
)
def test_integral_text_and_tuples_are_accepted(function: Callable[..., Any], args: tuple) -> None:
    """The CLI passes raw strings; integral text and tuples are valid input."""
    result = function(*args)
    assert result.value > 0
