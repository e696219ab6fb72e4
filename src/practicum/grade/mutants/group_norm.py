"""Planted bugs in :class:`practicum.nn.GroupNorm`."""

from __future__ import annotations

import torch

from practicum.nn import GroupNorm


class _Written(GroupNorm):
    """The reference's written-out forward with the statistics in one overridable place."""

    def normalise(self, groups: torch.Tensor) -> torch.Tensor:
        mean = groups.mean(dim=-1, keepdim=True)
        var = groups.var(dim=-1, unbiased=False, keepdim=True)
        return (groups - mean) * torch.rsqrt(var + self.eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c = x.shape[:2]
        y = self.normalise(x.reshape(n, self.num_groups, -1)).reshape(x.shape)
        if self.weight is not None:
            shape = (1, c) + (1,) * (x.ndim - 2)
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


class NormalisesOverBatch(_Written):
    """The statistics of each group are taken over the whole batch, as batch norm would."""

    def normalise(self, groups: torch.Tensor) -> torch.Tensor:
        mean = groups.mean(dim=(0, 2), keepdim=True)
        var = groups.var(dim=(0, 2), unbiased=False, keepdim=True)
        return (groups - mean) * torch.rsqrt(var + self.eps)


class UnbiasedVariance(_Written):
    """The variance is the unbiased one (divided by n - 1), not the biased one."""

    def normalise(self, groups: torch.Tensor) -> torch.Tensor:
        mean = groups.mean(dim=-1, keepdim=True)
        var = groups.var(dim=-1, unbiased=True, keepdim=True)
        return (groups - mean) * torch.rsqrt(var + self.eps)


class MissingEpsilon(_Written):
    """No epsilon under the square root: a constant input divides zero by zero."""

    def normalise(self, groups: torch.Tensor) -> torch.Tensor:
        mean = groups.mean(dim=-1, keepdim=True)
        return (groups - mean) / groups.std(dim=-1, unbiased=False, keepdim=True)


class DividesByVariance(_Written):
    """It divides by the variance instead of the standard deviation."""

    def normalise(self, groups: torch.Tensor) -> torch.Tensor:
        mean = groups.mean(dim=-1, keepdim=True)
        var = groups.var(dim=-1, unbiased=False, keepdim=True)
        return (groups - mean) / (var + self.eps)


class InterleavedGroups(_Written):
    """Channel c goes to group c % G instead of the consecutive channels forming a group."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c = x.shape[:2]
        g = self.num_groups
        spread = x.reshape(n, c // g, g, -1).transpose(1, 2)  # (N, G, C/G, HW)
        y = self.normalise(spread.reshape(n, g, -1)).reshape(spread.shape)
        y = y.transpose(1, 2).reshape(x.shape)
        if self.weight is not None:
            shape = (1, c) + (1,) * (x.ndim - 2)
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


class InstanceNormAlways(_Written):
    """Each channel is normalised on its own, whatever num_groups says."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c = x.shape[:2]
        y = self.normalise(x.reshape(n, c, -1)).reshape(x.shape)
        if self.weight is not None:
            shape = (1, c) + (1,) * (x.ndim - 2)
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


class UnregisteredAffine(_Written):
    """The scale and shift are plain tensors, not parameters, so they are never trained."""

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        fused: bool = False,
    ) -> None:
        super().__init__(num_groups, num_channels, eps, affine, fused)
        if affine:
            del self.weight, self.bias
            self.weight = torch.ones(num_channels, requires_grad=True)
            self.bias = torch.zeros(num_channels, requires_grad=True)
