"""Planted bugs in :class:`practicum.nn.Linear`."""

from __future__ import annotations

import torch

from practicum.nn import Linear


class BiasWithoutBias(Linear):
    """A bias is created and added even when bias=False."""

    def __init__(self, num_inputs: int, num_outputs: int, bias: bool = True) -> None:
        super().__init__(num_inputs, num_outputs, bias=True)


class ReshapeInsteadOfTranspose(Linear):
    """The batch is reshaped to (num_inputs, N) instead of transposed, mixing rows."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.num_inputs)
        y = (self.weight @ rows.reshape(self.num_inputs, -1)).reshape(rows.shape[0], -1)
        return (y + self.bias).reshape(*x.shape[:-1], self.num_outputs)


class UnregisteredWeight(Linear):
    """The weight is a plain tensor attribute, not an nn.Parameter, so it is never trained."""

    def __init__(self, num_inputs: int, num_outputs: int, bias: bool = True) -> None:
        super().__init__(num_inputs, num_outputs, bias)
        weight = self.weight.detach().clone().requires_grad_()
        del self.weight
        self.weight = weight


class ReluInside(Linear):
    """A ReLU is applied to the output, so the map is not affine."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(super().forward(x))


class DetachedBias(Linear):
    """The bias is added as bias.data, so no gradient reaches it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x @ self.weight.T
        return y + self.bias.data if self.bias is not None else y
