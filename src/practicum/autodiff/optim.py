"""SGD (with momentum or Nesterov momentum), AdaGrad, RMSProp, Adam and AdamW, written out with
the same update formulas as ``torch.optim``.

Updates happen in place on ``p.data`` and record no graph. The formulas follow PyTorch exactly
(where weight decay enters, where ε enters, the momentum buffer starting at the first gradient)
so the diy-vs-torch and optimizers labs can compare step by step. With g the gradient, t the
step count (from 1), and every operation elementwise:

* **SGD**: g ← g + λθ; b ← μ b + g (b₁ = g); d = g + μ b (Nesterov) or b; θ ← θ − η d.
* **AdaGrad** (Duchi, Hazan & Singer 2011): g ← g + λθ; s ← s + g²; θ ← θ − η g / (√s + ε).
* **RMSProp** (Tieleman & Hinton 2012): g ← g + λθ; a ← α a + (1 − α) g²; with momentum μ,
  b ← μ b + g / (√a + ε), θ ← θ − η b; without, θ ← θ − η g / (√a + ε).
* **Adam** (Kingma & Ba 2015, Alg. 1): g ← g + λθ; m ← β₁ m + (1 − β₁) g; v ← β₂ v + (1 − β₂) g²;
  θ ← θ − (η / (1 − β₁ᵗ)) m / (√v / √(1 − β₂ᵗ) + ε). (ε outside the bias-corrected root, as in
  torch; the paper adds it to √v̂ too, so the two agree.)
* **AdamW** (Loshchilov & Hutter 2019): θ ← θ (1 − η λ) first, then Adam's step with λ = 0 —
  the decay is *decoupled* from the adaptive scaling; torch multiplies λ by the rate η.

``state_dict()`` / ``load_state_dict()`` save and restore the hyperparameters and the
per-parameter buffers (copies, bit for bit), so a resumed run takes the same next step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from practicum.autodiff.tensor import Tensor


class Optimizer:
    def __init__(self, params: Iterable[Tensor]) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def load_state_dict(self, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def _buffers(self, name: str, arrays: Sequence[Any], allow_none: bool = False) -> list[Any]:
        """Copies of saved per-parameter buffers, checked against the parameters' shapes."""
        if len(arrays) != len(self.params):
            raise ValueError(f"{name}: {len(arrays)} buffers for {len(self.params)} parameters")
        out: list[Any] = []
        for i, (p, a) in enumerate(zip(self.params, arrays, strict=True)):
            if a is None and allow_none:
                out.append(None)
                continue
            value = np.array(a, dtype=p.dtype, copy=True)
            if value.shape != p.shape:
                raise ValueError(f"{name}[{i}]: shape {value.shape}, parameter has {p.shape}")
            out.append(value)
        return out


class SGD(Optimizer):
    """v ← μ v + g;  p ← p − lr · v   (plain SGD when momentum = 0); with ``nesterov``,
    p ← p − lr · (g + μ v): the step looks ahead along the velocity (Sutskever et al. 2013)."""

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(params)
        if lr <= 0 or not 0 <= momentum < 1:
            raise ValueError(f"SGD needs lr > 0 and 0 <= momentum < 1, got {lr}, {momentum}")
        if nesterov and momentum == 0:
            raise ValueError("Nesterov momentum needs momentum > 0")
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.nesterov = nesterov
        self.velocity: list[np.ndarray | None] = [None] * len(self.params)

    def step(self) -> None:
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = p.grad.data
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            if self.momentum:
                v = self.velocity[i]
                if v is None:  # PyTorch starts the buffer at the first gradient
                    v = self.velocity[i] = np.array(g, dtype=p.dtype, copy=True)
                else:
                    v *= self.momentum
                    v += g
                g = g + self.momentum * v if self.nesterov else v
            p.data -= self.lr * g

    def state_dict(self) -> dict[str, Any]:
        velocity = [None if v is None else v.copy() for v in self.velocity]
        return {
            "lr": self.lr,
            "momentum": self.momentum,
            "weight_decay": self.weight_decay,
            "nesterov": self.nesterov,
            "velocity": velocity,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.velocity = self._buffers("velocity", state["velocity"], allow_none=True)
        self.lr, self.momentum = state["lr"], state["momentum"]
        self.weight_decay = state["weight_decay"]
        self.nesterov = bool(state.get("nesterov", False))  # checkpoints from before Nesterov


class AdaGrad(Optimizer):
    """s ← s + g²;  p ← p − lr · g / (√s + ε): each coordinate's rate shrinks with the squared
    gradients it has seen (Duchi, Hazan & Singer 2011). torch's defaults: lr 0.01, ε 1e-10."""

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-2,
        eps: float = 1e-10,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
    ) -> None:
        super().__init__(params)
        if lr <= 0 or eps <= 0 or initial_accumulator_value < 0:
            raise ValueError(f"AdaGrad needs lr > 0, eps > 0, accumulator >= 0; got {lr}, {eps}")
        self.lr, self.eps, self.weight_decay = lr, eps, weight_decay
        self.sum = [np.full_like(p.data, initial_accumulator_value) for p in self.params]

    def step(self) -> None:
        for p, s in zip(self.params, self.sum, strict=True):
            if p.grad is None:
                continue
            g = p.grad.data
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            s += g * g
            p.data -= self.lr * (g / (np.sqrt(s) + self.eps))

    def state_dict(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
            "sum": [s.copy() for s in self.sum],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sum = self._buffers("sum", state["sum"])
        self.lr, self.eps, self.weight_decay = state["lr"], state["eps"], state["weight_decay"]


class RMSProp(Optimizer):
    """a ← α a + (1 − α) g²;  p ← p − lr · g / (√a + ε): AdaGrad with a leaky average, so old
    gradients are forgotten (Tieleman & Hinton 2012, lecture 6e); optional momentum on the
    scaled step. torch's defaults: lr 0.01, α 0.99, ε 1e-8."""

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
    ) -> None:
        super().__init__(params)
        if lr <= 0 or not 0 <= alpha < 1 or eps <= 0 or not 0 <= momentum < 1:
            raise ValueError(
                f"RMSProp needs lr > 0, alpha and momentum in [0, 1), eps > 0; got {lr}, {alpha}"
            )
        self.lr, self.alpha, self.eps = lr, alpha, eps
        self.weight_decay, self.momentum = weight_decay, momentum
        self.square_avg = [np.zeros_like(p.data) for p in self.params]
        self.buffer = [np.zeros_like(p.data) for p in self.params]

    def step(self) -> None:
        for p, a, b in zip(self.params, self.square_avg, self.buffer, strict=True):
            if p.grad is None:
                continue
            g = p.grad.data
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            a *= self.alpha
            a += (1 - self.alpha) * (g * g)
            scaled = g / (np.sqrt(a) + self.eps)
            if self.momentum:
                b *= self.momentum
                b += scaled
                scaled = b
            p.data -= self.lr * scaled

    def state_dict(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "alpha": self.alpha,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
            "momentum": self.momentum,
            "square_avg": [a.copy() for a in self.square_avg],
            "buffer": [b.copy() for b in self.buffer],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.square_avg = self._buffers("square_avg", state["square_avg"])
        self.buffer = self._buffers("buffer", state["buffer"])
        self.lr, self.alpha, self.eps = state["lr"], state["alpha"], state["eps"]
        self.weight_decay, self.momentum = state["weight_decay"], state["momentum"]


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with bias correction, in PyTorch's arithmetic order."""

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params)
        if lr <= 0 or not (0 <= betas[0] < 1 and 0 <= betas[1] < 1) or eps <= 0:
            raise ValueError(f"Adam needs lr > 0, betas in [0, 1), eps > 0; got {lr}, {betas}")
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.t = 0
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]
        self.scratch = [np.empty_like(p.data) for p in self.params]

    def step(self) -> None:
        self.t += 1
        b1, b2 = self.betas
        bias1 = 1 - b1**self.t
        bias2_sqrt = math.sqrt(1 - b2**self.t)
        step_size = self.lr / bias1
        for p, m, v, scratch in zip(self.params, self.m, self.v, self.scratch, strict=True):
            if p.grad is None:
                continue
            g = p.grad.data
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            # In place, into a scratch buffer: no temporary arrays (this is the hot loop).
            m *= b1
            m += (1 - b1) * g
            v *= b2
            np.multiply(g, g, out=scratch)
            scratch *= 1 - b2
            v += scratch
            np.sqrt(v, out=scratch)
            scratch /= bias2_sqrt
            scratch += self.eps
            np.divide(m, scratch, out=scratch)
            scratch *= step_size
            p.data -= scratch

    def state_dict(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "betas": tuple(self.betas),
            "eps": self.eps,
            "weight_decay": self.weight_decay,
            "t": self.t,
            "m": [m.copy() for m in self.m],
            "v": [v.copy() for v in self.v],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.m, self.v = self._buffers("m", state["m"]), self._buffers("v", state["v"])
        self.lr, self.betas = state["lr"], (float(state["betas"][0]), float(state["betas"][1]))
        self.eps, self.weight_decay, self.t = state["eps"], state["weight_decay"], int(state["t"])


class AdamW(Adam):
    """Adam with decoupled weight decay: p ← p (1 − lr · λ), then Adam's step on the loss's
    gradient alone (Loshchilov & Hutter 2019, Alg. 2; torch's parametrisation, λ times lr).
    torch's default λ is 0.01."""

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=0.0)
        self.decay = weight_decay  # Adam's own weight_decay (L2 in the gradient) stays 0

    def step(self) -> None:
        if self.decay:
            for p in self.params:
                if p.grad is not None:
                    p.data *= 1 - self.lr * self.decay
        super().step()

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "decay": self.decay}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.decay = state["decay"]
