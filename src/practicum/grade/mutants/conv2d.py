"""Planted bugs in :class:`practicum.nn.Conv2d`."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from practicum.nn import Conv2d


class StrideIgnored(Conv2d):
    """The stride is stored but never used: every convolution has stride 1."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.effective_weight(), self.bias, padding=self.padding)


class PaddingIgnored(Conv2d):
    """The padding is never applied, so 'same' shrinks the image like 'valid'."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.effective_weight(), self.bias, stride=self.stride)


class ChannelsLastReshape(Conv2d):
    """Written with unfold, the (N, pixels, C) result is reshaped to (N, C, H, W) unpermuted."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        k, s, p = self.kernel_size, self.stride, self.padding
        cols = F.unfold(x, k, padding=p, stride=s)  # (N, in * k * k, pixels)
        out = (self.effective_weight().reshape(self.out_channels, -1) @ cols).transpose(1, 2)
        size = ((h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1)
        y = out.reshape(n, self.out_channels, *size)  # the bug: channels were last
        return y + self.bias.view(1, -1, 1, 1) if self.bias is not None else y


class Dilated(Conv2d):
    """The kernel is dilated by 2 (padding doubled), so each output sees a wider window."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(
            x,
            self.effective_weight(),
            self.bias,
            stride=self.stride,
            padding=2 * self.padding,
            dilation=2,
        )


class BiasWithoutBias(Conv2d):
    """A bias is created and added even when bias=False."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int | Literal["same", "valid"] = "same",
        bias: bool = True,
        gain: float = 2.0,
        standardize: bool = False,
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, True, gain, standardize
        )
