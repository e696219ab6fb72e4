"""Two-dimensional test surfaces for optimisers, and an optimiser's path across one.

* **Rosenbrock** (1960): f = (1 − x)² + 100 (y − x²)², a curved, narrow valley; minimum 0 at
  (1, 1). Its Hessian at the minimum has condition number ≈ 2,500: a rate small enough for the
  steep wall crawls along the valley floor, which is what momentum and per-coordinate scaling
  are for.
* **Beale** (1958): f = (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)², flat
  plateaus and sharp ridges, gradients spanning orders of magnitude; minimum 0 at (3, 0.5).
* **Saddle**: f = (x² − y²) / 2, a saddle point at the origin. Started near the x axis, plain
  gradient descent multiplies y by exactly (1 + η) per step (the gradient's y component is −y),
  so escaping to |y| ≥ 1 from y₀ takes ⌈ln(1/y₀) / ln(1 + η)⌉ steps (:func:`saddle_escape_steps_gd`);
  an adaptive method divides by the gradient's running scale and moves y by about η per step
  from the start, whatever y₀ is.

Each surface is written with :mod:`practicum.autodiff` operations, so :func:`path` takes its
gradients with the engine and steps any of :mod:`practicum.autodiff.optim`'s optimisers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from practicum.autodiff.nn import Parameter
from practicum.autodiff.optim import Optimizer
from practicum.autodiff.tensor import Tensor


def rosenbrock(p: Tensor) -> Tensor:
    x, y = p[0], p[1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def beale(p: Tensor) -> Tensor:
    x, y = p[0], p[1]
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


def saddle(p: Tensor) -> Tensor:
    x, y = p[0], p[1]
    return (x**2 - y**2) * 0.5


@dataclass(frozen=True)
class Surface:
    name: str
    f: Callable[[Tensor], Tensor]
    start: tuple[float, float]
    minimum: tuple[float, float] | None  # None: unbounded below (the saddle)
    window: tuple[float, float, float, float]  # x0, x1, y0, y1 for the figure

    def value(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """f on a grid of points (for contours), through the same autodiff expression."""
        return self.f(Tensor(np.stack([x, y]).astype(np.float64))).data


SURFACES: dict[str, Surface] = {
    s.name: s
    for s in (
        Surface("rosenbrock", rosenbrock, (-1.2, 1.0), (1.0, 1.0), (-2.0, 2.0, -1.0, 3.0)),
        Surface("beale", beale, (1.0, 1.5), (3.0, 0.5), (-1.0, 4.0, -1.0, 2.0)),
        Surface("saddle", saddle, (1.0, 1e-3), None, (-1.5, 1.5, -1.5, 1.5)),
    )
}


@dataclass
class Path:
    points: np.ndarray  # (steps + 1, 2): the start, then the point after every step
    values: np.ndarray  # f at each point

    def distance_to(self, point: tuple[float, float]) -> float:
        return float(np.hypot(*(self.points[-1] - np.asarray(point))))

    def first_step_beyond(self, coordinate: int, bound: float) -> int | None:
        """The first step after which |points[:, coordinate]| ≥ bound (None: never)."""
        hits = np.flatnonzero(np.abs(self.points[1:, coordinate]) >= bound)
        return int(hits[0]) + 1 if len(hits) else None


def path(
    surface: Surface,
    make_optimizer: Callable[[list[Parameter]], Optimizer],
    steps: int,
    stop_beyond: float = math.inf,
) -> Path:
    """Steps of an optimiser from the surface's start, gradients by reverse mode, float64.

    ``stop_beyond``: stop once a coordinate leaves [−bound, bound] (a path escaping the saddle,
    or diverging; the rest would only be overflow). A non-finite point also stops it.
    """
    p = Parameter(np.array(surface.start, dtype=np.float64))
    optimizer = make_optimizer([p])
    points, values = [p.data.copy()], []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = surface.f(p)
        loss.backward()
        values.append(loss.item())
        optimizer.step()
        points.append(p.data.copy())
        if not np.all(np.isfinite(p.data)) or np.max(np.abs(p.data)) > stop_beyond:
            break
    values.append(surface.f(Tensor(p.data.copy())).item())
    return Path(np.array(points), np.array(values))


def saddle_escape_steps_gd(y0: float, lr: float, bound: float = 1.0) -> int:
    """Steps of plain gradient descent on (x² − y²)/2 until |y| ≥ bound, from y₀: the least t
    with y₀ (1 + η)ᵗ ≥ bound."""
    return math.ceil(math.log(bound / abs(y0)) / math.log1p(lr))
