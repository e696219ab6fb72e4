"""Recurrent cells (Elman RNN, LSTM), a wrapper that runs a cell over a sequence, and
gradient-norm clipping for the training loop.

Parameter names and gate order match ``torch.nn.RNNCell`` / ``torch.nn.LSTMCell``
(``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``; gates input, forget, cell, output),
so weights can be copied across and the two compared.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


class _Cell(nn.Module):
    """Shared parameters: one input map and one recurrent map for ``gates`` gate blocks."""

    gates = 1

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        if input_size < 1 or hidden_size < 1:
            raise ValueError(f"sizes must be positive, got {input_size}, {hidden_size}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        g = self.gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(g, input_size))
        self.weight_hh = nn.Parameter(torch.empty(g, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(g))
        self.bias_hh = nn.Parameter(torch.empty(g))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # U(-1/√H, 1/√H), PyTorch's default for recurrent layers.
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def input_projection(self, x: torch.Tensor) -> torch.Tensor:
        """W_ih x + b_ih for any leading shape; a sequence wrapper computes it for all
        time steps in one matrix product, leaving only W_hh h inside the loop."""
        return x @ self.weight_ih.T + self.bias_ih

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"


class RNNCell(_Cell):
    """Elman cell: h' = tanh(W_ih x + b_ih + W_hh h + b_hh)."""

    def initial_state(self, batch: int, like: torch.Tensor) -> torch.Tensor:
        return like.new_zeros(batch, self.hidden_size)

    def step(self, x_proj: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One step from a precomputed input projection; returns (output, new state)."""
        h = torch.tanh(x_proj + h @ self.weight_hh.T + self.bias_hh)
        return h, h

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        if h is None:
            h = self.initial_state(x.shape[0], x)
        return self.step(self.input_projection(x), h)[1]


class LSTMCell(_Cell):
    """Long short-term memory cell (Hochreiter & Schmidhuber, 1997; forget gate of Gers et al.)::

        i, f, g, o = σ(·), σ(·), tanh(·), σ(·)   of   W_ih x + b_ih + W_hh h + b_hh
        c' = f ⊙ c + i ⊙ g
        h' = o ⊙ tanh(c')

    The cell state c is updated additively, so gradients can flow across many steps while
    f stays near 1. ``forget_bias`` is added to the forget gate's bias at initialisation;
    1.0 helps early training remember (Jozefowicz et al., 2015); 0 gives PyTorch's init.
    """

    gates = 4

    def __init__(self, input_size: int, hidden_size: int, forget_bias: float = 0.0) -> None:
        super().__init__(input_size, hidden_size)
        with torch.no_grad():
            self.bias_hh[hidden_size : 2 * hidden_size] += forget_bias

    def initial_state(self, batch: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        zeros = like.new_zeros(batch, self.hidden_size)
        return zeros, zeros.clone()

    def step(
        self, x_proj: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        h, c = state
        z = x_proj + h @ self.weight_hh.T + self.bias_hh
        i, f, g, o = z.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c)

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if state is None:
            state = self.initial_state(x.shape[0], x)
        return self.step(self.input_projection(x), state)[1]


class Recurrent(nn.Module):
    """Runs a stack of cells over a (batch, time, features) sequence.

    ``forward(x, states=None)`` returns the top layer's outputs (batch, time, hidden) and the
    list of final states, one per layer, to carry into the next chunk (truncated BPTT:
    detach them first). Dropout is applied between layers, not along time.
    """

    def __init__(self, cells: Iterable[RNNCell | LSTMCell], dropout: float = 0.0) -> None:
        super().__init__()
        self.cells = nn.ModuleList(cells)
        if len(self.cells) == 0:
            raise ValueError("Recurrent needs at least one cell")
        for below, above in zip(self.cells[:-1], self.cells[1:], strict=True):
            if above.input_size != below.hidden_size:
                raise ValueError("each cell's input_size must equal the hidden_size below it")
        self.drop = nn.Dropout(dropout)

    @classmethod
    def lstm(
        cls,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        dropout: float = 0.0,
        forget_bias: float = 0.0,
    ) -> Recurrent:
        sizes = [input_size] + [hidden_size] * (num_layers - 1)
        return cls([LSTMCell(n, hidden_size, forget_bias) for n in sizes], dropout=dropout)

    @classmethod
    def rnn(cls, input_size: int, hidden_size: int, num_layers: int = 1) -> Recurrent:
        sizes = [input_size] + [hidden_size] * (num_layers - 1)
        return cls([RNNCell(n, hidden_size) for n in sizes])

    def forward(
        self, x: torch.Tensor, states: list[State] | None = None
    ) -> tuple[torch.Tensor, list[State]]:
        if x.ndim != 3:
            raise ValueError(f"Recurrent expects (batch, time, features), got {tuple(x.shape)}")
        batch, time, _ = x.shape
        if states is None:
            states = [cell.initial_state(batch, x) for cell in self.cells]
        final: list[State] = []
        for layer, (cell, state) in enumerate(zip(self.cells, states, strict=True)):
            if layer > 0:
                x = self.drop(x)
            x_proj = cell.input_projection(x)  # all time steps at once
            outputs = []
            for t in range(time):
                out, state = cell.step(x_proj[:, t], state)
                outputs.append(out)
            x = torch.stack(outputs, dim=1)
            final.append(state)
        return x, final


def detach_state(states: list[State]) -> list[State]:
    """Cut the graph between chunks (truncated backpropagation through time)."""
    return [
        tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
        for state in states
    ]


def clip_grad_norm(parameters: Iterable[torch.Tensor], max_norm: float) -> torch.Tensor:
    """Rescale all gradients together so their joint L2 norm is at most ``max_norm``.

    Returns the norm before clipping. Scaling every gradient by the same factor keeps the
    update's direction and only shortens it, which tames the rare exploding step of an RNN
    (Pascanu et al., 2013).
    """
    if max_norm <= 0:
        raise ValueError(f"max_norm must be positive, got {max_norm}")
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for g in grads:
        g.mul_(scale)
    return total
