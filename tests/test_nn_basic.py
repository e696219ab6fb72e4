"""Mathematical properties of Linear, BasisExpansion, MLP and the L2 penalty."""

from __future__ import annotations

import math

import hypothesis.strategies as st
import numpy as np
import pytest
import torch
from hypothesis import given, settings

from practicum.nn import MLP, BasisExpansion, Linear, l2_penalty

torch.set_default_dtype(torch.float32)


@settings(max_examples=25, deadline=None)
@given(
    n_in=st.integers(1, 6),
    n_out=st.integers(1, 6),
    a=st.floats(-3, 3),
    b=st.floats(-3, 3),
    seed=st.integers(0, 2**16),
)
def test_linear_is_affine(n_in, n_out, a, b, seed):
    # f(a x + b y) = a f(x) + b f(y) + (1 - a - b) f(0) holds exactly for affine maps.
    torch.manual_seed(seed)
    layer = Linear(n_in, n_out).double()
    torch.nn.init.normal_(layer.bias)
    x, y = torch.randn(4, n_in, dtype=torch.float64), torch.randn(4, n_in, dtype=torch.float64)
    zero = torch.zeros(1, n_in, dtype=torch.float64)
    lhs = layer(a * x + b * y)
    rhs = a * layer(x) + b * layer(y) + (1 - a - b) * layer(zero)
    torch.testing.assert_close(lhs, rhs, rtol=1e-9, atol=1e-9)


def test_linear_gradient_matches_finite_differences():
    torch.manual_seed(0)
    layer = Linear(3, 2).double()
    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda inp, w, b: inp @ w.T + b, (x, layer.weight, layer.bias))
    # and the module itself, through its parameters
    assert torch.autograd.gradcheck(layer, (x,))


def test_linear_initialisation_variance():
    torch.manual_seed(0)
    layer = Linear(400, 300)
    assert layer.weight.var().item() == pytest.approx(1 / 400, rel=0.05)
    assert torch.all(layer.bias == 0)
    no_bias = Linear(3, 2, bias=False)
    assert no_bias.bias is None and len(list(no_bias.parameters())) == 1


def test_linear_shape_error_is_clear():
    with pytest.raises(ValueError, match="expects inputs with 3 features"):
        Linear(3, 2)(torch.zeros(4, 5))


def test_basis_peaks_at_mu_with_value_one_and_is_e_inverse_at_one_sigma():
    basis = BasisExpansion(5)
    with torch.no_grad():
        basis.mu.copy_(torch.tensor([0.1, 0.3, 0.5, 0.7, 0.9]))
        basis.log_sigma.copy_(torch.log(torch.tensor([0.05, 0.1, 0.2, 0.3, 0.4])))
    mu, sigma = basis.mu.detach(), basis.sigma.detach()
    at_mu = basis(mu).diagonal()
    torch.testing.assert_close(at_mu, torch.ones(5))
    torch.testing.assert_close(basis(mu + sigma).diagonal(), torch.full((5,), math.exp(-1)))
    torch.testing.assert_close(basis(mu - sigma).diagonal(), torch.full((5,), math.exp(-1)))
    # the maximum over a fine grid is at μ
    grid = torch.linspace(-1, 2, 30001)
    argmax = grid[basis(grid).argmax(0)]
    torch.testing.assert_close(argmax, mu, atol=2e-4, rtol=0)


@settings(max_examples=30, deadline=None)
@given(d=st.floats(0, 3), seed=st.integers(0, 1000))
def test_basis_is_symmetric_about_mu(d, seed):
    torch.manual_seed(seed)
    basis = BasisExpansion(4)
    with torch.no_grad():
        basis.mu.normal_()
        basis.log_sigma.normal_(0, 0.5)
    mu = basis.mu.detach()
    torch.testing.assert_close(basis(mu + d).diagonal(), basis(mu - d).diagonal())


def test_basis_sigma_stays_positive_under_any_update():
    basis = BasisExpansion(3)
    with torch.no_grad():
        basis.log_sigma.copy_(torch.tensor([-50.0, 0.0, 50.0]))
    assert torch.all(basis.sigma > 0)
    assert basis(torch.zeros(7, 1)).shape == (7, 3)


def test_basis_gradient_matches_finite_differences():
    basis = BasisExpansion(3).double()
    x = torch.rand(6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(basis, (x,))


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_mlp_with_identity_activations_is_affine(depth):
    torch.manual_seed(depth)
    mlp = MLP(3, 2, num_hidden_layers=depth, hidden_layer_width=7).double()
    for layer in mlp.layers:
        torch.nn.init.normal_(layer.bias)
    x = torch.randn(10, 3, dtype=torch.float64)
    # An affine map equals its own first-order expansion: f(x) = f(0) + J x with J constant.
    jac = torch.autograd.functional.jacobian(lambda v: mlp(v), torch.zeros(3, dtype=torch.float64))
    expected = mlp(torch.zeros(1, 3, dtype=torch.float64)) + x @ jac.T
    torch.testing.assert_close(mlp(x), expected)


def test_mlp_with_zero_hidden_layers_is_one_linear_map():
    mlp = MLP(4, 3, num_hidden_layers=0, hidden_layer_width=99)
    assert len(mlp.layers) == 1
    layer = mlp.layers[0]
    assert (layer.num_inputs, layer.num_outputs) == (4, 3)
    x = torch.randn(5, 4)
    torch.testing.assert_close(mlp(x), x @ layer.weight.T + layer.bias)


def test_mlp_applies_activations():
    torch.manual_seed(0)
    mlp = MLP(2, 1, 2, 16, hidden_activation=torch.relu, output_activation=torch.sigmoid)
    out = mlp(torch.randn(100, 2))
    assert torch.all((out > 0) & (out < 1))
    with pytest.raises(ValueError):
        MLP(2, 1, -1, 4)


def test_l2_penalty_gradient_is_two_lambda_theta():
    torch.manual_seed(0)
    mlp = MLP(3, 2, 2, 5)
    lam = 0.37
    (lam * l2_penalty(mlp)).backward()
    for p in mlp.parameters():
        torch.testing.assert_close(p.grad, 2 * lam * p.detach())
    values = [p.detach().numpy() for p in mlp.parameters()]
    assert l2_penalty(mlp).item() == pytest.approx(sum(float((v**2).sum()) for v in values))


def test_linear_of_basis_expansion_fits_a_sine():
    # Integration: Linear ∘ BasisExpansion learns sin(2πx) from noiseless samples.
    torch.manual_seed(0)
    model = torch.nn.Sequential(BasisExpansion(8), Linear(8, 1))
    x = torch.linspace(0, 1, 200)
    y = torch.sin(2 * math.pi * x)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(800):
        loss = ((model(x).squeeze(-1) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    rmse = loss.sqrt().item()
    assert rmse < 0.03, rmse
    assert np.isfinite(rmse)
