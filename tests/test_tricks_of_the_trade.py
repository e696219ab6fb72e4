"""The tricks of the trade (practicum.tricks) against their formulas and references, and the
tricks-of-the-trade lab's plan: one trick per row, common random numbers, the table."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from torch import nn

from practicum import tricks
from practicum.labs.training import tricks_of_the_trade as lab

floats = st.floats(-5.0, 5.0, allow_nan=False, width=32)


# ---- label smoothing -----------------------------------------------------------------------
@given(
    n=st.integers(1, 6),
    k=st.integers(2, 7),
    eps=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=40, deadline=None)
def test_label_smoothing_is_the_naive_formula_and_torchs(n, k, eps, seed):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, k, generator=g, dtype=torch.float64) * 3
    labels = torch.randint(0, k, (n,), generator=g)
    ours = tricks.label_smoothing_loss(logits, labels, eps)
    # the naive formula: each example's target puts 1 − ε + ε/K on its class, ε/K elsewhere
    naive = 0.0
    for i in range(n):
        p = torch.softmax(logits[i], 0)
        for c in range(k):
            q = (1 - eps) * float(c == int(labels[i])) + eps / k
            naive -= q * math.log(float(p[c]))
    assert float(ours) == pytest.approx(naive / n, rel=1e-9, abs=1e-12)
    torchs = F.cross_entropy(logits, labels, label_smoothing=eps)
    assert float(ours) == pytest.approx(float(torchs), rel=1e-9, abs=1e-12)


def test_smoothed_targets_sum_to_one_and_refuse_bad_eps():
    t = tricks.smoothed_targets(torch.tensor([0, 2]), 4, 0.2)
    assert torch.allclose(t.sum(1), torch.ones(2))
    assert t[0].tolist() == pytest.approx([0.85, 0.05, 0.05, 0.05])
    with pytest.raises(ValueError):
        tricks.smoothed_targets(torch.tensor([0]), 4, 1.5)


# ---- mixup ---------------------------------------------------------------------------------
@given(seed=st.integers(0, 2**16), alpha=st.floats(0.05, 5.0), n=st.integers(1, 9))
@settings(max_examples=40, deadline=None)
def test_mixup_is_one_convex_combination_of_inputs_and_of_labels(seed, alpha, n):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 2, 2, generator=g, dtype=torch.float64)
    y = torch.randint(0, 5, (n,), generator=g)
    m = tricks.mixup(x, y, 5, alpha, torch.Generator().manual_seed(seed))
    assert 0.0 <= m.lam <= 1.0
    assert sorted(m.partner.tolist()) == list(range(n))  # a permutation of the batch
    j = m.partner
    assert torch.allclose(m.x, m.lam * x + (1 - m.lam) * x[j])
    one_hot = F.one_hot(y, 5).double()
    assert torch.allclose(m.targets, m.lam * one_hot + (1 - m.lam) * one_hot[j])
    assert torch.allclose(m.targets.sum(1), torch.ones(n, dtype=torch.float64))
    # the same generator state gives the same mix
    again = tricks.mixup(x, y, 5, alpha, torch.Generator().manual_seed(seed))
    assert again.lam == m.lam and torch.equal(again.partner, m.partner)
    # the cross-entropy is linear in the target: λ CE(y) + (1 − λ) CE(y_partner)
    logits = torch.randn(n, 5, generator=g, dtype=torch.float64)
    mixed = tricks.soft_cross_entropy(logits, m.targets)
    split = m.lam * F.cross_entropy(logits, y) + (1 - m.lam) * F.cross_entropy(logits, y[j])
    assert float(mixed) == pytest.approx(float(split), rel=1e-9)


def test_mixups_lambda_follows_beta_alpha_alpha():
    g = torch.Generator().manual_seed(0)
    x, y = torch.zeros(2, 1), torch.tensor([0, 1])
    lams = [tricks.mixup(x, y, 2, 0.4, g).lam for _ in range(2000)]
    assert stats.kstest(lams, stats.beta(0.4, 0.4).cdf).pvalue > 0.01
    with pytest.raises(ValueError):
        tricks.mixup(x, y, 2, 0.0, g)


# ---- warm-up, clipping ---------------------------------------------------------------------
def test_warmup_rises_linearly_then_stays_at_one():
    assert [tricks.warmup_multiplier(s, 4) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert tricks.warmup_multiplier(0, 0) == 1.0
    with pytest.raises(ValueError):
        tricks.warmup_multiplier(-1, 3)


@given(seed=st.integers(0, 2**16), max_norm=st.floats(1e-3, 10.0))
@settings(max_examples=40, deadline=None)
def test_clipping_bounds_the_global_norm_and_matches_torch(seed, max_norm):
    torch.manual_seed(seed)
    a, b = nn.Linear(4, 3), nn.Linear(4, 3)
    b.load_state_dict(a.state_dict())
    x = torch.randn(8, 4) * 5
    for m in (a, b):
        m(x).pow(2).sum().backward()
    before = float(torch.sqrt(sum(p.grad.double().pow(2).sum() for p in a.parameters())))
    g0 = [p.grad.clone() for p in a.parameters()]
    norm = tricks.clip_global_norm_(a.parameters(), max_norm)
    assert norm == pytest.approx(before, rel=1e-9)
    after = float(torch.sqrt(sum(p.grad.double().pow(2).sum() for p in a.parameters())))
    assert after <= max_norm * (1 + 1e-5) + 1e-9
    if before <= max_norm:  # untouched below the ceiling
        assert all(torch.equal(p.grad, g) for p, g in zip(a.parameters(), g0, strict=True))
    else:  # the direction kept, the norm at the ceiling
        assert after == pytest.approx(max_norm, rel=1e-5)
    torch.nn.utils.clip_grad_norm_(b.parameters(), max_norm)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.allclose(p.grad, q.grad, rtol=1e-5, atol=1e-7)


# ---- early stopping, ensembles -------------------------------------------------------------
def test_early_stopping_keeps_the_best_validation_epoch_and_stops_after_patience():
    model = nn.Linear(1, 1, bias=False)
    scores = [50.0, 60.0, 58.0, 61.0, 61.0, 59.0, 60.0, 80.0]
    stopper = tricks.EarlyStopping(patience=3)
    said = []
    for epoch, score in enumerate(scores):
        with torch.no_grad():
            model.weight.fill_(float(epoch))  # the weights remember their epoch
        said.append(stopper.update(epoch, score, model))
    # 61 at epoch 3 is the best (a tie at epoch 4 is no improvement); three epochs without a
    # strict improvement later (epoch 6) it stops, so the 80 after it is never seen
    assert stopper.best_epoch == 3 and stopper.best == 61.0
    assert said == [False] * 6 + [True, True]
    assert stopper.stopped_epoch == 6
    assert float(stopper.state["weight"]) == 3.0
    with pytest.raises(ValueError):
        tricks.EarlyStopping(0)


@given(seed=st.integers(0, 2**16), members=st.integers(1, 5))
@settings(max_examples=30, deadline=None)
def test_an_ensemble_averages_probabilities(seed, members):
    g = torch.Generator().manual_seed(seed)
    logits = [torch.randn(6, 4, generator=g) * 4 for _ in range(members)]
    p = tricks.ensemble_probabilities(logits)
    expected = sum(torch.softmax(z, 1) for z in logits) / members
    assert torch.allclose(p, expected, atol=1e-6)
    assert torch.allclose(p.sum(1), torch.ones(6), atol=1e-6)
    with pytest.raises(ValueError):
        tricks.ensemble_probabilities([])


# ---- the paired test -----------------------------------------------------------------------
@given(
    a=st.lists(st.floats(50, 100), min_size=2, max_size=10),
    shift=st.floats(-3, 3),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=60, deadline=None)
def test_paired_t_test_equals_scipys_ttest_rel(a, shift, seed):
    noise = np.random.default_rng(seed).normal(0, 0.5, len(a))
    b = np.asarray(a) + shift + noise
    ours = tricks.paired_t_test(a, b)
    ref = stats.ttest_rel(b, a)
    assert ours.t == pytest.approx(ref.statistic, rel=1e-6, abs=1e-9)
    assert ours.p == pytest.approx(ref.pvalue, rel=1e-6, abs=1e-12)
    d = b - np.asarray(a)
    assert ours.mean == pytest.approx(d.mean()) and ours.n == len(a)
    assert ours.ci_low <= ours.mean <= ours.ci_high
    # the interval is where a test of that mean would not reject at 5%
    half = stats.t.ppf(0.975, len(a) - 1) * d.std(ddof=1) / math.sqrt(len(a))
    assert ours.ci_high - ours.mean == pytest.approx(half, rel=1e-6, abs=1e-12)


def test_paired_t_test_edge_cases():
    same = tricks.paired_t_test([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert same.p == 1.0 and same.t == 0.0 and not same.significant()
    shifted = tricks.paired_t_test([1.0, 2.0, 3.0], [2.0, 3.0, 4.0])  # every difference +1
    assert shifted.p == 0.0 and shifted.t == math.inf and shifted.significant()
    with pytest.raises(ValueError):
        tricks.paired_t_test([1.0], [2.0])


# ---- the lab: initialisation, one trick per row, common random numbers -------------------
def test_he_and_naive_initialisation_scale_the_same_draws():
    he = lab.MLP(784, 512, 2)
    naive = lab.MLP(784, 512, 2)
    lab.initialise(he, "he", 0.01, seed=7)
    lab.initialise(naive, "naive", 0.01, seed=7)
    for a, b in zip(he.net, naive.net, strict=True):
        if isinstance(a, nn.Linear):
            fan_in = a.weight.shape[1]
            assert float(a.weight.detach().var()) == pytest.approx(2.0 / fan_in, rel=0.05)
            assert float(b.weight.detach().std()) == pytest.approx(0.01, rel=0.05)
            assert torch.allclose(a.weight / math.sqrt(2 / fan_in), b.weight / 0.01, atol=1e-5)
            assert not a.bias.any() and not b.bias.any()


def test_he_keeps_the_signal_through_depth_where_naive_loses_it():
    x = torch.randn(2000, 784)
    variances = {}
    for scheme in ("he", "naive"):
        model = lab.MLP(784, 256, 4)
        lab.initialise(model, scheme, 0.01, seed=0)
        with torch.no_grad():
            variances[scheme] = float(model(x).var())
    assert 0.3 < variances["he"] < 3.0  # He et al.: the variance survives every ReLU layer
    assert variances["naive"] < 1e-8  # each layer multiplies it by fan_in · 1e-4 / 2 < 0.04


def test_each_row_switches_on_exactly_one_trick():
    config = lab.Config()
    base = lab.setting("baseline", config)
    assert base == lab.Setting()
    changed = set()
    for row in lab.ROWS:
        s = lab.setting(row, config)
        diff = [f for f in lab.Setting.__dataclass_fields__ if getattr(s, f) != getattr(base, f)]
        if row in ("baseline", "early_stopping", "ensemble"):
            assert diff == [], row
        else:
            assert len(diff) == 1, (row, diff)
            changed |= set(diff)
    assert changed == set(lab.Setting.__dataclass_fields__)  # every trick has its row


def test_the_plan_and_its_common_random_numbers():
    config = lab.Config(seeds=3, ensemble_size=5)
    jobs = lab.plan(config)
    assert len(jobs) == 3 * (len(lab.TRAINED) + 4)
    assert len({j.key for j in jobs}) == len(jobs)
    # every row of a seed shares the streams; ensemble members and other seeds do not
    s0 = {lab.streams(0, j) for j in jobs if j.repeat == 0 and j.member == 0}
    assert len(s0) == 1
    members = {lab.streams(0, j) for j in jobs if j.repeat == 0}
    assert len(members) == 5
    assert lab.streams(0, lab.Job("baseline", 1)) not in members
    assert lab.streams(1, lab.Job("baseline", 0)) not in members  # and they follow run.seed


def test_the_table_holds_every_rows_paired_test():
    config = lab.Config(seeds=3)
    rng = np.random.default_rng(0)
    accs = {row: list(80 + rng.normal(0, 1, 3)) for row in lab.ROWS}
    accs["ensemble"] = [a + 1.0 + 0.01 * i for i, a in enumerate(accs["baseline"])]
    metrics, markdown = lab.table(config, accs)
    test = tricks.paired_t_test(accs["baseline"], accs["dropout"])
    assert metrics["dropout_gain"] == pytest.approx(test.mean)
    assert metrics["dropout_p"] == pytest.approx(test.p)
    assert metrics["ensemble_gain"] == pytest.approx(1.01)
    assert metrics["ensemble_significant"] == 1.0 and metrics["ensemble_p"] < 1e-3
    assert metrics["baseline_acc_std"] == pytest.approx(np.std(accs["baseline"], ddof=1))
    assert len([r for r in markdown.splitlines() if r.startswith("| ")]) == 1 + len(lab.ROWS)
    assert "| ensemble | " in markdown and "yes, a gain" in markdown


def test_a_training_on_generated_images_learns_and_early_stopping_reports_its_pick():
    g = torch.Generator().manual_seed(0)
    config = lab.Config(data="digits", train_size=200, val_size=100, width=16, epochs=6,
                        batch_size=32, naive_std=0.1, patience=2)  # fmt: skip
    centres = torch.rand(10, 1, 8, 8, generator=g)

    def images(n):
        y = torch.randint(0, 10, (n,), generator=g)
        return (centres[y] + 0.1 * torch.randn(n, 1, 8, 8, generator=g)).clamp(0, 1), y

    x, y = images(200)
    xv, yv = images(100)
    xt, yt = images(100)
    data = lab.Split(x, y, xv, yv, xt, yt, float(x.mean()), float(x.std()))
    # (not augmentation: these random patterns, unlike garments, change class when shifted)
    for row in ("he_init", "batch_norm", "label_smoothing", "mixup", "grad_clip"):
        trick = dataclasses.replace(lab.setting(row, config), init="he")  # learns in 6 epochs
        result = lab.train(config, trick, data, (1, 2, 3), "cpu")
        assert result["test_acc"] >= 60.0, row  # chance is 10%
        assert len(result["val_acc"]) == 6 and 1 <= result["early_stopping_epoch"] <= 6
        seen = result["val_acc"][: result["early_stopping_stopped"]]  # until it said stop
        assert result["val_acc"][result["early_stopping_epoch"] - 1] == max(seen)
    again = lab.train(config, trick, data, (1, 2, 3), "cpu")  # grad_clip again: the same bits
    assert again["test_acc"] == result["test_acc"] and 0 <= again["clipped_fraction"] <= 1
