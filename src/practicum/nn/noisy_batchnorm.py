"""Batch norm followed by injected, time-varying covariate shift ("noisy BatchNorm").

Santurkar et al. 2018 (Sec. 2.1, App. A) ask whether batch norm works by keeping each layer's
input distribution stable. They train a network whose batch-norm outputs are deliberately
destabilised: after every BN layer, each activation is scaled and shifted by random noise of
non-zero mean and non-unit variance, whose distribution itself changes at every step. If
stability mattered, this network should train much worse than plain BN; it does not.

Our noise, drawn afresh at every training-mode forward pass (one per training step):

* per channel ``c``, the step's distribution: a mean shift ``μ_c ~ U[-shift, shift]`` and a
  mean scale ``σ_c ~ U[1, scale]`` (so the distribution has a non-zero mean and a non-unit
  variance, and both move from step to step);
* per sample ``n`` and channel ``c``, the noise itself: ``b = μ_c + jitter·ε`` and
  ``s = σ_c·(1 + jitter·ε')`` with ``ε, ε' ~ N(0, 1)``; the BN output becomes ``s·x̂ + b``.

In evaluation mode the layer is plain batch norm (running statistics, no noise). With
``shift = 0``, ``scale = 1``, ``jitter = 0`` it is plain batch norm in both modes.
"""

from __future__ import annotations

import torch
from torch import nn


class NoisyBatchNorm2d(nn.BatchNorm2d):
    """``nn.BatchNorm2d`` whose training-mode output gets random per-sample, per-channel
    scales and shifts from a distribution that is redrawn at every call.

    Every random number comes from ``generator`` (a CPU ``torch.Generator``; the global one
    when None), so a run is reproducible and a caller that must not disturb the noise sequence
    (a probe) can save and restore the generator's state around its own passes.
    """

    def __init__(
        self,
        num_features: int,
        shift: float = 0.5,
        scale: float = 1.25,
        jitter: float = 0.1,
        generator: torch.Generator | None = None,
        **batchnorm_kwargs: object,
    ) -> None:
        super().__init__(num_features, **batchnorm_kwargs)  # type: ignore[arg-type]
        if shift < 0 or scale < 1 or jitter < 0:
            raise ValueError(f"need shift >= 0, scale >= 1, jitter >= 0; got {shift}, {scale}")
        self.shift, self.scale, self.jitter = shift, scale, jitter
        self.generator = generator

    @property
    def noiseless(self) -> bool:
        return self.shift == 0 and self.scale == 1 and self.jitter == 0

    def sample_noise(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The multiplicative and additive noise ``(s, b)``, each of shape (batch, C), on CPU."""
        c, gen = self.num_features, self.generator
        mean_shift = (2 * torch.rand(c, generator=gen) - 1) * self.shift
        mean_scale = 1 + (self.scale - 1) * torch.rand(c, generator=gen)
        eps = torch.randn(2, batch, c, generator=gen)
        s = mean_scale * (1 + self.jitter * eps[0])
        b = mean_shift + self.jitter * eps[1]
        return s, b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = super().forward(x)
        if not self.training or self.noiseless:
            return y
        s, b = self.sample_noise(x.shape[0])
        s = s.to(device=y.device, dtype=y.dtype)[:, :, None, None]
        b = b.to(device=y.device, dtype=y.dtype)[:, :, None, None]
        return y * s + b

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, shift={self.shift}, scale={self.scale}, jitter={self.jitter}"
        )


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, x: torch.Tensor, batch: int) -> None:
    """Re-estimate every batch-norm layer's running statistics on ``x`` with the noise off
    ("precise BN"): each layer's running mean and variance become the averages of its batch
    means and (unbiased) batch variances over ``x`` in batches of ``batch``.

    Needed for noisy BN: its running statistics were accumulated while the layers before it
    were noisy, but evaluation runs without noise, so every later layer would be normalised
    with statistics of a distribution it no longer sees. The model is left in eval mode.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    saved = [(m.momentum, m.training) for m in norms]
    noise = [(m, (m.shift, m.scale, m.jitter)) for m in norms if isinstance(m, NoisyBatchNorm2d)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the batches below
        m.train()
    for m, _ in noise:
        m.shift, m.scale, m.jitter = 0.0, 1.0, 0.0
    try:
        for i in range(0, len(x), batch):
            model(x[i : i + batch])
    finally:
        for m, (momentum, _) in zip(norms, saved, strict=True):
            m.momentum = momentum
        for m, (shift, scale, jitter) in noise:
            m.shift, m.scale, m.jitter = shift, scale, jitter
    model.eval()
