"""Super-convergence: the 1cycle and step schedules, the range test's reading, the speed-up."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from practicum.errors import PracticumError
from practicum.labs.papers import super_convergence as lab
from practicum.nn.lr_schedules import OneCycle, PiecewiseConstant, plateau_end, range_rate


def test_one_cycle_is_the_papers_triangle_then_an_annealing():
    c = OneCycle(3.0, 1000, div=30, cycle=0.9, final_div=100)
    assert c.lr(0) == pytest.approx(0.1)  # the paper's 0.1 to 3
    assert c.lr(450) == pytest.approx(3.0)  # the top at 45%
    assert c.lr(225) == pytest.approx((0.1 + 3.0) / 2)  # linear on the way up
    assert c.lr(675) == pytest.approx((0.1 + 3.0) / 2)  # and down, symmetric
    assert c.lr(900) == pytest.approx(0.1)  # back at the bottom after 90%
    assert c.lr(999) == pytest.approx(0.001)  # then two orders of magnitude lower
    lrs = [c.lr(s) for s in range(1000)]
    assert np.all(np.diff(lrs[:451]) > 0) and np.all(np.diff(lrs[450:]) < 0)


def test_cyclical_momentum_moves_against_the_rate():
    c = OneCycle(1.0, 200, momentum_high=0.95, momentum_low=0.85)
    assert c.momentum(0) == pytest.approx(0.95)
    assert c.momentum(90) == pytest.approx(0.85)
    assert c.momentum(180) == pytest.approx(0.95)
    assert c.momentum(199) == pytest.approx(0.95)  # constant while annealing
    # where the rate is high the momentum is low: a linear map of one another in the cycle
    for s in range(0, 180):
        up = (c.lr(s) - c.low) / (c.max_lr - c.low)
        assert c.momentum(s) == pytest.approx(0.95 - 0.1 * up)


@given(
    st.floats(0.01, 10),
    st.integers(3, 5000),
    st.floats(1.5, 100),
    st.floats(0.05, 1.0),
)
@settings(max_examples=60, deadline=None)
def test_one_cycle_stays_between_its_end_and_its_top(max_lr, total, div, cycle):
    c = OneCycle(max_lr, total, div=div, cycle=cycle)
    lrs = np.array([c.lr(s) for s in range(total)])
    assert lrs.max() <= max_lr * (1 + 1e-12)
    assert lrs.min() >= c.low / c.final_div * (1 - 1e-12)
    assert np.all(np.isfinite(lrs))


def test_bad_cycles_are_refused():
    for kwargs in ({"max_lr": 0.0, "total": 10}, {"max_lr": 1.0, "total": 2}):
        with pytest.raises(ValueError):
            OneCycle(**kwargs)


def test_piecewise_constant_divides_at_each_milestone():
    s = PiecewiseConstant(0.1, (500, 750), 0.1)
    assert [s.lr(t) for t in (0, 499, 500, 749, 750, 999)] == pytest.approx(
        [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    )


def test_the_range_rises_linearly_from_low_to_high():
    assert range_rate(0, 11, 0.0, 4.0) == 0.0
    assert range_rate(10, 11, 0.0, 4.0) == pytest.approx(4.0)
    assert range_rate(5, 11, 0.0, 4.0) == pytest.approx(2.0)


def test_plateau_end_reads_the_last_rate_before_the_fall():
    rates = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]
    acc = [0.30, 0.50, 0.52, 0.51, 0.49, 0.40, 0.20]
    assert plateau_end(rates, acc, 0.05) == 2.5  # 0.40 is the first point > 0.05 below 0.52
    assert plateau_end(rates, acc, 0.15) == 3.0
    assert plateau_end(rates, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], 0.05) == 3.5  # never falls
    assert plateau_end(rates, [0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], 0.05) == 0.5  # at once


@given(  # accuracies and offsets on a binary grid, so that adding the offset is exact
    st.lists(st.integers(0, 64).map(lambda k: k / 64), min_size=1, max_size=40),
    st.floats(0, 0.5),
    st.sampled_from([-0.5, -0.25, 0.25, 0.5]),
)
@settings(max_examples=100, deadline=None)
def test_plateau_end_is_past_the_peak_and_blind_to_an_offset(acc, tol, offset):
    rates = list(np.linspace(0.1, 4.0, len(acc)))
    got = plateau_end(rates, acc, tol)
    assert got >= rates[int(np.argmax(acc))]
    assert got == plateau_end(rates, [a + offset for a in acc], tol)
    # every accuracy from the peak to the answer is within the tolerance of the peak
    k, peak = rates.index(got), int(np.argmax(acc))
    assert min(acc[peak : k + 1]) >= max(acc) - tol


def test_the_speedup_is_the_first_crossing_or_a_lower_bound():
    curve = [(100, 0.5), (200, 0.6), (300, 0.7), (400, 0.69), (800, 0.8)]
    assert lab.speedup(0.7, curve, 100, 800) == (3.0, True)
    assert lab.speedup(0.75, curve, 100, 800) == (8.0, True)
    assert lab.speedup(0.9, curve, 100, 800) == (8.0, False)


def test_batches_are_fresh_permutations_of_full_size():
    g = torch.Generator().manual_seed(0)
    b = lab.Batches(10, 3, g)
    seen = [b.next() for _ in range(3)]  # one epoch: 9 of 10, the last incomplete one dropped
    flat = torch.cat(seen)
    assert len(set(flat.tolist())) == 9 and all(len(s) == 3 for s in seen)
    assert len(b.next()) == 3  # a new epoch
    with pytest.raises(PracticumError):
        lab.Batches(2, 3, g)


def test_the_training_loop_follows_the_schedule_it_is_given():
    config = lab.Config(
        data="digits", train_size=0, val_size=200, resolution=8, widths=(4, 8, 8),
        batch_size=32, eval_batch=500,
    )  # fmt: skip
    data = lab.load(config, 0, "cpu")

    class Quiet:
        seed, device = 0, "cpu"

        def log(self, **_):
            pass

        def print(self, *_):
            pass

    cycle = OneCycle(0.5, 12)
    history = lab.train(
        config, data, 0, 12, cycle.lr, cycle.momentum, 4, (data.x_val, data.y_val), Quiet(), "t"
    )
    assert [h["step"] for h in history] == [4, 8, 12]
    assert [h["lr"] for h in history] == pytest.approx([cycle.lr(3), cycle.lr(7), cycle.lr(11)])
    assert all(math.isfinite(h["loss"]) and 0 <= h["accuracy"] <= 1 for h in history)
    # a divergent rate ends the training with one finite record
    history = lab.train(
        config, data, 0, 50, lambda s: 1e6 * (s + 1), lambda s: 0.9, 10,
        (data.x_val, data.y_val), Quiet(), "t",
    )  # fmt: skip
    assert history[-1]["loss"] == 1e6 and len(history) <= 5


@pytest.mark.parametrize(
    "overrides",
    [
        {"range_low": 2.0, "range_high": 1.0},
        {"momentum_low": 0.99},
        {"step_milestones": (0.75, 0.5)},
        {"resolution": 12},
        {"train_size": 60_000},
    ],
)
def test_the_lab_refuses_a_config_it_cannot_run(overrides):
    with pytest.raises(PracticumError):
        lab.Config(**overrides).validate()


def test_the_centred_mean_averages_neighbours_and_keeps_length():
    from practicum.nn.lr_schedules import centred_mean

    got = centred_mean([0.0, 3.0, 0.0, 3.0], 3)
    assert got == pytest.approx([1.5, 1.0, 2.0, 1.5])
    assert list(centred_mean([1.0, 2.0], 1)) == [1.0, 2.0]


def test_one_lucky_evaluation_is_not_the_peak_once_smoothed():
    rates = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]
    acc = [0.30, 0.36, 0.38, 0.37, 0.45, 0.30, 0.29]  # a spike at 2.5 among falling values
    assert plateau_end(rates, acc, 0.0) == 2.5
    assert plateau_end(rates, acc, 0.0, window=3) == 2.0
