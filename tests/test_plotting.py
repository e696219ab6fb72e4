"""The shared plot helpers: image grids and curve smoothing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from practicum.plotting import image_grid, smooth


def test_image_grid_layout() -> None:
    # Seven 3×3 images on two rows: four columns, image k at row k // 4, column k % 4.
    images = torch.arange(7, dtype=torch.float32).div(10).view(7, 1, 1, 1).expand(7, 1, 3, 3)
    grid = image_grid(images, rows=2, pad=1)
    assert grid.shape == (2 * 4 + 1, 4 * 4 + 1) and grid.dtype == np.float32
    for k in range(7):
        r, c = divmod(k, 4)
        top, left = 1 + 4 * r, 1 + 4 * c
        np.testing.assert_array_equal(grid[top : top + 3, left : left + 3], np.float32(k / 10))
    # Separators and the frame are white (1.0), and so is the unused eighth cell.
    assert (grid[::4, :] == 1).all() and (grid[:, ::4] == 1).all()
    assert (grid[5:8, 13:16] == 1).all()
    # Every pixel is either an image pixel or white.
    assert np.isclose(grid, 1).sum() == grid.size - 7 * 9


def test_image_grid_keeps_pixels_and_accepts_tensors_with_gradients() -> None:
    images = torch.rand(6, 1, 5, 5, requires_grad=True)
    grid = image_grid(images, rows=3, pad=0)
    assert grid.shape == (15, 10)
    np.testing.assert_array_equal(grid[5:10, 5:10], images[3, 0].detach().numpy())  # row 1, col 1
    assert image_grid(images, rows=1, pad=2).shape == (1 * 7 + 2, 6 * 7 + 2)


@pytest.mark.parametrize("window", [1, 2, 3, 10])
def test_smooth_is_a_trailing_mean(window: int) -> None:
    values = np.random.default_rng(0).normal(size=25)
    naive = [values[max(0, i + 1 - window) : i + 1].mean() for i in range(len(values))]
    np.testing.assert_allclose(smooth(values, window), naive, rtol=1e-12, atol=1e-12)
    assert smooth([], window).shape == (0,)


def test_smooth_of_a_constant_is_the_constant() -> None:
    np.testing.assert_allclose(smooth(np.full(9, 2.5), 4), np.full(9, 2.5))
