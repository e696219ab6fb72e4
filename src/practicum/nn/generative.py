"""Building blocks for generative and implicit models.

* ``SineLayer`` / ``Siren``: sine-activated MLPs with the initialisation of Sitzmann et al.
  (2020), "Implicit neural representations with periodic activation functions".
* ``FourierFeatures``: random Fourier-feature positional encoding (Tancik et al. 2020).
* ``MLPEncoder`` / ``MLPDecoder`` / ``ConvEncoder`` / ``ConvDecoder``: the two halves of an
  autoencoder, also used as a GAN's discriminator and generator.
* ``DiagonalGaussian``: q(z | x) = N(μ, diag σ²) with the reparameterised sample and the
  analytic KL divergence to N(0, I).
* ``bernoulli_log_likelihood``, ``standard_normal_log_prob``, ``log_mean_exp``: the terms of an
  evidence lower bound and of an importance-weighted likelihood estimate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

LOG_2PI = math.log(2.0 * math.pi)


# ---------------------------------------------------------------------------------------------
# Implicit neural representations
# ---------------------------------------------------------------------------------------------


class SineLayer(nn.Module):
    """y = sin(ω₀ (W x + b)).

    Initialisation (Sitzmann et al. 2020, section 3.2): the first layer draws W uniformly in
    ±1/n so that ω₀ W x spans several periods over inputs in [-1, 1]; later layers draw W
    uniformly in ±√(6/n)/ω₀, which makes ω₀ W x standard-normal-like for arcsine-distributed
    inputs, so every layer's output is again arcsine-distributed on [-1, 1] (std 1/√2).
    """

    def __init__(
        self, num_inputs: int, num_outputs: int, omega_0: float = 30.0, is_first: bool = False
    ) -> None:
        super().__init__()
        self.num_inputs = num_inputs
        self.omega_0 = omega_0
        self.is_first = is_first
        self.linear = nn.Linear(num_inputs, num_outputs)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = siren_init_bound(self.num_inputs, self.omega_0, self.is_first)
        with torch.no_grad():
            self.linear.weight.uniform_(-bound, bound)
            # The paper leaves biases at PyTorch's default; we use the same bound as the
            # weights so the initial phases are spread, and it keeps the statistics argument.
            self.linear.bias.uniform_(-bound, bound)

    def preactivation(self, x: torch.Tensor) -> torch.Tensor:
        return self.omega_0 * self.linear(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.preactivation(x))

    def extra_repr(self) -> str:
        return f"omega_0={self.omega_0}, is_first={self.is_first}"


def siren_init_bound(num_inputs: int, omega_0: float, is_first: bool) -> float:
    """Half-width of the uniform weight distribution of a SIREN layer."""
    if is_first:
        return 1.0 / num_inputs
    return math.sqrt(6.0 / num_inputs) / omega_0


class Siren(nn.Module):
    """A SIREN: ``num_hidden_layers`` sine layers of width ``width`` and a linear output layer.

    The output layer uses the hidden layers' weight bound so its outputs start small.
    """

    def __init__(
        self,
        num_inputs: int,
        num_outputs: int,
        width: int = 256,
        num_hidden_layers: int = 3,
        first_omega_0: float = 30.0,
        hidden_omega_0: float = 30.0,
    ) -> None:
        super().__init__()
        if num_hidden_layers < 1:
            raise ValueError(f"Siren needs at least one hidden layer, got {num_hidden_layers}")
        layers: list[nn.Module] = [SineLayer(num_inputs, width, first_omega_0, is_first=True)]
        layers += [SineLayer(width, width, hidden_omega_0) for _ in range(num_hidden_layers - 1)]
        self.hidden = nn.Sequential(*layers)
        self.output = nn.Linear(width, num_outputs)
        bound = siren_init_bound(width, hidden_omega_0, is_first=False)
        with torch.no_grad():
            self.output.weight.uniform_(-bound, bound)
            self.output.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.hidden(x))


class FourierFeatures(nn.Module):
    """γ(x) = [cos(2π B x), sin(2π B x)] with a fixed random B ~ N(0, scale²).

    Tancik et al. (2020): a ReLU MLP on γ(x) instead of x can fit high frequencies, which a
    plain ReLU MLP on raw coordinates cannot ("spectral bias"). B is a buffer, not learned.
    """

    def __init__(
        self,
        num_inputs: int,
        num_frequencies: int,
        scale: float = 10.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        matrix = torch.randn(num_frequencies, num_inputs, generator=generator) * scale
        self.register_buffer("B", matrix)
        self.num_outputs = 2 * num_frequencies

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        phase = 2.0 * math.pi * x @ self.B.T
        return torch.cat([torch.cos(phase), torch.sin(phase)], dim=-1)


def relu_mlp(
    num_inputs: int, num_outputs: int, width: int, num_hidden_layers: int
) -> nn.Sequential:
    """A plain ReLU MLP with PyTorch's default (Kaiming-uniform) initialisation."""
    widths = [num_inputs] + [width] * num_hidden_layers
    layers: list[nn.Module] = []
    for a, b in zip(widths[:-1], widths[1:], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.append(nn.Linear(widths[-1], num_outputs))
    return nn.Sequential(*layers)


def grid_coordinates(height: int, width: int, device: str | torch.device = "cpu") -> torch.Tensor:
    """Pixel-centre coordinates in [-1, 1]², shape (height·width, 2), row-major (y, x)."""
    ys = (torch.arange(height, device=device, dtype=torch.float32) + 0.5) / height * 2 - 1
    xs = (torch.arange(width, device=device, dtype=torch.float32) + 0.5) / width * 2 - 1
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([yy, xx], dim=-1).reshape(-1, 2)


# ---------------------------------------------------------------------------------------------
# Encoders and decoders
# ---------------------------------------------------------------------------------------------


class MLPEncoder(nn.Module):
    """Flattened image (or any vector) -> hidden ReLU layers -> ``num_outputs`` numbers."""

    def __init__(self, num_inputs: int, hidden: Sequence[int], num_outputs: int) -> None:
        super().__init__()
        widths = [num_inputs, *hidden]
        layers: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.Linear(a, b), nn.ReLU()]
        layers.append(nn.Linear(widths[-1], num_outputs))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1))


class MLPDecoder(nn.Module):
    """Code -> hidden ReLU layers -> ``num_outputs`` logits (apply sigmoid for pixels)."""

    def __init__(self, num_inputs: int, hidden: Sequence[int], num_outputs: int) -> None:
        super().__init__()
        self.net = MLPEncoder(num_inputs, hidden, num_outputs).net

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class ConvEncoder(nn.Module):
    """(N, C, S, S) images -> two stride-2 convolutions (S -> S/2 -> S/4) -> linear head.

    DCGAN style: 4×4 kernels, LeakyReLU(0.2), batch norm on the second block. With
    ``image_size`` 28 this is MNIST (28 -> 14 -> 7); with 8 it is scikit-learn's digits.
    """

    def __init__(
        self, num_outputs: int, image_size: int = 28, channels: int = 64, in_channels: int = 1
    ) -> None:
        super().__init__()
        if image_size % 4:
            raise ValueError(f"ConvEncoder needs an image size divisible by 4, got {image_size}")
        side = image_size // 4
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, channels, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(channels, 2 * channels, 4, stride=2, padding=1),
            nn.BatchNorm2d(2 * channels),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(2 * channels * side * side, num_outputs),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ConvDecoder(nn.Module):
    """Code -> linear to (2C, S/4, S/4) -> two stride-2 transposed convolutions -> (N, 1, S, S).

    Returns logits; the DCGAN generator applies a sigmoid (or tanh) on top.
    """

    def __init__(
        self, num_inputs: int, image_size: int = 28, channels: int = 64, out_channels: int = 1
    ) -> None:
        super().__init__()
        if image_size % 4:
            raise ValueError(f"ConvDecoder needs an image size divisible by 4, got {image_size}")
        side = image_size // 4
        self.net = nn.Sequential(
            nn.Linear(num_inputs, 2 * channels * side * side),
            nn.Unflatten(1, (2 * channels, side, side)),
            nn.BatchNorm2d(2 * channels),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * channels, channels, 4, stride=2, padding=1),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.ConvTranspose2d(channels, out_channels, 4, stride=2, padding=1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


# ---------------------------------------------------------------------------------------------
# Probability helpers
# ---------------------------------------------------------------------------------------------


class DiagonalGaussian:
    """N(μ, diag σ²) parameterised by μ and log σ² (unconstrained, so any network output works)."""

    def __init__(self, mean: torch.Tensor, log_var: torch.Tensor) -> None:
        if mean.shape != log_var.shape:
            raise ValueError(f"mean {tuple(mean.shape)} and log_var {tuple(log_var.shape)} differ")
        self.mean = mean
        self.log_var = log_var

    @classmethod
    def from_params(cls, params: torch.Tensor) -> DiagonalGaussian:
        """Split an encoder output (..., 2d) into μ (first half) and log σ² (second half)."""
        mean, log_var = params.chunk(2, dim=-1)
        return cls(mean, log_var)

    @property
    def std(self) -> torch.Tensor:
        return torch.exp(0.5 * self.log_var)

    def rsample(
        self, num_samples: int | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """z = μ + σ ε with ε ~ N(0, I): a sample that gradients flow through to μ and σ.

        With ``num_samples`` k the result has a leading dimension k.
        """
        shape = self.mean.shape if num_samples is None else (num_samples, *self.mean.shape)
        eps = torch.randn(shape, generator=generator, device=self.mean.device)
        return self.mean + self.std * eps

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log N(z; μ, σ²) summed over the last dimension."""
        return (-0.5 * (LOG_2PI + self.log_var + (z - self.mean) ** 2 / self.log_var.exp())).sum(-1)

    def kl_standard_normal(self) -> torch.Tensor:
        """KL(N(μ, σ²) ‖ N(0, I)) = ½ Σ (μ² + σ² − 1 − log σ²), summed over the last dimension."""
        return 0.5 * (self.mean**2 + self.log_var.exp() - 1.0 - self.log_var).sum(-1)


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) summed over the last dimension."""
    return (-0.5 * (LOG_2PI + z**2)).sum(-1)


def bernoulli_log_likelihood(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p(x | logits) for pixels x in {0, 1} (or [0, 1]), summed over each example's pixels.

    ``x`` has shape (N, ...) with the batch first; ``logits`` has the same shape, possibly with
    extra leading dimensions (importance samples) that broadcast. Uses the stable form
    x·l − softplus(l) rather than the log of a sigmoid.
    """
    ll = x * logits - F.softplus(logits)
    event_dims = tuple(range(-(x.ndim - 1), 0))
    return ll.sum(dim=event_dims) if event_dims else ll


def log_mean_exp(values: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """log (1/k Σ exp vᵢ), computed stably; the importance-weighted bound's outer operation."""
    return torch.logsumexp(values, dim=dim) - math.log(values.shape[dim])


def categorical_entropy(probs: torch.Tensor) -> torch.Tensor:
    """H(p) = −Σ p log p over the last dimension (0 log 0 = 0)."""
    return -(probs * torch.log(probs.clamp_min(1e-30))).sum(-1)


def frechet_distance(
    mean1: torch.Tensor, cov1: torch.Tensor, mean2: torch.Tensor, cov2: torch.Tensor
) -> float:
    """Fréchet (2-Wasserstein) distance² between N(m₁, C₁) and N(m₂, C₂).

    d² = ‖m₁ − m₂‖² + tr(C₁ + C₂ − 2 (C₁ C₂)^½). The trace of (C₁ C₂)^½ equals that of the
    symmetric (C₁^½ C₂ C₁^½)^½, whose eigenvalues are real and non-negative, so two symmetric
    eigendecompositions suffice (no general matrix square root). Computed in float64.
    """
    m1, m2 = mean1.double(), mean2.double()
    c1, c2 = cov1.double(), cov2.double()
    vals, vecs = torch.linalg.eigh(c1)
    root1 = vecs @ torch.diag(vals.clamp_min(0).sqrt()) @ vecs.T
    middle = root1 @ c2 @ root1
    trace_sqrt = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp_min(0).sqrt().sum()
    return float(((m1 - m2) ** 2).sum() + torch.trace(c1) + torch.trace(c2) - 2 * trace_sqrt)


def feature_statistics(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and (unbiased) covariance of a (N, D) feature matrix, in float64."""
    f = features.double()
    return f.mean(0), torch.cov(f.T)
