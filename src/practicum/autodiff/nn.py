"""Modules with parameter discovery, and the layers a small MLP or CNN needs.

``Module`` finds its parameters by looking at its attributes: a :class:`Parameter`, another
``Module``, or a list/tuple of modules. Names follow the attribute path
(``layers.0.weight``), in the order the attributes were assigned.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from practicum.autodiff import ops
from practicum.autodiff.tensor import ShapeError, Tensor


class Parameter(Tensor):
    """A leaf tensor that a module owns and an optimiser updates (requires grad)."""

    __slots__ = ()

    def __init__(self, data: Any, dtype: Any = None, name: str | None = None) -> None:
        super().__init__(data, requires_grad=True, dtype=dtype, name=name)


class Module:
    """Base class: subclasses set attributes in ``__init__`` and define ``forward``."""

    training = True

    def forward(self, *args: Any) -> Tensor:
        raise NotImplementedError

    def __call__(self, *args: Any) -> Tensor:
        return self.forward(*args)

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        for name, value in vars(self).items():
            path = f"{prefix}{name}"
            if isinstance(value, Parameter):
                yield path, value
            elif isinstance(value, Module):
                yield from value.named_parameters(path + ".")
            elif isinstance(value, list | tuple):
                for i, item in enumerate(value):
                    if isinstance(item, Parameter):
                        yield f"{path}.{i}", item
                    elif isinstance(item, Module):
                        yield from item.named_parameters(f"{path}.{i}.")

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def state_dict(self) -> dict[str, np.ndarray]:
        """Name -> a copy of the values (what ``param_hash`` and checkpoints use)."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        params = dict(self.named_parameters())
        if set(params) != set(state):
            raise KeyError(f"state dict keys {sorted(state)} != parameters {sorted(params)}")
        for name, p in params.items():
            value = np.asarray(state[name], dtype=p.dtype)
            if value.shape != p.shape:
                raise ShapeError(f"load_state_dict: {name} has shape {p.shape}, got {value.shape}")
            p.data = value.copy()

    def num_parameters(self) -> int:
        return sum(p.size for p in self.parameters())


def _uniform(rng: np.random.Generator, shape: tuple[int, ...], bound: float, dtype: Any) -> Any:
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


class Linear(Module):
    """y = x W + b with W of shape (in_features, out_features).

    W is stored input-major so the forward pass is one ``x @ W`` without a transpose.
    Initialisation: U(−√(6/fan_in), √(6/fan_in)) (He/Kaiming uniform, for ReLU networks),
    b = 0.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        rng: np.random.Generator,
        bias: bool = True,
        dtype: Any = np.float32,
    ) -> None:
        self.in_features = in_features
        self.out_features = out_features
        bound = math.sqrt(6.0 / in_features)
        self.weight = Parameter(_uniform(rng, (in_features, out_features), bound, dtype))
        self.bias = Parameter(np.zeros(out_features, dtype=dtype)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.in_features:
            raise ShapeError(
                f"Linear: expects inputs with {self.in_features} features, got shape {x.shape}"
            )
        y = x @ self.weight
        return y + self.bias if self.bias is not None else y


ACTIVATIONS = {"relu": ops.relu, "tanh": ops.tanh, "sigmoid": ops.sigmoid}


class MLP(Module):
    """Linear layers with an activation between them (none after the last)."""

    def __init__(
        self,
        sizes: Sequence[int],
        rng: np.random.Generator,
        activation: str = "relu",
        dtype: Any = np.float32,
    ) -> None:
        if len(sizes) < 2:
            raise ValueError(f"MLP needs at least input and output sizes, got {list(sizes)}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose from {list(ACTIVATIONS)}")
        self.activation = activation
        self.layers = [
            Linear(n_in, n_out, rng, dtype=dtype)
            for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)
        ]

    def forward(self, x: Tensor) -> Tensor:
        act = ACTIVATIONS[self.activation]
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = act(x)
        return x


class Conv2d(Module):
    """2-D convolution (cross-correlation) over (N, C, H, W) inputs, via im2col."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        rng: np.random.Generator,
        stride: int = 1,
        padding: int = 0,
        bias: bool = True,
        dtype: Any = np.float32,
    ) -> None:
        self.stride = stride
        self.padding = padding
        fan_in = in_channels * kernel_size * kernel_size
        bound = math.sqrt(6.0 / fan_in)
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        self.weight = Parameter(_uniform(rng, shape, bound, dtype))
        self.bias = Parameter(np.zeros(out_channels, dtype=dtype)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        return ops.conv2d(x, self.weight, self.bias, self.stride, self.padding)
