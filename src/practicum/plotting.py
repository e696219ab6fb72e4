"""A consistent, readable plot style for every lab (matplotlib, no display needed)."""

from __future__ import annotations

from typing import Any

import matplotlib

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


def smooth(values: Any, window: int) -> Any:
    """Trailing moving average (same length; the first points average fewer values)."""
    import numpy as np

    values = np.asarray(values, dtype=float)
    if window <= 1 or len(values) == 0:
        return values
    csum = np.cumsum(np.insert(values, 0, 0.0))
    out = np.empty_like(values)
    for i in range(len(values)):
        lo = max(0, i + 1 - window)
        out[i] = (csum[i + 1] - csum[lo]) / (i + 1 - lo)
    return out
