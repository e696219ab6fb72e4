"""Planted bugs in :class:`practicum.nn.ResidualBlock`."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from practicum.nn import ResidualBlock


class NoSkip(ResidualBlock):
    """The shortcut is never added: the block is a plain stack of two convolutions."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.relu(self.norm1(x)))
        return self.conv2(F.relu(self.norm2(h)))


class ZeroInitIgnored(ResidualBlock):
    """zero_init=True does not zero the last convolution, so a new block is no identity."""

    def __init__(self, in_channels: int, out_channels: int | None = None, **options) -> None:
        options["zero_init"] = False
        super().__init__(in_channels, out_channels, **options)


class SkipAfterActivation(ResidualBlock):
    """The identity shortcut carries relu(norm(x)) instead of x."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.norm1(x))
        skip = h if self.shortcut is None else self.shortcut(h)
        return skip + self.conv2(F.relu(self.norm2(self.conv1(h))))


class BranchNotAdded(ResidualBlock):
    """The residual branch is computed but only the shortcut is returned."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.norm1(x))
        skip = x if self.shortcut is None else self.shortcut(h)
        self.conv2(F.relu(self.norm2(self.conv1(h))))
        return skip


class MissingSecondNorm(ResidualBlock):
    """The second normalisation is left out: conv2(relu(conv1(...)))."""

    def __init__(self, in_channels: int, out_channels: int | None = None, **options) -> None:
        super().__init__(in_channels, out_channels, **options)
        self.norm2 = nn.Identity()
