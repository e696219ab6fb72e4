"""Residual units in both orderings and with the shortcuts of He, Zhang, Ren & Sun 2016,
"Identity Mappings in Deep Residual Networks" (ECCV), and the CIFAR ResNet built from them.

A unit computes y = h(x) + F(x) and then x' = f(y). The paper's point is that the signal and
its gradient pass from any unit to any other unchanged when both h and f are identities:

* ``kind="original"`` (their Fig. 1a / Fig. 4a, the 2015 ResNet): F = conv → BN → ReLU →
  conv → BN, f = ReLU after the addition, so f is *not* the identity;
* ``kind="pre-activation"`` (Fig. 1b / Fig. 4e): F = BN → ReLU → conv → BN → ReLU → conv,
  f = identity: the unit is exactly x + F(x).

The shortcut h of a unit that keeps its width and resolution (Table 1, Fig. 2; the paper
applies them to the original unit):

* ``"identity"``: h(x) = x;
* ``"constant-scaling"``: h(x) = λ x, and with ``scale_residual`` F is scaled by λ too
  (Table 1's rows "0.5 / 1" and "0.5 / 0.5");
* ``"exclusive-gating"``: g = σ(1×1 conv(x) + b_g), y = g · F(x) + (1 − g) · x (a highway
  network's gate);
* ``"shortcut-gating"``: y = F(x) + (1 − g) · x (only the shortcut gated);
* ``"conv"``: h = a 1×1 convolution;
* ``"dropout"``: h = dropout(x) (torch's inverted dropout: the identity in eval mode).

A unit that halves the resolution and changes the width has a 1×1 convolution with stride 2
on its shortcut, whatever ``shortcut`` says (the projection of the paper's code; option B of
the 2015 paper); in a pre-activation unit it takes the pre-activated input, as the released
code does. BatchNorm throughout, as the paper (``nn.conv.ResidualBlock`` is a different, single
ordering with group norm and a zero-initialised last convolution).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

Kind = Literal["original", "pre-activation"]
Shortcut = Literal[
    "identity", "constant-scaling", "exclusive-gating", "shortcut-gating", "conv", "dropout"
]
KINDS: tuple[str, ...] = ("original", "pre-activation")
SHORTCUTS: tuple[str, ...] = (
    "identity",
    "constant-scaling",
    "exclusive-gating",
    "shortcut-gating",
    "conv",
    "dropout",
)


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """A bias-free 3×3 convolution (a BN follows or precedes it, so a bias would be
    redundant), He-initialised for the fan-out as the paper's code."""
    conv = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
    nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    return conv


class ResidualUnit(nn.Module):
    """One residual unit, y = h(x) + F(x), x' = f(y); see the module docstring for ``kind``
    and ``shortcut``. ``scale`` is λ of constant scaling, ``gate_bias`` the initial b_g of
    the gates (the paper's best: −6, a gate that starts nearly shut on F, open on x),
    ``dropout`` the drop rate of the dropout shortcut."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        stride: int = 1,
        kind: Kind = "original",
        shortcut: Shortcut = "identity",
        *,
        scale: float = 0.5,
        scale_residual: bool = True,
        gate_bias: float = -6.0,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if shortcut not in SHORTCUTS:
            raise ValueError(f"shortcut must be one of {SHORTCUTS}, got {shortcut!r}")
        out_channels = out_channels or in_channels
        self.kind, self.scale, self.scale_residual = kind, scale, scale_residual
        self.downsample = stride != 1 or in_channels != out_channels
        # Downsampling units project; the variants apply where the shapes match.
        self.shortcut = "projection" if self.downsample else shortcut
        first = in_channels if kind == "pre-activation" else out_channels
        self.bn1 = nn.BatchNorm2d(first)
        self.conv1 = conv3x3(in_channels, out_channels, stride)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = conv3x3(out_channels, out_channels)
        self.proj: nn.Module | None = None
        self.gate: nn.Conv2d | None = None
        if self.shortcut == "projection":
            conv = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
            # The original unit's projection is followed by BN (its F ends with one too).
            self.proj = (
                nn.Sequential(conv, nn.BatchNorm2d(out_channels)) if kind == "original" else conv
            )
        elif self.shortcut == "conv":
            self.proj = nn.Conv2d(in_channels, out_channels, 1, bias=False)
            nn.init.kaiming_normal_(self.proj.weight, mode="fan_in", nonlinearity="linear")
        elif self.shortcut in ("exclusive-gating", "shortcut-gating"):
            self.gate = nn.Conv2d(in_channels, out_channels, 1, bias=True)
            nn.init.kaiming_normal_(self.gate.weight, mode="fan_in", nonlinearity="linear")
            nn.init.constant_(self.gate.bias, gate_bias)
        self.drop = nn.Dropout(dropout) if self.shortcut == "dropout" else None

    def residual(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """F(x), and the input the shortcut sees (x, or BN-ReLU(x) in a pre-activation
        unit that projects)."""
        if self.kind == "original":
            h = F.relu(self.bn1(self.conv1(x)))
            return self.bn2(self.conv2(h)), x
        a = F.relu(self.bn1(x))
        h = self.conv2(F.relu(self.bn2(self.conv1(a))))
        return h, a if self.shortcut == "projection" else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f, s = self.residual(x)
        kind = self.shortcut
        if kind == "identity":
            y = s + f
        elif kind in ("projection", "conv"):
            assert self.proj is not None
            y = self.proj(s) + f
        elif kind == "constant-scaling":
            y = self.scale * s + (self.scale * f if self.scale_residual else f)
        elif kind == "dropout":
            assert self.drop is not None
            y = self.drop(s) + f
        else:
            assert self.gate is not None
            g = torch.sigmoid(self.gate(s))
            y = (1 - g) * s + (g * f if kind == "exclusive-gating" else f)
        return F.relu(y) if self.kind == "original" else y


class ResNet(nn.Module):
    """The CIFAR ResNet of depth 6n + 2 (He et al. 2015 Sec. 4.2; 2016 Sec. 4): a 3×3
    convolution (then BN-ReLU), three stages of n units at ``widths`` with stride 2 at the
    start of the second and third, global average pooling and a linear layer. A
    pre-activation network adds BN-ReLU after its last unit (the paper's "extra activation
    after the last element-wise addition"), since its units end on a bare sum. The weighted
    layers counted by the depth: the first conv, 2 per unit and the linear layer (projection
    and gate convolutions are not counted, as in the paper)."""

    def __init__(
        self,
        units_per_stage: int,
        widths: tuple[int, int, int] = (16, 32, 64),
        kind: Kind = "original",
        shortcut: Shortcut = "identity",
        classes: int = 10,
        in_channels: int = 3,
        **unit_options: float | bool,
    ) -> None:
        super().__init__()
        if units_per_stage < 1 or len(widths) != 3:
            raise ValueError("a CIFAR ResNet needs n >= 1 units in each of 3 stages")
        self.kind = kind
        self.stem = nn.Sequential(
            conv3x3(in_channels, widths[0]), nn.BatchNorm2d(widths[0]), nn.ReLU()
        )
        units: list[nn.Module] = []
        previous = widths[0]
        for stage, width in enumerate(widths):
            for i in range(units_per_stage):
                stride = 2 if stage > 0 and i == 0 else 1
                units.append(
                    ResidualUnit(previous, width, stride, kind, shortcut, **unit_options)  # type: ignore[arg-type]
                )
                previous = width
        self.units = nn.Sequential(*units)
        self.final = (
            nn.Sequential(nn.BatchNorm2d(previous), nn.ReLU())
            if kind == "pre-activation"
            else nn.Identity()
        )
        self.head = nn.Linear(previous, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.final(self.units(self.stem(x)))
        return self.head(h.mean(dim=(2, 3)))


def units_for_depth(depth: int) -> int:
    """n of a depth 6n + 2 (20, 32, 44, 56, 110, 164 with basic units, ...)."""
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(f"a CIFAR ResNet's depth is 6n + 2 with n >= 1, got {depth}")
    return (depth - 2) // 6


def resnet(
    depth: int,
    widths: tuple[int, int, int] = (16, 32, 64),
    kind: Kind = "original",
    shortcut: Shortcut = "identity",
    classes: int = 10,
    in_channels: int = 3,
    **unit_options: float | bool,
) -> ResNet:
    """The CIFAR ResNet of ``depth`` = 6n + 2 weighted layers (ResNet-110: n = 18)."""
    return ResNet(
        units_for_depth(depth), widths, kind, shortcut, classes, in_channels, **unit_options
    )


def weighted_layers(model: nn.Module) -> int:
    """The depth as the paper counts it: 3×3 convolutions and linear layers."""
    return sum(
        1
        for m in model.modules()
        if isinstance(m, nn.Linear) or (isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3))
    )
