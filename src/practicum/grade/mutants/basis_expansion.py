"""Planted bugs in :class:`practicum.nn.BasisExpansion`."""

from __future__ import annotations

import math

import torch
from torch import nn

from practicum.nn import BasisExpansion


class UnregisteredWidth(BasisExpansion):
    """log sigma is a buffer, not a parameter, so the widths are never learned."""

    def __init__(self, num_basis: int, span: tuple[float, float] = (0.0, 1.0)) -> None:
        super().__init__(num_basis, span)
        log_sigma = self.log_sigma.detach().clone()
        del self.log_sigma
        self.register_buffer("log_sigma", log_sigma)


class MissingSquare(BasisExpansion):
    """exp(-(x - mu) / sigma): the square is missing, so it is no Gaussian bump."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim >= 1 and x.shape[-1] == 1:
            x = x.squeeze(-1)
        return torch.exp(-(x.unsqueeze(-1) - self.mu) / self.sigma)


class SpanIgnored(BasisExpansion):
    """The centres are always spread over (0, 1), whatever span says."""

    def __init__(self, num_basis: int, span: tuple[float, float] = (0.0, 1.0)) -> None:
        super().__init__(num_basis, (0.0, 1.0))
        lo, hi = span
        width = (hi - lo) / max(num_basis - 1, 1)
        with torch.no_grad():
            self.log_sigma.fill_(math.log(width))


class UnseededCentres(BasisExpansion):
    """The centres are drawn from a generator of its own, not from torch's seeded one."""

    def __init__(self, num_basis: int, span: tuple[float, float] = (0.0, 1.0)) -> None:
        super().__init__(num_basis, span)
        lo, hi = span
        generator = torch.Generator()
        generator.seed()  # a fresh seed from the operating system: differs on every run
        self.mu = nn.Parameter(lo + (hi - lo) * torch.rand(num_basis, generator=generator))


class BatchStandardised(BasisExpansion):
    """The inputs are standardised over the batch first, so rows influence each other."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward((x - x.mean()) / (x.std() + 1e-8) * 0.25 + 0.5)


class DetachedCentres(BasisExpansion):
    """The centres are used as mu.detach(), so no gradient reaches them."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim >= 1 and x.shape[-1] == 1:
            x = x.squeeze(-1)
        z = (x.unsqueeze(-1) - self.mu.detach()) / self.sigma
        return torch.exp(-(z**2))
