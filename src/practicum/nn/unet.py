"""A small U-Net conditioned on a time step, the noise predictor ε_θ(x_t, t) of a diffusion model.

Ho et al. (2020, sec. 4 and appendix B) use a PixelCNN++-like U-Net: wide-ResNet blocks with
group normalisation, the time step given to every block through the Transformer's sinusoidal
embedding, skip connections between the two halves at each resolution. This one keeps that
shape at the size a CPU trains in minutes: one residual block per resolution on each side
(theirs: two), no self-attention (theirs: at 16×16), the same time embedding and group norm.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F


def sinusoidal_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """(N,) times -> (N, dim): [sin(t ω_i), cos(t ω_i)] with ω_i = max_period^(−i/(dim/2)),
    the Transformer's position encoding (Vaswani et al. 2017) of a time step."""
    if dim % 2:
        raise ValueError(f"the time embedding needs an even dim, got {dim}")
    half = dim // 2
    freq = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)
    phase = t.float()[:, None] * freq[None]
    return torch.cat([phase.sin(), phase.cos()], dim=1)


def _norm(channels: int, groups: int) -> nn.GroupNorm:
    # as many groups as asked for that divide the channels (group norm needs a divisor)
    g = math.gcd(channels, groups)
    return nn.GroupNorm(g, channels)


class TimeResBlock(nn.Module):
    """GN -> SiLU -> conv3×3, + a linear map of the time embedding (a bias per channel),
    GN -> SiLU -> dropout -> conv3×3, plus the input (through a 1×1 conv if the width changes)."""

    def __init__(
        self, in_ch: int, out_ch: int, time_dim: int, groups: int = 8, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.norm1 = _norm(in_ch, groups)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.time = nn.Linear(time_dim, out_ch)
        self.norm2 = _norm(out_ch, groups)
        self.drop = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.skip = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x))) + self.time(emb)[:, :, None, None]
        h = self.conv2(self.drop(F.silu(self.norm2(h))))
        return h + self.skip(x)


class UNet(nn.Module):
    """ε_θ(x, t): images (N, C, S, S) and integer times (N,) -> a tensor of the images' shape.

    ``channels`` gives the width at each resolution, S, S/2, …: S must be divisible by
    2^(len(channels) − 1). Downsampling is a stride-2 conv, upsampling nearest-neighbour
    doubling and a conv; each up block sees its own output concatenated with the down block's
    at the same resolution. The last conv starts at zero, so the untrained net predicts ε = 0
    and L_simple starts at E‖ε‖²/d = 1 (as the authors' code initialises its output layer).
    """

    def __init__(
        self,
        in_channels: int = 1,
        channels: Sequence[int] = (16, 32, 64),
        time_dim: int = 64,
        groups: int = 8,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if not channels or min(channels) < 1:
            raise ValueError(f"need at least one positive width, got {channels}")
        self.channels = tuple(channels)
        self.time_dim = time_dim
        self.time_mlp = nn.Sequential(
            nn.Linear(time_dim, time_dim), nn.SiLU(), nn.Linear(time_dim, time_dim)
        )
        c0 = channels[0]
        self.stem = nn.Conv2d(in_channels, c0, 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        prev = c0
        for i, c in enumerate(channels):
            self.down.append(TimeResBlock(prev, c, time_dim, groups, dropout))
            prev = c
            if i < len(channels) - 1:
                self.downsample.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
        self.middle = TimeResBlock(prev, prev, time_dim, groups, dropout)
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i in reversed(range(len(channels))):
            self.up.append(TimeResBlock(prev + channels[i], channels[i], time_dim, groups, dropout))
            prev = channels[i]
            if i > 0:
                self.upsample.append(nn.Conv2d(prev, channels[i - 1], 3, padding=1))
                prev = channels[i - 1]
        self.out_norm = _norm(c0, groups)
        self.out = nn.Conv2d(c0, in_channels, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        factor = 2 ** (len(self.channels) - 1)
        if x.shape[-1] % factor or x.shape[-2] % factor:
            raise ValueError(f"image size {tuple(x.shape[-2:])} not divisible by {factor}")
        emb = self.time_mlp(sinusoidal_embedding(t, self.time_dim))
        h = self.stem(x)
        skips: list[torch.Tensor] = []
        for i, block in enumerate(self.down):
            h = block(h, emb)
            skips.append(h)
            if i < len(self.downsample):
                h = self.downsample[i](h)
        h = self.middle(h, emb)
        for j, block in enumerate(self.up):
            h = block(torch.cat([h, skips.pop()], dim=1), emb)
            if j < len(self.upsample):
                h = self.upsample[j](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.out(F.silu(self.out_norm(h)))
