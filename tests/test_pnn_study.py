"""The pnn study's bookkeeping (validation/pnn_study.py): the error split from stored records,
and bad command-line input. The study's numbers themselves are in reports/pnn."""

from __future__ import annotations

import pytest

from rlct.validation import pnn_study


def _run(nbeta, value, sampler="mala"):
    return {"llc_mean": value, "llc_stderr": 0.01, "rhat": 1.0, "ess": 100.0, "acceptance_rate": 0.9,
            "diverged": False, "nbeta": nbeta, "sampler": sampler, "step_size": 1e-3, "steps": 100,
            "chains": 4, "batch_size": None, "wall_time": 2.0}


def test_the_error_split_adds_sampler_data_and_estimator_parts():
    common = {"scale": "L1r2", "depth": 1, "power": 2, "n": 100_000, "noise_std": 1.0}
    key = pnn_study.recommended_key("L1r2")
    refs = {f"{nb:.6g}": {"lambda_beta": 0.70 if nb < 100 else 0.72, "seconds": 1.0} for nb in pnn_study.NBETAS}
    records = [
        {"kind": "exact", **common, "lambda": "3/4", "lambda_float": 0.75, "multiplicity": 1,
         "certificate": "", "exact_seconds": 0.1, "references": refs},
        {"kind": "data", **common, "seed": 0, "data_references": {"46.1662": 0.71, "1000": 0.74}},
        {"kind": "estimates", **common, "seed": 0, "settings_key": key,
         "runs": {"rlct_recommended": _run(1000.0, 0.777)}},
        {"kind": "estimates", **common, "seed": 0, "settings_key": "stale",
         "runs": {"rlct_recommended": _run(1000.0, 9.0)}},  # other settings: not in the table
    ]
    (row,) = pnn_study._rows(records)
    assert row["estimate"] == pytest.approx(0.777)
    assert row["sampler_error"] == pytest.approx((0.777 - 0.74) / 0.74)
    assert row["data_fluctuation"] == pytest.approx((0.74 - 0.72) / 0.75)
    assert row["estimator_bias"] == pytest.approx((0.72 - 0.75) / 0.75)
    assert row["total_error"] == pytest.approx((0.777 - 0.75) / 0.75)
    assert row["paper_sgld"] == 0.677


@pytest.mark.parametrize(("argv", "flag"), [(["--scales", "L9r9"], "--scales"), (["--seeds", "0"], "--seeds")])
def test_bad_arguments_exit_2_with_one_line(argv, flag, tmp_path, capsys):
    assert pnn_study.main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"rlct: error: {flag}")


def _records(estimate):
    common = {"scale": "L1r2", "depth": 1, "power": 2, "n": 100_000, "noise_std": 1.0}
    refs = {f"{nb:.6g}": {"lambda_beta": 0.72, "seconds": 1.0} for nb in pnn_study.NBETAS}
    nbetas = [10.0**k for k in range(4, 17, 2)]
    values = [0.75 - 0.1 * t**-0.2 for t in nbetas]  # lambda_t of an m = 1 curve with lambda = 3/4
    return [
        {"kind": "exact", **common, "lambda": "3/4", "lambda_float": 0.75, "multiplicity": 1,
         "certificate": "", "exact_seconds": 0.1, "references": refs},
        {"kind": "limit", **common, "seconds": 1.0,
         "oracle": {"estimate": 0.0, "details": {"nbetas": nbetas, "values": values}}},
        {"kind": "data", **common, "seed": 0, "data_references": {"46.1662": 0.71, "1000": 0.74}},
        {"kind": "estimates", **common, "seed": 0, "settings_key": pnn_study.recommended_key("L1r2"),
         "runs": {"rlct_recommended": _run(1000.0, estimate)}},
    ]


@pytest.mark.parametrize(("estimate", "verdict"), [(0.75, "meets its target on every scale shown"),
                                                   (0.60, "misses its target")])
def test_the_report_refits_the_oracle_and_says_whether_the_sampler_met_its_target(estimate, verdict, tmp_path):
    pnn_study.write_report(tmp_path, _records(estimate), "cmd")
    text = (tmp_path / "README.md").read_text()
    assert verdict in text
    row = next(line for line in text.splitlines() if line.startswith("| 1 | 2 | 3/4"))
    assert "0.75000 +- 0.00000 (1) | +0.00%" in row  # refitted from the stored values, not the stored 0.0
