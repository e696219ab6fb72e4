"""Normalising flows: Glow (Kingma & Dhariwal 2018) for images and a RealNVP (Dinh et al. 2017)
for 2-D densities.

A flow is a bijection f from data x to latents z with a tractable Jacobian, so that

    log p(x) = log p_Z(f(x)) + log |det ∂f/∂x|

(the change of variables). Every layer here has ``forward(x) -> (y, logdet)``, with the log
|det J| of that layer per example (shape ``(batch,)``), and ``inverse(y) -> x``; a composition
sums the log-determinants.

Glow's step is ActNorm → invertible 1×1 convolution → affine coupling. The multi-scale model
squeezes (C, H, W) → (4C, H/2, W/2), runs K steps, and factors out half of the channels at every
level but the last (Dinh et al.'s multi-scale architecture); a factored half is modelled by a
Gaussian whose mean and log-std a zero-initialised convolution computes from the half that goes
on. The last level's output has a learned (zero-initialised) or standard Gaussian prior.

**The coupling's scale.** Glow squashes the raw scale as sigmoid(raw + 2) (bounded, so a
coupling can never blow up; the +2 starts it near 1). Its zero-initialised last convolution then
starts every coupling at the constant scale sigmoid(2) ≈ 0.88, not the identity. We divide by
sigmoid(2): scale = sigmoid(raw + 2) / sigmoid(2) ∈ (0, 1.135), exactly 1 at raw = 0, so a fresh
coupling *is* the identity (log-det 0) and the same bounded, smooth squashing trains. It differs
from Glow's by a constant per-dimension factor, which the next ActNorm absorbs. Expansion is left
to ActNorm (a coupling can expand by at most 13.5 %), as in Glow.

**Bits per dimension.** Image data x ∈ {0, …, 255}^D are dequantised as y = (x + u) / 256,
u ~ U[0, 1)^D (:func:`dequantize`), so y ∈ [0, 1)^D. For any density p on y the probability of
the discrete x is the mass of its cell of volume 256^(−D), and by Jensen's inequality

    log P(x) = log ∫_cell p(y) dy ≥ E_u[log p(y)] − D log 256.

:func:`bits_per_dim` turns ``log p(y)`` into −(log p(y) − D log 256) / (D ln 2), the bound on the
discrete model's code length (a uniform p on [0, 1)^D gives exactly 8 bits). A flow that models
y − 1/2 (Glow centres its input) has the same log-density; one that models 2y − 1 must add D log 2.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

LOG_2PI = math.log(2.0 * math.pi)
_SIGMOID_2 = math.log(1.0 / (1.0 + math.exp(-2.0)))  # log sigmoid(2): a fresh coupling's log-scale


# ---- helpers --------------------------------------------------------------------------------
def gaussian_log_density(
    z: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor
) -> torch.Tensor:
    """log N(z; mean, exp(log_std)²) elementwise (no reduction), for the priors of every level."""
    return -0.5 * ((z - mean) * torch.exp(-log_std)) ** 2 - log_std - 0.5 * LOG_2PI


def sum_except_batch(x: torch.Tensor) -> torch.Tensor:
    """Sum over every dimension but the first: a per-example log-density or log-determinant."""
    return x.reshape(x.shape[0], -1).sum(dim=1)


def bounded_scale(raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(scale, log scale) with scale = sigmoid(raw + 2) / sigmoid(2): Glow's bounded squashing,
    renormalised so that raw = 0 (a zero-initialised network) is the identity (module docstring)."""
    log_scale = F.logsigmoid(raw + 2.0) - _SIGMOID_2
    return torch.exp(log_scale), log_scale


def dequantize(
    x: torch.Tensor, generator: torch.Generator | None = None, bits: int = 8
) -> torch.Tensor:
    """Uniform dequantisation: y = (k + u) / 2^bits ∈ [0, 1), u ~ U[0, 1), k the pixel's level.

    ``x`` is either integers in {0, …, 255} (uint8 images) or floats in [0, 1] holding k/255
    (what torchvision's ToTensor gives); with ``bits`` < 8 the levels are reduced to
    k // 2^(8 − bits), as Glow does for 5-bit CelebA. The returned y has density on a unit cube,
    so the −D log 2^bits of the discrete likelihood is added by :func:`bits_per_dim`, not here.
    """
    if not 1 <= bits <= 8:
        raise ValueError(f"bits must be in 1..8, got {bits}")
    if x.dtype.is_floating_point:
        if x.numel() and (x.min() < 0 or x.max() > 1):
            raise ValueError("float images must lie in [0, 1] (k/255)")
        levels = torch.round(x * 255.0)
        dtype = x.dtype
    else:
        levels = x.to(torch.float32)
        dtype = torch.float32
    levels = torch.floor(levels / 2 ** (8 - bits))
    u = torch.rand(x.shape, generator=generator, dtype=dtype, device=x.device)
    return (levels.to(dtype) + u) / 2**bits


def bits_per_dim(log_prob: torch.Tensor | float, dims: int, bits: int = 8) -> torch.Tensor:
    """−(log p(y) − D log 2^bits) / (D ln 2): bits per dimension of the discrete data, from the
    log-density of its dequantised version y ∈ [0, 1)^D (module docstring for the convention)."""
    if not isinstance(log_prob, torch.Tensor):
        log_prob = torch.tensor(log_prob, dtype=torch.float64)
    # = bits − log p / (D ln 2), written so that log p = 0 gives exactly ``bits``
    return bits - log_prob / (dims * math.log(2.0))


def _zero_conv(in_channels: int, out_channels: int) -> nn.Conv2d:
    """A 3×3 convolution with zero weights and bias: its layer starts as the identity / N(0, 1)."""
    conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
    nn.init.zeros_(conv.weight)
    nn.init.zeros_(conv.bias)
    return conv


# ---- the layers -----------------------------------------------------------------------------
class ActNorm(nn.Module):
    """Per-channel affine y = (x + b) · exp(log s) on (batch, C, ...) tensors.

    The first batch seen in training mode initialises b and log s so that y has zero mean and
    unit variance per channel (data-dependent initialisation, which lets Glow train with small
    batches in place of batch norm). ``initialized`` is a buffer so a reloaded checkpoint does not
    initialise again on its next batch. log|det J| = (H·W) Σ log s, the same for every example.
    """

    initialized: torch.Tensor

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))
        self.log_scale = nn.Parameter(torch.zeros(channels))
        self.eps = eps
        self.register_buffer("initialized", torch.tensor(False))

    def _shape(self, x: torch.Tensor) -> tuple[int, ...]:
        return (1, -1) + (1,) * (x.dim() - 2)

    @torch.no_grad()
    def initialize(self, x: torch.Tensor) -> None:
        """Set b = −mean, log s = −log std per channel over ``x`` (biased std, as BatchNorm)."""
        dims = [d for d in range(x.dim()) if d != 1]
        mean = x.mean(dim=dims)
        std = x.std(dim=dims, unbiased=False)
        self.bias.copy_(-mean)
        self.log_scale.copy_(-torch.log(std + self.eps))
        self.initialized.fill_(True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.training and not bool(self.initialized):
            self.initialize(x)
        shape = self._shape(x)
        y = (x + self.bias.view(shape)) * torch.exp(self.log_scale.view(shape))
        pixels = math.prod(x.shape[2:])  # 1 for vectors
        logdet = pixels * self.log_scale.sum()
        return y, logdet.expand(x.shape[0])

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        shape = self._shape(y)
        return y * torch.exp(-self.log_scale.view(shape)) - self.bias.view(shape)


class InvConv1x1(nn.Module):
    """Invertible 1×1 convolution: a learned C × C channel mixing, y[:, :, h, w] = W x[:, :, h, w].

    Initialised at a random orthogonal W (QR of a Gaussian from torch's global generator), so
    it starts volume-preserving. With ``lu=True`` W = P L (U + diag(sign(s) · exp(log|s|))) with
    P a fixed permutation, L unit lower- and U strictly upper-triangular: log|det W| = Σ log|s|
    costs O(C) instead of slogdet's O(C³), and sign(s) stays fixed so W stays invertible
    (Kingma & Dhariwal's Section 3.2). log|det J| = H·W·log|det W|.
    """

    def __init__(self, channels: int, lu: bool = True) -> None:
        super().__init__()
        self.lu = lu
        q, _ = torch.linalg.qr(torch.randn(channels, channels))
        if not lu:
            self.weight = nn.Parameter(q)
            return
        perm, lower, upper = torch.linalg.lu(q)
        s = torch.diagonal(upper)
        self.register_buffer("perm", perm)
        self.register_buffer("sign_s", torch.sign(s))
        self.register_buffer("lower_mask", torch.tril(torch.ones(channels, channels), -1))
        self.register_buffer("eye", torch.eye(channels))
        self.lower = nn.Parameter(lower)  # only the strictly lower part is used
        self.upper = nn.Parameter(torch.triu(upper, 1))  # only the strictly upper part
        self.log_s = nn.Parameter(torch.log(torch.abs(s)))

    def weight_matrix(self) -> torch.Tensor:
        """W as a dense C × C matrix (the LU factors multiplied out)."""
        if not self.lu:
            return self.weight
        lower = self.lower * self.lower_mask + self.eye
        upper = self.upper * self.lower_mask.T + torch.diag(self.sign_s * torch.exp(self.log_s))
        return self.perm @ lower @ upper

    def log_abs_det(self) -> torch.Tensor:
        """log|det W|: Σ log|s| in LU form, slogdet otherwise."""
        if self.lu:
            return self.log_s.sum()
        return torch.linalg.slogdet(self.weight)[1]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w = self.weight_matrix()
        y = F.conv2d(x, w.view(*w.shape, 1, 1))
        logdet = x.shape[2] * x.shape[3] * self.log_abs_det()
        return y, logdet.expand(x.shape[0])

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        w_inv = torch.linalg.inv(self.weight_matrix())
        return F.conv2d(y, w_inv.view(*w_inv.shape, 1, 1))


class AffineCoupling(nn.Module):
    """Affine coupling: x = (x_a, x_b) split by channels; y_a = x_a, y_b = (x_b + t) · s with
    (log s, t) = NN(x_a). The Jacobian is triangular, log|det J| = Σ log s, and the inverse
    needs NN only forwards (x_b = y_b / s − t), so NN can be any network.

    NN is 3×3 conv → ReLU → 1×1 conv → ReLU → zero-initialised 3×3 conv (Glow's), so a fresh
    layer is the identity; s = :func:`bounded_scale` of the raw output.
    """

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        if channels < 2:
            raise ValueError(f"a coupling needs at least 2 channels, got {channels}")
        self.split = channels // 2
        rest = channels - self.split
        self.net = nn.Sequential(
            nn.Conv2d(self.split, hidden, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(hidden, hidden, 1),
            nn.ReLU(),
            _zero_conv(hidden, 2 * rest),
        )

    def _scale_shift(self, x_a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        raw, shift = self.net(x_a).chunk(2, dim=1)
        scale, log_scale = bounded_scale(raw)
        return scale, log_scale, shift

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x_a, x_b = x[:, : self.split], x[:, self.split :]
        scale, log_scale, shift = self._scale_shift(x_a)
        y_b = (x_b + shift) * scale
        return torch.cat([x_a, y_b], dim=1), sum_except_batch(log_scale)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        y_a, y_b = y[:, : self.split], y[:, self.split :]
        scale, _, shift = self._scale_shift(y_a)
        return torch.cat([y_a, y_b / scale - shift], dim=1)


def squeeze(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) → (B, 4C, H/2, W/2): every 2×2 patch becomes 4 channels (a permutation of
    coordinates, so log|det J| = 0). Channel 4c + 2i + j holds x[c, 2h + i, 2w + j]."""
    b, c, h, w = x.shape
    if h % 2 or w % 2:
        raise ValueError(f"squeeze needs even height and width, got {h} × {w}")
    x = x.reshape(b, c, h // 2, 2, w // 2, 2)
    return x.permute(0, 1, 3, 5, 2, 4).reshape(b, 4 * c, h // 2, w // 2)


def unsqueeze(x: torch.Tensor) -> torch.Tensor:
    """(B, 4C, H, W) → (B, C, 2H, 2W): the exact inverse of :func:`squeeze`."""
    b, c4, h, w = x.shape
    if c4 % 4:
        raise ValueError(f"unsqueeze needs a multiple of 4 channels, got {c4}")
    x = x.reshape(b, c4 // 4, 2, 2, h, w)
    return x.permute(0, 1, 4, 2, 5, 3).reshape(b, c4 // 4, 2 * h, 2 * w)


class FlowSequence(nn.Module):
    """Invertible layers applied in order: the log-determinants add, the inverse runs them
    backwards (a Glow step and the 2-D RealNVP are both one)."""

    layers: nn.ModuleList

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logdet = x.new_zeros(x.shape[0])
        for layer in self.layers:
            x, ld = layer(x)
            logdet = logdet + ld
        return x, logdet

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        for layer in reversed(self.layers):
            y = layer.inverse(y)
        return y


class FlowStep(FlowSequence):
    """One step of Glow: ActNorm → invertible 1×1 convolution → affine coupling."""

    def __init__(self, channels: int, hidden: int, lu: bool = True) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            [ActNorm(channels), InvConv1x1(channels, lu=lu), AffineCoupling(channels, hidden)]
        )


class GlowLevel(nn.Module):
    """One scale of Glow: squeeze, K steps, then (``split``) factor out the second half of the
    channels, whose Gaussian's mean and log-std come from a zero-initialised conv of the first."""

    def __init__(self, channels: int, steps: int, hidden: int, split: bool, lu: bool) -> None:
        super().__init__()
        self.steps = nn.ModuleList([FlowStep(channels, hidden, lu) for _ in range(steps)])
        self.keep = channels // 2 if split else channels
        self.prior = _zero_conv(self.keep, 2 * (channels - self.keep)) if split else None

    def split_prior(self, kept: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, log-std) of the factored-out half given the half that goes on."""
        assert self.prior is not None
        mean, log_std = self.prior(kept).chunk(2, dim=1)
        return mean, log_std


Prior = tuple[torch.Tensor, torch.Tensor]


class Glow(nn.Module):
    """Glow's multi-scale flow (Kingma & Dhariwal 2018, Fig. 2b) on (B, C, H, W) images.

    ``levels`` scales of ``steps_per_level`` steps; H and W must be divisible by 2^levels.
    ``forward`` returns the latents of every level, finest first, and the log|det J| of
    x ↦ (z_1, …, z_L); ``log_prob`` adds their Gaussian log-densities. ``image_size`` is only
    needed by :meth:`sample` (the layers themselves work at any divisible size).
    """

    def __init__(
        self,
        in_channels: int,
        levels: int,
        steps_per_level: int,
        hidden: int,
        *,
        image_size: int | tuple[int, int] = 32,
        learn_top: bool = True,
        lu: bool = True,
    ) -> None:
        super().__init__()
        if levels < 1 or steps_per_level < 1:
            raise ValueError("Glow needs at least one level and one step per level")
        h, w = (image_size, image_size) if isinstance(image_size, int) else image_size
        if h % 2**levels or w % 2**levels:
            raise ValueError(f"image size {h} × {w} is not divisible by 2^levels = {2**levels}")
        self.in_channels, self.image_size = in_channels, (h, w)
        self.levels = nn.ModuleList()
        self.z_shapes: list[tuple[int, int, int]] = []  # (C, H, W) of every latent
        c = in_channels
        for i in range(levels):
            c, h, w = 4 * c, h // 2, w // 2
            level = GlowLevel(c, steps_per_level, hidden, split=i < levels - 1, lu=lu)
            self.levels.append(level)
            if level.prior is not None:
                self.z_shapes.append((c - level.keep, h, w))
            c = level.keep
        self.z_shapes.append((c, h, w))
        # The top prior: a per-channel mean and log-std (Glow's learntop: a zero conv of zeros).
        top = torch.zeros(c, 1, 1)
        if learn_top:
            self.top_mean, self.top_log_std = nn.Parameter(top), nn.Parameter(top.clone())
        else:
            self.register_buffer("top_mean", top)
            self.register_buffer("top_log_std", top.clone())

    def _encode(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor, list[Prior]]:
        """The latents, log|det J| and each latent's (mean, log-std), in one pass."""
        logdet = x.new_zeros(x.shape[0])
        zs: list[torch.Tensor] = []
        priors: list[Prior] = []
        h = x
        for level in self.levels:
            h = squeeze(h)
            for step in level.steps:
                h, ld = step(h)
                logdet = logdet + ld
            if level.prior is not None:
                h, z = h[:, : level.keep], h[:, level.keep :]
                zs.append(z)
                priors.append(level.split_prior(h))
        zs.append(h)
        priors.append((self.top_mean.expand_as(h), self.top_log_std.expand_as(h)))
        return zs, logdet, priors

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        zs, logdet, _ = self._encode(x)
        return zs, logdet

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) per example, summed over all dimensions (nats)."""
        zs, logdet, priors = self._encode(x)
        for z, (mean, log_std) in zip(zs, priors, strict=True):
            logdet = logdet + sum_except_batch(gaussian_log_density(z, mean, log_std))
        return logdet

    def _decode(
        self, latent: Callable[[int, Prior], torch.Tensor], top: torch.Tensor
    ) -> torch.Tensor:
        """Run the flow backwards from the top; ``latent(i, prior)`` supplies the i-th factored
        latent once its prior is known (the prior depends on what the coarser levels produced)."""
        h = top
        index = len(self.z_shapes) - 1
        for level in reversed(self.levels):
            if level.prior is not None:
                index -= 1
                h = torch.cat([h, latent(index, level.split_prior(h))], dim=1)
            for step in reversed(level.steps):
                h = step.inverse(h)
            h = unsqueeze(h)
        return h

    def inverse(self, zs: list[torch.Tensor]) -> torch.Tensor:
        """x from the latents of :meth:`forward` (finest first)."""
        if len(zs) != len(self.z_shapes):
            raise ValueError(f"expected {len(self.z_shapes)} latents, got {len(zs)}")
        return self._decode(lambda i, _: zs[i], zs[-1])

    @torch.no_grad()
    def sample(
        self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """n images; every latent is mean + temperature · std · ε (temperature 0: the mode of
        every conditional, a deterministic image; Glow samples at 0.7 for sharper images)."""
        ref = self.top_mean
        where = generator.device if generator is not None else ref.device

        def draw(shape: tuple[int, ...], mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
            # drawn where the generator lives, then moved: a CPU generator serves a CUDA model,
            # and a seed gives the same latents on every device
            eps = torch.randn((n, *shape), generator=generator, dtype=ref.dtype, device=where)
            return mean + temperature * torch.exp(log_std) * eps.to(ref.device)

        top_shape = self.z_shapes[-1]
        top = draw(top_shape, self.top_mean, self.top_log_std)
        return self._decode(lambda i, prior: draw(self.z_shapes[i], *prior), top)


# ---- 2-D densities --------------------------------------------------------------------------
class Coupling2d(nn.Module):
    """Affine coupling on vectors: the coordinates where ``mask`` is 1 pass through and, through
    an MLP, scale and shift the others exactly as :class:`AffineCoupling` does."""

    mask: torch.Tensor

    def __init__(self, mask: torch.Tensor, hidden: int) -> None:
        super().__init__()
        dim = mask.numel()
        self.register_buffer("mask", mask.to(torch.get_default_dtype()))
        last = nn.Linear(hidden, 2 * dim)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(
            nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), last
        )

    def _scale_shift(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        raw, shift = self.net(x * self.mask).chunk(2, dim=1)
        scale, log_scale = bounded_scale(raw)
        free = 1 - self.mask  # only the free coordinates are transformed
        return scale * free + self.mask, log_scale * free, shift * free

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scale, log_scale, shift = self._scale_shift(x)
        return (x + shift) * scale, log_scale.sum(dim=1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        scale, _, shift = self._scale_shift(y)
        return y / scale - shift


class RealNVP2d(FlowSequence):
    """A RealNVP on vectors (2-D densities): ``layers`` × (ActNorm → coupling), the couplings'
    masks alternating, under a standard Gaussian. ActNorm carries the expansion a bounded
    coupling cannot, as in Glow."""

    def __init__(self, layers: int, hidden: int, dim: int = 2) -> None:
        super().__init__()
        self.dim = dim
        parity = torch.arange(dim) % 2
        self.layers = nn.ModuleList()
        for i in range(layers):
            self.layers.append(ActNorm(dim))
            self.layers.append(Coupling2d((parity == i % 2).float(), hidden))

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        z, logdet = self(x)
        zero = torch.zeros_like(z)
        return logdet + gaussian_log_density(z, zero, zero).sum(dim=1)

    @torch.no_grad()
    def sample(
        self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        ref = self.layers[0].bias
        where = generator.device if generator is not None else ref.device
        z = torch.randn(n, self.dim, generator=generator, dtype=ref.dtype, device=where)
        return self.inverse(temperature * z.to(ref.device))
