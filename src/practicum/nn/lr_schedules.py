"""Learning-rate schedules of Smith & Topin (2018, "Super-Convergence: Very Fast Training of
Neural Networks Using Large Learning Rates") and the range test that picks their bounds.

* :class:`OneCycle` -- the "1cycle" policy: one triangle of the learning rate from ``max_lr /
  div`` up to ``max_lr`` and back over ``cycle`` of the iterations, then a linear fall to
  ``max_lr / (div · final_div)`` in the rest ("allow the learning rate to decrease several
  orders of magnitude less than the initial learning rate for the remaining iterations"); the
  momentum moves the other way, from its high to its low value and back (Smith 2018's cyclical
  momentum: a large rate wants a small momentum), then stays high.
* :class:`PiecewiseConstant` -- the standard schedule it is compared with: a constant rate
  divided by ``1 / factor`` at each milestone (He et al. 2016: 0.1, ÷10 at 50% and 75%).
* :func:`range_rate`, :func:`plateau_end` -- the learning-rate range test (Smith 2017, Sec.
  3.3): train while the rate rises linearly, evaluate the accuracy along the way, and read the
  largest rate at which the accuracy is still on its plateau.

All three are pure functions of the iteration (counted from 0), so a schedule is resumable and
testable without a network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OneCycle:
    """The 1cycle policy over ``total`` iterations (see the module docstring)."""

    max_lr: float
    total: int
    div: float = 30.0  # the paper's CIFAR-10 ResNet-56 cycle: 0.1 to 3
    cycle: float = 0.9  # the fraction of iterations in the triangle; the rest anneals
    final_div: float = 100.0  # the annealed end, as a fraction of the cycle's low rate
    momentum_high: float = 0.95
    momentum_low: float = 0.85

    def __post_init__(self) -> None:
        if self.total < 3 or not 0 < self.cycle <= 1 or self.max_lr <= 0:
            raise ValueError(f"OneCycle needs total ≥ 3, 0 < cycle ≤ 1 and max_lr > 0, got {self}")

    @property
    def low(self) -> float:
        return self.max_lr / self.div

    def _position(self, step: int) -> tuple[int, float]:
        """The phase (0 rising, 1 falling, 2 annealing) of ``step`` and how far through it."""
        half = max(1, round(self.total * self.cycle / 2))
        if step < half:
            return 0, step / half
        if step < 2 * half:
            return 1, (step - half) / half
        rest = max(1, self.total - 1 - 2 * half)
        return 2, min(1.0, (step - 2 * half) / rest)

    def lr(self, step: int) -> float:
        phase, t = self._position(step)
        if phase == 0:
            return self.low + t * (self.max_lr - self.low)
        if phase == 1:
            return self.max_lr - t * (self.max_lr - self.low)
        end = self.low / self.final_div
        return self.low - t * (self.low - end)

    def momentum(self, step: int) -> float:
        phase, t = self._position(step)
        span = self.momentum_high - self.momentum_low
        if phase == 0:
            return self.momentum_high - t * span
        if phase == 1:
            return self.momentum_low + t * span
        return self.momentum_high


@dataclass(frozen=True)
class PiecewiseConstant:
    """``lr`` until the first milestone, then multiplied by ``factor`` at each milestone."""

    base_lr: float
    milestones: tuple[int, ...]
    factor: float = 0.1

    def lr(self, step: int) -> float:
        return self.base_lr * self.factor ** sum(step >= m for m in self.milestones)


def range_rate(step: int, steps: int, low: float, high: float) -> float:
    """The range test's rate at ``step`` of ``steps``: linear from ``low`` to ``high``."""
    return low + (high - low) * step / max(1, steps - 1)


def centred_mean(values: Sequence[float], window: int) -> np.ndarray:
    """The mean of each value and its ``window // 2`` neighbours on either side (fewer at the
    ends); ``window`` ≤ 1 returns the values."""
    x = np.asarray(values, dtype=float)
    half = max(0, window // 2)
    if half == 0 or not len(x):
        return x
    csum = np.concatenate([[0.0], np.cumsum(x)])
    lo = np.maximum(np.arange(len(x)) - half, 0)
    hi = np.minimum(np.arange(len(x)) + half + 1, len(x))
    return (csum[hi] - csum[lo]) / (hi - lo)


def plateau_end(
    rates: Sequence[float], accuracies: Sequence[float], tolerance: float, window: int = 1
) -> float:
    """The largest rate of a range test before the accuracy leaves its plateau: the first rate
    after the peak accuracy at which the accuracy falls more than ``tolerance`` below the peak,
    less one evaluation (the last rate still on the plateau); the last rate tested if it never
    falls. The accuracies are first averaged over ``window`` neighbouring evaluations
    (:func:`centred_mean`), so that one lucky evaluation is not the peak. Smith (2017) reads
    the maximum "when the accuracy slows, becomes ragged, or starts to fall"; with
    ``tolerance=0`` this is the rate of the (smoothed) peak."""
    if len(accuracies) != len(rates) or not len(accuracies):
        raise ValueError("plateau_end needs one accuracy per rate, at least one")
    acc = centred_mean(accuracies, window)
    peak = int(np.argmax(acc))
    below = np.flatnonzero(acc[peak:] < acc[peak] - tolerance)
    last = len(acc) - 1 if not len(below) else peak + int(below[0]) - 1
    return float(rates[last])
