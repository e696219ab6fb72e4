"""Mutual information of a deterministic network's layers with its input and its label.

The setting of Shwartz-Ziv & Tishby 2017 and Saxe et al. 2018: X is uniform over a finite set
of N inputs, a layer's activity T = f(X) is a deterministic function of X, and Y is the label
of each input. Two estimators, both in bits:

* Binning (Shwartz-Ziv & Tishby): each unit's activity is cut into bins, ``bins`` equal
  ones of [lo, hi] (:func:`bin_codes`) or bins of one width from 0 (:func:`width_codes`, as
  Saxe et al.'s code bins every layer). With T the binned activity, a deterministic function of X, H(T|X) = 0, so I(X;T) = H(T), and
  I(T;Y) = H(T) − Σ_y p(y) H(T | Y = y).
* Kernel density (Kolchinsky & Tracey 2017, the upper bound Saxe et al. use): T + ε with
  Gaussian noise ε ~ N(0, σ²I) is a mixture of N Gaussians, one at each input's activity, and
  the pairwise-distance bound with the KL divergence gives
  I(X; T+ε) ≤ −(1/N) Σ_i log (1/N) Σ_j exp(−‖t_i − t_j‖² / 2σ²);
  I(T;Y) = I(X;T) − Σ_y p(y) I(X;T | Y = y), each term the same bound on the inputs of class y.

Each input counts once (weights 1/N), so a data set that repeats an input would count it twice.
"""

from __future__ import annotations

import math

import numpy as np

LN2 = math.log(2.0)


def entropy_bits(codes: np.ndarray) -> float:
    """Shannon entropy (bits) of the empirical distribution of the rows of ``codes``
    (N,) or (N, d) integers: each row one equally likely outcome."""
    codes = np.asarray(codes)
    if codes.ndim == 1:
        codes = codes[:, None]
    if len(codes) == 0:
        return 0.0
    _, counts = np.unique(codes, axis=0, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def bin_codes(t: np.ndarray, lo: float, hi: float, bins: int = 30) -> np.ndarray:
    """Each unit's activity as the index of its bin among ``bins`` equal bins of [lo, hi]
    (values at or beyond an end go to the end bin): (N, d) int64. An empty range (hi ≤ lo,
    a ReLU layer that is all zero) puts everything in bin 0."""
    t = np.asarray(t, dtype=np.float64)
    if hi <= lo:
        return np.zeros(t.shape, dtype=np.int64)
    idx = np.floor((t - lo) / (hi - lo) * bins).astype(np.int64)
    return np.clip(idx, 0, bins - 1)


def width_codes(t: np.ndarray, width: float) -> np.ndarray:
    """Each unit's activity as the index of its bin among bins of ``width`` from 0 (floor of
    t / width; as many as the activity reaches, negative below 0): (N, d) int64. The binning of
    Saxe et al.'s code, one bin size for every layer, whatever its range."""
    return np.floor(np.asarray(t, dtype=np.float64) / width).astype(np.int64)


def binned_information(codes: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(I(X;T), I(T;Y)) in bits, for T = ``codes`` (one row per input, inputs equally likely,
    T a deterministic function of X) and labels ``y``."""
    y = np.asarray(y)
    h_t = entropy_bits(codes)
    h_t_given_y = 0.0
    for label in np.unique(y):
        mask = y == label
        h_t_given_y += float(mask.mean()) * entropy_bits(np.asarray(codes)[mask])
    return h_t, float(h_t - h_t_given_y)


def _squared_distances(t: np.ndarray, rows: slice) -> np.ndarray:
    a = t[rows]
    d = (a * a).sum(1)[:, None] + (t * t).sum(1)[None, :] - 2.0 * a @ t.T
    return np.maximum(d, 0.0)


def kde_input_information(t: np.ndarray, noise_variance: float, chunk: int = 512) -> float:
    """Kolchinsky & Tracey's pairwise-distance upper bound on I(X; T + ε), ε ~ N(0, σ²I), in
    bits: −(1/N) Σ_i log (1/N) Σ_j exp(−‖t_i − t_j‖² / 2σ²). Between 0 (all t_i equal, or
    σ² → ∞) and log2 N (all far apart)."""
    t = np.asarray(t, dtype=np.float64)
    n = len(t)
    if n == 0:
        return 0.0
    total = 0.0
    for start in range(0, n, chunk):
        d = _squared_distances(t, slice(start, min(start + chunk, n)))
        # Each row holds its own zero distance, so the largest exponent is 0: no overflow, and
        # the sum is at least 1.
        total += float(np.log(np.exp(-d / (2.0 * noise_variance)).sum(1)).sum())
    return (math.log(n) - total / n) / LN2


def kde_information(t: np.ndarray, y: np.ndarray, noise_variance: float) -> tuple[float, float]:
    """(I(X;T), I(T;Y)) in bits by the kernel-density upper bound (Saxe et al.'s estimator):
    I(T;Y) = I(X;T) − Σ_y p(y) I(X;T | Y = y)."""
    t = np.asarray(t, dtype=np.float64)
    y = np.asarray(y)
    i_xt = kde_input_information(t, noise_variance)
    conditional = 0.0
    for label in np.unique(y):
        mask = y == label
        conditional += float(mask.mean()) * kde_input_information(t[mask], noise_variance)
    return i_xt, float(i_xt - conditional)


def compression(trajectory: np.ndarray) -> float:
    """How far a layer's I(X;T) falls from its peak to the end of training: max − last (bits;
    0 for a trajectory that never falls below its peak at the end)."""
    trajectory = np.asarray(trajectory, dtype=np.float64)
    return float(trajectory.max() - trajectory[-1])


def log_spaced_epochs(total: int, points: int) -> list[int]:
    """About ``points`` distinct epochs from 0 (the initial network) to ``total``, spaced
    evenly in log(1 + epoch), always including 0 and ``total``."""
    grid = np.expm1(np.linspace(0.0, math.log1p(total), points))
    return sorted({0, total, *(int(round(e)) for e in grid)})
