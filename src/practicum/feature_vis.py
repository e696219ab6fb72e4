"""Feature visualisation: images that a network's unit or class responds to most.

:func:`activation_maximisation` climbs the gradient of an objective (a class logit, a
channel's mean activation) from a faint noise image. Plain ascent finds adversarial
high-frequency patterns that excite the unit but look like nothing; the usual regularisers
(Yosinski et al. 2015; Mordvintsev, Olah & Tyka 2015) pull it towards natural images:

* **jitter** — the image is shifted by a random offset before each step, so a pattern must
  excite the unit wherever it lies, not only at one pixel grid;
* **blur** — a Gaussian blur every few steps removes the highest frequencies;
* **decay** — an L2 penalty keeps pixels that do not help near the mean;
* **clamping** to the range real pixels have.

:func:`deep_dream` is the same ascent from a real image, on the squared activations of a
layer: the network's features, amplified ("inception"). :func:`high_frequency_fraction`
measures what the regularisers remove.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from practicum.errors import PracticumError

Objective = Callable[[torch.Tensor], torch.Tensor]  # images (N, C, H, W) -> scores (N,)


def gaussian_kernel(sigma: float) -> torch.Tensor:
    """A normalised 1-D Gaussian of radius ⌈3σ⌉."""
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    return kernel / kernel.sum()


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Each channel of (N, C, H, W) convolved with a separable Gaussian, edges reflected."""
    if sigma <= 0:
        return x
    kernel = gaussian_kernel(sigma).to(x.device, x.dtype)
    radius, channels = len(kernel) // 2, x.shape[1]
    if radius >= min(x.shape[-2:]):
        raise PracticumError(f"blur of sigma {sigma} is too wide for {tuple(x.shape[-2:])} images")
    out = F.pad(x, (radius, radius, 0, 0), mode="reflect")
    out = F.conv2d(out, kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1), groups=channels)
    out = F.pad(out, (0, 0, radius, radius), mode="reflect")
    return F.conv2d(out, kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1), groups=channels)


def jitter(x: torch.Tensor, pixels: int, generator: torch.Generator) -> torch.Tensor:
    """The images rolled by one random offset in [−pixels, pixels] along each axis."""
    if pixels == 0:
        return x
    dy, dx = torch.randint(-pixels, pixels + 1, (2,), generator=generator).tolist()
    return torch.roll(x, shifts=(dy, dx), dims=(-2, -1))


def ascend(
    objective: Objective,
    x: torch.Tensor,
    steps: int,
    lr: float,
    generator: torch.Generator,
    *,
    jitter_pixels: int = 0,
    blur_sigma: float = 0.0,
    blur_every: int = 4,
    decay: float = 0.0,
    bounds: tuple[torch.Tensor | float, torch.Tensor | float] | None = None,
) -> torch.Tensor:
    """Gradient ascent on ``objective(x).sum() − decay·‖x‖²`` for ``steps`` steps, each of
    length ``lr`` in the units of the gradient's mean magnitude (normalised steps: the
    objective's scale varies by orders of magnitude between units). ``bounds`` (numbers, or
    tensors that broadcast to ``x``, such as per-channel ranges) clamp every step."""
    x = x.detach().clone()
    for step in range(steps):
        x.requires_grad_(True)
        score = objective(jitter(x, jitter_pixels, generator)).sum() - decay * x.pow(2).sum()
        (grad,) = torch.autograd.grad(score, x)
        with torch.no_grad():
            x = x + lr * grad / (grad.abs().mean() + 1e-12)
            if blur_sigma > 0 and (step + 1) % blur_every == 0:
                x = gaussian_blur(x, blur_sigma)
            if bounds is not None:
                low, high = (torch.as_tensor(b, dtype=x.dtype, device=x.device) for b in bounds)
                x = torch.maximum(torch.minimum(x, high), low)
    return x.detach()


def activation_maximisation(
    objective: Objective,
    shape: tuple[int, ...],
    steps: int,
    lr: float,
    generator: torch.Generator,
    device: str | torch.device = "cpu",
    **regularisers: object,
) -> torch.Tensor:
    """:func:`ascend` from faint noise of ``shape`` (N, C, H, W) — one image per row of
    the objective — with the ``regularisers`` of :func:`ascend`."""
    start = (0.01 * torch.randn(shape, generator=generator)).to(device)
    return ascend(objective, start, steps, lr, generator, **regularisers)  # type: ignore[arg-type]


def deep_dream(
    features: Callable[[torch.Tensor], torch.Tensor],
    image: torch.Tensor,
    steps: int,
    lr: float,
    generator: torch.Generator,
    **regularisers: object,
) -> torch.Tensor:
    """:func:`ascend` from real images on the mean squared activation of ``features``
    (images -> a layer's output): whatever the layer sees in the image, it sees more."""

    def energy(x: torch.Tensor) -> torch.Tensor:
        return features(x).pow(2).flatten(1).mean(dim=1)

    return ascend(energy, image, steps, lr, generator, **regularisers)  # type: ignore[arg-type]


def high_frequency_fraction(x: torch.Tensor, cutoff: float = 0.25) -> torch.Tensor:
    """The share of each image's spectral energy (mean removed, channels summed) at spatial
    frequencies above ``cutoff`` cycles per pixel (Nyquist is 0.5), (N,)."""
    x = x - x.mean(dim=(-2, -1), keepdim=True)
    power = torch.fft.fft2(x.double()).abs().pow(2).sum(dim=1)  # (N, H, W)
    fy = torch.fft.fftfreq(x.shape[-2], dtype=torch.float64, device=x.device)
    fx = torch.fft.fftfreq(x.shape[-1], dtype=torch.float64, device=x.device)
    radius = torch.sqrt(fy.view(-1, 1) ** 2 + fx.view(1, -1) ** 2)
    high = (power * (radius > cutoff)).flatten(1).sum(1)
    total = power.flatten(1).sum(1)
    return torch.where(total > 0, high / total.clamp_min(1e-300), torch.zeros_like(total))
