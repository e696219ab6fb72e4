"""A consistent, readable plot style for every lab (matplotlib, no display needed), and the
array helpers plots share: ``smooth`` for noisy curves, ``image_grid`` for tiles of images."""

from __future__ import annotations

from typing import Any

import matplotlib
import numpy as np
import torch

matplotlib.use("Agg")  # run folders on headless machines; never open a window

import matplotlib.pyplot as plt  # noqa: E402

STYLE = {
    "figure.dpi": 110,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "font.size": 10,
}


def figure(ncols: int = 1, nrows: int = 1, size: tuple[float, float] = (5.5, 4.0), **kw: Any):
    """A figure with ``nrows x ncols`` axes, each about ``size`` inches."""
    plt.rcParams.update(STYLE)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False, **kw
    )
    return fig, axes[0, 0] if nrows == ncols == 1 else axes


def smooth(values: Any, window: int) -> np.ndarray:
    """Trailing moving average of ``window`` points (same length; the first points average
    the fewer values there are). A window of 1 or less returns the values unchanged."""
    values = np.asarray(values, dtype=float)
    if window <= 1 or len(values) == 0:
        return values
    csum = np.concatenate([[0.0], np.cumsum(values)])
    hi = np.arange(1, len(values) + 1)
    lo = np.maximum(hi - window, 0)
    return (csum[hi] - csum[lo]) / (hi - lo)


def image_grid(images: torch.Tensor, rows: int, pad: int = 1) -> np.ndarray:
    """Tile (N, 1, S, S) grey images row by row into one array for ``imshow``.

    The grid has ``rows`` rows and ⌈N / rows⌉ columns; image k sits in row k // columns,
    column k % columns. Tiles are separated (and framed) by ``pad`` pixels of 1.0, white in
    a grey colour map; unused cells at the end stay white. The result has shape
    (rows·(S+pad)+pad, columns·(S+pad)+pad).
    """
    n, _, s, _ = images.shape
    cols = -(-n // rows)
    grid = np.ones((rows * (s + pad) + pad, cols * (s + pad) + pad), dtype=np.float32)
    for k in range(n):
        r, c = divmod(k, cols)
        top, left = pad + r * (s + pad), pad + c * (s + pad)
        grid[top : top + s, left : left + s] = images[k, 0].detach().cpu().numpy()
    return grid
