"""Reduced-rank regression y = B A x (A: H x N, B: M x H), true product of rank r.

Aoyagi & Watanabe 2005, "Stochastic complexities of reduced rank regression in Bayesian
estimation", Neural Networks 18(7):924-933, Main Theorem. With N inputs, H inner units, M outputs:

* Case 1 (N+r <= M+H, M+r <= N+H, H+r <= M+N):
    M+H+N+r even: lambda = [2(H+r)(M+N) - (M-N)^2 - (H+r)^2] / 8, m = 1;
    odd:          lambda = [2(H+r)(M+N) - (M-N)^2 - (H+r)^2 + 1] / 8, m = 2.
* Case 2 (M+H < N+r): lambda = (HM - Hr + Nr)/2, m = 1.
* Case 3 (N+H < M+r): lambda = (HN - Hr + Mr)/2, m = 1.
* Case 4 (M+N < H+r): lambda = MN/2, m = 1.

Given r <= min(N, H, M) the cases 2-4 exclude each other (any two of them would force H < r,
N < r or M < r), and case 1 is their complement.
"""

from __future__ import annotations

from fractions import Fraction

from rlct.exact._validate import as_int
from rlct.exact.result import RLCT

SOURCE = "Aoyagi & Watanabe 2005, Neural Networks 18(7):924-933, Main Theorem (reduced rank regression)"


def rrr(n_in: int, n_hidden: int, n_out: int, rank: int) -> RLCT:
    """Global lambda and m of reduced-rank regression with N=n_in, H=n_hidden, M=n_out, r=rank."""
    N = as_int("n_in", n_in, minimum=1)
    H = as_int("n_hidden", n_hidden, minimum=1)
    M = as_int("n_out", n_out, minimum=1)
    r = as_int("rank", rank, minimum=0)
    if r > min(N, H, M):
        raise ValueError(f"rank: must be <= min(n_in, n_hidden, n_out) = {min(N, H, M)}, got {r}")
    if M + H < N + r:
        value, m, case = Fraction(H * M - H * r + N * r, 2), 1, "case 2 (M+H < N+r)"
    elif N + H < M + r:
        value, m, case = Fraction(H * N - H * r + M * r, 2), 1, "case 3 (N+H < M+r)"
    elif M + N < H + r:
        value, m, case = Fraction(M * N, 2), 1, "case 4 (M+N < H+r)"
    else:
        core = 2 * (H + r) * (M + N) - (M - N) ** 2 - (H + r) ** 2
        if (M + H + N + r) % 2 == 0:
            value, m, case = Fraction(core, 8), 1, "case 1, M+H+N+r even"
        else:
            value, m, case = Fraction(core + 1, 8), 2, "case 1, M+H+N+r odd"
    return RLCT(
        value=value,
        multiplicity=m,
        source=SOURCE,
        scope="global",
        certificate="closed form",
        point="the set of true parameters {BA = C}, rank C = r (global minimum of local values)",
        notes=(f"N={N}, H={H}, M={M}, r={r}: {case}",),
    )
