"""The Poincaré ball and Riemannian SGD on it (Nickel & Kiela 2017, Sec. 2-3).

The open unit ball B = {x : ‖x‖ < 1} with the metric g_x = (2 / (1 − ‖x‖²))² g_E. Its distance

    d(u, v) = arcosh(1 + 2 ‖u − v‖² / ((1 − ‖u‖²)(1 − ‖v‖²)))

grows without bound towards the boundary, so a tree fits: the root near the origin, each level
further out, siblings far apart. The Riemannian gradient is the Euclidean one scaled by the
inverse metric, ((1 − ‖θ‖²)² / 4) ∇_E, and a step that leaves the ball is pulled back inside
(the paper's retraction, Eq. 5).
"""

from __future__ import annotations

import torch

EPS = 1e-5  # how far inside the boundary a retracted point lands (the authors' value)


def poincare_distance(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """d(u, v) over the last axis (broadcasting). Norms are clamped below 1 − EPS and the
    arcosh argument above 1 + 1e-12, so that d(u, u) has a finite gradient (0/0 otherwise)."""
    uu = (u * u).sum(-1).clamp(max=1 - EPS)
    vv = (v * v).sum(-1).clamp(max=1 - EPS)
    duv = ((u - v) ** 2).sum(-1)
    x = 1 + 2 * duv / ((1 - uu) * (1 - vv))
    return torch.arccosh(x.clamp(min=1 + 1e-12))


def squared_euclidean(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """‖u − v‖², the paper's Euclidean baseline distance (Table 1, 'Euclidean')."""
    return ((u - v) ** 2).sum(-1)


def riemannian_gradient(theta: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """The inverse metric applied to a Euclidean gradient: ((1 − ‖θ‖²)² / 4) ∇_E (Eq. 4)."""
    return ((1 - (theta * theta).sum(-1, keepdim=True)) ** 2 / 4) * grad


def project(theta: torch.Tensor) -> torch.Tensor:
    """Rows at or beyond the boundary scaled back to norm 1 − EPS (Eq. 5's proj)."""
    norm = theta.norm(dim=-1, keepdim=True)
    return torch.where(norm >= 1 - EPS, theta / norm * (1 - EPS), theta)


@torch.no_grad()
def rsgd_step(
    theta: torch.Tensor, grad: torch.Tensor, lr: float, max_norm: float | None = 5.0
) -> None:
    """One Riemannian SGD update in place: θ ← proj(θ − η ((1 − ‖θ‖²)² / 4) ∇_E).

    ``max_norm`` clips each row of the Riemannian gradient (the authors' code clips at 5):
    near the origin the scale is 1/4 and a batch full of one node's edges would otherwise
    throw it across the ball."""
    step = riemannian_gradient(theta, grad)
    if max_norm is not None:
        step = step * (max_norm / step.norm(dim=-1, keepdim=True).clamp(min=max_norm))
    theta.sub_(lr * step)
    theta.copy_(project(theta))
