"""A good student test file for the mlp task: each test checks a property that the
interface implies."""

import torch

from mlp import MLP


def count(model):
    return sum(p.numel() for p in model.parameters())


def test_output_shape():
    sizes = [(1, 1, 1, 0, 3), (5, 3, 2, 2, 4), (7, 2, 6, 3, 5)]
    for batch, n_in, n_out, depth, width in sizes:
        model = MLP(n_in, n_out, depth, width)
        assert model(torch.randn(batch, n_in)).shape == (batch, n_out)


def test_parameter_count():
    for n_in, n_out, depth, width in [(3, 2, 0, 4), (3, 2, 1, 4), (3, 2, 3, 5)]:
        sizes = [n_in] + [width] * depth + [n_out]
        expected = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
        assert count(MLP(n_in, n_out, depth, width)) == expected


def test_identity_activations_make_it_affine():
    torch.manual_seed(0)
    model = MLP(3, 2, 2, 5)
    a, b = torch.randn(4, 3), torch.randn(4, 3)
    lhs = model(0.3 * a + 0.7 * b)
    rhs = 0.3 * model(a) + 0.7 * model(b)
    torch.testing.assert_close(lhs, rhs, atol=1e-5, rtol=1e-5)


def test_activations_called_once_per_layer():
    calls = {"hidden": 0, "output": 0}

    def hidden(x):
        calls["hidden"] += 1
        return torch.relu(x)

    def output(x):
        calls["output"] += 1
        return torch.sigmoid(x)

    model = MLP(3, 2, 3, 4, hidden_activation=hidden, output_activation=output)
    y = model(torch.randn(6, 3))
    assert calls == {"hidden": 3, "output": 1}
    assert ((y > 0) & (y < 1)).all()


def test_every_parameter_gets_a_gradient():
    model = MLP(3, 2, 2, 4, hidden_activation=torch.tanh)
    model(torch.randn(5, 3)).sum().backward()
    for p in model.parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0


def test_rows_are_independent():
    torch.manual_seed(1)
    model = MLP(3, 2, 2, 4, hidden_activation=torch.relu)
    x = torch.randn(6, 3)
    y = model(x)
    x2 = x.clone()
    x2[3] += 1.0
    y2 = model(x2)
    torch.testing.assert_close(y[:3], y2[:3])
    torch.testing.assert_close(y[4:], y2[4:])


def test_same_seed_same_model():
    torch.manual_seed(3)
    a = MLP(3, 2, 2, 4)
    torch.manual_seed(3)
    b = MLP(3, 2, 2, 4)
    x = torch.randn(2, 3)
    torch.testing.assert_close(a(x), b(x))
