"""The step schedules of practicum.data.batch_schedule against Smith et al. 2018's (Sec. 5.1,
Fig. 1), their shared noise scale in closed form, the update counts, epochs of batches of any
size, and the batch-size-schedule lab's shared segments and micro-batched gradients."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from practicum.data.batch_schedule import MODES, StepSchedule, even_batches, noise_scale
from practicum.errors import PracticumError
from practicum.labs.papers import batch_size_schedule as lab

PAPER = {"learning_rate": 0.1, "batch_size": 128, "milestones": (60, 120, 160), "factor": 5.0}
N_CIFAR = 50_000

# (epoch counted from 0) -> (learning rate, batch size) of each schedule: Fig. 1 of the paper.
EPOCHS = (0, 59, 60, 119, 120, 159, 160, 199)
TABLE = {
    "decay-lr": [(0.1, 128)] * 2 + [(0.02, 128)] * 2 + [(0.004, 128)] * 2 + [(0.0008, 128)] * 2,
    "grow-batch": [(0.1, 128)] * 2 + [(0.1, 640)] * 2 + [(0.1, 3200)] * 2 + [(0.1, 16000)] * 2,
    "hybrid": [(0.1, 128)] * 2 + [(0.1, 640)] * 2 + [(0.02, 640)] * 2 + [(0.004, 640)] * 2,
}


@pytest.mark.parametrize("mode", MODES)
def test_the_schedules_are_the_papers(mode):
    sched = StepSchedule(**PAPER, mode=mode)
    for epoch, (lr, batch) in zip(EPOCHS, TABLE[mode], strict=True):
        assert sched.learning_rate_at(epoch) == pytest.approx(lr, rel=1e-12), epoch
        assert sched.batch_size_at(epoch) == batch, epoch


def test_the_papers_update_counts():
    """⌈N / B⌉ updates an epoch: 200 × 391 for the decaying rate; the growing batch
    60·391 + 60·79 + 40·16 + 40·4 = 29,000 (0.37 of it), the hybrid 34,520."""
    counts = {m: StepSchedule(**PAPER, mode=m).total_updates(200, N_CIFAR) for m in MODES}
    assert counts == {"decay-lr": 78_200, "grow-batch": 29_000, "hybrid": 34_520}
    assert counts["grow-batch"] / counts["decay-lr"] == pytest.approx(0.3708, abs=1e-4)


@settings(max_examples=60, deadline=None)
@given(
    lr=st.floats(1e-4, 1.0),
    batch=st.integers(1, 256),
    factor=st.integers(1, 10),
    gaps=st.lists(st.integers(1, 20), min_size=0, max_size=4),
    hybrid_steps=st.integers(0, 4),
    n=st.integers(1, 10**6),
    momentum=st.floats(0.0, 0.99),
)
def test_the_three_schedules_follow_one_noise_scale(
    lr, batch, factor, gaps, hybrid_steps, n, momentum
):
    """g(epoch) = g₀ / factor^(steps taken), the same for every mode, at every epoch."""
    milestones = tuple(int(sum(gaps[: i + 1])) for i in range(len(gaps)))
    hybrid_steps = min(hybrid_steps, len(milestones))
    g0 = lr * n / (batch * (1 - momentum))
    for mode in MODES:
        sched = StepSchedule(lr, batch, milestones, float(factor), mode, hybrid_steps)
        for epoch in range(milestones[-1] + 2 if milestones else 2):
            steps = sum(epoch >= m for m in milestones)
            expected = g0 / factor**steps
            assert sched.noise_scale_at(epoch, n, momentum) == pytest.approx(expected, rel=1e-9)


def test_noise_scale_formula():
    assert noise_scale(0.1, 50_000, 128, 0.9) == pytest.approx(0.1 * 50_000 / (128 * 0.1))
    # Scaling ε and B together keeps g; momentum 0.9 multiplies it by 10.
    assert noise_scale(0.2, 1000, 64) == pytest.approx(noise_scale(0.1, 1000, 32))
    assert noise_scale(0.1, 1000, 32, 0.9) == pytest.approx(10 * noise_scale(0.1, 1000, 32))
    with pytest.raises(ValueError):
        noise_scale(0.1, 1000, 32, 1.0)


@settings(max_examples=80, deadline=None)
@given(n=st.integers(0, 700), batch=st.integers(1, 800), seed=st.integers(0, 2**31))
def test_every_example_is_seen_once_per_epoch_whatever_the_batch(n, batch, seed):
    batches = list(even_batches(n, batch, torch.Generator().manual_seed(seed)))
    seen = torch.cat(batches) if batches else torch.empty(0, dtype=torch.long)
    assert torch.equal(seen.sort().values, torch.arange(n))
    assert len(batches) == math.ceil(n / batch)  # the update count of an epoch
    sizes = [len(b) for b in batches]
    assert all(size <= batch for size in sizes)
    assert not sizes or max(sizes) - min(sizes) <= 1
    again = list(even_batches(n, batch, torch.Generator().manual_seed(seed)))
    assert all(torch.equal(a, b) for a, b in zip(batches, again, strict=True))  # reproducible


def test_successive_epochs_are_fresh_permutations():
    gen = torch.Generator().manual_seed(0)
    first, second = (torch.cat(list(even_batches(100, 7, gen))) for _ in range(2))
    assert not torch.equal(first, second)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": "cosine"},
        {"milestones": (60, 60)},
        {"milestones": (0, 60)},
        {"factor": 0.5},
        {"hybrid_batch_steps": 4},
    ],
)
def test_bad_schedules_are_refused_in_one_line(kwargs):
    args = {**PAPER, "mode": "hybrid", **kwargs}
    with pytest.raises(PracticumError):
        StepSchedule(**args)


def test_a_batch_of_zero_is_refused():
    with pytest.raises(PracticumError):
        list(even_batches(10, 0))


# ---- the lab -------------------------------------------------------------------------------
def test_the_labs_segments_share_what_the_schedules_share():
    """Per repeat: one first phase for all three, the second shared by grow-batch and hybrid:
    9 segments instead of 12; every schedule's path is a chain of parent and child."""
    config = lab.Config(seeds=2)
    segments = lab.plan(config)
    assert len(segments) == 2 * 9
    by_key = {s.key: s for s in segments}
    for r in range(2):
        for mode in MODES:
            keys = lab.path(config, mode, r)
            assert by_key[keys[0]].parent is None and by_key[keys[-1]].leaf
            for parent, child in zip(keys, keys[1:], strict=False):
                assert by_key[child].parent == parent
                assert by_key[child].start == by_key[parent].stop
            assert all(mode in by_key[k].modes for k in keys)
        first = lab.path(config, "decay-lr", r)[0]
        assert set(by_key[first].modes) == set(MODES)
        assert lab.path(config, "grow-batch", r)[1] == lab.path(config, "hybrid", r)[1]
    positions = {s.key: i for i, s in enumerate(segments)}
    assert all(positions[s.parent] < positions[s.key] for s in segments if s.parent)


def test_the_labs_full_run_meets_its_update_target_and_keeps_the_batch_small():
    config = lab.Config()
    n = config.train_size
    updates = {m: lab.schedule(config, m).total_updates(config.epochs, n) for m in MODES}
    assert updates["grow-batch"] / updates["decay-lr"] <= 0.5
    assert lab.schedule(config, "grow-batch").max_batch_size() <= n / 4
    # The initial noise scale is the paper's (391) within 5%.
    paper = noise_scale(0.1, N_CIFAR, 128, 0.9)
    ours = noise_scale(config.learning_rate, n, config.batch_size, config.momentum)
    assert ours == pytest.approx(paper, rel=0.05)


def test_micro_batches_give_the_gradient_of_one_pass():
    """Group normalisation is per example, so summing micro-batch gradients of the summed
    loss / B is the gradient of the batch's mean loss."""
    config = lab.Config(widths=(8, 16))
    model = lab.build(config, 10, seed=0, device="cpu")
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(37, 3, 8, 8, generator=gen), torch.randint(0, 10, (37,), generator=gen)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    whole = torch.autograd.grad(loss, list(model.parameters()))
    model.zero_grad()
    mean = lab.accumulate_gradient(model, x, y, micro_batch=5)
    assert mean == pytest.approx(float(loss.detach()), rel=1e-6)
    for g, p in zip(whole, model.parameters(), strict=True):
        torch.testing.assert_close(p.grad, g, rtol=1e-5, atol=1e-7)


def test_builds_of_one_seed_are_the_same_network_and_leave_the_global_generator():
    config = lab.Config(widths=(8, 16))
    state = torch.get_rng_state()
    a, b = (lab.build(config, 10, seed=3, device="cpu") for _ in range(2))
    assert torch.equal(torch.get_rng_state(), state)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)


@pytest.mark.parametrize(
    "overrides",
    [{"batch_size": 200}, {"train_size": 49_000}, {"milestones": (3, 12)}, {"widths": (12,)}],
)
def test_the_lab_refuses_a_schedule_it_cannot_run_before_it_starts(overrides):
    """A largest batch above the training set, more images than there are, a step after the
    end, a width the groups do not divide: one line from validate(), before any folder."""
    with pytest.raises(PracticumError):
        lab.Config(**overrides).validate()
    lab.Config().validate()  # the defaults pass
