"""The guide docs/adding_a_case.md shows cases/linreg.py verbatim, and that case works end to end."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from rlct.cases import get_case, registry
from rlct.cli import main
from rlct.numeric.llc import estimate_llc

ROOT = Path(__file__).resolve().parents[1]


def test_guide_shows_the_example_case_verbatim():
    guide = (ROOT / "docs" / "adding_a_case.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", guide, flags=re.S)
    source = (ROOT / "cases" / "linreg.py").read_text()
    assert source.rstrip() + "\n" in [b.rstrip() + "\n" for b in blocks]
    assert len(source.splitlines()) <= 50


def test_example_case_is_registered_and_estimates_end_to_end(capsys):
    assert "linreg" in registry()
    case = get_case("linreg")(d=3, n=2000)
    assert case.exact().value == Fraction(3, 2)
    problem = case.build(seed=0)
    result = estimate_llc(problem.target, case.recommended().replace(steps=400, burnin=100), seed=0)
    assert np.isfinite(result.llc_mean) and result.llc_mean > 0
    assert main(["estimate", "linreg", "--d", "3", "--n", "2000", "--steps", "200", "--json"]) == 0
    assert '"exact_lambda": "3/2"' in capsys.readouterr().out


@pytest.mark.parametrize("bad, field", [({"d": 0}, "d"), ({"d": "x"}, "d"), ({"q": 1}, "q")])
def test_example_case_bad_parameters(bad, field):
    with pytest.raises(ValueError, match=f"^{field}:"):
        get_case("linreg")(**bad)
