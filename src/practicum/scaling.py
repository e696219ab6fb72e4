"""Compute-optimal scaling by IsoFLOP profiles (Hoffmann et al. 2022, "Training
Compute-Optimal Large Language Models", Sec. 3.2, Figure 3).

Compute is counted as Kaplan et al. (2020) and Hoffmann et al. do: C = 6·N·D, with N the
non-embedding parameters and D the training tokens (2·N per token forward, twice that
backward). :func:`transformer_training_flops` is the exact count of the matrix products of
practicum's :class:`~practicum.nn.language_model.TransformerLM` (what
``torch.utils.flop_counter`` counts), so the lab can say how far 6·N·D is from it.

At a fixed budget C, loss against log N is close to a parabola (an "IsoFLOP valley");
its vertex is the budget's compute-optimal size N_opt(C), and D_opt = C / (6 N_opt). Power
laws N_opt ∝ C^a and D_opt ∝ C^b are straight lines in log-log space, fitted by least
squares (a + b = 1 exactly, since N_opt·D_opt = C/6).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def flops_6nd(params: float, tokens: float) -> float:
    """Training compute C = 6·N·D (Kaplan et al. 2020, Sec. 2.1)."""
    return 6.0 * params * tokens


def transformer_training_flops(
    width: int, layers: int, context: int, vocab: int, tokens: int
) -> int:
    """FLOPs of the matrix products of one forward and backward pass of ``TransformerLM``
    over ``tokens`` tokens in windows of ``context``: per token and forward, 2 per weight of
    the blocks' linear maps (12·w² a layer: Q, K, V, output, and the 4w MLP), 2·V·w for
    the read-out, and 4·T·w a layer for the attention scores QKᵀ and the weighted sum AV
    over the whole window (the causal mask is applied after the product, so the masked half
    is computed too); the backward pass costs twice the forward (a gradient for the input
    and one for the weight of every product). Embedding look-ups, biases, layer norms and
    softmax are not matrix products and are not counted."""
    per_token = 2 * (12 * layers * width**2 + vocab * width + 2 * context * width * layers)
    return 3 * per_token * tokens


def shape_for(params: float, aspect: float, multiple: int) -> tuple[int, int]:
    """(width, layers) of a transformer with about ``params`` non-embedding parameters
    (12·L·w²) at the aspect ratio w/L ≈ ``aspect``: the depth from the aspect, rounded
    (at least 1), then the width that gives ``params`` at that depth, rounded to a multiple
    of ``multiple`` (the head width). At small sizes depth can only take a few values, so the
    aspect is kept only roughly; Kaplan et al. (Fig. 5) find the loss nearly flat in it."""
    layers = max(1, round((params / (12 * aspect**2)) ** (1 / 3)))
    width = max(multiple, multiple * round(math.sqrt(params / (12 * layers)) / multiple))
    return width, layers


def fit_parabola(x: Sequence[float], y: Sequence[float]) -> tuple[float, float, float]:
    """Least-squares coefficients (c2, c1, c0) of y ≈ c2·x² + c1·x + c0."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 3:
        raise ValueError(f"a parabola needs at least 3 points, got {len(x)}")
    design = np.stack([x**2, x, np.ones_like(x)], axis=1)
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return float(coef[0]), float(coef[1]), float(coef[2])


def parabola_vertex(c2: float, c1: float, c0: float) -> tuple[float, float]:
    """The vertex (x*, y*) of c2·x² + c1·x + c0: x* = −c1 / (2·c2), y* = c0 − c1² / (4·c2)."""
    if c2 == 0:
        raise ValueError("a straight line has no vertex")
    return -c1 / (2 * c2), c0 - c1**2 / (4 * c2)


@dataclass(frozen=True)
class Valley:
    """One budget's IsoFLOP profile reduced to its parabola in log N."""

    budget: float
    coef: tuple[float, float, float]  # loss ≈ c2·(ln N)² + c1·ln N + c0
    n_opt: float
    loss_opt: float
    inside: bool  # a minimum (c2 > 0) within the sampled sizes; else the best sampled point

    @property
    def d_opt(self) -> float:
        return self.budget / (6 * self.n_opt)


def isoflop_valley(budget: float, params: Sequence[float], losses: Sequence[float]) -> Valley:
    """The parabola of loss against ln N at one budget, its vertex N_opt and loss there."""
    x = np.log(np.asarray(params, dtype=float))
    coef = fit_parabola(x, losses)
    if coef[0] > 0:
        x_star, y_star = parabola_vertex(*coef)
        if x.min() <= x_star <= x.max():
            return Valley(budget, coef, float(math.exp(x_star)), float(y_star), True)
    # No minimum inside the sampled sizes: the parabola's vertex (if any) is an
    # extrapolation, so the best sampled size stands in, flagged as outside.
    best = int(np.argmin(losses))
    return Valley(budget, coef, float(params[best]), float(losses[best]), False)


def fit_power_law(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """(exponent, prefactor) of y ≈ prefactor · x^exponent, least squares in log-log space."""
    lx, ly = np.log(np.asarray(x, dtype=float)), np.log(np.asarray(y, dtype=float))
    if len(lx) < 2 or np.ptp(lx) == 0:
        raise ValueError("a power law needs at least two distinct x")
    slope, intercept = np.polyfit(lx, ly, 1)
    return float(slope), float(math.exp(intercept))


def bootstrap_exponent(
    budgets: Sequence[float],
    params: Sequence[Sequence[float]],
    losses: Sequence[Sequence[float]],
    reps: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """The exponent a of N_opt ∝ C^a over ``reps`` bootstrap resamples: each budget's
    (N, loss) points drawn with replacement, its parabola refitted; resamples in which some
    budget has fewer than 3 distinct sizes or no minimum are skipped."""
    out = []
    for _ in range(reps):
        n_opts = []
        for n, loss in zip(params, losses, strict=True):
            n, loss = np.asarray(n, dtype=float), np.asarray(loss, dtype=float)
            pick = rng.integers(0, len(n), len(n))
            if len(set(pick.tolist())) < 3:
                break
            valley = isoflop_valley(1.0, n[pick], loss[pick])
            if valley.coef[0] <= 0:
                break
            n_opts.append(valley.n_opt)
        else:
            out.append(fit_power_law(budgets, n_opts)[0])
    return np.asarray(out)
