"""The mathematics under the double-descent lab: the minimum-norm least-squares fit, random ReLU
features, label noise, and the peak measures the targets read."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from practicum.data.label_noise import corrupt_labels
from practicum.labs.papers.double_descent import peak, prominence, threshold
from practicum.random_features import draw_features, min_norm_fit, relu_features


def _problem(n: int, n_features: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(n, n_features, generator=g, dtype=torch.float64),
        torch.randn(n, 3, generator=g, dtype=torch.float64),
    )


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 30), n_features=st.integers(1, 30), seed=st.integers(0, 10_000))
def test_min_norm_fit_is_the_pseudo_inverse_solution(n: int, n_features: int, seed: int) -> None:
    phi, y = _problem(n, n_features, seed)
    expected = torch.linalg.pinv(phi) @ y
    torch.testing.assert_close(min_norm_fit(phi, y), expected, rtol=1e-7, atol=1e-9)


def test_underparameterised_fit_solves_the_normal_equations() -> None:
    phi, y = _problem(40, 7, 0)
    a = min_norm_fit(phi, y)
    # The residual is orthogonal to the columns of Φ: Φᵀ(Φa − y) = 0.
    torch.testing.assert_close(
        phi.T @ (phi @ a - y), torch.zeros(7, 3, dtype=torch.float64), atol=1e-10, rtol=0
    )


def test_overparameterised_fit_interpolates_with_the_smallest_norm() -> None:
    phi, y = _problem(10, 25, 1)
    a = min_norm_fit(phi, y)
    torch.testing.assert_close(phi @ a, y, atol=1e-10, rtol=0)
    # Any other interpolant differs by a null-space direction of Φ, orthogonal to a, so it is longer.
    _, _, vh = torch.linalg.svd(phi)
    null = vh[10:].T  # (25, 15): Φ @ null = 0
    g = torch.Generator().manual_seed(2)
    other = a + null @ torch.randn(15, 3, generator=g, dtype=torch.float64)
    torch.testing.assert_close(phi @ other, y, atol=1e-10, rtol=0)
    assert torch.linalg.norm(other) > torch.linalg.norm(a)
    torch.testing.assert_close(
        null.T @ a, torch.zeros(15, 3, dtype=torch.float64), atol=1e-10, rtol=0
    )


def test_rank_deficient_features_get_the_minimum_norm_fit() -> None:
    phi, y = _problem(12, 5, 3)
    phi = torch.cat([phi, phi[:, :2]], dim=1)  # two repeated columns: rank 5 of 7
    torch.testing.assert_close(
        min_norm_fit(phi, y), torch.linalg.pinv(phi) @ y, rtol=1e-7, atol=1e-9
    )


def test_relu_features_scale_and_reproducibility() -> None:
    w1, b1 = draw_features(4000, 50, torch.Generator().manual_seed(0))
    w2, b2 = draw_features(4000, 50, torch.Generator().manual_seed(0))
    assert torch.equal(w1, w2) and torch.equal(b1, b2)
    # Var(w) = 1/d gives pre-activations w·x + b of variance |x|²/d + 1 = 2 for |x|² = d.
    x = torch.ones(1, 50, dtype=torch.float64)
    pre = (x @ w1.T + b1).squeeze()
    assert abs(pre.var().item() - 2.0) < 0.15
    # With the 1/√N scaling, the squared feature norm is E[ReLU(z)²] = Var(z)/2 = 1.
    phi = relu_features(x, w1, b1)
    assert abs(phi.pow(2).sum().item() - 1.0) < 0.08
    assert torch.all(phi >= 0)


def test_draw_features_rejects_empty_shapes() -> None:
    with pytest.raises(ValueError):
        draw_features(0, 3, torch.Generator())


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 300),
    fraction=st.floats(0, 1),
    num_classes=st.integers(2, 12),
    seed=st.integers(0, 1000),
)
def test_corrupt_labels_flips_exactly_the_fraction_to_other_classes(
    n: int, fraction: float, num_classes: int, seed: int
) -> None:
    labels = torch.as_tensor(np.random.default_rng(seed).integers(0, num_classes, n))
    noisy, mask = corrupt_labels(labels, fraction, num_classes, seed)
    assert int(mask.sum()) == round(fraction * n)
    assert torch.all(noisy[mask] != labels[mask])
    assert torch.equal(noisy[~mask], labels[~mask])
    assert noisy.min() >= 0 and noisy.max() < num_classes
    again, _ = corrupt_labels(labels, fraction, num_classes, seed)
    assert torch.equal(noisy, again)


def test_corrupt_labels_wrong_class_is_uniform() -> None:
    labels = torch.zeros(30_000, dtype=torch.long)
    noisy, _ = corrupt_labels(labels, 1.0, 4, 0)
    counts = torch.bincount(noisy, minlength=4).tolist()
    assert counts[0] == 0
    assert all(abs(c - 10_000) < 400 for c in counts[1:])  # ±4 standard deviations


def test_corrupt_labels_rejects_bad_fraction() -> None:
    with pytest.raises(ValueError):
        corrupt_labels(torch.zeros(3, dtype=torch.long), 1.5, 10, 0)


# ---- the lab's measures of a curve ---------------------------------------------------------
def test_prominence_is_the_lower_of_the_two_heights() -> None:
    errors = [0.5, 0.4, 0.6, 0.3, 0.35]
    assert prominence(errors, 2) == pytest.approx(min(0.6 - 0.4, 0.6 - 0.3))
    assert prominence(errors, 0) == -float("inf") and prominence(errors, 4) == -float("inf")
    assert peak(errors) == (2, pytest.approx(0.2))


def test_a_monotone_curve_has_no_positive_peak() -> None:
    falling = [0.9, 0.7, 0.5, 0.4, 0.3]
    _, height = peak(falling)
    assert height < 0  # every interior point is above a larger model's error but below a smaller's


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=3, max_size=12), st.floats(0.01, 0.5))
def test_a_bump_added_to_a_curve_is_found(errors: list[float], bump: float) -> None:
    # Flatten the curve, raise one interior point: that point is the peak, its prominence the bump.
    i = len(errors) // 2
    flat = [0.5] * len(errors)
    flat[i] += bump
    assert peak(flat) == (i, pytest.approx(bump))
    # And prominence never exceeds the point's height above the curve's minimum.
    j, height = peak(errors)
    assert height <= errors[j] - min(errors) + 1e-12


def test_threshold_is_the_first_model_that_fits() -> None:
    assert threshold([0.5, 0.2, 0.0, 0.01, 0.0], 0.01) == 2
    assert threshold([0.5, 0.2], 0.01) == 2  # none fits
