"""Evolution strategies (Salimans et al. 2017): a gradient estimate from perturbed returns.

ES treats the return F(θ) of a policy with parameters θ as a black box and climbs the
Gaussian-smoothed objective J(θ) = E_ε[F(θ + σε)], ε ~ N(0, I), whose gradient is
∇J(θ) = E_ε[F(θ + σε) ε] / σ. It needs returns only, no backpropagation through the
environment, and every perturbation can be evaluated independently.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def antithetic_noise(rng: np.random.Generator, num_pairs: int, dim: int) -> np.ndarray:
    """``num_pairs`` Gaussian directions ε_i of length ``dim``; each is used as +ε_i and −ε_i.

    Mirrored pairs cancel the even-order terms of F's Taylor expansion in the estimate
    below (F(θ+σε) − F(θ−σε) = 2σ ∇F·ε + O(σ³)), which lowers its variance.
    """
    if num_pairs < 1 or dim < 1:
        raise ValueError(f"need num_pairs >= 1 and dim >= 1, got {num_pairs}, {dim}")
    return rng.standard_normal((num_pairs, dim))


def centered_ranks(values: ArrayLike) -> np.ndarray:
    """Replace each value by its rank, scaled to [−0.5, 0.5] (ties broken by position).

    Rank shaping makes the update invariant to any increasing transformation of the
    returns and stops one lucky episode from dominating a generation.
    """
    x = np.asarray(values, dtype=np.float64)
    flat = x.ravel()
    if flat.size < 2:
        return np.zeros_like(x)
    ranks = np.empty(flat.size, dtype=np.float64)
    ranks[np.argsort(flat, kind="stable")] = np.arange(flat.size)
    return (ranks / (flat.size - 1) - 0.5).reshape(x.shape)


def es_gradient(
    noise: np.ndarray,
    fitness_plus: ArrayLike,
    fitness_minus: ArrayLike,
    sigma: float,
    rank_shaping: bool = True,
) -> np.ndarray:
    """Estimate ∇_θ E[F(θ + σε)] from antithetic pairs (an ascent direction).

    g = 1 / (2 n σ) Σ_i (F(θ + σε_i) − F(θ − σε_i)) ε_i for n pairs. Without shaping this is
    an unbiased estimate of the smoothed gradient (exactly ∇F for a quadratic F). With
    ``rank_shaping`` the 2n fitnesses are first replaced by their centred ranks (taken
    jointly), which keeps the direction but not the scale.
    """
    eps = np.asarray(noise, dtype=np.float64)
    plus = np.asarray(fitness_plus, dtype=np.float64)
    minus = np.asarray(fitness_minus, dtype=np.float64)
    n = eps.shape[0]
    if plus.shape != (n,) or minus.shape != (n,):
        raise ValueError(
            f"need one fitness per pair: noise has {n} rows, got {plus.shape} and {minus.shape}"
        )
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    if rank_shaping:
        shaped = centered_ranks(np.concatenate([plus, minus]))
        plus, minus = shaped[:n], shaped[n:]
    return (plus - minus) @ eps / (2.0 * n * sigma)
