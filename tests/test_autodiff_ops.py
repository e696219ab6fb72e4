"""Every operation's reverse- and forward-mode derivative against central finite differences.

Shapes come from hypothesis (broadcasting included); values from a seeded generator, moved
away from kinks (relu at 0, max ties) and singularities (log, division) so that finite
differences are meaningful.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

from practicum import autodiff as ad

FAST = settings(max_examples=12, deadline=None)

shapes = array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
nonscalar_shapes = array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
pairs = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=1, max_side=3)
seeds = st.integers(0, 2**31 - 1)


def normal(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


def away_from_zero(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    x = normal(seed, shape)
    return np.sign(x) * (0.2 + np.abs(x))


def positive(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    return 0.3 + np.abs(normal(seed, shape))


def check(f, *inputs: np.ndarray) -> None:
    """Reverse and forward mode agree with finite differences (raises with the worst element)."""
    ad.gradcheck(f, list(inputs), atol=1e-6, rtol=1e-5)


# ---- elementwise ----------
UNARY = {
    "neg": (lambda x: -x, normal),
    "exp": (ad.exp, normal),
    "log": (ad.log, positive),
    "tanh": (ad.tanh, normal),
    "sigmoid": (ad.sigmoid, normal),
    "relu": (ad.relu, away_from_zero),
    "square": (lambda x: x**2, normal),
    "cube": (lambda x: x**3, normal),
    "sqrt": (lambda x: x**0.5, positive),
    "reciprocal": (lambda x: 1.0 / x, away_from_zero),
    "exp2": (lambda x: 2.0**x, normal),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@FAST
@given(shape=shapes, seed=seeds)
def test_unary(name: str, shape: tuple[int, ...], seed: int) -> None:
    f, draw = UNARY[name]
    check(f, draw(seed, shape))


BINARY = {
    "add": (lambda a, b: a + b, normal, normal),
    "sub": (lambda a, b: a - b, normal, normal),
    "mul": (lambda a, b: a * b, normal, normal),
    "div": (lambda a, b: a / b, normal, away_from_zero),
    "pow": (lambda a, b: a**b, positive, normal),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@FAST
@given(shapes=pairs, seed=seeds)
def test_binary_with_broadcasting(name: str, shapes, seed: int) -> None:
    f, draw_a, draw_b = BINARY[name]
    shape_a, shape_b = shapes.input_shapes
    a, b = draw_a(seed, shape_a), draw_b(seed + 1, shape_b)
    check(f, a, b)
    # The gradient has the operand's shape, not the broadcast result's.
    ta, tb = ad.Tensor(a, requires_grad=True), ad.Tensor(b, requires_grad=True)
    f(ta, tb).sum().backward()
    assert ta.grad.shape == shape_a and tb.grad.shape == shape_b


# ---- reductions ----------
@st.composite
def shape_and_axis(draw, min_dims: int = 1):
    shape = draw(array_shapes(min_dims=min_dims, max_dims=3, min_side=1, max_side=4))
    axis = draw(
        st.one_of(
            st.none(),
            st.integers(-len(shape), len(shape) - 1),
            st.lists(st.integers(0, len(shape) - 1), min_size=1, unique=True).map(tuple),
        )
    )
    return shape, axis


@pytest.mark.parametrize("op", ["sum", "mean", "max", "logsumexp"])
@FAST
@given(sa=shape_and_axis(), keepdims=st.booleans(), seed=seeds)
def test_reductions(op: str, sa, keepdims: bool, seed: int) -> None:
    shape, axis = sa
    f = getattr(ad, op)
    x = normal(seed, shape)
    check(lambda t: f(t, axis, keepdims), x)
    expected = {"sum": np.sum, "mean": np.mean, "max": np.max}.get(op)
    if expected is not None:
        got = f(ad.Tensor(x), axis, keepdims).data
        np.testing.assert_allclose(got, expected(x, axis=axis, keepdims=keepdims))


def test_max_ties_share_the_gradient() -> None:
    x = ad.Tensor([1.0, 3.0, 3.0, 2.0], requires_grad=True)
    ad.max(x).backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.5, 0.5, 0.0])


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@FAST
@given(shape=nonscalar_shapes, seed=seeds, data=st.data())
def test_softmax_family(op: str, shape: tuple[int, ...], seed: int, data) -> None:
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    f = getattr(ad, op)
    check(lambda t: f(t, axis), normal(seed, shape))


def test_softmax_is_stable_for_large_logits() -> None:
    x = ad.Tensor([[1000.0, 0.0, -1000.0]])
    np.testing.assert_allclose(ad.softmax(x).data, [[1.0, 0.0, 0.0]])
    assert np.isfinite(ad.log_softmax(x).data).all()
    assert np.isfinite(ad.logsumexp(x).data).all()


@FAST
@given(n=st.integers(1, 5), k=st.integers(2, 5), seed=seeds)
def test_cross_entropy(n: int, k: int, seed: int) -> None:
    labels = np.random.default_rng(seed).integers(0, k, size=n)
    logits = normal(seed, (n, k))
    check(lambda z: ad.cross_entropy(z, labels), logits)
    import torch

    expected = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(labels))
    np.testing.assert_allclose(ad.cross_entropy(ad.Tensor(logits), labels).item(), expected.item())


# ---- linear algebra and shapes ----------
@FAST
@given(
    batch=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2, max_side=3),
    n=st.integers(1, 4),
    k=st.integers(1, 4),
    m=st.integers(1, 4),
    seed=seeds,
)
def test_matmul_batched(batch, n: int, k: int, m: int, seed: int) -> None:
    sa, sb = batch.input_shapes
    a, b = normal(seed, (*sa, n, k)), normal(seed + 1, (*sb, k, m))
    check(lambda x, y: x @ y, a, b)
    np.testing.assert_allclose((ad.Tensor(a) @ ad.Tensor(b)).data, a @ b)


@pytest.mark.parametrize(
    "shapes", [((3,), (3, 2)), ((2, 3), (3,)), ((4,), (4,)), ((2, 2, 3), (3,))]
)
def test_matmul_vectors(shapes) -> None:
    a, b = normal(0, shapes[0]), normal(1, shapes[1])
    check(lambda x, y: ad.matmul(x, y), a, b)
    np.testing.assert_allclose(ad.matmul(ad.Tensor(a), ad.Tensor(b)).data, a @ b)


@FAST
@given(shape=shapes, seed=seeds, data=st.data())
def test_transpose_and_reshape(shape: tuple[int, ...], seed: int, data) -> None:
    x = normal(seed, shape)
    axes = data.draw(st.permutations(range(len(shape))))
    check(
        lambda t: ad.transpose(t, axes) * np.arange(x.size).reshape(np.transpose(x, axes).shape), x
    )
    new_shape = data.draw(st.sampled_from([(x.size,), (1, x.size), (x.size, 1), shape[::-1]]))
    if int(np.prod(new_shape)) == x.size:
        check(lambda t: ad.reshape(t, new_shape) ** 2, x)


INDEXES = [
    (slice(1, 3),),
    (slice(None, None, -1),),
    (0,),
    (Ellipsis, 1),
    (np.array([0, 2, 2, 1]),),  # a repeated index: its gradients must add up
    (np.array([0, 1, 1]), np.array([2, 0, 0])),
    (slice(None), None, np.array([1, 1])),
]


@pytest.mark.parametrize("index", INDEXES, ids=range(len(INDEXES)))
def test_getitem(index) -> None:
    x = normal(3, (3, 4))
    check(lambda t: t[index] * 1.5, x)
    np.testing.assert_array_equal(ad.Tensor(x)[index].data, x[index])


@st.composite
def shape_and_index(draw):
    """A shape and an index into it: per axis a slice (any step), an int, or an int array."""
    shape = draw(array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    index = []
    for n in shape:
        kind = draw(st.sampled_from(["slice", "int", "array"]))
        if kind == "slice":
            start = draw(st.none() | st.integers(-n, n))
            stop = draw(st.none() | st.integers(-n, n))
            step = draw(st.sampled_from([None, 1, 2, -1, -2]))
            index.append(slice(start, stop, step))
        elif kind == "int":
            index.append(draw(st.integers(-n, n - 1)))
        else:
            index.append(np.array(draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=4))))
    arrays = [i for i in index if isinstance(i, np.ndarray)]
    if len({a.shape for a in arrays}) > 1:  # integer arrays must broadcast together
        index = [i if not isinstance(i, np.ndarray) else i[:1] for i in index]
    return shape, tuple(index)


@FAST
@given(si=shape_and_index(), seed=seeds)
def test_getitem_generated(si, seed: int) -> None:
    shape, index = si
    x = normal(seed, shape)
    expected = x[index]
    if expected.size == 0:
        return  # an empty selection has no derivative to check
    check(lambda t: t[index] * 1.5, x)
    np.testing.assert_array_equal(ad.Tensor(x)[index].data, expected)


@FAST
@given(
    shape=nonscalar_shapes,
    sizes=st.lists(st.integers(1, 3), min_size=1, max_size=3),
    seed=seeds,
    data=st.data(),
)
def test_concatenate_and_stack(shape, sizes, seed: int, data) -> None:
    axis = data.draw(st.integers(0, len(shape) - 1))
    parts = [normal(seed + i, shape[:axis] + (s,) + shape[axis + 1 :]) for i, s in enumerate(sizes)]
    check(lambda *ts: ad.concatenate(ts, axis) ** 2, *parts)
    same = [normal(seed + i, shape) for i in range(len(sizes))]
    check(lambda *ts: ad.stack(ts, axis) ** 2, *same)
    np.testing.assert_array_equal(
        ad.stack([ad.Tensor(p) for p in same], axis).data, np.stack(same, axis)
    )


@FAST
@given(shapes=pairs, seed=seeds)
def test_broadcast_to_and_sum_to(shapes, seed: int) -> None:
    shape_a, shape_b = shapes.input_shapes
    target = np.broadcast_shapes(shape_a, shape_b)
    x = normal(seed, shape_a)
    check(lambda t: ad.broadcast_to(t, target) ** 2, x)
    big = normal(seed, target)
    check(lambda t: ad.sum_to(t, shape_a) ** 2, big)


# ---- convolution and pooling ----------
@settings(max_examples=8, deadline=None)
@given(
    stride=st.integers(1, 2),
    padding=st.integers(0, 1),
    k=st.integers(1, 3),
    size=st.integers(3, 5),
    seed=seeds,
)
def test_conv2d(stride: int, padding: int, k: int, size: int, seed: int) -> None:
    x, w, b = normal(seed, (2, 2, size, size)), normal(seed + 1, (3, 2, k, k)), normal(seed, (3,))
    check(lambda x, w, b: ad.conv2d(x, w, b, stride, padding), x, w, b)
    import torch

    expected = torch.nn.functional.conv2d(
        torch.tensor(x), torch.tensor(w), torch.tensor(b), stride=stride, padding=padding
    )
    np.testing.assert_allclose(
        ad.conv2d(ad.Tensor(x), ad.Tensor(w), ad.Tensor(b), stride, padding).data,
        expected.numpy(),
        atol=1e-12,
    )


@settings(max_examples=8, deadline=None)
@given(
    kernel=st.integers(1, 3),
    stride=st.integers(1, 3),
    n=st.integers(1, 2),
    c=st.integers(1, 3),
    h=st.integers(3, 6),
    w=st.integers(3, 6),
    seed=seeds,
)
def test_max_pool2d(kernel: int, stride: int, n: int, c: int, h: int, w: int, seed: int) -> None:
    import torch

    # Distinct values (a permutation) so no window has a tie.
    size = n * c * h * w
    x = np.random.default_rng(seed).permutation(size).reshape(n, c, h, w) / size
    check(lambda t: ad.max_pool2d(t, kernel, stride) ** 2, x)
    expected = torch.nn.functional.max_pool2d(torch.tensor(x), kernel, stride)
    np.testing.assert_array_equal(
        ad.max_pool2d(ad.Tensor(x), kernel, stride).data, expected.numpy()
    )


def test_fold_is_the_adjoint_of_unfold() -> None:
    # <unfold(x), c> == <x, fold(c)> for every x, c: the defining property of an adjoint.
    x = normal(0, (2, 3, 5, 6))
    cols = ad.unfold(ad.Tensor(x), 3, 2, 2, 1)
    c = normal(1, cols.shape)
    back = ad.fold(ad.Tensor(c), x.shape, 3, 2, 2, 1)
    np.testing.assert_allclose(np.sum(cols.data * c), np.sum(x * back.data))


# ---- forward and reverse mode agree ----------
def network(x: ad.Tensor, w: ad.Tensor) -> ad.Tensor:
    """A function that uses most operations at once."""
    h = ad.tanh(x @ w) + ad.sigmoid(x[:, :2]).sum(axis=1, keepdims=True)
    z = ad.concatenate([h, ad.relu(h) * 2.0, h**2], axis=1)
    return ad.log_softmax(z, axis=1) - ad.logsumexp(z.T, axis=0).reshape(-1, 1) / 3.0


@FAST
@given(n=st.integers(1, 4), seed=seeds)
def test_jvp_and_vjp_are_transposes(n: int, seed: int) -> None:
    """<u, J v> from forward mode equals <Jᵀ u, v> from reverse mode."""
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((n, 3)), rng.standard_normal((3, 2))
    vx, vw = rng.standard_normal(x.shape), rng.standard_normal(w.shape)
    out, jv = ad.jvp(network, [x, w], [vx, vw])
    u = rng.standard_normal(out.shape)
    _, (gx, gw) = ad.vjp(network, [x, w], u)
    np.testing.assert_allclose(np.sum(u * jv), np.sum(gx * vx) + np.sum(gw * vw), rtol=1e-10)


def test_jvp_records_no_graph() -> None:
    out, _ = ad.jvp(lambda x: ad.exp(x).sum(), [np.ones(3)], [np.ones(3)])
    assert not out.requires_grad and out.is_leaf


def test_float32_stays_float32() -> None:
    x = ad.Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    y = (ad.exp(x * 2.0 + 1) / 3.0).sum()
    y.backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
