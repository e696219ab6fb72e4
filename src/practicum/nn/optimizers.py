"""SGD and Adam with L2 regularisation or with decoupled weight decay, as Loshchilov & Hutter
write them (2019, "Decoupled Weight Decay Regularization", ICLR, Algorithms 1 and 2).

Notation (the paper's): α the base learning rate, η_t the schedule multiplier at step t (1 for a
constant rate; cosine annealing in their experiments), λ the weight decay, β the momentum (SGD)
or β₁, β₂ the moment decays (Adam), ε Adam's denominator constant.

* **SGD with L2** (Alg. 1, line 6 in use): g_t = ∇f(θ) + λθ; m_t = β m_(t−1) + η_t α g_t;
  θ_t = θ_(t−1) − m_t. The decay passes through the step, so it is η_t α λ θ per step.
* **SGDW** (Alg. 1, line 9 in use): g_t = ∇f(θ); m_t as above; θ_t = θ_(t−1) − m_t − η_t λ θ_(t−1).
* **Adam with L2** (Alg. 2, line 6): g_t = ∇f(θ) + λθ enters m and v, so the decay is divided by
  √v̂ like the gradient: a weight with a large gradient history is decayed *less* than one with a
  small history (the paper's Sec. 2, "weights with large gradients are regularised less").
* **AdamW** (Alg. 2, line 12): m and v see ∇f only; θ_t = θ_(t−1) − η_t (α m̂_t / (√v̂_t + ε)
  + λ θ_(t−1)). The decay is η_t λ θ, the same relative shrink for every weight.

Parametrisation. In the paper the decoupled decay is η_t · λ, *not* multiplied by α, so that the
best λ need not move when α does (their Fig. 2). ``torch.optim.AdamW`` multiplies its
``weight_decay`` by its ``lr`` (= η_t α), so with the same α the two agree when

    torch's weight_decay = λ / α        (torch's lr = η_t α)

and likewise SGDW here against a step of torch's decay lr · weight_decay. The L2 forms have no
such factor: λ is the coefficient of the penalty λ/2 ‖θ‖², as in torch's ``weight_decay`` of
``torch.optim.SGD`` and ``torch.optim.Adam``.

One difference from ``torch.optim.SGD`` remains on purpose: the paper's momentum buffer holds
η_t α g (the rate inside), torch's holds g (the rate outside). At a constant rate the two are the
same step; under a schedule the paper's buffer keeps the rates its gradients were taken at.

The schedule multiplier η_t is a group's ``"schedule"`` entry (default 1), set each step with
:func:`set_schedule`; :func:`cosine_multiplier` is the paper's cosine annealing without restarts.
All four are one class each of :class:`SGD` and :class:`Adam` with ``decoupled`` False (L2) or
True (SGDW, AdamW); :func:`make` builds one by the paper's name.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Literal

import torch

Name = Literal["sgd", "sgdw", "adam", "adamw"]
NAMES: tuple[Name, ...] = ("sgd", "sgdw", "adam", "adamw")
LABELS: dict[str, str] = {"sgd": "SGD + L2", "sgdw": "SGDW", "adam": "Adam + L2", "adamw": "AdamW"}


class SGD(torch.optim.Optimizer):
    """SGD with momentum and L2 regularisation (``decoupled=False``) or decoupled weight decay
    (SGDW, ``decoupled=True``): Loshchilov & Hutter's Algorithm 1."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float,
        weight_decay: float = 0.0,
        momentum: float = 0.9,
        decoupled: bool = False,
    ) -> None:
        if lr <= 0 or weight_decay < 0 or not 0 <= momentum < 1:
            raise ValueError(f"need lr > 0, weight_decay >= 0, 0 <= momentum < 1 (got "
                             f"{lr}, {weight_decay}, {momentum})")  # fmt: skip
        defaults = {
            "lr": lr,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "decoupled": decoupled,
            "schedule": 1.0,
        }
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            alpha, lam, beta = group["lr"], group["weight_decay"], group["momentum"]
            eta, decoupled = group["schedule"], group["decoupled"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad if decoupled or lam == 0 else p.grad.add(p, alpha=lam)
                state = self.state[p]
                if "momentum_buffer" not in state:  # m_0 = 0
                    state["momentum_buffer"] = torch.zeros_like(p)
                m = state["momentum_buffer"]
                m.mul_(beta).add_(g, alpha=eta * alpha)  # m_t = β m_(t−1) + η_t α g_t
                if decoupled and lam:
                    p.mul_(1 - eta * lam)  # − η_t λ θ_(t−1), from the weights before the step
                p.sub_(m)
        return loss


class Adam(torch.optim.Optimizer):
    """Adam with L2 regularisation (``decoupled=False``) or decoupled weight decay (AdamW,
    ``decoupled=True``): Loshchilov & Hutter's Algorithm 2, bias-corrected moments."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float,
        weight_decay: float = 0.0,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        decoupled: bool = False,
    ) -> None:
        if lr <= 0 or weight_decay < 0 or eps < 0 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"need lr > 0, weight_decay >= 0, eps >= 0, 0 <= betas < 1 (got "
                             f"{lr}, {weight_decay}, {eps}, {betas})")  # fmt: skip
        defaults = {
            "lr": lr,
            "weight_decay": weight_decay,
            "betas": tuple(betas),
            "eps": eps,
            "decoupled": decoupled,
            "schedule": 1.0,
        }
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            alpha, lam, eps = group["lr"], group["weight_decay"], group["eps"]
            (beta1, beta2), eta, decoupled = group["betas"], group["schedule"], group["decoupled"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad if decoupled or lam == 0 else p.grad.add(p, alpha=lam)
                state = self.state[p]
                if "step" not in state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
                m.lerp_(g, 1 - beta1)  # m_t = β₁ m_(t−1) + (1 − β₁) g_t
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)  # v_t = β₂ v_(t−1) + (1 − β₂) g_t²
                # √v̂_t + ε with v̂_t = v_t / (1 − β₂^t); α m̂_t = α m_t / (1 − β₁^t)
                denom = (v / (1 - beta2**t)).sqrt_().add_(eps)
                if decoupled and lam:
                    p.mul_(1 - eta * lam)  # − η_t λ θ_(t−1)
                p.addcdiv_(m, denom, value=-eta * alpha / (1 - beta1**t))
        return loss


Optimizer = SGD | Adam


def make(
    name: str,
    params: Iterable[Any],
    lr: float,
    weight_decay: float,
    *,
    momentum: float = 0.9,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> Optimizer:
    """One of the paper's four by name: ``"sgd"`` (with L2), ``"sgdw"``, ``"adam"`` (with L2),
    ``"adamw"``; ``lr`` is α, ``weight_decay`` is λ in the paper's parametrisation."""
    if name not in NAMES:
        raise ValueError(f"unknown optimiser {name!r}; choose one of {', '.join(NAMES)}")
    decoupled = name.endswith("w")
    if name.startswith("sgd"):
        return SGD(params, lr, weight_decay, momentum=momentum, decoupled=decoupled)
    return Adam(params, lr, weight_decay, betas=betas, eps=eps, decoupled=decoupled)


def set_schedule(optimizer: torch.optim.Optimizer, multiplier: float) -> None:
    """Set η_t, the schedule multiplier of every group, for the next step."""
    for group in optimizer.param_groups:
        group["schedule"] = float(multiplier)


def cosine_multiplier(step: int, total: int) -> float:
    """η_t of cosine annealing without restarts (Loshchilov & Hutter 2017, SGDR): from 1 at step
    0 to 0 at step ``total``, ½ (1 + cos(π t / T))."""
    if total < 1 or not 0 <= step <= total:
        raise ValueError(f"need 0 <= step <= total and total >= 1, got {step}, {total}")
    return 0.5 * (1.0 + math.cos(math.pi * step / total))
