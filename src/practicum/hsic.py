"""The Hilbert-Schmidt independence criterion with Gaussian kernels, and the HSIC-bottleneck
objective of one layer (Gretton et al. 2005; Ma, Lewis & Kleijn 2020).

For samples (x_i, y_i), i = 1..m, with kernel matrices K_X, K_Y and the centring matrix
H = I − 11ᵀ/m, the biased empirical estimator is

    HSIC(X, Y) = (m − 1)⁻² · tr(K_X H K_Y H)

(Gretton et al. 2005, Eq. 4; Ma et al. 2020, Eq. 3). It is zero in population exactly when X and
Y are independent (characteristic kernels); its bias for independent samples is O(1/m).

The Gaussian kernel here is k(a, b) = exp(−‖a − b‖² / (2 σ² d)) for d-dimensional vectors: the
width is ``sigma`` per √(dimension), so that one σ suits inputs (d = 784), hidden layers and
one-hot labels alike (the convention of the authors' code; ``per_dimension=False`` gives the
plain exp(−‖a − b‖² / 2σ²)).

The HSIC bottleneck trains every hidden layer Z_l on its own: it minimises
HSIC(Z_l, X) − β · HSIC(Z_l, Y) (Ma et al. 2020, Eq. 5), whose gradient reaches only that layer's
weights because the layer's input is detached (:func:`layerwise_outputs`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def squared_distances(x: torch.Tensor) -> torch.Tensor:
    """‖x_i − x_j‖² for the rows of ``x`` (m, d), clamped at 0 against rounding."""
    sq = (x * x).sum(dim=1)
    d = sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)
    return d.clamp_min(0.0)


def gaussian_kernel(x: torch.Tensor, sigma: float, per_dimension: bool = True) -> torch.Tensor:
    """K_ij = exp(−‖x_i − x_j‖² / (2σ² d)) (d = 1 unless ``per_dimension``) for ``x`` (m, ...)."""
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    flat = x.reshape(len(x), -1)
    d = flat.shape[1] if per_dimension else 1
    return torch.exp(-squared_distances(flat) / (2.0 * sigma * sigma * d))


def centre(k: torch.Tensor) -> torch.Tensor:
    """H K H with H = I − 11ᵀ/m: the kernel matrix with row and column means removed."""
    return k - k.mean(dim=0, keepdim=True) - k.mean(dim=1, keepdim=True) + k.mean()


def hsic_from_kernels(kx: torch.Tensor, ky: torch.Tensor) -> torch.Tensor:
    """(m − 1)⁻² tr(K_X H K_Y H), computed as the sum of (H K_X H) ∘ K_Y in O(m²)."""
    m = kx.shape[0]
    if kx.shape != (m, m) or ky.shape != (m, m):
        raise ValueError(f"kernel matrices must both be m × m, got {kx.shape} and {ky.shape}")
    if m < 2:
        raise ValueError("HSIC needs at least two samples")
    return (centre(kx) * ky).sum() / (m - 1) ** 2


def hsic(
    x: torch.Tensor, y: torch.Tensor, sigma_x: float, sigma_y: float, per_dimension: bool = True
) -> torch.Tensor:
    """The biased HSIC estimator of samples ``x`` and ``y`` (paired by row) with Gaussian kernels."""
    return hsic_from_kernels(
        gaussian_kernel(x, sigma_x, per_dimension), gaussian_kernel(y, sigma_y, per_dimension)
    )


ESTIMATORS = ("biased", "cka", "cca")


def kernel_projection(k: torch.Tensor, eps: float) -> torch.Tensor:
    """R = K̃ (K̃ + ε m I)⁻¹ with K̃ = H K H: the regularised projection onto the span of the
    centred kernel matrix (symmetric, eigenvalues λ / (λ + εm) in [0, 1))."""
    m = k.shape[0]
    kc = centre(k)
    ridge = eps * m * torch.eye(m, dtype=k.dtype, device=k.device)
    return torch.linalg.solve(kc + ridge, kc)


def side(k: torch.Tensor, estimator: str, eps: float = 1e-5) -> torch.Tensor:
    """One variable's factor of an HSIC-type estimate: the estimate of a pair is
    ``(side(K_A) * side(K_B)).sum()`` with

    * ``biased``: H K H / (m − 1), whose pairing is (m − 1)⁻² tr(K_A H K_B H) (Eq. 3);
    * ``cka``: H K H / ‖H K H‖_F: the normalised HSIC, HSIC(A, B) / √(HSIC(A, A) HSIC(B, B)),
      in [0, 1] whatever the kernels' scale (the centred kernel alignment);
    * ``cca``: the regularised projection :func:`kernel_projection`, whose pairing tr(R_A R_B)
      counts the directions the two kernel spaces share (the kernel-CCA form of normalised
      HSIC, Fukumizu et al. 2008; the authors' code trains with it)."""
    if estimator == "biased":
        return centre(k) / (k.shape[0] - 1)
    if estimator == "cka":
        kc = centre(k)
        return kc / torch.sqrt((kc * kc).sum())
    if estimator == "cca":
        return kernel_projection(k, eps)
    raise ValueError(f"unknown estimator {estimator!r} (choose from {ESTIMATORS})")


def bottleneck_objective(
    z: torch.Tensor,
    x_side: torch.Tensor,
    y_side: torch.Tensor,
    sigma: float,
    beta: float,
    estimator: str = "biased",
    eps: float = 1e-5,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(HSIC(Z, X) − β · HSIC(Z, Y), HSIC(Z, X), HSIC(Z, Y)) for one layer's output ``z``, given
    the input batch's and the labels' :func:`side` of the same ``estimator``."""
    z_side = side(gaussian_kernel(z, sigma), estimator, eps)
    hx = (z_side * x_side).sum()
    hy = (z_side * y_side).sum()
    return hx - beta * hy, hx, hy


def layerwise_outputs(layers: Sequence[nn.Module], x: torch.Tensor) -> list[torch.Tensor]:
    """Every layer's output, each layer fed the *detached* output of the one before: a loss on
    layer l's output has gradients for layer l's parameters only (no backpropagation)."""
    outputs, h = [], x
    for layer in layers:
        h = layer(h.detach())
        outputs.append(h)
    return outputs


def one_hot(y: torch.Tensor, classes: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(y, classes).to(torch.get_default_dtype())


def assign_units(mean_response: torch.Tensor) -> list[int]:
    """The unformatted network's read-out (Ma et al. 2020, Sec. 4; the authors' code): class
    c = 0, 1, … in turn takes the output unit with the largest mean response to class c's
    samples among the units not yet taken. ``mean_response`` is (classes, units); returns the
    unit of every class."""
    taken: list[int] = []
    for c in range(mean_response.shape[0]):
        order = torch.argsort(mean_response[c], descending=True, stable=True).tolist()
        taken.append(next(u for u in order if u not in taken))
    return taken


def mean_responses(z: torch.Tensor, y: torch.Tensor, classes: int) -> torch.Tensor:
    """(classes, units): the mean output of every unit over each class's samples."""
    totals = torch.zeros(classes, z.shape[1], dtype=z.dtype).index_add_(0, y, z)
    counts = torch.bincount(y, minlength=classes).clamp_min(1).to(z.dtype)
    return totals / counts[:, None]


def permutation_accuracy(z: torch.Tensor, y: torch.Tensor, units: Sequence[int]) -> float:
    """Accuracy of predicting, for every sample, the class whose assigned unit responds most."""
    classes = torch.as_tensor(list(units))
    predicted = z[:, classes].argmax(dim=1)  # index into ``units`` = the class
    return float((predicted == y).to(torch.float64).mean())
