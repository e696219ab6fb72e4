"""The framework a checked class is written in, behind a small interface.

The checks only build modules, feed them NumPy arrays, read NumPy arrays back and ask for
vector-Jacobian products, all through an :class:`Adapter`, so a TensorFlow ``tf.Module``
adapter can be added beside :class:`TorchAdapter` without touching a check.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn


class Adapter:
    """What the checks need from a framework, for one class under test (``cls``)."""

    name = "abstract"

    def __init__(self, cls: type) -> None:
        self.cls = cls

    def build(self, *args: Any, **kwargs: Any) -> Any:
        """An instance of the class under test; any exception propagates."""
        return self.cls(*args, **kwargs)

    def seeded(self, seed: int) -> contextlib.AbstractContextManager[None]:
        """A block in which the framework's global random numbers start from ``seed``."""
        raise NotImplementedError

    def activation(self, name: str) -> Callable[[Any], Any]:
        """The framework's ``identity``, ``tanh`` or ``relu`` as a plain callable."""
        raise NotImplementedError

    def forward(self, model: Any, *inputs: np.ndarray | None, **kwargs: Any) -> Any:
        """``model(*inputs, **kwargs)`` with arrays in and arrays (or tuples of them) out."""
        raise NotImplementedError

    def array(self, value: Any) -> np.ndarray:
        """A framework tensor as a float64 array."""
        raise NotImplementedError

    def vjp(
        self,
        model: Any,
        inputs: Sequence[np.ndarray],
        cotangent: np.ndarray,
        output_index: int | None = None,
        **kwargs: Any,
    ) -> tuple[list[np.ndarray | None], dict[str, np.ndarray | None]]:
        """Gradients of Σ output · cotangent with respect to the inputs and to each parameter
        (``None`` where none flowed). ``output_index`` picks one output of a tuple."""
        raise NotImplementedError

    def parameters(self, model: Any) -> dict[str, np.ndarray]:
        """The trainable parameters by name, as arrays."""
        raise NotImplementedError

    def set_training(self, model: Any, training: bool) -> None:
        """Training mode (dropout on) or evaluation mode."""
        raise NotImplementedError

    def is_module(self, model: Any) -> bool:
        raise NotImplementedError


def identity(x: torch.Tensor) -> torch.Tensor:
    return x


_TORCH_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "identity": identity,
    "tanh": torch.tanh,
    "relu": torch.relu,
}


class TorchAdapter(Adapter):
    """PyTorch ``nn.Module`` classes, run in float32 on the CPU."""

    name = "torch"

    @contextlib.contextmanager
    def seeded(self, seed: int) -> Iterator[None]:
        # fork_rng restores the caller's generator afterwards: checks leave no trace.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            yield

    def activation(self, name: str) -> Callable[[torch.Tensor], torch.Tensor]:
        return _TORCH_ACTIVATIONS[name]

    @staticmethod
    def _tensor(x: np.ndarray | None, requires_grad: bool = False) -> torch.Tensor | None:
        if x is None:
            return None
        if x.dtype == np.bool_:
            return torch.from_numpy(x.copy())
        return torch.tensor(x, dtype=torch.float32, requires_grad=requires_grad)

    @staticmethod
    def _array(y: Any) -> Any:
        if y is None:
            return None
        if isinstance(y, tuple | list):
            return tuple(TorchAdapter._array(v) for v in y)
        if not isinstance(y, torch.Tensor):
            raise TypeError(f"forward returned a {type(y).__name__}, not a tensor")
        return y.detach().cpu().double().numpy()

    def _kwargs(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {k: self._tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}

    def array(self, value: Any) -> np.ndarray:
        return self._array(value)

    def forward(self, model: nn.Module, *inputs: np.ndarray | None, **kwargs: Any) -> Any:
        with torch.no_grad():
            return self._array(model(*(self._tensor(x) for x in inputs), **self._kwargs(kwargs)))

    def vjp(
        self,
        model: nn.Module,
        inputs: Sequence[np.ndarray],
        cotangent: np.ndarray,
        output_index: int | None = None,
        **kwargs: Any,
    ) -> tuple[list[np.ndarray | None], dict[str, np.ndarray | None]]:
        xs = [self._tensor(x, requires_grad=True) for x in inputs]
        model.zero_grad(set_to_none=True)
        out = model(*xs, **self._kwargs(kwargs))
        if output_index is not None:
            out = out[output_index]
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"forward returned a {type(out).__name__}, not a tensor")
        if tuple(out.shape) != cotangent.shape:
            raise ValueError(f"output of shape {tuple(out.shape)}, expected {cotangent.shape}")
        (out * torch.tensor(cotangent, dtype=out.dtype)).sum().backward()
        params = {
            name: None if p.grad is None else p.grad.double().numpy().copy()
            for name, p in model.named_parameters()
        }
        model.zero_grad(set_to_none=True)
        grads = [None if x.grad is None else x.grad.double().numpy() for x in xs]
        return grads, params

    def parameters(self, model: nn.Module) -> dict[str, np.ndarray]:
        return {
            name: p.detach().cpu().double().numpy().copy()
            for name, p in model.named_parameters()
            if p.requires_grad
        }

    def set_training(self, model: nn.Module, training: bool) -> None:
        model.train(training)

    def is_module(self, model: Any) -> bool:
        return isinstance(model, nn.Module)


def adapter_for(cls: Any) -> Adapter | None:
    """The adapter for ``cls``'s framework, or ``None`` if it is no module class we know."""
    if isinstance(cls, type) and issubclass(cls, nn.Module):
        return TorchAdapter(cls)
    return None
