"""Exact integer / rational linear algebra for exponent vectors (no floating point).

Used by the Newton-polyhedron engine to compute ranks (multiplicities, face dimensions) and to
rewrite a face polynomial in a basis of its exponent lattice (fewer variables).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from math import gcd

IntVector = tuple[int, ...]


def rank(vectors: Sequence[Sequence[int | Fraction]]) -> int:
    """Rank over Q of the given vectors (Gaussian elimination in exact fractions)."""
    rows = [[Fraction(x) for x in v] for v in vectors]
    if not rows:
        return 0
    n_cols = len(rows[0])
    r = 0
    for col in range(n_cols):
        pivot = next((i for i in range(r, len(rows)) if rows[i][col] != 0), None)
        if pivot is None:
            continue
        rows[r], rows[pivot] = rows[pivot], rows[r]
        for i in range(r + 1, len(rows)):
            if rows[i][col] != 0:
                factor = rows[i][col] / rows[r][col]
                rows[i] = [a - factor * b for a, b in zip(rows[i], rows[r])]
        r += 1
        if r == len(rows):
            break
    return r


def primitive(vector: Sequence[int]) -> IntVector:
    """The vector divided by the gcd of its entries (the zero vector is returned unchanged)."""
    g = 0
    for x in vector:
        g = gcd(g, x)
    return tuple(vector) if g in (0, 1) else tuple(x // g for x in vector)


def integer_kernel(rows: Sequence[Sequence[int]], n: int) -> list[IntVector]:
    """A basis of the lattice {x in Z^n : M x = 0}, M the integer matrix with the given rows.

    Column reduction with unimodular column operations: M U = [H | 0] with U unimodular, so the
    columns of U that meet the zero block span the integer kernel.
    """
    a = [list(r) for r in rows]
    u = [[int(i == j) for j in range(n)] for i in range(n)]  # u[i][j]: column j, entry i

    def combine(j: int, k: int, p: int, q: int, r: int, s: int) -> None:
        """Columns (j, k) <- (p*col_j + q*col_k, r*col_j + s*col_k) in `a` and `u`."""
        for mat in (a, u):
            for row in mat:
                cj, ck = row[j], row[k]
                row[j], row[k] = p * cj + q * ck, r * cj + s * ck

    pivot_col = 0
    for row_index in range(len(a)):
        if pivot_col == n:
            break
        row = a[row_index]
        for k in range(pivot_col + 1, n):
            x, y = row[pivot_col], row[k]
            if y == 0:
                continue
            g, s, t = _extended_gcd(x, y)  # s*x + t*y = g
            # [x y] -> [g 0] with the unimodular matrix [[s, -y/g], [t, x/g]].
            combine(pivot_col, k, s, t, -y // g, x // g)
        if a[row_index][pivot_col] != 0:
            pivot_col += 1
    return [tuple(u[i][j] for i in range(n)) for j in range(pivot_col, n)]


def saturated_basis(vectors: Sequence[Sequence[int]], n: int) -> list[IntVector]:
    """A basis of span_Q(vectors) ∩ Z^n (the saturation of the lattice the vectors generate).

    Computed as the integer kernel of the integer kernel: span ∩ Z^n = (span^⊥)^⊥ ∩ Z^n.
    """
    nonzero = [tuple(v) for v in vectors if any(v)]
    if not nonzero:
        return []
    orthogonal = integer_kernel(nonzero, n)
    if not orthogonal:
        return [tuple(int(i == j) for j in range(n)) for i in range(n)]
    return integer_kernel(orthogonal, n)


def coordinates(vector: Sequence[int], basis: Sequence[Sequence[int]]) -> IntVector:
    """Integer coordinates c with vector = sum_j c_j basis_j (the vector must lie in the lattice).

    Solved exactly: Gaussian elimination on the transposed system in fractions.
    """
    k = len(basis)
    n = len(vector)
    # Augmented system: rows are coordinates i of the ambient space, unknowns c_1..c_k.
    rows = [[Fraction(basis[j][i]) for j in range(k)] + [Fraction(vector[i])] for i in range(n)]
    solution = [Fraction(0)] * k
    r = 0
    pivots: list[tuple[int, int]] = []
    for col in range(k):
        pivot = next((i for i in range(r, n) if rows[i][col] != 0), None)
        if pivot is None:
            raise ArithmeticError("basis vectors are linearly dependent")
        rows[r], rows[pivot] = rows[pivot], rows[r]
        inv = 1 / rows[r][col]
        rows[r] = [x * inv for x in rows[r]]
        for i in range(n):
            if i != r and rows[i][col] != 0:
                factor = rows[i][col]
                rows[i] = [a - factor * b for a, b in zip(rows[i], rows[r])]
        pivots.append((r, col))
        r += 1
    for i in range(r, n):
        if rows[i][k] != 0:
            raise ArithmeticError("vector is not in the span of the basis")
    for row_i, col in pivots:
        solution[col] = rows[row_i][k]
    if any(c.denominator != 1 for c in solution):
        raise ArithmeticError("vector is in the span but not in the lattice of the basis")
    return tuple(int(c) for c in solution)


def _extended_gcd(x: int, y: int) -> tuple[int, int, int]:
    """(g, s, t) with s*x + t*y = g = gcd(x, y) >= 0 (and g > 0 unless x = y = 0)."""
    old_r, r = x, y
    old_s, s = 1, 0
    old_t, t = 0, 1
    while r != 0:
        q = old_r // r
        old_r, r = r, old_r - q * r
        old_s, s = s, old_s - q * s
        old_t, t = t, old_t - q * t
    if old_r < 0:
        old_r, old_s, old_t = -old_r, -old_s, -old_t
    return old_r, old_s, old_t


class LatticeCoordinates:
    """Integer coordinates in a fixed basis (linearly independent integer vectors), computed
    with one exact k x k inverse instead of one elimination per vector."""

    def __init__(self, basis: Sequence[Sequence[int]]) -> None:
        self.basis = [tuple(b) for b in basis]
        k = len(self.basis)
        n = len(self.basis[0]) if k else 0
        # Choose k independent columns greedily.
        columns: list[int] = []
        for j in range(n):
            trial = columns + [j]
            if rank([[b[c] for c in trial] for b in self.basis]) == len(trial):
                columns = trial
            if len(columns) == k:
                break
        if len(columns) != k:
            raise ArithmeticError("basis vectors are linearly dependent")
        self.columns = columns
        square = [[Fraction(self.basis[i][c]) for c in columns] for i in range(k)]  # rows: basis
        self.inverse = _inverse(square)

    def __call__(self, vector: Sequence[int]) -> IntVector:
        """c with vector = sum_j c_j basis_j; ArithmeticError if there is no integer solution."""
        k = len(self.basis)
        picked = [vector[c] for c in self.columns]
        coords = [sum(picked[r] * self.inverse[r][j] for r in range(k)) for j in range(k)]
        if any(c.denominator != 1 for c in coords):
            raise ArithmeticError("vector is not in the lattice of the basis")
        ints = tuple(int(c) for c in coords)
        rebuilt = [sum(ints[j] * self.basis[j][i] for j in range(k)) for i in range(len(vector))]
        if rebuilt != list(vector):
            raise ArithmeticError("vector is not in the span of the basis")
        return ints


def _inverse(matrix: list[list[Fraction]]) -> list[list[Fraction]]:
    """Exact inverse of a square matrix of fractions (Gauss-Jordan)."""
    k = len(matrix)
    aug = [row[:] + [Fraction(int(i == j)) for j in range(k)] for i, row in enumerate(matrix)]
    for col in range(k):
        pivot = next(i for i in range(col, k) if aug[i][col] != 0)
        aug[col], aug[pivot] = aug[pivot], aug[col]
        inv = 1 / aug[col][col]
        aug[col] = [x * inv for x in aug[col]]
        for i in range(k):
            if i != col and aug[i][col] != 0:
                factor = aug[i][col]
                aug[i] = [a - factor * b for a, b in zip(aug[i], aug[col])]
    return [row[k:] for row in aug]


def degree_reducing_transform(coords: Sequence[Sequence[int]], k: int) -> list[list[int]]:
    """A unimodular k x k integer matrix Y that makes the points ``coords`` (in Z^k) small.

    The new coordinates of a point c are Y c, and a polynomial with these exponents is shifted
    to non-negative exponents, so its total degree is D(Y) = max_c sum_j (y_j . c - min_c' y_j . c')
    (y_j the rows of Y). Y is found by local search from the identity: replace a row y_i by
    -y_i or by y_i + s y_j (i != j, integer s) while that lowers (D, sum of the widths
    max y_j . c - min y_j . c) lexicographically. Both are convex in s, so a step stops at the
    first s that does not improve. The search ends at a local minimum: the result need not be
    the global minimum of D, but it removes the shear that an arbitrary lattice basis (e.g. the
    Hermite-like one of `saturated_basis`, which depends on the order of the coordinates) can
    put into the exponents.
    """
    points = [tuple(c) for c in coords]
    rows = [[int(i == j) for j in range(k)] for i in range(k)]
    if k == 0 or len(points) < 2:
        return rows

    def values(y: Sequence[int]) -> list[int]:
        return [sum(a * b for a, b in zip(y, c)) for c in points]

    def cost(columns: Sequence[Sequence[int]]) -> tuple[int, int]:
        lows = [min(col) for col in columns]
        total = max(
            sum(col[p] - low for col, low in zip(columns, lows)) for p in range(len(points))
        )
        widths = sum(max(col) - low for col, low in zip(columns, lows))
        return total, widths

    columns = [values(y) for y in rows]
    best = cost(columns)
    improved = True
    while improved:
        improved = False
        for i in range(k):
            flipped = [-v for v in columns[i]]
            trial = columns[:i] + [flipped] + columns[i + 1 :]
            if cost(trial) < best:
                rows[i] = [-x for x in rows[i]]
                columns, best, improved = trial, cost(trial), True
            for j in range(k):
                if i == j:
                    continue
                for step in (1, -1):
                    while True:
                        moved = [a + step * b for a, b in zip(columns[i], columns[j])]
                        trial = columns[:i] + [moved] + columns[i + 1 :]
                        trial_cost = cost(trial)
                        if trial_cost >= best:
                            break
                        rows[i] = [a + step * b for a, b in zip(rows[i], rows[j])]
                        columns, best, improved = trial, trial_cost, True
    return rows


def unimodular_inverse(matrix: Sequence[Sequence[int]]) -> list[list[int]]:
    """The inverse of an integer matrix of determinant +-1 (an integer matrix again)."""
    inverse = _inverse([[Fraction(x) for x in row] for row in matrix])
    if any(x.denominator != 1 for row in inverse for x in row):
        raise ArithmeticError("matrix is not unimodular")
    return [[int(x) for x in row] for row in inverse]
