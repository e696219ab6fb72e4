"""The optimizers lab's measurements: the fitted best rate, the aligning shift, the good range."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from practicum.labs.training.optimizers import (
    aligning_shift,
    best_log10_lr,
    epoch_batches,
    good_range_decades,
)

GRID = np.arange(-4.5, 0.51, 0.5)


@given(vertex=st.floats(-4.0, 0.0), curvature=st.floats(0.05, 3.0))
@settings(max_examples=50, deadline=None)
def test_the_best_rate_is_the_vertex_of_an_exact_parabola(vertex: float, curvature: float) -> None:
    losses = np.exp(curvature * (GRID - vertex) ** 2 - 2.0)
    assert best_log10_lr(GRID, losses) == np.float64(best_log10_lr(GRID, losses))
    assert abs(best_log10_lr(GRID, losses) - vertex) < 1e-9


def test_the_best_rate_falls_back_to_the_grid_at_an_edge_or_beside_divergence() -> None:
    rising = np.exp(GRID)
    assert best_log10_lr(GRID, rising) == GRID[0]
    losses = np.exp((GRID + 2.0) ** 2)
    losses[GRID > -1.8] = math.inf  # the neighbour above the best diverged
    assert best_log10_lr(GRID, losses) == -2.0


def sgd_like(log_lrs: np.ndarray) -> np.ndarray:
    """Loss falling with the rate until an edge at 10^-0.5, then rising steeply."""
    return np.exp(-0.6 * (log_lrs + 5.0)) + np.exp(4.0 * (log_lrs + 0.5))


@given(shift=st.floats(0.2, 1.2))  # larger: too few cells left below the best
@settings(max_examples=40, deadline=None)
def test_aligning_shift_recovers_a_known_shift(shift: float) -> None:
    reference = sgd_like(GRID)
    shifted = sgd_like(GRID + shift)  # the same curve, moved left by `shift` decades
    fine = np.arange(0.0, 3.0, 0.001)
    found = aligning_shift(GRID, reference, shifted, below=1.0, shifts=fine)
    # linear interpolation between half-decade cells of a smooth curve: close, not exact
    assert abs(found - shift) < 0.05


def test_aligning_shift_ignores_cells_near_the_best_and_diverged_ones() -> None:
    reference = sgd_like(GRID)
    shifted = sgd_like(GRID + 1.0)
    best = int(np.argmin(shifted))
    shifted[best + 1 :] *= 5.0  # the edge behaves differently: must not move the estimate
    shifted[best - 1] *= 1.5  # nor a cell less than a decade below the best
    shifted[-1] = math.inf
    assert abs(aligning_shift(GRID, reference, shifted, below=1.0) - 1.0) < 0.05
    assert math.isnan(aligning_shift(GRID[:2], reference[:2], shifted[:2], below=1.0))


def test_good_range_counts_the_decades_within_the_factor() -> None:
    losses = np.array([4.0, 2.0, 1.0, 1.5, 2.5, math.inf])
    assert good_range_decades(np.arange(6) * 0.5, losses, 2.0) == 1.5  # 2.0, 1.0, 1.5
    assert good_range_decades(np.arange(6) * 0.5, losses, 1.2) == 0.5


@given(n=st.integers(1, 500), batch=st.integers(1, 64))
@settings(max_examples=40, deadline=None)
def test_an_epoch_is_full_batches_of_distinct_indices(n: int, batch: int) -> None:
    batches = epoch_batches(n, batch, np.random.default_rng(0))
    assert len(batches) == n // batch
    seen = np.concatenate(batches) if batches else np.array([], dtype=int)
    assert all(len(b) == batch for b in batches)
    assert len(set(seen.tolist())) == len(seen) and (len(seen) == 0 or seen.max() < n)
