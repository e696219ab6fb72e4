"""The optimisers' test surfaces: values, gradients and minima in closed form, and paths."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from practicum.autodiff.nn import Parameter
from practicum.autodiff.optim import SGD, Adam
from practicum.surfaces import SURFACES, beale, path, rosenbrock, saddle, saddle_escape_steps_gd

coordinates = st.floats(-2.0, 2.0)


def gradient(f, x: float, y: float) -> np.ndarray:
    p = Parameter(np.array([x, y], dtype=np.float64))
    f(p).backward()
    return p.grad.data


@given(x=coordinates, y=coordinates)
@settings(max_examples=60, deadline=None)
def test_gradients_equal_the_hand_derived_ones(x: float, y: float) -> None:
    np.testing.assert_allclose(
        gradient(rosenbrock, x, y),
        [-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)],
        rtol=1e-10,
        atol=1e-10,
    )
    terms = [(1.5, 1), (2.25, 2), (2.625, 3)]
    dx = sum(2 * (c - x + x * y**k) * (y**k - 1) for c, k in terms)
    dy = sum(2 * (c - x + x * y**k) * (k * x * y ** (k - 1)) for c, k in terms)
    np.testing.assert_allclose(gradient(beale, x, y), [dx, dy], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(gradient(saddle, x, y), [x, -y], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ["rosenbrock", "beale"])
def test_the_minimum_is_a_zero_with_a_zero_gradient(name: str) -> None:
    surface = SURFACES[name]
    x, y = surface.minimum
    assert surface.value(np.array(x), np.array(y)) == pytest.approx(0.0, abs=1e-15)
    np.testing.assert_allclose(gradient(surface.f, x, y), [0.0, 0.0], atol=1e-12)
    # and values elsewhere on a grid are not lower
    gx, gy = np.meshgrid(np.linspace(*surface.window[:2], 41), np.linspace(*surface.window[2:], 41))
    assert surface.value(gx, gy).min() >= 0.0


@given(lr=st.floats(0.01, 0.5), log_y0=st.floats(-8, -1))
@settings(max_examples=40, deadline=None)
def test_gradient_descent_leaves_the_saddle_in_the_closed_form_number_of_steps(
    lr: float, log_y0: float
) -> None:
    y0 = 10.0**log_y0
    surface = SURFACES["saddle"]
    moved = type(surface)(surface.name, surface.f, (1.0, y0), None, surface.window)
    trail = path(moved, lambda ps: SGD(ps, lr=lr), steps=100_000, stop_beyond=1.0)
    steps = trail.first_step_beyond(1, 1.0)
    expected = saddle_escape_steps_gd(y0, lr)
    # y is multiplied by (1 + η) each step; rounding can only matter at an exact tie
    assert steps is not None and abs(steps - expected) <= 1
    np.testing.assert_allclose(trail.points[:, 1], y0 * (1 + lr) ** np.arange(len(trail.points)))
    np.testing.assert_allclose(trail.points[:, 0], (1 - lr) ** np.arange(len(trail.points)))


@given(log_y0=st.floats(-9, -2))
@settings(max_examples=20, deadline=None)
def test_adams_escape_hardly_depends_on_how_close_it_starts(log_y0: float) -> None:
    """Gradient descent's escape time grows with ln(1/y₀); Adam's step is ≈ η whatever the
    gradient, so its escape time stays within 1/η steps for starts seven decades apart."""
    lr = 0.01
    surface = SURFACES["saddle"]
    moved = type(surface)(surface.name, surface.f, (1.0, 10.0**log_y0), None, surface.window)
    trail = path(moved, lambda ps: Adam(ps, lr=lr), steps=10_000, stop_beyond=1.0)
    steps = trail.first_step_beyond(1, 1.0)
    assert steps is not None and steps * lr <= 1.0


def test_a_path_records_every_point_and_stops_when_it_diverges() -> None:
    surface = SURFACES["rosenbrock"]
    trail = path(surface, lambda ps: SGD(ps, lr=1e-4), steps=50)
    assert trail.points.shape == (51, 2) and trail.values.shape == (51,)
    np.testing.assert_allclose(trail.points[0], surface.start)
    assert trail.values[-1] < trail.values[0]
    wild = path(surface, lambda ps: SGD(ps, lr=1.0), steps=1000, stop_beyond=1e6)
    assert len(wild.points) < 20 and np.max(np.abs(wild.points[-1])) > 1e6
