"""The adamw lab's measurements: the ridge estimator and its slope on synthetic heatmaps with a
known valley, the choice of best cells and the plan after the grid, and the scale invariance of
the batch-normed network that makes weight decay couple to the learning rate."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from practicum.labs.papers import adamw

LRS = np.logspace(-4, -1.5, 6)
DECAYS = np.logspace(-5, -1, 9)


def valley(slope: float, centre: float, lrs=LRS, decays=DECAYS, depth: float = 0.02):
    """Error over (α, λ) with its minimum along log λ = centre + slope · (log α + 3)."""
    la, ld = np.log10(lrs)[:, None], np.log10(decays)[None, :]
    return 0.1 + depth * (ld - (centre + slope * (la + 3))) ** 2


@given(slope=st.floats(-1.0, 0.5), centre=st.floats(-3.0, -2.5))
@settings(max_examples=30, deadline=None)
def test_ridge_slope_recovers_the_valleys_slope(slope, centre):
    errors = valley(slope, centre)
    fitted, ridge_log, used = adamw.ridge_slope(errors, LRS, DECAYS, tolerance=0.01, columns=1.0)
    assert used.all()
    # the valley stays at least one grid step (0.5 decades) inside the decay grid ([-5, -1]) at
    # every α, so the smoothed argmin sits on it (at the edge it is pulled inwards)
    truth = centre + slope * (np.log10(LRS) + 3)
    assert np.abs(ridge_log - truth).max() < 0.1
    assert fitted == pytest.approx(slope, abs=0.06)


def test_ridge_is_a_weighted_mean_within_the_tolerance():
    errors = np.array([[0.10, 0.105, 0.2], [0.3, 0.2, 0.2]])
    decays = np.array([1e-4, 1e-3, 1e-2])
    ridge_log, best = adamw.ridge(errors, decays, tolerance=0.01)
    # row 0: weights 0.01 and 0.005 on log λ = -4, -3; row 1: a tie, equal weights on -3, -2
    assert ridge_log[0] == pytest.approx((0.01 * -4 + 0.005 * -3) / 0.015)
    assert ridge_log[1] == pytest.approx(-2.5)
    assert best.tolist() == [0.10, 0.2]


def test_ridge_slope_leaves_out_columns_far_from_the_basin():
    errors = valley(-1.0, -3.0)
    errors[0] += 0.5  # the smallest rate is far worse everywhere: it must not enter the fit
    errors[0, 0] -= 0.01  # with its own, misleading, best λ at the grid's edge
    fitted, _, used = adamw.ridge_slope(errors, LRS, DECAYS, tolerance=0.01, columns=0.05)
    assert used.tolist() == [False] + [True] * 5
    assert fitted == pytest.approx(-1.0, abs=0.06)
    errors[3] -= 0.001  # one rate alone is best: one column is not a slope
    nan, _, used = adamw.ridge_slope(errors, LRS, DECAYS, tolerance=0.01, columns=1e-9)
    assert used.sum() == 1 and np.isnan(nan)


def test_best_cells_and_the_plan_after_the_grid():
    config = adamw.Config(
        sgd_lrs=(0.1, 1.0),
        adam_lrs=(1e-3, 1e-2),
        sgd_decays=(1e-4, 1e-3),
        sgdw_decays=(1e-5, 1e-4),
        adam_decays=(1e-4, 1e-3),
        adamw_decays=(1e-4, 1e-3),
        best_seeds=2,
    )
    grid = adamw.grid_jobs(config)
    assert len(grid) == 16 and len({j.key for j in grid}) == 16
    results = {j.key: {"test_error": 0.2} for j in grid}
    results[adamw.Job("adamw", 1e-2, 1e-4).key]["test_error"] = 0.1
    best = adamw.best_cell(config, "adamw", results)
    assert (best.lr, best.decay) == (1e-2, 1e-4)
    assert adamw.best_cell(config, "sgd", results) == grid[0]  # ties: the first cell
    extra = [j for j in adamw.extra_jobs(config, results) if j.name == "adamw"]
    assert extra == [
        adamw.Job("adamw", 1e-2, 1e-4, 1),
        adamw.Job("adamw", 1e-2, 0.0, 0),
        adamw.Job("adamw", 1e-2, 0.0, 1),
    ]
    assert adamw.stream_seed(0, 1, 0) != adamw.stream_seed(0, 0, 0)


def test_the_hidden_weights_of_the_batch_normed_mlp_are_scale_invariant():
    """In training mode, multiplying a hidden weight matrix by c > 0 leaves the output as it is
    and divides that matrix's gradient by c: the reason a decay that shrinks such weights acts
    as a rise of the effective learning rate, coupled to α under L2."""
    torch.manual_seed(0)
    model = adamw.NormMLP(12, 16, 2).double()
    x = torch.randn(32, 12, dtype=torch.float64)
    y = torch.randint(0, 10, (32,))
    first = model.net[1].weight

    def loss_and_grad():
        model.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        return float(loss.detach()), first.grad.clone()

    loss, grad = loss_and_grad()
    with torch.no_grad():
        first.mul_(3.0)
    loss3, grad3 = loss_and_grad()
    assert loss3 == pytest.approx(loss, rel=1e-4)  # batch norm's ε = 1e-5 breaks it slightly
    assert float((grad3 - grad / 3.0).norm()) <= 1e-3 * float((grad / 3.0).norm())
