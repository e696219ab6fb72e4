"""Mathematical properties of practicum.nn.generative."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from torch.nn import functional as F

from practicum.nn.generative import (
    ConvDecoder,
    ConvEncoder,
    DiagonalGaussian,
    FourierFeatures,
    MLPDecoder,
    MLPEncoder,
    SineLayer,
    Siren,
    bernoulli_log_likelihood,
    categorical_entropy,
    feature_statistics,
    frechet_distance,
    grid_coordinates,
    log_mean_exp,
    relu_mlp,
    siren_init_bound,
    standard_normal_log_prob,
)

# ---- reparameterised Gaussian ---------------------------------------------------------------


def test_reparameterised_gradient_matches_analytic() -> None:
    # For f(z) = z², E[f] = μ² + σ², so dE/dμ = 2μ and dE/dσ = 2σ; with log σ² = s,
    # dE/ds = σ². The pathwise (reparameterised) estimator must agree on average.
    g = torch.Generator().manual_seed(0)
    mean = torch.tensor([0.7, -1.2, 0.0], requires_grad=True)
    log_var = torch.tensor([-0.5, 0.3, 1.0], requires_grad=True)
    q = DiagonalGaussian(mean, log_var)
    z = q.rsample(num_samples=200_000, generator=g)
    (z**2).mean(0).sum().backward()
    sigma2 = log_var.detach().exp()
    torch.testing.assert_close(mean.grad, 2 * mean.detach(), atol=0.02, rtol=0.02)
    torch.testing.assert_close(log_var.grad, sigma2, atol=0.03, rtol=0.02)


def test_rsample_has_the_right_moments() -> None:
    g = torch.Generator().manual_seed(1)
    q = DiagonalGaussian(torch.tensor([2.0, -3.0]), torch.log(torch.tensor([0.25, 4.0])))
    z = q.rsample(100_000, generator=g)
    torch.testing.assert_close(z.mean(0), q.mean, atol=0.02, rtol=0)
    torch.testing.assert_close(z.std(0), q.std, atol=0.02, rtol=0.01)


@settings(max_examples=20, deadline=None)
@given(
    st.lists(st.floats(-2.0, 2.0), min_size=3, max_size=3),
    st.lists(st.floats(-2.0, 1.0), min_size=3, max_size=3),
)
@example(mean=[0.0, 0.0, 0.0], log_var=[0.0, 0.0, 2.0712849374390544e-24])  # rounds below 0
def test_analytic_kl_equals_monte_carlo(mean: list[float], log_var: list[float]) -> None:
    q = DiagonalGaussian(torch.tensor(mean, dtype=torch.float64), torch.tensor(log_var).double())
    g = torch.Generator().manual_seed(2)
    eps = torch.randn(100_000, 3, generator=g, dtype=torch.float64)
    z = q.mean + q.std * eps
    mc = (q.log_prob(z) - standard_normal_log_prob(z)).mean()
    exact = q.kl_standard_normal()
    # The Monte-Carlo estimate's standard error, estimated from the same samples.
    stderr = (q.log_prob(z) - standard_normal_log_prob(z)).std() / math.sqrt(z.shape[0])
    assert abs(mc.item() - exact.item()) < 5 * stderr.item() + 1e-6
    # KL >= 0 exactly in real arithmetic; in floats, e^v - 1 - v rounds to -v for tiny v
    # (hypothesis found v = 2e-24 -> KL = -1e-24), so allow a few float64 ulps per dimension.
    assert exact.item() >= -4 * len(log_var) * torch.finfo(torch.float64).eps


def test_kl_is_zero_only_at_the_prior() -> None:
    zero = DiagonalGaussian(torch.zeros(4), torch.zeros(4)).kl_standard_normal()
    assert zero.item() == 0.0
    assert DiagonalGaussian(torch.full((4,), 0.1), torch.zeros(4)).kl_standard_normal() > 0


def test_log_prob_matches_torch_distributions() -> None:
    mean, log_var = torch.randn(5, 3), torch.randn(5, 3)
    z = torch.randn(5, 3)
    ours = DiagonalGaussian(mean, log_var).log_prob(z)
    ref = torch.distributions.Normal(mean, (0.5 * log_var).exp()).log_prob(z).sum(-1)
    torch.testing.assert_close(ours, ref)
    ref0 = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
    torch.testing.assert_close(standard_normal_log_prob(z), ref0)


def test_bernoulli_log_likelihood_equals_negative_bce_and_broadcasts() -> None:
    logits = torch.randn(4, 1, 8, 8) * 3
    x = torch.bernoulli(torch.full((4, 1, 8, 8), 0.4))
    ours = bernoulli_log_likelihood(logits, x)
    ref = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum((1, 2, 3))
    torch.testing.assert_close(ours, ref)
    many = bernoulli_log_likelihood(torch.stack([logits, logits]), x)  # k=2 samples
    assert many.shape == (2, 4)
    torch.testing.assert_close(many[1], ref)


def test_log_mean_exp_is_stable() -> None:
    v = torch.tensor([[1000.0, 1000.0], [-1000.0, 1000.0 + math.log(3.0)]])
    out = log_mean_exp(v, dim=0)
    torch.testing.assert_close(out, torch.tensor([1000.0 - math.log(2.0), 1000.0 + math.log(2.0)]))


def test_categorical_entropy_extremes() -> None:
    assert categorical_entropy(torch.full((10,), 0.1)).item() == pytest.approx(math.log(10))
    assert categorical_entropy(F.one_hot(torch.tensor(3), 10).float()).item() == 0.0


# ---- SIREN ----------------------------------------------------------------------------------


def test_siren_init_bounds() -> None:
    layer = SineLayer(64, 32, omega_0=30.0)
    bound = math.sqrt(6 / 64) / 30
    assert layer.linear.weight.abs().max().item() <= bound
    assert layer.linear.weight.abs().max().item() > 0.9 * bound
    first = SineLayer(2, 32, is_first=True)
    assert first.linear.weight.abs().max().item() <= 0.5
    assert siren_init_bound(2, 30.0, True) == 0.5


def _kolmogorov(sample: torch.Tensor, cdf: Callable[[torch.Tensor], torch.Tensor]) -> float:
    """sup |F_empirical − F| for a 1-D sample and a CDF (a callable on tensors)."""
    ordered, _ = sample.sort()
    empirical = torch.arange(1, ordered.numel() + 1) / ordered.numel()
    return (empirical - cdf(ordered)).abs().max().item()


def test_siren_activations_are_arcsine_with_stable_std() -> None:
    # Sitzmann et al. (section 3.2, appendix 1): each pre-activation ω₀Wx is ≈ Gaussian (a sum
    # of many bounded terms), and the sine of it is ≈ arcsine distributed on [-1, 1], with the
    # same spread at every depth. Here σ² ≈ 0.8 (arcsine inputs have variance ½, plus bias),
    # so the std settles at √((1 − e^{−1.6})/2) ≈ 0.632, the std of sin(N(0, 0.8)).
    torch.manual_seed(0)
    width = 512
    layers = [SineLayer(2, width, is_first=True)] + [SineLayer(width, width) for _ in range(9)]
    x = torch.rand(2048, 2) * 2 - 1
    arcsine = lambda y: 0.5 + torch.asin(y.clamp(-1, 1)) / math.pi  # noqa: E731
    stds = []
    with torch.no_grad():
        for layer in layers:
            pre = layer.preactivation(x)
            x = torch.sin(pre)
            stds.append(x.std().item())
            sample = x.flatten()[::37]
            if layer.is_first:  # wide pre-activations (±30 rad): an almost exact arcsine law
                assert _kolmogorov(sample, arcsine) < 0.02
                continue
            z = (pre.flatten()[::37] - pre.mean()) / pre.std()
            assert _kolmogorov(z, lambda t: 0.5 * (1 + torch.erf(t / math.sqrt(2)))) < 0.02
            assert _kolmogorov(sample, arcsine) < 0.08
    assert all(0.6 < s < 0.72 for s in stds)
    fixed_point = math.sqrt((1 - math.exp(-1.6)) / 2)
    assert all(abs(s - fixed_point) < 0.01 for s in stds[3:])  # stable, no drift with depth


def test_siren_preactivations_are_standard_normal() -> None:
    # The other half of the argument: ω₀ W x for arcsine inputs is ≈ N(0, 1).
    torch.manual_seed(1)
    layer = SineLayer(1024, 256)
    x = torch.sin(torch.rand(4096, 1024) * 2 * math.pi)  # arcsine-distributed inputs
    with torch.no_grad():
        pre = layer.omega_0 * (x @ layer.linear.weight.T)  # without bias: the theorem's setting
    assert abs(pre.mean().item()) < 0.02
    assert abs(pre.std().item() - 1.0) < 0.03


def test_fourier_features_shape_and_range() -> None:
    g = torch.Generator().manual_seed(0)
    enc = FourierFeatures(2, 16, scale=5.0, generator=g)
    out = enc(grid_coordinates(4, 5))
    assert out.shape == (20, 32)
    torch.testing.assert_close(out[:, :16] ** 2 + out[:, 16:] ** 2, torch.ones(20, 16))
    assert not any(p.requires_grad for p in enc.parameters())


def test_grid_coordinates_are_pixel_centres() -> None:
    c = grid_coordinates(2, 4)
    assert c.shape == (8, 2)
    torch.testing.assert_close(c[0], torch.tensor([-0.5, -0.75]))
    torch.testing.assert_close(c[-1], torch.tensor([0.5, 0.75]))


def _fit(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, lr: float) -> float:
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        loss = F.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return F.mse_loss(model(x), y).item()


def test_siren_overfits_a_small_image_better_than_relu() -> None:
    torch.manual_seed(0)
    x = grid_coordinates(16, 16)
    # A high-frequency pattern: a plain ReLU MLP's spectral bias shows within the same budget.
    y = (torch.sin(9 * x[:, :1]) * torch.cos(7 * x[:, 1:]) + 0.3 * torch.sign(x[:, :1])).float()
    siren = _fit(Siren(2, 1, width=64, num_hidden_layers=3), x, y, steps=300, lr=1e-3)
    relu = _fit(relu_mlp(2, 1, 64, 3), x, y, steps=300, lr=1e-3)
    assert siren < 1e-4
    assert siren < relu / 10


# ---- encoders / decoders overfit one batch -------------------------------------------------


def _digits_batch(n: int = 32) -> torch.Tensor:
    from sklearn.datasets import load_digits

    images = load_digits().images[:n] / 16.0
    return torch.tensor(images, dtype=torch.float32).unsqueeze(1)


def test_mlp_autoencoder_overfits_one_batch() -> None:
    torch.manual_seed(0)
    x = _digits_batch()
    enc, dec = MLPEncoder(64, [128], 8), MLPDecoder(8, [128], 64)
    params = [*enc.parameters(), *dec.parameters()]
    opt = torch.optim.Adam(params, lr=3e-3)
    for _ in range(300):
        loss = F.mse_loss(torch.sigmoid(dec(enc(x))), x.flatten(1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 2e-3


def test_conv_autoencoder_overfits_one_batch() -> None:
    torch.manual_seed(0)
    x = _digits_batch()
    enc, dec = ConvEncoder(8, image_size=8, channels=16), ConvDecoder(8, image_size=8, channels=16)
    opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=3e-3)
    for _ in range(300):
        loss = F.mse_loss(torch.sigmoid(dec(enc(x))), x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert dec(enc(x)).shape == x.shape
    assert loss.item() < 5e-3


def test_vae_overfits_one_batch() -> None:
    # The negative ELBO on one fixed binary batch must fall far below its starting value
    # (64 ln 2 ≈ 44 nats for logits at zero) while the KL stays finite and positive.
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    x = (_digits_batch() > 0.5).float().flatten(1)
    enc, dec = MLPEncoder(64, [128], 2 * 4), MLPDecoder(4, [128], 64)
    opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=3e-3)
    for _ in range(500):
        q = DiagonalGaussian.from_params(enc(x))
        kl = q.kl_standard_normal()
        rec = bernoulli_log_likelihood(dec(q.rsample(generator=g)), x)
        loss = (kl - rec).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 15.0
    assert kl.mean().item() > 0.5


def test_conv_shapes_for_mnist_size() -> None:
    z = torch.randn(3, 10)
    images = ConvDecoder(10, image_size=28, channels=8)(z)
    assert images.shape == (3, 1, 28, 28)
    assert ConvEncoder(5, image_size=28, channels=8)(images).shape == (3, 5)
    with pytest.raises(ValueError):
        ConvEncoder(5, image_size=30)


# ---- Fréchet distance -------------------------------------------------------------------


def test_frechet_distance_closed_forms() -> None:
    # 1-D: (m1 - m2)² + (s1 - s2)²; identical Gaussians: 0.
    d = frechet_distance(
        torch.tensor([1.0]), torch.tensor([[4.0]]), torch.tensor([3.0]), torch.tensor([[1.0]])
    )
    assert d == pytest.approx(4.0 + 1.0)
    g = torch.Generator().manual_seed(0)
    a = torch.randn(6, 6, generator=g)
    cov = a @ a.T + 0.1 * torch.eye(6)
    mean = torch.randn(6, generator=g)
    assert abs(frechet_distance(mean, cov, mean, cov)) < 1e-8
    # Commuting (diagonal) covariances: Σ (√a − √b)² on the diagonal.
    c1, c2 = torch.diag(torch.tensor([1.0, 4.0, 9.0])), torch.diag(torch.tensor([4.0, 4.0, 1.0]))
    z = torch.zeros(3)
    assert frechet_distance(z, c1, z, c2) == pytest.approx(1.0 + 0.0 + 4.0)


def test_frechet_distance_is_symmetric_and_matches_samples() -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4000, 3, generator=g) @ torch.tensor([[1.0, 0.5, 0], [0, 1, 0], [0, 0.3, 2]])
    y = torch.randn(4000, 3, generator=g) + 0.5
    sx, sy = feature_statistics(x), feature_statistics(y)
    assert frechet_distance(*sx, *sy) == pytest.approx(frechet_distance(*sy, *sx), rel=1e-9)
    torch.testing.assert_close(sx[1], torch.tensor(np.cov(x.numpy().T)), rtol=1e-6, atol=1e-6)
