"""Every differentiable operation: its value, its vjp rules (reverse) and its jvp rule (forward).

Each primitive computes its value with NumPy and hands ``record`` three things:

* the operands (``parents``),
* one vjp rule per operand, ``(g, out) -> contribution``, written with *tensor* operations
  so that the backward pass can itself be differentiated (see ``tensor.py``),
* one jvp rule, ``(*tangents) -> output tangent``, written with NumPy arrays.

Composite operations (mean, softmax, cross-entropy, conv2d, max-pool) are built from the
primitives and get both derivatives for free.

Broadcasting: an operand that was broadcast receives the *sum* of the gradient over the
broadcast axes (``_unbroadcast``), because each of its elements was used several times.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from practicum.autodiff.tensor import ShapeError, Tensor, as_tensor, record

Axis = int | Sequence[int] | None


# ---- broadcasting -----------------------------------------------------------------------
def _sum_to_array(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``a`` over the axes along which an array of ``shape`` was broadcast to a.shape."""
    if a.shape == shape:
        return a
    lead = a.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and a.shape[lead + i] != 1
    )
    return a.sum(axis=axes, keepdims=True).reshape(shape) if axes else a.reshape(shape)


def sum_to(x: Tensor, shape: tuple[int, ...]) -> Tensor:
    """The adjoint of ``broadcast_to``: sum over broadcast axes back down to ``shape``."""
    shape = tuple(shape)
    return record(
        _sum_to_array(x.data, shape),
        (x,),
        "sum_to",
        (lambda g, out: broadcast_to(g, x.shape),),
        lambda t: _sum_to_array(t, shape),
    )


def broadcast_to(x: Tensor, shape: tuple[int, ...]) -> Tensor:
    shape = tuple(shape)
    if x.shape == shape:
        return x
    try:
        value = np.broadcast_to(x.data, shape)
    except ValueError:
        raise ShapeError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}") from None
    return record(
        value,
        (x,),
        "broadcast_to",
        (lambda g, out: sum_to(g, x.shape),),
        lambda t: np.broadcast_to(t, shape),
    )


def _unbroadcast(g: Tensor, shape: tuple[int, ...]) -> Tensor:
    return g if g.shape == shape else sum_to(g, shape)


def _binary(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    """Operands as tensors; a Python number takes the dtype of the tensor it meets."""
    if isinstance(a, Tensor):
        return a, as_tensor(b, like=a)
    b = as_tensor(b)
    return as_tensor(a, like=b), b


def _broadcast_error(op: str, a: Tensor, b: Tensor) -> ShapeError:
    return ShapeError(f"{op}: cannot broadcast shapes {a.shape} and {b.shape}")


# ---- arithmetic ---------------------------------------------------------------------------
def add(a: Any, b: Any) -> Tensor:
    a, b = _binary(a, b)
    try:
        value = a.data + b.data
    except ValueError:
        raise _broadcast_error("add", a, b) from None
    return record(
        value,
        (a, b),
        "add",
        (lambda g, out: _unbroadcast(g, a.shape), lambda g, out: _unbroadcast(g, b.shape)),
        lambda ta, tb: ta + tb,
    )


def sub(a: Any, b: Any) -> Tensor:
    a, b = _binary(a, b)
    try:
        value = a.data - b.data
    except ValueError:
        raise _broadcast_error("sub", a, b) from None
    return record(
        value,
        (a, b),
        "sub",
        (lambda g, out: _unbroadcast(g, a.shape), lambda g, out: _unbroadcast(-g, b.shape)),
        lambda ta, tb: ta - tb,
    )


def mul(a: Any, b: Any) -> Tensor:
    a, b = _binary(a, b)
    try:
        value = a.data * b.data
    except ValueError:
        raise _broadcast_error("mul", a, b) from None
    return record(
        value,
        (a, b),
        "mul",
        (
            lambda g, out: _unbroadcast(g * b, a.shape),
            lambda g, out: _unbroadcast(g * a, b.shape),
        ),
        lambda ta, tb: ta * b.data + a.data * tb,
    )


def div(a: Any, b: Any) -> Tensor:
    a, b = _binary(a, b)
    try:
        value = a.data / b.data
    except ValueError:
        raise _broadcast_error("div", a, b) from None
    return record(
        value,
        (a, b),
        "div",
        (
            lambda g, out: _unbroadcast(g / b, a.shape),
            lambda g, out: _unbroadcast(-(g * out) / b, b.shape),  # d(a/b)/db = -(a/b)/b
        ),
        lambda ta, tb: (ta - value * tb) / b.data,
    )


def neg(a: Tensor) -> Tensor:
    return record(-a.data, (a,), "neg", (lambda g, out: -g,), lambda t: -t)


def power(a: Any, b: Any) -> Tensor:
    """``a ** b``. A constant Python-number exponent is the common case (x**2, sqrt)."""
    if isinstance(a, Tensor) and isinstance(b, int | float):
        p = b
        return record(
            a.data**p,
            (a,),
            "pow",
            (lambda g, out: g * (p * a ** (p - 1)),),
            lambda t: p * a.data ** (p - 1) * t,
        )
    a, b = _binary(a, b)
    try:
        value = a.data**b.data
    except ValueError:
        raise _broadcast_error("pow", a, b) from None
    # d(a^b)/db = a^b log a: defined for a > 0 only.
    return record(
        value,
        (a, b),
        "pow",
        (
            lambda g, out: _unbroadcast(g * b * a ** (b - 1), a.shape),
            lambda g, out: _unbroadcast(g * out * log(a), b.shape),
        ),
        lambda ta, tb: ta * b.data * a.data ** (b.data - 1) + tb * value * np.log(a.data),
    )


# ---- elementwise functions ----------------------------------------------------------------
def exp(x: Tensor) -> Tensor:
    value = np.exp(x.data)
    return record(value, (x,), "exp", (lambda g, out: g * out,), lambda t: t * value)


def log(x: Tensor) -> Tensor:
    return record(np.log(x.data), (x,), "log", (lambda g, out: g / x,), lambda t: t / x.data)


def tanh(x: Tensor) -> Tensor:
    value = np.tanh(x.data)
    return record(
        value,
        (x,),
        "tanh",
        (lambda g, out: g * (1.0 - out * out),),
        lambda t: t * (1.0 - value * value),
    )


def sigmoid(x: Tensor) -> Tensor:
    value = 0.5 * (1.0 + np.tanh(0.5 * x.data))  # = 1/(1+e^-x) without overflow in exp
    value = value.astype(x.dtype, copy=False)
    return record(
        value,
        (x,),
        "sigmoid",
        (lambda g, out: g * out * (1.0 - out),),
        lambda t: t * value * (1.0 - value),
    )


def relu(x: Tensor) -> Tensor:
    mask = (x.data > 0).astype(x.dtype)  # the derivative, 0 at x = 0 (as PyTorch)
    constant_mask = Tensor._wrap(mask, "relu_mask")
    return record(
        np.maximum(x.data, 0),
        (x,),
        "relu",
        (lambda g, out: g * constant_mask,),
        lambda t: t * mask,
    )


# ---- reductions ----------------------------------------------------------------------------
def _axes(axis: Axis, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    for ax in axes:
        if not -ndim <= ax < builtins.max(ndim, 1):
            raise ShapeError(f"axis {ax} is out of range for a tensor with {ndim} dimensions")
    return tuple(sorted(ax % builtins.max(ndim, 1) for ax in axes))


def _kept_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _expand(g: Tensor, x: Tensor, axes: tuple[int, ...], keepdims: bool) -> Tensor:
    """Broadcast a reduction's cotangent back over the reduced axes of ``x``."""
    if not keepdims:
        g = reshape(g, _kept_shape(x.shape, axes))
    return broadcast_to(g, x.shape)


def sum(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    axes = _axes(axis, x.ndim)
    return record(
        np.asarray(x.data.sum(axis=axes, keepdims=keepdims)),
        (x,),
        "sum",
        (lambda g, out: _expand(g, x, axes, keepdims),),
        lambda t: np.asarray(t.sum(axis=axes, keepdims=keepdims)),
    )


def mean(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    axes = _axes(axis, x.ndim)
    count = int(np.prod([x.shape[a] for a in axes]))
    return sum(x, axes, keepdims) * (1.0 / count)


def max(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Maximum over axes. Ties share the gradient equally (a subgradient, as ``torch.amax``)."""
    axes = _axes(axis, x.ndim)
    if x.size == 0:
        raise ShapeError(f"max: cannot reduce an empty tensor of shape {x.shape}")
    kept = x.data.max(axis=axes, keepdims=True)
    mask = (x.data == kept).astype(x.dtype)
    mask /= mask.sum(axis=axes, keepdims=True)
    constant_mask = Tensor._wrap(mask, "max_mask")
    value = kept if keepdims else np.squeeze(kept, axis=axes)
    return record(
        value,
        (x,),
        "max",
        (lambda g, out: _expand(g, x, axes, keepdims) * constant_mask,),
        lambda t: np.asarray((t * mask).sum(axis=axes, keepdims=keepdims)),
    )


def _logsumexp_array(a: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """log Σ exp(a) over ``axes`` (kept), shifted by the maximum so exp cannot overflow."""
    m = a.max(axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    return m + np.log(np.exp(a - m).sum(axis=axes, keepdims=True))


def logsumexp(x: Tensor, axis: Axis = -1, keepdims: bool = False) -> Tensor:
    axes = _axes(axis, x.ndim)
    kept = _logsumexp_array(x.data, axes)
    softmax_value = np.exp(x.data - kept)
    value = kept if keepdims else np.squeeze(kept, axis=axes)

    def vjp(g: Tensor, out: Tensor) -> Tensor:
        out_kept = out if keepdims else reshape(out, kept.shape)
        return _expand(g, x, axes, keepdims) * exp(x - out_kept)  # g · softmax(x)

    return record(
        value,
        (x,),
        "logsumexp",
        (vjp,),
        lambda t: (t * softmax_value).sum(axis=axes, keepdims=keepdims),
    )


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    axes = _axes(axis, x.ndim)
    value = x.data - _logsumexp_array(x.data, axes)
    p = np.exp(value)
    return record(
        value,
        (x,),
        "log_softmax",
        (lambda g, out: g - exp(out) * sum(g, axes, keepdims=True),),
        lambda t: t - (p * t).sum(axis=axes, keepdims=True),
    )


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    return exp(log_softmax(x, axis))


def cross_entropy(logits: Tensor, labels: Any, reduction: str = "mean") -> Tensor:
    """Mean (or sum) of −log softmax(logits)[label] over a batch of shape (N, classes)."""
    labels = np.asarray(labels.data if isinstance(labels, Tensor) else labels)
    if logits.ndim != 2:
        raise ShapeError(
            f"cross_entropy: logits must be (batch, classes), got shape {logits.shape}"
        )
    if labels.shape != logits.shape[:1]:
        raise ShapeError(
            f"cross_entropy: logits shape {logits.shape} needs labels of shape "
            f"({logits.shape[0]},), got {labels.shape}"
        )
    if labels.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: labels must be integers, got {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= logits.shape[1]):
        raise ValueError(f"cross_entropy: labels must lie in [0, {logits.shape[1]})")
    picked = log_softmax(logits, axis=1)[np.arange(len(labels)), labels]
    if reduction == "mean":
        return -mean(picked)
    if reduction == "sum":
        return -sum(picked)
    raise ValueError(f"cross_entropy: reduction must be 'mean' or 'sum', got {reduction!r}")


# ---- linear algebra --------------------------------------------------------------------------
def _swap_last(x: Tensor) -> Tensor:
    return (
        transpose(x) if x.ndim == 2 else transpose(x, (*range(x.ndim - 2), x.ndim - 1, x.ndim - 2))
    )


def matmul(a: Any, b: Any) -> Tensor:
    """``a @ b`` with NumPy's rules: 1-D operands are promoted, leading axes broadcast."""
    a, b = _binary(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: scalars are not allowed, got shapes {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
        inner_b = b.shape[-2 if b.ndim > 1 else 0]
        raise ShapeError(
            f"matmul: shapes {a.shape} and {b.shape} do not align "
            f"({a.shape[-1]} columns vs {inner_b} rows)"
        )
    if a.ndim == 1:  # (n,) @ (..., n, m) -> (..., m): treat a as a row
        out = matmul(reshape(a, (1, a.shape[0])), b)
        return reshape(out, out.shape[:-2] + out.shape[-1:])
    if b.ndim == 1:  # (..., k, n) @ (n,) -> (..., k): treat b as a column
        out = matmul(a, reshape(b, (b.shape[0], 1)))
        return reshape(out, out.shape[:-1])
    try:
        value = a.data @ b.data
    except ValueError:
        raise _broadcast_error("matmul (batch axes)", a, b) from None
    return record(
        value,
        (a, b),
        "matmul",
        (
            lambda g, out: _unbroadcast(g @ _swap_last(b), a.shape),
            lambda g, out: _unbroadcast(_swap_last(a) @ g, b.shape),
        ),
        lambda ta, tb: ta @ b.data + a.data @ tb,
    )


# ---- shapes and indexing -----------------------------------------------------------------------
def reshape(x: Tensor, shape: Sequence[int]) -> Tensor:
    try:
        value = x.data.reshape(shape)
    except ValueError:
        raise ShapeError(f"reshape: cannot reshape shape {x.shape} into {tuple(shape)}") from None
    if value.shape == x.shape:
        return x
    return record(
        value,
        (x,),
        "reshape",
        (lambda g, out: reshape(g, x.shape),),
        lambda t: t.reshape(value.shape),
    )


def transpose(x: Tensor, axes: Sequence[int] | None = None) -> Tensor:
    axes = tuple(reversed(range(x.ndim))) if axes is None else tuple(axes)
    if sorted(a % builtins.max(x.ndim, 1) for a in axes) != list(range(x.ndim)):
        raise ShapeError(f"transpose: axes {axes} are not a permutation for shape {x.shape}")
    inverse = tuple(int(i) for i in np.argsort(axes))
    return record(
        np.transpose(x.data, axes),
        (x,),
        "transpose",
        (lambda g, out: transpose(g, inverse),),
        lambda t: np.transpose(t, axes),
    )


def _is_basic(index: Any) -> bool:
    """Basic indexing (ints, slices, None, ...) never picks an element twice."""
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, int | slice) or i is None or i is Ellipsis for i in items)


def getitem(x: Tensor, index: Any) -> Tensor:
    """``x[index]``: slicing and integer-array indexing; the gradient is scattered back."""
    try:
        value = np.asarray(x.data[index])
    except IndexError as exc:
        raise IndexError(f"getitem: {exc} (tensor shape {x.shape})") from None
    return record(
        value,
        (x,),
        "getitem",
        (lambda g, out: _scatter(g, index, x.shape),),
        lambda t: np.asarray(t[index]),
    )


def _scatter(g: Tensor, index: Any, shape: tuple[int, ...]) -> Tensor:
    """The adjoint of ``getitem``: zeros of ``shape`` with ``g`` added at ``index``."""

    def scatter_array(values: np.ndarray) -> np.ndarray:
        out = np.zeros(shape, dtype=values.dtype)
        if _is_basic(index):
            out[index] = values
        else:
            np.add.at(out, index, values)  # an element picked twice gets both contributions
        return out

    return record(
        scatter_array(g.data),
        (g,),
        "scatter",
        (lambda gg, out: getitem(gg, index),),
        scatter_array,
    )


def concatenate(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    tensors = [as_tensor(t) for t in tensors]
    try:
        value = np.concatenate([t.data for t in tensors], axis=axis)
    except ValueError:
        shapes = ", ".join(str(t.shape) for t in tensors)
        raise ShapeError(f"concatenate: shapes {shapes} do not fit along axis {axis}") from None
    ax = axis % value.ndim
    bounds = np.cumsum([0] + [t.shape[ax] for t in tensors])

    def piece(i: int) -> Any:
        index = (slice(None),) * ax + (slice(int(bounds[i]), int(bounds[i + 1])),)
        return lambda g, out: getitem(g, index)

    return record(
        value,
        tensors,
        "concatenate",
        [piece(i) for i in range(len(tensors))],
        lambda *ts: np.concatenate(ts, axis=ax),
    )


def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    tensors = [as_tensor(t) for t in tensors]
    ax = axis % (tensors[0].ndim + 1)
    return concatenate([reshape(t, t.shape[:ax] + (1,) + t.shape[ax:]) for t in tensors], ax)


# ---- convolution and pooling (im2col) ---------------------------------------------------------
def _conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def _unfold_array(a: np.ndarray, kh: int, kw: int, stride: int, padding: int) -> np.ndarray:
    """(N, C, H, W) -> (N·Ho·Wo, C·kh·kw): every receptive field as one row."""
    n, c = a.shape[:2]
    if padding:
        a = np.pad(a, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    windows = sliding_window_view(a, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    ho, wo = windows.shape[2:4]
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c * kh * kw)


def _fold_array(
    cols: np.ndarray, shape: tuple[int, ...], kh: int, kw: int, stride: int, padding: int
) -> np.ndarray:
    """The adjoint of ``_unfold_array``: add every row back onto the pixels it came from."""
    n, c, h, w = shape
    ho, wo = _conv_out(h, kh, stride, padding), _conv_out(w, kw, stride, padding)
    patches = cols.reshape(n, ho, wo, c, kh, kw).transpose(0, 3, 4, 5, 1, 2)
    out = np.zeros((n, c, h + 2 * padding, w + 2 * padding), dtype=cols.dtype)
    for i in range(kh):  # kh·kw strided additions instead of one per output pixel
        for j in range(kw):
            out[:, :, i : i + stride * ho : stride, j : j + stride * wo : stride] += patches[
                :, :, i, j
            ]
    return out[:, :, padding : padding + h, padding : padding + w]


def unfold(x: Tensor, kh: int, kw: int, stride: int = 1, padding: int = 0) -> Tensor:
    shape = x.shape
    return record(
        _unfold_array(x.data, kh, kw, stride, padding),
        (x,),
        "unfold",
        (lambda g, out: fold(g, shape, kh, kw, stride, padding),),
        lambda t: _unfold_array(t, kh, kw, stride, padding),
    )


def fold(
    cols: Tensor, shape: tuple[int, ...], kh: int, kw: int, stride: int = 1, padding: int = 0
) -> Tensor:
    return record(
        _fold_array(cols.data, shape, kh, kw, stride, padding),
        (cols,),
        "fold",
        (lambda g, out: unfold(g, kh, kw, stride, padding),),
        lambda t: _fold_array(t, shape, kh, kw, stride, padding),
    )


def conv2d(
    x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int = 1, padding: int = 0
) -> Tensor:
    """2-D cross-correlation (PyTorch's conv2d): x (N, C, H, W), weight (O, C, kh, kw)."""
    if x.ndim != 4 or weight.ndim != 4:
        raise ShapeError(
            f"conv2d: needs input (N, C, H, W) and weight (O, C, kh, kw), "
            f"got shapes {x.shape} and {weight.shape}"
        )
    n, c, h, w = x.shape
    o, wc, kh, kw = weight.shape
    if c != wc:
        raise ShapeError(
            f"conv2d: input shape {x.shape} has {c} channels but weight shape "
            f"{weight.shape} expects {wc}"
        )
    ho, wo = _conv_out(h, kh, stride, padding), _conv_out(w, kw, stride, padding)
    if ho < 1 or wo < 1:
        raise ShapeError(f"conv2d: kernel {weight.shape[2:]} is larger than input {x.shape[2:]}")
    cols = unfold(x, kh, kw, stride, padding)  # (N·Ho·Wo, C·kh·kw)
    out = cols @ transpose(reshape(weight, (o, c * kh * kw)))  # (N·Ho·Wo, O)
    if bias is not None:
        out = out + bias
    return transpose(reshape(out, (n, ho, wo, o)), (0, 3, 1, 2))


def max_pool2d(x: Tensor, kernel_size: int = 2, stride: int | None = None) -> Tensor:
    """Maximum over each kernel_size² window; the gradient goes to the (first) maximum."""
    if x.ndim != 4:
        raise ShapeError(f"max_pool2d: needs input (N, C, H, W), got shape {x.shape}")
    stride = stride or kernel_size
    n, c, h, w = x.shape
    ho, wo = _conv_out(h, kernel_size, stride, 0), _conv_out(w, kernel_size, stride, 0)
    if ho < 1 or wo < 1:
        raise ShapeError(f"max_pool2d: kernel {kernel_size} is larger than input {x.shape[2:]}")
    windows = unfold(reshape(x, (n * c, 1, h, w)), kernel_size, kernel_size, stride)
    winner = windows.data.argmax(axis=1)
    picked = windows[np.arange(len(winner)), winner]
    return reshape(picked, (n, c, ho, wo))
