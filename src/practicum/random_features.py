"""Random-features regression: the smallest model with a double descent.

A two-layer network whose first layer is random and fixed, ``φ(x) = ReLU(W x + b) / √N``
with N Gaussian features, and whose second layer is fitted by least squares (Rahimi & Recht
2007; the model of Belkin et al. 2019 and of Nakkiran et al. 2019's Sec. 2). With N features
and n training examples:

* N < n: the least-squares fit is unique and cannot interpolate;
* N ≥ n: infinitely many fits interpolate; we take the one of **minimum norm**, ``Φ⁺ Y`` —
  the fit gradient descent from zero converges to, and the implicit regulariser behind the
  second descent;
* N ≈ n: Φ is square and badly conditioned, its smallest singular values blow the minimum-norm
  fit up, and the test error peaks: the *interpolation threshold*.
"""

from __future__ import annotations

import torch


def relu_features(x: torch.Tensor, weights: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``ReLU(x Wᵀ + b) / √N`` for inputs ``x`` (n, d), ``weights`` (N, d), ``bias`` (N,); the
    1/√N keeps the feature Gram matrix of order one whatever N."""
    n_features = weights.shape[0]
    return torch.relu(x @ weights.T + bias) / n_features**0.5


def draw_features(
    n_features: int, dim: int, generator: torch.Generator, dtype: torch.dtype = torch.float64
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian first-layer weights of variance 1/dim (unit-variance pre-activations for
    standardised inputs) and standard-normal biases."""
    if n_features < 1 or dim < 1:
        raise ValueError(f"need at least one feature and one input, got {n_features}, {dim}")
    weights = torch.randn(n_features, dim, generator=generator, dtype=dtype) / dim**0.5
    bias = torch.randn(n_features, generator=generator, dtype=dtype)
    return weights, bias


def min_norm_fit(features: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The least-squares coefficients of minimum Euclidean norm, ``Φ⁺ Y``, through the SVD:
    singular values below the machine-precision cut-off (relative to the largest, as
    ``numpy.linalg.pinv``) count as zero. Exact least squares for N < n (full column rank),
    the minimum-norm interpolant for N ≥ n (full row rank)."""
    u, s, vh = torch.linalg.svd(features, full_matrices=False)
    cutoff = s.max() * max(features.shape) * torch.finfo(features.dtype).eps
    inverse = torch.where(s > cutoff, 1 / s, torch.zeros_like(s))
    return vh.T @ (inverse[:, None] * (u.T @ targets))
