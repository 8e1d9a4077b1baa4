r"""The relaxed Turing machine in torch, batched over chains x training inputs.

Same model as `rlct.exact.turing` (Clift, Murfet & Wallbridge 2021, arXiv 2103.16080; Murfet &
Troiani 2025, arXiv 2504.08075), written independently with tensors:

    tape (C, X, N, |Sigma|), state (C, X, |Q|), code: write (C, T, |Sigma|), state (C, T, |Q|),
    move (C, T, 3) for the T = |Sigma||Q| tuples (sigma-major);
    match  M[c, x, (sigma, q)] = tape[c, x, head, sigma] * state[c, x, q]
    write  = M @ write_code, state' = M @ state_code, move = M @ move_code
    tape'[i] = move_L tape[i - 1] + move_S tape[i] + move_R tape[i + 1]   (head cell replaced
                                                                            by write first)

The window starts with the 2t - 1 cells within t - 1 of the head and shrinks by one cell on each
side per step (cells the head can no longer reach before the last read are dropped).

Chart (`code_from_chart`): each simplex of the code, at its classical vertex v with off-vertex
coordinates s_1..s_k of the flat parameter vector, is

    p_v = 1 / (1 + sum_j s_j^2),     p_j = s_j^2 / (1 + sum_j s_j^2).

This is the square-root chart u_j = t_j^2 of the local simplex coordinates (vertex mass
1 - sum_j u_j) composed with t = s / sqrt(1 + |s|^2), a diffeomorphism of R^k onto the open unit
ball with derivative I at 0: u_j = s_j^2 / (1 + |s|^2) = t_j^2 and 1 - sum u_j = 1 / (1 + |s|^2).
So near s = 0 the loss is K(t(s)^2) with t(s) a local diffeomorphism fixing 0 with Jacobian 1,
and lambda, m are those of K(t^2) at t = 0 with a uniform prior: the square-root-chart values of
`rlct.exact.turing.turing_rlct(..., chart="sqrt")`. Unlike u = s^2 with vertex mass 1 - |s|^2,
the map is a valid code for every s in R^d (all masses positive), so -log p is finite for any
sample; unlike a softmax chart it has the classical code at the finite point s = 0, where the
geometry is that of the vertex of the simplex (a softmax reaches a vertex only at infinity).
"""

from __future__ import annotations

import torch
from torch import Tensor

from rlct.exact.turing import MOVES, SynthesisProblem, local_coordinates


class RelaxedTuringModel:
    """p(y | x, code) for the training inputs of a `SynthesisProblem`, for C codes at once.

    Args:
        problem: machine, training inputs and t.
        device, dtype: where the tensors live.
    """

    def __init__(
        self, problem: SynthesisProblem, device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float64,
    ) -> None:
        machine = problem.machine
        self.problem = problem
        self.steps = problem.steps
        self.n_symbols = len(machine.symbols)
        self.n_states = len(machine.states)
        self.n_tuples = self.n_symbols * self.n_states
        self.dim = len(local_coordinates(machine))
        radius = self.steps - 1
        tapes = torch.zeros(len(problem.inputs), 2 * radius + 1, self.n_symbols, dtype=dtype)
        for i, x in enumerate(problem.inputs):
            for j in range(-radius, radius + 1):
                symbol = x[j] if 0 <= j < len(x) else machine.blank
                tapes[i, j + radius, machine.symbols.index(symbol)] = 1
        self.tapes = tapes.to(device)
        start = torch.zeros(len(problem.inputs), self.n_states, dtype=dtype)
        start[:, machine.states.index(machine.start)] = 1
        self.start = start.to(device)
        self.labels = torch.tensor(
            [machine.states.index(y) for y in problem.labels], dtype=torch.long, device=device
        )
        # Per kind: the position (in vertex-first order) of each alphabet letter, per tuple.
        alphabets = (machine.symbols, machine.states, MOVES)
        self.block = self.n_symbols + self.n_states  # coordinates per tuple
        self.splits = [self.n_symbols - 1, self.n_states - 1, len(MOVES) - 1]
        self.order: list[Tensor] = []
        for k, alphabet in enumerate(alphabets):
            rows = []
            for transition in machine.transitions:
                vertex = transition[k]
                off = [a for a in alphabet if a != vertex]
                rows.append([0 if a == vertex else 1 + off.index(a) for a in alphabet])
            self.order.append(torch.tensor(rows, dtype=torch.long, device=device))

    # -- codes ----------------------------------------------------------------------------------
    def _assemble(self, vertex: list[Tensor], off: list[Tensor]) -> tuple[Tensor, ...]:
        """Full distributions (C, T, n) from vertex masses (C, T, 1) and off-vertex masses."""
        out = []
        for k in range(3):
            vertex_first = torch.cat([vertex[k], off[k]], dim=-1)
            index = self.order[k].unsqueeze(0).expand(vertex_first.shape[0], -1, -1)
            out.append(torch.gather(vertex_first, 2, index.to(vertex_first.device)))
        return tuple(out)

    def _blocks(self, flat: Tensor) -> list[Tensor]:
        if flat.ndim != 2 or flat.shape[1] != self.dim:
            raise ValueError(f"w: expected shape (C, {self.dim}), got {tuple(flat.shape)}")
        blocks = flat.reshape(flat.shape[0], self.n_tuples, self.block)
        return list(torch.split(blocks, self.splits, dim=-1))

    def code_from_masses(self, masses: Tensor) -> tuple[Tensor, ...]:
        """The code with off-vertex masses u (C, d) in `local_coordinates` order; each vertex
        gets 1 - sum(u of its simplex)."""
        off = self._blocks(masses)
        vertex = [1 - u.sum(dim=-1, keepdim=True) for u in off]
        return self._assemble(vertex, off)

    def code_from_chart(self, s: Tensor) -> tuple[Tensor, ...]:
        """The code at chart coordinates s (C, d) (module docstring)."""
        squares = [x * x for x in self._blocks(s)]
        norms = [1 + q.sum(dim=-1, keepdim=True) for q in squares]
        return self._assemble([1 / z for z in norms], [q / z for q, z in zip(squares, norms)])

    # -- the relaxed run ------------------------------------------------------------------------
    def final_state(self, code: tuple[Tensor, ...]) -> Tensor:
        """q_t: (C, X, |Q|), the state distribution after t steps for every input and code."""
        write, next_state, move = code
        chains = write.shape[0]
        tape = self.tapes.to(device=write.device, dtype=write.dtype)
        tape = tape.unsqueeze(0).expand(chains, -1, -1, -1)
        state = self.start.to(device=write.device, dtype=write.dtype)
        state = state.unsqueeze(0).expand(chains, -1, -1)
        for k in range(1, self.steps + 1):
            head = tape.shape[2] // 2
            match = (tape[:, :, head, :, None] * state[:, :, None, :]).flatten(2)  # (C, X, T)
            new_state = torch.einsum("cxt,ctq->cxq", match, next_state)
            if k < self.steps:
                written = torch.einsum("cxt,cts->cxs", match, write)
                moved = torch.einsum("cxt,ctm->cxm", match, move)
                tape = torch.cat(
                    [tape[:, :, :head], written.unsqueeze(2), tape[:, :, head + 1:]], dim=2
                )
                left, stay, right = (moved[:, :, i, None, None] for i in range(3))
                tape = left * tape[:, :, :-2] + stay * tape[:, :, 1:-1] + right * tape[:, :, 2:]
            state = new_state
        return state

    def probability_of_truth(self, code: tuple[Tensor, ...]) -> Tensor:
        """p(y(x) | x, code): (C, X)."""
        q = self.final_state(code)
        index = self.labels.to(q.device).view(1, -1, 1).expand(q.shape[0], -1, 1)
        return torch.gather(q, 2, index).squeeze(2)

    def nll(self, s: Tensor, inputs: Tensor, labels: Tensor) -> Tensor:
        """Mean of -log p(label | input, code(s)) over each chain's batch: (C,).

        ``inputs`` (C, b) are indices into the training inputs, ``labels`` (C, b) state indices.
        """
        q = self.final_state(self.code_from_chart(s))  # (C, X, |Q|)
        flat = q.flatten(1)
        picked = torch.gather(flat, 1, inputs * self.n_states + labels)
        return -torch.log(picked).mean(dim=1)
