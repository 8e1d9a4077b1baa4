"""One hidden layer of H tanh units, one input, one output, true function 0.

Model: f(x, w) = sum_{h=1}^{H} a_h tanh(b_h x), w = (a_1..a_H, b_1..b_H), d = 2H; the true
function is 0, the input x has compact support (the cases use x ~ Uniform(-1, 1)) and the prior
is positive near 0. Aoyagi & Watanabe 2005, "Resolution of singularities and the generalization
error with Bayesian estimation for layered neural network", IEICE Trans. J88-D-II(10):2112-2124;
Watanabe 2009, "Algebraic Geometry and Statistical Learning Theory" (Cambridge), the three-layer
perceptron example: at w* = 0,

    lambda = (H + i^2 + i) / (4 i + 2),   i = floor(sqrt(H)),
    m = 1 if i^2 < H,   m = 2 if i^2 = H.

Why K is equivalent to a polynomial: tanh(z) = sum_k c_k z^(2k+1) (|z| < pi/2) with every
c_k != 0 (1, -1/3, 2/15, -17/315, ...; c_k is a nonzero multiple of the Bernoulli number
B_(2k+2)), so f(x, w) = sum_{k>=0} c_k p_k(w) x^(2k+1) with the power sums
p_k = sum_h a_h b_h^(2k+1). Each b_h^2 is a root of prod_h (t - b_h^2) = t^H - e_1 t^(H-1) + ...
+ (-1)^H e_H (e_j the elementary symmetric polynomials of b_1^2..b_H^2), so the p_k satisfy the
linear recurrence behind Newton's identities, p_k = sum_{j=1}^{H} (-1)^(j-1) e_j p_(k-j) for
k >= H: every p_k with k >= H lies in the ideal of p_0..p_(H-1), with coefficients that are
polynomials in b vanishing at b = 0. Hence f(x, w) = sum_{j<H} p_j(w) phi_j(x, b) with phi_j
analytic in b near 0 and phi_j(x, 0) = c_j x^(2j+1), and
K(w) = E_x[f^2] / (2 sigma^2) = p^T G(b) p / (2 sigma^2), G(b) the Gram matrix of the phi_j in
L^2(x). G(0) is positive definite (odd monomials are linearly independent on any support with
infinitely many points) and G is continuous in b, so near 0

    K(w) ~ sum_{k=0}^{H-1} p_k(w)^2      (bounded above and below by positive multiples),

and K has the lambda and m of that sum of squares (two functions bounded by positive multiples
of each other near 0 have zeta functions with the same largest pole and the same order).

For H = i^2 the formula gives (2 i^2 + i) / (4 i + 2) = i / 2 = sqrt(H) / 2. At H = (i + 1)^2 the
branch of i gives ((i + 1)^2 + i^2 + i) / (4 i + 2) = (i + 1) / 2, the same as the branch of
i + 1: as a function of real H, lambda is continuous and increasing, and the multiplicity 2 at
the squares is where two branches meet.

Scope: local at w* = 0 (a = b = 0). The model's true set {f = 0} also contains points with some
a_h = 0 and b_h != 0, or with cancelling units; the value here is the pole of the zeta function
with a prior supported near 0.

Numerical check (tests/test_exact_tanh.py, the volume-scaling oracle on the true K with
x ~ U(-1, 1)): H = 1: lambda = 0.500, m = 2; H = 2: 0.669, m = 1; H = 3: 0.829, m = 1 (all as
stated); H = 4: lambda = 0.98-1.01 over four seeds, m = 2 in two of them and m = 1 in two: the
value agrees, the multiplicity 2 at H = 4 is not resolved by the oracle at d = 8.
"""

from __future__ import annotations

import math
from fractions import Fraction

from rlct.exact._validate import as_int
from rlct.exact.result import RLCT

SOURCE = (
    "Aoyagi & Watanabe 2005, IEICE Trans. J88-D-II(10):2112-2124 (resolution of singularities, layered "
    "neural network); Watanabe 2009, Algebraic Geometry and Statistical Learning Theory, three-layer "
    "perceptron example"
)


def tanh_network(hidden: int) -> RLCT:
    """lambda and m at w* = 0 of f(x, w) = sum_{h<=H} a_h tanh(b_h x) with true function 0
    (see the module docstring): lambda = (H + i^2 + i) / (4 i + 2), i = floor(sqrt(H)),
    m = 2 if H is a perfect square, else 1.

    Raises:
        ValueError: "hidden: ..." unless ``hidden`` is a positive integer.
    """
    H = as_int("hidden", hidden, minimum=1)
    i = math.isqrt(H)
    square = i * i == H
    value = Fraction(H + i * i + i, 4 * i + 2)
    return RLCT(
        value=value,
        multiplicity=2 if square else 1,
        source=SOURCE,
        scope="local",
        certificate="closed form",
        point="w* = 0 (all a_h = b_h = 0), true function 0, x with compact support, prior positive near 0",
        notes=(
            f"H = {H} tanh units, d = {2 * H}, i = floor(sqrt(H)) = {i}"
            + (" (H = i^2: lambda = sqrt(H)/2, m = 2)" if square else " (i^2 < H: m = 1)"),
            "K ~ sum_{k<H} (sum_h a_h b_h^(2k+1))^2 near 0 (odd Taylor series of tanh)",
        ),
    )
