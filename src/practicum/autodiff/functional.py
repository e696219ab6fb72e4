"""Derivatives as functions: ``grad``, ``value_and_grad``, ``vjp``, ``jvp`` and ``hvp``.

These take a Python function of tensors and return derivatives as NumPy arrays, so they can
be used without touching ``.backward()`` or ``.tangent`` directly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from practicum.autodiff.tensor import ShapeError, Tensor, no_grad

Function = Callable[..., Tensor]


def _leaf(value: Any, requires_grad: bool = False) -> Tensor:
    """A fresh leaf with its own copy of the values (the caller's tensors stay untouched)."""
    data = value.data if isinstance(value, Tensor) else value
    return Tensor(np.array(data, copy=True), requires_grad=requires_grad)


def _check_scalar(out: Any, name: str) -> Tensor:
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}: the function must return a Tensor, got {type(out).__name__}")
    if out.size != 1:
        raise ShapeError(
            f"{name}: the function must return a scalar (one element), got shape {out.shape}; "
            "reduce it (e.g. .sum()) or use vjp with a cotangent"
        )
    return out


def value_and_grad(
    f: Function, argnums: int | Sequence[int] = 0
) -> Callable[..., tuple[float, Any]]:
    """``f(*args)`` (a scalar) and its gradient with respect to the arguments in ``argnums``."""
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)

    def wrapped(*args: Any) -> tuple[float, Any]:
        leaves = [_leaf(a, requires_grad=i in nums) for i, a in enumerate(args)]
        out = _check_scalar(f(*leaves), "grad")
        out.backward()
        grads = [
            leaves[i].grad.data if leaves[i].grad is not None else np.zeros_like(leaves[i].data)
            for i in nums
        ]
        return out.item(), grads[0] if isinstance(argnums, int) else tuple(grads)

    return wrapped


def grad(f: Function, argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The gradient function of a scalar-valued ``f`` (reverse mode), like ``jax.grad``."""
    value_grad = value_and_grad(f, argnums)
    return lambda *args: value_grad(*args)[1]


def vjp(f: Function, primals: Sequence[Any], cotangent: Any) -> tuple[Tensor, list[np.ndarray]]:
    """``f(*primals)`` and ``uᵀ J`` for the cotangent ``u`` (one array per primal)."""
    leaves = [_leaf(p, requires_grad=True) for p in primals]
    out = f(*leaves)
    out.backward(np.asarray(cotangent, dtype=out.dtype))
    return out, [
        leaf.grad.data if leaf.grad is not None else np.zeros_like(leaf.data) for leaf in leaves
    ]


def jvp(f: Function, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Tensor, np.ndarray]:
    """``f(*primals)`` and ``J v``: forward mode, the tangent ``v`` travels with the values.

    One evaluation of ``f`` gives the directional derivative along ``tangents``; no graph is
    recorded (memory does not grow with the depth of ``f``).
    """
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    leaves = []
    for p, t in zip(primals, tangents, strict=True):
        leaf = _leaf(p)
        tangent = np.asarray(t.data if isinstance(t, Tensor) else t, dtype=leaf.dtype)
        if tangent.shape != leaf.shape:
            raise ShapeError(f"jvp: tangent shape {tangent.shape} != primal shape {leaf.shape}")
        leaf.tangent = tangent
        leaves.append(leaf)
    with no_grad():
        out = f(*leaves)
    tangent_out = out.tangent if out.tangent is not None else np.zeros_like(out.data)
    return out, tangent_out


def hvp(f: Function, primals: Sequence[Any], tangents: Sequence[Any]) -> list[np.ndarray]:
    """Hessian-vector product ``H v`` of a scalar ``f``: forward mode over reverse mode.

    The primals carry the tangent ``v`` through the forward pass *and* through the backward
    pass (the vjp rules are tensor operations, so they propagate tangents too). The tangent of
    the gradient is then d/dε ∇f(x + εv) = H v. Cost: about three gradient evaluations,
    memory of one, and no second graph to store.
    """
    leaves = []
    for p, t in zip(primals, tangents, strict=True):
        leaf = _leaf(p, requires_grad=True)
        leaf.tangent = np.asarray(t.data if isinstance(t, Tensor) else t, dtype=leaf.dtype)
        if leaf.tangent.shape != leaf.shape:
            raise ShapeError(
                f"hvp: tangent shape {leaf.tangent.shape} != primal shape {leaf.shape}"
            )
        leaves.append(leaf)
    out = _check_scalar(f(*leaves), "hvp")
    out.backward()
    result = []
    for leaf in leaves:
        g = leaf.grad
        if g is None or g.tangent is None:
            result.append(np.zeros_like(leaf.data))  # the gradient does not depend on x
        else:
            result.append(g.tangent)
    return result
