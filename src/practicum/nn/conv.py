"""Convolutions, group normalisation, pre-activation residual blocks and a CNN classifier."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from practicum.nn.basic import Linear


class Conv2d(nn.Module):
    """A 2-D convolution with its own parameters: weight (out, in, k, k), bias (out,).

    Initialisation: W ~ N(0, gain / fan_in) with fan_in = in * k * k; ``gain=2`` (He et
    al. 2015) keeps the activation variance constant through ReLU layers. ``padding="same"``
    pads k // 2 on each side (odd k), so with stride 1 the output has the input's size.

    ``standardize=True`` is weight standardisation (Qiao et al. 2019, "Micro-Batch Training
    with Batch-Channel Normalization and Weight Standardization"): each output channel's
    filter is used with zero mean and variance ``gain / fan_in`` (the initial scale), whatever
    the stored weights are. It is meant for a convolution whose output is normalised next
    (GroupNorm, which then sees no scale to undo), where it smooths the loss landscape the way
    batch statistics do; the output is invariant to ``w -> a * w + b`` per output channel (a > 0).
    """

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
        super().__init__()
        if min(in_channels, out_channels, kernel_size, stride) < 1:
            raise ValueError("Conv2d needs positive channels, kernel size and stride")
        if padding == "same":
            if kernel_size % 2 == 0:
                raise ValueError(f"padding='same' needs an odd kernel size, got {kernel_size}")
            padding = kernel_size // 2
        elif padding == "valid":
            padding = 0
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, int(padding)
        self.standardize, self.gain = standardize, gain
        self.fan_in = in_channels * kernel_size**2
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        self.weight = nn.Parameter(torch.empty(shape))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters(gain)

    def reset_parameters(self, gain: float = 2.0) -> None:
        with torch.no_grad():
            self.weight.normal_(0.0, math.sqrt(gain / self.fan_in))
            if self.bias is not None:
                self.bias.zero_()

    def effective_weight(self) -> torch.Tensor:
        """The filters the convolution applies (standardised with ``standardize``)."""
        if not self.standardize:
            return self.weight
        w = self.weight
        var, mean = torch.var_mean(w, dim=(1, 2, 3), keepdim=True, correction=0)
        return (w - mean) * torch.rsqrt(var * self.fan_in / self.gain + 1e-8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.effective_weight()
        return F.conv2d(x, w, self.bias, stride=self.stride, padding=self.padding)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels} -> {self.out_channels}, k={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}"
            + (", standardized" if self.standardize else "")
        )


class GroupNorm(nn.Module):
    """Group normalisation (Wu and He 2018): split the C channels into G groups and give
    each group of each sample zero mean and unit variance over (channels, height, width),
    then scale and shift per channel. Unlike batch norm it does not depend on the batch.

    ``fused=True`` computes the same function with torch's single-kernel
    ``F.group_norm`` (tested equal to the written-out version). On CPU it is about 1.5x
    faster per training step of the CIFAR network, because the written-out version
    materialises several full-size temporaries in the forward and the backward pass."""

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        fused: bool = False,
    ) -> None:
        super().__init__()
        if num_groups < 1 or num_channels % num_groups:
            raise ValueError(f"{num_channels} channels cannot form {num_groups} equal groups")
        self.num_groups, self.num_channels, self.eps = num_groups, num_channels, eps
        self.fused = fused
        self.weight = nn.Parameter(torch.ones(num_channels)) if affine else None
        self.bias = nn.Parameter(torch.zeros(num_channels)) if affine else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c = x.shape[:2]
        if c != self.num_channels:
            raise ValueError(f"GroupNorm expects {self.num_channels} channels, got {c}")
        if self.fused:
            return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)
        groups = x.reshape(n, self.num_groups, -1)
        mean = groups.mean(dim=-1, keepdim=True)
        var = groups.var(dim=-1, unbiased=False, keepdim=True)  # biased, as in the paper
        y = ((groups - mean) * torch.rsqrt(var + self.eps)).reshape(x.shape)
        if self.weight is not None:
            shape = (1, c) + (1,) * (x.ndim - 2)
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y

    def extra_repr(self) -> str:
        fused = ", fused" if self.fused else ""
        return f"groups={self.num_groups}, channels={self.num_channels}, eps={self.eps}{fused}"


class PatchWhitening(nn.Module):
    """A frozen first layer that whitens ``patch_size`` x ``patch_size`` patches.

    :meth:`fit` computes the covariance of every patch of some training images and sets the
    filters to its eigenvectors divided by the square roots of their eigenvalues (ZCA-style
    whitening, Coates and Ng 2011; airbench, Jordan 2024, uses it as its first layer). Each
    filter is kept twice, with both signs, and followed by ReLU, so no information is lost:
    relu(a) - relu(-a) = a. The layer is not trained: it hands the first trainable
    convolution decorrelated inputs of unit variance, which speeds up early training.
    No padding, so a 32x32 image becomes 31x31 with ``patch_size=2``.
    """

    def __init__(self, in_channels: int = 3, patch_size: int = 2, eps: float = 5e-4) -> None:
        super().__init__()
        self.in_channels, self.patch_size, self.eps = in_channels, patch_size, eps
        n = in_channels * patch_size**2
        self.out_channels = 2 * n
        self.register_buffer("weight", torch.zeros(2 * n, in_channels, patch_size, patch_size))

    @torch.no_grad()
    def fit(self, images: torch.Tensor) -> PatchWhitening:
        """Set the filters from ``images`` (N, C, H, W), e.g. a few thousand training images."""
        k, c = self.patch_size, self.in_channels
        # unfold orders each patch (channel, row, column), as a conv weight is laid out
        patches = F.unfold(images.double(), k).transpose(1, 2).reshape(-1, c * k * k)
        eigenvalues, eigenvectors = torch.linalg.eigh(torch.cov(patches.T))
        filters = eigenvectors.T / torch.sqrt(eigenvalues.clamp(min=0) + self.eps)[:, None]
        filters = filters.reshape(-1, c, k, k)
        self.weight.copy_(torch.cat([filters, -filters]).to(self.weight.dtype))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(F.conv2d(x, self.weight))

    def kernels_strides(self) -> list[tuple[int, int]]:
        return [(self.patch_size, 1)]

    def extra_repr(self) -> str:
        return f"{self.in_channels} -> {self.out_channels}, patch={self.patch_size}, eps={self.eps}"


@torch.no_grad()
def update_average(average: nn.Module, model: nn.Module, decay: float) -> None:
    """average <- decay * average + (1 - decay) * model for the weights (an exponential
    moving average, Polyak averaging); buffers such as batch-norm running statistics are
    copied, so the average normalises like the current model."""
    for a, p in zip(average.parameters(), model.parameters(), strict=True):
        a.lerp_(p, 1 - decay)
    for a, b in zip(average.buffers(), model.buffers(), strict=True):
        a.copy_(b)


def make_norm(kind: Literal["group", "batch"], channels: int, num_groups: int) -> nn.Module:
    """Our :class:`GroupNorm` (at most ``num_groups`` groups) or torch's BatchNorm2d."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return GroupNorm(min(num_groups, channels), channels)


class ResidualBlock(nn.Module):
    """Pre-activation residual block (He et al. 2016, "Identity Mappings in Deep Residual
    Networks"): x + conv(relu(norm(conv(relu(norm(x)))))).

    Normalisation and ReLU come before each convolution, so the shortcut is a clean identity
    and gradients reach early layers unchanged. If the block changes the width or the
    stride, the shortcut is a 1x1 convolution of the pre-activated input. With
    ``zero_init=True`` the last convolution starts at zero, so a new block is the identity.
    ``norm="batch"`` uses BatchNorm instead of GroupNorm (for comparisons).
    ``standardize_weights=True`` standardises the first convolution's filters (see
    :class:`Conv2d`), the one whose output is normalised next; the second one feeds the sum
    un-normalised, so its scale matters and it stays as it is.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        kernel_size: int = 3,
        stride: int = 1,
        num_groups: int = 8,
        zero_init: bool = True,
        norm: Literal["group", "batch"] = "group",
        standardize_weights: bool = False,
    ) -> None:
        super().__init__()
        out_channels = out_channels or in_channels
        self.norm1 = make_norm(norm, in_channels, num_groups)
        self.conv1 = Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            bias=False,
            standardize=standardize_weights,
        )
        self.norm2 = make_norm(norm, out_channels, num_groups)
        self.conv2 = Conv2d(out_channels, out_channels, kernel_size, bias=False)
        self.shortcut = (
            Conv2d(in_channels, out_channels, 1, stride=stride, bias=False, gain=1.0)
            if stride != 1 or in_channels != out_channels
            else None
        )
        if zero_init:
            nn.init.zeros_(self.conv2.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.norm1(x))
        skip = x if self.shortcut is None else self.shortcut(h)
        h = self.conv1(h)
        h = self.conv2(F.relu(self.norm2(h)))
        return skip + h

    def kernels_strides(self) -> list[tuple[int, int]]:
        """(kernel, stride) of the longest path, for receptive-field arithmetic."""
        return [(self.conv1.kernel_size, self.conv1.stride), (self.conv2.kernel_size, 1)]


class ConvStage(nn.Module):
    """conv -> [GroupNorm or BatchNorm] -> ReLU -> [residual blocks] -> [2x2 max-pool].

    With ``pool_first=True`` the pool moves right after the convolution (conv -> pool ->
    norm -> ReLU -> residual blocks), as in the "ResNet-9" of Page (2018) and airbench: the
    residual blocks then run on a quarter of the pixels, for about a quarter of the cost.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        pool: bool,
        norm: Literal["none", "group", "batch"],
        num_groups: int,
        num_residual: int,
        pool_first: bool = False,
        standardize_weights: bool = False,
    ) -> None:
        super().__init__()
        self.conv = Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            bias=norm == "none",
            standardize=standardize_weights and norm != "none",
        )
        self.norm = None if norm == "none" else make_norm(norm, out_channels, num_groups)
        block_norm: Literal["group", "batch"] = "batch" if norm == "batch" else "group"
        self.blocks = nn.Sequential(
            *(
                ResidualBlock(
                    out_channels,
                    kernel_size=kernel_size,
                    num_groups=num_groups,
                    norm=block_norm,
                    standardize_weights=standardize_weights,
                )
                for _ in range(num_residual)
            )
        )
        self.pool = pool
        self.pool_first = pool_first and pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.pool_first:
            x = F.max_pool2d(x, 2)
        if self.norm is not None:
            x = self.norm(x)
        x = self.blocks(F.relu(x))
        return F.max_pool2d(x, 2) if self.pool and not self.pool_first else x

    def kernels_strides(self) -> list[tuple[int, int]]:
        out = [(self.conv.kernel_size, self.conv.stride)]
        if self.pool_first:
            out.append((2, 2))
        for block in self.blocks:
            out += block.kernels_strides()
        return out + ([(2, 2)] if self.pool and not self.pool_first else [])


class Classifier(nn.Module):
    r"""A convolutional classifier: one stage per entry of ``layer_depths``, then average
    pooling to ``head_pool`` x ``head_pool``, dropout and a linear layer to the logits.

    Stage i is a ``layer_kernel_sizes[i]`` convolution to ``layer_depths[i]`` channels,
    optional normalisation (``norm``: ``"group"`` uses :class:`GroupNorm` with
    ``num_groups``, ``"batch"`` torch's BatchNorm2d), ReLU, ``residual_blocks``
    pre-activation :class:`ResidualBlock`\ s, and a 2x2 max-pool where ``pool[i]`` (default:
    every stage); ``pool_first=True`` pools right after the convolution instead (see
    :class:`ConvStage`); ``standardize_weights=True`` standardises the filters of every
    convolution whose output is normalised next (see :class:`Conv2d`). ``head_pool=1`` is
    global average pooling, so any input size works; a larger ``head_pool`` keeps some
    layout (on MNIST, 3 after three pools is a plain flatten of the 3x3 map).
    """

    def __init__(
        self,
        input_depth: int,
        layer_depths: Sequence[int],
        layer_kernel_sizes: Sequence[int],
        num_classes: int,
        *,
        pool: Sequence[bool] | None = None,
        norm: Literal["none", "group", "batch"] = "none",
        num_groups: int = 8,
        residual_blocks: int = 0,
        head_pool: int = 1,
        dropout: float = 0.0,
        pool_first: bool = False,
        standardize_weights: bool = False,
    ) -> None:
        super().__init__()
        if len(layer_depths) != len(layer_kernel_sizes) or not layer_depths:
            raise ValueError("layer_depths and layer_kernel_sizes need the same, nonzero length")
        pool = [True] * len(layer_depths) if pool is None else list(pool)
        if len(pool) != len(layer_depths):
            raise ValueError("pool needs one entry per layer")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if norm not in ("none", "group", "batch"):
            raise ValueError(f"norm must be none, group or batch, got {norm!r}")
        depths = [input_depth, *layer_depths]
        self.stages = nn.ModuleList(
            ConvStage(
                a, b, k, p, norm, num_groups, residual_blocks, pool_first, standardize_weights
            )
            for a, b, k, p in zip(depths[:-1], depths[1:], layer_kernel_sizes, pool, strict=True)
        )
        # Pre-activation residual stacks end un-normalised: finish with norm + ReLU.
        last = depths[-1]
        final: Literal["group", "batch"] = "batch" if norm == "batch" else "group"
        self.final_norm = make_norm(final, last, num_groups) if residual_blocks else None
        self.head_pool = head_pool
        self.dropout = nn.Dropout(dropout)
        self.head = Linear(last * head_pool**2, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature map (N, C, h, w), before the head's pooling."""
        for stage in self.stages:
            x = stage(x)
        if self.final_norm is not None:
            x = F.relu(self.final_norm(x))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        p, (height, width) = self.head_pool, h.shape[-2:]
        if p == 1:
            h = h.mean(dim=(2, 3))
        elif (height, width) != (p, p):
            # Plain average pooling when it fits: adaptive pooling's CUDA backward is not
            # deterministic.
            if height % p == 0 and width % p == 0:
                h = F.avg_pool2d(h, (height // p, width // p))
            else:
                h = F.adaptive_avg_pool2d(h, p)
        return self.head(self.dropout(h.flatten(1)))

    def receptive_field(self) -> int:
        """Side of the input square that one pixel of :meth:`features` can see."""
        return receptive_field([ks for s in self.stages for ks in s.kernels_strides()])


def receptive_field(layers: Sequence[tuple[int, int]]) -> int:
    """Receptive field of a chain of (kernel, stride) layers: each layer widens it by
    (k - 1) times the product of the strides before it (:mod:`practicum.receptive_field`)."""
    # Imported here: practicum.receptive_field walks this module's blocks, so it imports it.
    from practicum.receptive_field import chain, layer

    fields = chain([layer(kernel, stride) for kernel, stride in layers])
    return fields[-1].size if fields else 1


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
