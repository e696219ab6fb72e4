"""SGD with momentum and Adam, with the same update formulas as ``torch.optim``.

Updates happen in place on ``p.data`` and record no graph. The formulas follow PyTorch
exactly (including where ε enters Adam) so the diy-vs-torch lab can compare step by step.
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
    """v ← μ v + g;  p ← p − lr · v   (plain SGD when momentum = 0)."""

    def __init__(
        self, params: Iterable[Tensor], lr: float, momentum: float = 0.0, weight_decay: float = 0.0
    ) -> None:
        super().__init__(params)
        if lr <= 0 or not 0 <= momentum < 1:
            raise ValueError(f"SGD needs lr > 0 and 0 <= momentum < 1, got {lr}, {momentum}")
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
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
                g = v
            p.data -= self.lr * g

    def state_dict(self) -> dict[str, Any]:
        velocity = [None if v is None else v.copy() for v in self.velocity]
        return {
            "lr": self.lr,
            "momentum": self.momentum,
            "weight_decay": self.weight_decay,
            "velocity": velocity,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.velocity = self._buffers("velocity", state["velocity"], allow_none=True)
        self.lr, self.momentum = state["lr"], state["momentum"]
        self.weight_decay = state["weight_decay"]


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
