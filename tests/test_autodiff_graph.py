"""The graph machinery: accumulation, deep chains, no_grad, functional API, HVP, errors, dot."""

from __future__ import annotations

import re

import numpy as np
import pytest

from practicum import autodiff as ad


def test_diamond_graph_sums_both_branches() -> None:
    # y = a·b + a·c with b = 2x, c = x²: one value (x) reaches y along two paths.
    x = ad.Tensor(3.0, requires_grad=True)
    b, c = 2 * x, x * x
    y = b * c + ad.exp(b - c)
    y.backward()
    # dy/dx = d(2x³)/dx + e^(2x−x²)(2 − 2x)
    expected = 6 * 9 + np.exp(6 - 9) * (2 - 6)
    np.testing.assert_allclose(x.grad.data, expected)


def test_value_used_twice_in_one_op() -> None:
    x = ad.Tensor([1.0, -2.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, -4.0])


def test_gradients_accumulate_over_backward_calls() -> None:
    x = ad.Tensor([1.0, 2.0], requires_grad=True)
    (3 * x).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3 + 2, 3 + 4])


def test_chain_of_100000_operations() -> None:
    """An iterative topological sort: no recursion limit, and the exact derivative."""
    x = ad.Tensor(0.5, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.00001
    y.backward()
    np.testing.assert_allclose(x.grad.data, 1.00001**100_000, rtol=1e-9)
    assert len(ad.topological_order(y)) == 100_001


def test_no_grad_records_nothing() -> None:
    w = ad.Tensor([1.0, 2.0], requires_grad=True)
    with ad.no_grad():
        y = (w * 2).sum()
        assert not ad.is_grad_enabled()
    assert ad.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_detach_cuts_the_graph() -> None:
    x = ad.Tensor(2.0, requires_grad=True)
    y = x * x.detach()  # d/dx treats the detached copy as a constant 2
    y.backward()
    assert x.grad.item() == 2.0


def test_grad_and_value_and_grad() -> None:
    def f(x, w):
        return ((x @ w) ** 2).sum()

    x, w = np.ones((2, 3)), np.arange(6.0).reshape(3, 2)
    gx, gw = ad.grad(f, argnums=(0, 1))(x, w)
    np.testing.assert_allclose(gx, 2 * (x @ w) @ w.T)
    np.testing.assert_allclose(gw, 2 * x.T @ (x @ w))
    value, gw_only = ad.value_and_grad(f, argnums=1)(x, w)
    assert value == pytest.approx(np.sum((x @ w) ** 2))
    np.testing.assert_allclose(gw_only, gw)


def test_jvp_is_the_directional_derivative() -> None:
    x, v = np.array([0.3, -1.2, 2.0]), np.array([1.0, 0.5, -2.0])

    def f(x):
        return ad.tanh(x) * ad.exp(x)

    out, tangent = ad.jvp(f, [x], [v])
    derivative = (1 - np.tanh(x) ** 2) * np.exp(x) + np.tanh(x) * np.exp(x)
    np.testing.assert_allclose(out.data, np.tanh(x) * np.exp(x))
    np.testing.assert_allclose(tangent, derivative * v)


def rosenbrock(x: ad.Tensor) -> ad.Tensor:
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def rosenbrock_hessian(x: np.ndarray) -> np.ndarray:
    n = len(x)
    h = np.zeros((n, n))
    for i in range(n - 1):
        h[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        h[i, i + 1] = h[i + 1, i] = -400 * x[i]
        h[i + 1, i + 1] += 200
    return h


def test_hvp_matches_the_closed_form_hessian() -> None:
    rng = np.random.default_rng(0)
    x, v = rng.standard_normal(5), rng.standard_normal(5)
    (hv,) = ad.hvp(rosenbrock, [x], [v])
    np.testing.assert_allclose(hv, rosenbrock_hessian(x) @ v, rtol=1e-12)


def test_hvp_through_a_network_matches_finite_differences_of_the_gradient() -> None:
    rng = np.random.default_rng(1)
    x, w1, w2 = (
        rng.standard_normal((4, 3)),
        rng.standard_normal((3, 5)),
        rng.standard_normal((5, 2)),
    )
    y = np.array([0, 1, 1, 0])
    v1, v2 = rng.standard_normal(w1.shape), rng.standard_normal(w2.shape)

    def loss(w1, w2):
        return ad.cross_entropy(ad.tanh(ad.Tensor(x) @ w1) @ w2, y)

    h1, h2 = ad.hvp(loss, [w1, w2], [v1, v2])
    g = ad.grad(loss, argnums=(0, 1))
    eps = 1e-5
    plus, minus = g(w1 + eps * v1, w2 + eps * v2), g(w1 - eps * v1, w2 - eps * v2)
    np.testing.assert_allclose(h1, (plus[0] - minus[0]) / (2 * eps), atol=1e-7)
    np.testing.assert_allclose(h2, (plus[1] - minus[1]) / (2 * eps), atol=1e-7)


def test_reverse_over_reverse_agrees_with_forward_over_reverse() -> None:
    rng = np.random.default_rng(2)
    x0, v = rng.standard_normal(4), rng.standard_normal(4)
    x = ad.Tensor(x0, requires_grad=True)
    rosenbrock(x).backward(create_graph=True)
    g = x.grad
    x.grad = None
    (g * ad.Tensor(v)).sum().backward()  # d<∇f, v>/dx = H v
    np.testing.assert_allclose(x.grad.data, ad.hvp(rosenbrock, [x0], [v])[0], rtol=1e-12)


# ---- errors ----------
def test_shape_errors_name_both_shapes_and_the_op() -> None:
    a, b = ad.Tensor(np.ones((2, 3))), ad.Tensor(np.ones((4, 5)))
    with pytest.raises(
        ad.ShapeError, match=re.escape("add: cannot broadcast shapes (2, 3) and (4, 5)")
    ):
        a + b
    with pytest.raises(ad.ShapeError, match=re.escape("matmul: shapes (2, 3) and (4, 5)")):
        a @ b
    with pytest.raises(
        ad.ShapeError, match=re.escape("mul: cannot broadcast shapes (2, 3) and (4, 5)")
    ):
        a * b
    with pytest.raises(
        ad.ShapeError, match=re.escape("reshape: cannot reshape shape (2, 3) into (4,)")
    ):
        a.reshape(4)
    with pytest.raises(ad.ShapeError, match=re.escape("concatenate: shapes (2, 3), (4, 5)")):
        ad.concatenate([a, b], axis=0)
    x, w = ad.Tensor(np.ones((1, 3, 5, 5))), ad.Tensor(np.ones((2, 4, 3, 3)))
    with pytest.raises(ad.ShapeError, match=r"conv2d: input shape \(1, 3, 5, 5\) has 3 channels"):
        ad.conv2d(x, w)
    with pytest.raises(ad.ShapeError, match=r"cross_entropy: logits shape \(2, 3\) needs labels"):
        ad.cross_entropy(a, [0, 1, 2])


def test_backward_on_a_non_scalar_needs_a_seed() -> None:
    x = ad.Tensor(np.ones((2, 3)), requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"non-scalar tensor of shape \(2, 3\) needs a seed"):
        y.backward()
    y.backward(np.ones((2, 3)))
    np.testing.assert_array_equal(x.grad.data, 2 * np.ones((2, 3)))
    with pytest.raises(ad.ShapeError, match=r"seed gradient shape \(3,\)"):
        y.backward(np.ones(3))


def test_unsupported_dtype_is_refused() -> None:
    with pytest.raises(TypeError, match="float32 and float64"):
        ad.Tensor(np.ones(3, dtype=np.float16))


def test_gradcheck_reports_the_worst_element() -> None:
    def wrong(x):  # claims d(x³)/dx = 3x² everywhere except one element
        return ad.power(x, 3)

    report = ad.gradcheck(wrong, [np.array([1.0, 2.0])])
    assert report.ok and report.abs_error < 1e-6

    def broken(x):
        # x·stop_gradient(x): value x², but the engine sees derivative x, not 2x.
        return x * x.detach()

    with pytest.raises(ad.GradcheckError, match=r"worst element is input 0 at index \(1,\)"):
        ad.gradcheck(broken, [np.array([1.0, 3.0])], modes=("reverse",))


# ---- the graph as Graphviz text ----------
def test_to_dot_lists_operations_and_operands() -> None:
    w = ad.Tensor(np.ones((3, 2)), requires_grad=True, name="W")
    x = ad.Tensor(np.ones((4, 3)), name="x")
    loss = ad.relu(x @ w).sum()
    dot = ad.to_dot(loss)
    assert dot.startswith("digraph")
    assert dot.count("->") == 4  # x -> matmul, W -> matmul -> relu -> sum
    assert 'label="W\\n3×2", style=filled' in dot  # parameters are grey, inputs are not
    for label in ("x\\n4×3", "matmul\\n4×2", "relu\\n4×2", "sum\\nscalar"):
        assert label in dot
