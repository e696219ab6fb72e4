"""The Tensor, the graph it records, and the two ways of differentiating it.

A :class:`Tensor` wraps a NumPy array. Every operation on tensors (see ``ops.py``) returns a
new tensor that remembers

* its **parents** (the operands) and, per parent, a **vector-Jacobian product** rule
  ``g -> g·∂out/∂parent`` used by reverse mode (``backward``), and
* if any operand carries a **tangent** (forward mode), its own tangent, computed at once from
  the operands' tangents by the operation's Jacobian-vector-product rule.

The vjp rules are themselves written with tensor operations. That one choice buys
higher-order derivatives for free: running the backward pass on tensors that carry tangents
gives the tangent of the gradient, i.e. a Hessian-vector product (forward over reverse), and
``backward(create_graph=True)`` records the backward pass so it can be differentiated again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

ArrayLike = Any  # anything np.asarray accepts
VJP = Callable[["Tensor", "Tensor"], "Tensor"]  # (cotangent of output, output) -> ...
JVP = Callable[..., np.ndarray]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class ShapeError(ValueError):
    """Operands whose shapes do not fit the operation; the message names both and the op."""


# ---- gradient recording on/off ----------------------------------------------------------
_grad_enabled = True


def is_grad_enabled() -> bool:
    return _grad_enabled


@contextlib.contextmanager
def set_grad_enabled(enabled: bool) -> Iterator[None]:
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, enabled
    try:
        yield
    finally:
        _grad_enabled = previous


def no_grad() -> contextlib.AbstractContextManager[None]:
    """Operations inside ``with no_grad():`` record no graph (evaluation, optimiser steps)."""
    return set_grad_enabled(False)


# ---- the tensor ------------------------------------------------------------------------
def _as_float_array(data: ArrayLike, dtype: Any = None) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data.data
    array = np.asarray(data, dtype=dtype)
    if array.dtype not in _FLOAT_DTYPES:
        if array.dtype.kind in "biu" and dtype is None:
            array = array.astype(np.float64)  # integers and booleans become float64
        else:
            raise TypeError(f"Tensor supports float32 and float64, got {array.dtype}")
    return array


class Tensor:
    """A NumPy array that records the operations that produced it.

    ``requires_grad=True`` marks a leaf whose gradient ``backward`` should compute (into
    ``.grad``, a Tensor). ``tangent`` is the forward-mode direction carried alongside the
    value (an array of the same shape, or None).
    """

    __slots__ = ("data", "requires_grad", "grad", "tangent", "op", "name", "_parents", "_vjps")
    __array_priority__ = 1000  # ndarray + Tensor -> Tensor.__radd__, not an object array

    def __init__(
        self,
        data: ArrayLike,
        requires_grad: bool = False,
        dtype: Any = None,
        name: str | None = None,
    ) -> None:
        self.data: np.ndarray = _as_float_array(data, dtype)
        self.requires_grad = requires_grad
        self.grad: Tensor | None = None
        self.tangent: np.ndarray | None = None
        self.op = "leaf"
        self.name = name
        self._parents: tuple[Tensor, ...] = ()
        self._vjps: tuple[VJP, ...] = ()

    @classmethod
    def _wrap(cls, array: np.ndarray, op: str) -> Tensor:
        """A result tensor without the checks of ``__init__`` (ops call this a lot)."""
        out = cls.__new__(cls)
        out.data = array
        out.requires_grad = False
        out.grad = None
        out.tangent = None
        out.op = op
        out.name = None
        out._parents = ()
        out._vjps = ()
        return out

    # ---- array-like conveniences -------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    def __len__(self) -> int:
        return len(self.data)

    def item(self) -> float:
        return float(self.data.item())

    def numpy(self) -> np.ndarray:
        return self.data

    def __float__(self) -> float:
        return self.item()

    def detach(self) -> Tensor:
        """The same values, cut from the graph (a constant)."""
        return Tensor._wrap(self.data, "detach")

    @property
    def is_leaf(self) -> bool:
        return not self._parents

    def __repr__(self) -> str:
        flags = ", requires_grad=True" if self.requires_grad else ""
        body = np.array2string(self.data, precision=4, threshold=20, prefix="Tensor(")
        return f"Tensor({body}, dtype={self.dtype}{flags})"

    # ---- reverse mode ------------------------------------------------------------------
    def backward(
        self, gradient: ArrayLike | Tensor | None = None, create_graph: bool = False
    ) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        ``gradient`` is the seed (the cotangent of ``self``); it may be left out only for a
        tensor with one element. ``create_graph=True`` records the backward pass itself, so
        the gradients can be differentiated again (reverse over reverse).
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() on a tensor that does not require grad: no input of the "
                "computation had requires_grad=True (or it ran under no_grad())"
            )
        if gradient is None:
            if self.size != 1:
                raise RuntimeError(
                    f"backward() on a non-scalar tensor of shape {self.shape} needs a seed "
                    "gradient of the same shape: call backward(gradient) or reduce to a "
                    "scalar first (e.g. loss.sum())"
                )
            seed = Tensor._wrap(np.ones_like(self.data), "seed")
        else:
            seed = gradient if isinstance(gradient, Tensor) else Tensor(gradient, dtype=self.dtype)
            if seed.shape != self.shape:
                raise ShapeError(
                    f"backward: seed gradient shape {seed.shape} does not match "
                    f"tensor shape {self.shape}"
                )

        # Sum the contributions to each node before passing them on: visit every node after
        # all the nodes that use it (reverse topological order).
        grads: dict[int, Tensor] = {id(self): seed}
        with set_grad_enabled(create_graph):
            for node in reversed(topological_order(self)):
                g = grads.pop(id(node), None)
                if g is None:
                    continue
                if node.is_leaf:
                    node.grad = g if node.grad is None else node.grad + g
                    continue
                for parent, vjp in zip(node._parents, node._vjps, strict=True):
                    if not parent.requires_grad:
                        continue  # e.g. the input batch: skip its (costly) gradient
                    contribution = vjp(g, node)
                    previous = grads.get(id(parent))
                    grads[id(parent)] = (
                        contribution if previous is None else previous + contribution
                    )

    def zero_grad(self) -> None:
        self.grad = None

    # ---- operators (defined in ops.py) -------------------------------------------------
    def __add__(self, other: Any) -> Tensor:
        return _ops.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _ops.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return _ops.sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _ops.sub(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return _ops.mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _ops.mul(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return _ops.div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _ops.div(other, self)

    def __neg__(self) -> Tensor:
        return _ops.neg(self)

    def __pow__(self, exponent: Any) -> Tensor:
        return _ops.power(self, exponent)

    def __rpow__(self, base: Any) -> Tensor:
        return _ops.power(base, self)

    def __matmul__(self, other: Any) -> Tensor:
        return _ops.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _ops.matmul(other, self)

    def __getitem__(self, index: Any) -> Tensor:
        return _ops.getitem(self, index)

    @property
    def T(self) -> Tensor:  # noqa: N802 (NumPy's name)
        return _ops.transpose(self)

    def exp(self) -> Tensor:
        return _ops.exp(self)

    def log(self) -> Tensor:
        return _ops.log(self)

    def tanh(self) -> Tensor:
        return _ops.tanh(self)

    def sigmoid(self) -> Tensor:
        return _ops.sigmoid(self)

    def relu(self) -> Tensor:
        return _ops.relu(self)

    def sum(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return _ops.sum(self, axis, keepdims)

    def mean(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return _ops.mean(self, axis, keepdims)

    def max(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return _ops.max(self, axis, keepdims)

    def reshape(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], tuple | list):
            shape = tuple(shape[0])
        return _ops.reshape(self, shape)

    def transpose(self, *axes: int) -> Tensor:
        if len(axes) == 1 and isinstance(axes[0], tuple | list):
            axes = tuple(axes[0])
        return _ops.transpose(self, axes or None)


def as_tensor(value: Any, like: Tensor | None = None) -> Tensor:
    """A Tensor as is; anything else becomes a constant (Python numbers take ``like``'s dtype)."""
    if isinstance(value, Tensor):
        return value
    if like is not None and isinstance(value, int | float):
        return Tensor._wrap(np.asarray(value, dtype=like.dtype), "const")
    return Tensor(value)


def record(
    value: np.ndarray,
    parents: Sequence[Tensor],
    op: str,
    vjps: Sequence[VJP],
    jvp: JVP,
) -> Tensor:
    """Wrap an operation's result: push tangents forward now, remember how to pull back later.

    ``vjps[i](g, out)`` is the contribution of the output cotangent ``g`` to ``parents[i]``
    (rules get ``out`` as an argument rather than closing over it, so no reference cycles);
    ``jvp(*tangents)`` is the output tangent given one tangent per parent (zeros for
    parents that have none).
    """
    out = Tensor._wrap(value, op)
    has_tangent = False
    needs_grad = False
    for p in parents:
        has_tangent = has_tangent or p.tangent is not None
        needs_grad = needs_grad or p.requires_grad
    if has_tangent:
        tangents = [p.tangent if p.tangent is not None else np.zeros_like(p.data) for p in parents]
        out.tangent = np.asarray(jvp(*tangents), dtype=value.dtype)
    if needs_grad and _grad_enabled:
        out.requires_grad = True
        out._parents = tuple(parents)
        out._vjps = tuple(vjps)
    return out


def topological_order(root: Tensor) -> list[Tensor]:
    """Nodes that ``root`` depends on (through tensors requiring grad), operands first.

    An explicit stack instead of recursion: a chain of 100,000 operations must not hit
    Python's recursion limit.
    """
    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)  # all its operands are already in ``order``
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for parent in node._parents:
            if parent.requires_grad and id(parent) not in visited:
                stack.append((parent, False))
    return order


from practicum.autodiff import ops as _ops  # noqa: E402  (ops needs Tensor defined first)
