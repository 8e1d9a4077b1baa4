"""The ladder study's report (`rlct.validation.ladder_study`) from stored records, and its section
in the validation report: built from synthetic records of known form, so that every number in
the tables is checked without sampling."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from rlct.validation import ladder_study
from rlct.validation.ladder_study import cells, rows, validation_section, write_report


def ladder_of(name: str) -> tuple[float, ...]:
    return next(c for c in cells() if c.name == name).ladder


def _records(lam: float = 0.5, m: int = 2) -> list[dict]:
    cell = next(c for c in cells() if c.name == "lau-1-1")
    ladder = list(cell.ladder)
    x = np.log(ladder)
    exact_rungs = lam - (m - 1) / (x + 1.0)
    records = [{"kind": "exact", "cell": cell.name, "lambda": "1/2", "lambda_float": lam, "multiplicity": m,
                "dim": 2, "n": 10**7, "ladder": ladder, "references": list(exact_rungs)}]
    for k, (t, value) in enumerate(zip(ladder, exact_rungs - 0.01)):  # a sampler 0.01 low at every rung
        records.append({"kind": "rung", "cell": cell.name, "seed": 0, "rung": k, "sampler": "estimate",
                        "nbeta": t, "step_size": 3e-4, "chains": 32, "steps": 20_000, "llc_mean": float(value),
                        "llc_stderr": 0.004, "rhat": 1.001, "ess": 5000.0, "diverged": 0, "acceptance": 0.9,
                        "wall_time": 1.0, "settings_sampler": "mala"})
    return records


def test_rows_fit_the_sampler_and_the_exact_rungs():
    (row,) = rows(_records())
    assert row["cell"] == "lau-1-1" and row["m"] == 2 and row["seeds"] == 1
    # the exact rungs follow the fitted form exactly: the correction recovers lambda
    assert abs(row["reference_corrected_error"]) < 1e-3
    assert row["reference_m_hat"] == "2"
    # one temperature reads lambda - 1/(log 1000 + 1) - 0.01
    assert math.isclose(row["single"], 0.5 - 1 / (math.log(1000) + 1) - 0.01)
    assert row["m_hat"] == "2"
    assert abs(row["corrected"] - 0.49) < 0.01  # the sampler's constant offset stays
    assert row["cost_ratio"] == len(ladder_of("lau-1-1"))


def test_report_and_headline(tmp_path):
    write_report(tmp_path, _records(), tmp_path / "no-nbeta.csv", "python -m rlct.validation.ladder_study")
    text = (tmp_path / "README.md").read_text()
    assert "**The ladder correction brings the maximum error under 15%** on the 1 cells" in text
    assert "| lau-1-1 | poly/lau-1-1 poly/2 | 1/2 | 2 |" in text
    assert "Cells not yet run" in text and "lau-0-1" in text
    frame = pd.read_csv(tmp_path / "ladder.csv")
    assert list(frame["cell"]) == ["lau-1-1"]


def test_validation_section_puts_the_correction_beside_one_temperature(tmp_path):
    write_report(tmp_path, _records(), tmp_path / "no-nbeta.csv", "cmd")
    cells_frame = pd.DataFrame([
        {"case": "poly", "scale": "2", "lambda_exact": "1/2", "lambda_exact_float": 0.5, "multiplicity": 2,
         "lambda_hat": 0.35},
        {"case": "dln", "scale": "1e2", "lambda_exact": "42", "lambda_exact_float": 42.0, "multiplicity": 1,
         "lambda_hat": 40.7},
    ])
    lines = validation_section(cells_frame, tmp_path / "ladder.csv")
    text = "\n".join(lines)
    assert "## One temperature against a ladder of nβ" in text
    assert "brings the maximum error under 15%** on the 1 cells it covers" in text
    assert "30.0% at one temperature" in text
    assert "| poly/2 |" in text and "dln/1e2" not in text
    assert validation_section(cells_frame, tmp_path / "missing.csv") == []


def test_unknown_cell_exits_2(capsys):
    assert ladder_study.main(["--cells", "nope", "--report-only"]) == 2
    assert "unknown cell 'nope'" in capsys.readouterr().err


def test_population_loss_is_k_itself():
    """`PolyCase.population_loss` minus its value at w* is K: the Table 1 cells sample K, no data."""
    import torch

    from rlct.cases.poly import PolyCase

    loss = PolyCase.at_scale("lau-2-3").population_loss()
    w = torch.tensor([[0.0, 0.0], [1.5, -0.5], [0.3, 2.0]], dtype=torch.float64)
    k = (w[:, 0] ** 2 * w[:, 1] ** 3) ** 2 / 2
    assert torch.allclose(loss(w) - loss(w[:1]), k)
    assert all(c.population for c in cells() if c.case == "poly")
