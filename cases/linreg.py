"""Linear regression y = w.x + noise: a regular model, lambda = d/2 (the example case of
docs/adding_a_case.md; Watanabe 2009, sec. 6.2)."""

from typing import Any

import torch

from rlct.cases.base import Case, Problem, cv_sgld_settings, torch_generator
from rlct.exact import RLCT, regular
from rlct.exact._validate import as_int
from rlct.numeric.settings import SamplerSettings
from rlct.numeric.target import Target


class LinearRegressionCase(Case):
    name = "linreg"
    description = "linear regression y = w.x + noise, a regular model (lambda = d/2)"
    scales = {"1e1": {"d": 10}, "1e2": {"d": 100}, "1e3": {"d": 1000}}

    @classmethod
    def validate(cls, **parameters: Any) -> dict[str, Any]:
        unknown = set(parameters) - {"d", "n"}
        if unknown:
            raise ValueError(f"{sorted(unknown)[0]}: unknown parameter of case 'linreg'")
        return {"d": as_int("d", parameters.get("d", 10), minimum=1),
                "n": as_int("n", parameters.get("n", 100_000), minimum=2)}

    def exact(self) -> RLCT:
        return regular(self.parameters["d"])

    def build(self, *, seed=0, device="cpu", dtype=torch.float64) -> Problem:
        d, n = self.parameters["d"], self.parameters["n"]
        gen = torch_generator(seed, 3)
        w_star = torch.randn(d, generator=gen, dtype=dtype)
        x = torch.randn(n, d, generator=gen, dtype=dtype)
        y = x @ w_star + torch.randn(n, generator=gen, dtype=dtype)

        def loss(w, batch):  # w: (C, d); x: (C, b, d); y: (C, b) -> (C,)
            xb, yb = batch
            return 0.5 * (yb - torch.einsum("cbd,cd->cb", xb, w)).square().mean(dim=1)

        target = Target(loss=loss, data=(x.to(device), y.to(device)), w_star=w_star.to(device))
        return Problem(case=self.name, parameters=dict(self.parameters), target=target,
                       exact=self.exact())

    def recommended(self) -> SamplerSettings:
        return cv_sgld_settings(steps=6000, burnin=2000)
