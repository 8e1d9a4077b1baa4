"""Second implementations of the exact learning coefficients, used only by the tests.

Nothing here is imported by `rlct`. Each module computes lambda (and, where it can, m) by a route
that does not share its derivation with the closed forms in `rlct.exact`, so that agreement
between the two is evidence and not a tautology.
"""
