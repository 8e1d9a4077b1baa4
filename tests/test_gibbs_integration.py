"""The Gibbs sampler through the common interfaces: SamplerSettings(sampler="gibbs"),
estimate_llc on a case's target (the `Target.multilinear` hook), `rlct estimate --sampler gibbs`."""

from __future__ import annotations

import json
import math

import pytest
import torch

from rlct.cases import get_case
from rlct.cli import main
from rlct.numeric.gibbs import gibbs_llc
from rlct.numeric.llc import estimate_llc
from rlct.numeric.settings import SamplerSettings

GIBBS = SamplerSettings(sampler="gibbs", nbeta=1000.0, chains=4, steps=300, burnin=100)


@pytest.mark.parametrize("name, params", [
    ("dln", {"widths": (3, 4, 2), "rank": 1, "n": 5000}),
    ("rrr", {"n_in": 3, "n_hidden": 2, "n_out": 3, "rank": 0, "n": 5000}),
    ("multireg", {"inputs": 3, "outputs": 2, "n": 5000}),
])
def test_dln_family_targets_carry_their_model_and_estimate_llc_runs_gibbs(name, params):
    problem = get_case(name)(**params).build(seed=0, dtype=torch.float32)
    model = problem.target.multilinear
    assert model is not None and model.dim == problem.dim and model.dtype == torch.float64
    w = problem.target.w_star.double().unsqueeze(0) + 0.01
    full = problem.target.to("cpu", torch.float64)
    assert float(model.loss(w)[0]) == pytest.approx(float(full.full_loss(w)[0]), rel=1e-5)
    result = estimate_llc(problem.target, GIBBS, seed=3)
    direct = gibbs_llc(model, nbeta=1000.0, chains=4, sweeps=300, burnin=100, seed=3)
    assert result.settings == GIBBS and result.chain_method == "gibbs"
    assert result.llc_mean == direct.llc_mean  # the same draws: estimate_llc only dispatches
    assert math.isfinite(result.llc_mean) and result.rhat < 1.1


def test_gibbs_needs_the_hook():
    problem = get_case("linreg")(d=2, n=100).build(seed=0)
    with pytest.raises(ValueError, match="^sampler: 'gibbs' needs a target with a multilinear"):
        estimate_llc(problem.target, GIBBS, seed=0)


def test_cli_gibbs_and_json_carries_multiplicity_and_reference(capsys):
    code = main(["estimate", "rrr", "--n-in", "2", "--n-hidden", "1", "--n-out", "2", "--rank", "0",
                 "--sampler", "gibbs", "--nbeta", "1000", "--steps", "400", "--burnin", "100", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["sampler"] == "gibbs" and out["exact_lambda"] == "1" and out["exact_multiplicity"] == 2
    assert 0.7 < out["llc_mean"] < 1.0  # lambda - 1/log(nbeta) = 0.855 (m = 2)
    assert main(["estimate", "linreg", "--sampler", "gibbs", "--json"]) == 2
    assert capsys.readouterr().err.startswith("rlct: error: sampler: 'gibbs' needs")
    assert main(["estimate", "poly", "--f", "x*y", "--steps", "200", "--burnin", "100", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["exact_multiplicity"] == 2 and out["lambda_finite_nbeta"] == pytest.approx(0.3813, abs=1e-3)
    assert out["estimator_bias"] == pytest.approx((out["lambda_finite_nbeta"] - 0.5) / 0.5)
    assert out["sampler_error"] == pytest.approx((out["llc_mean"] - out["lambda_finite_nbeta"])
                                                 / out["lambda_finite_nbeta"])
