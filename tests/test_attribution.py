"""Attribution maps and feature visualisation: closed forms, axioms and Captum's numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from captum.attr import IntegratedGradients, LayerGradCam, NoiseTunnel, Occlusion, Saliency
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import spearmanr
from torch import nn

from practicum import attribution as A
from practicum import feature_vis as V
from practicum.errors import PracticumError


class SmallCNN(nn.Module):
    def __init__(self, channels: int = 2, classes: int = 3) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 5, 3, padding=1)
        )
        self.head = nn.Sequential(nn.ReLU(), nn.Flatten(), nn.Linear(5 * 8 * 8, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def small_cnn(seed: int = 0) -> SmallCNN:
    torch.manual_seed(seed)
    return SmallCNN().eval()


def images(seed: int = 1, n: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 2, 8, 8, generator=g), torch.randint(0, 3, (n,), generator=g)


class Linear(nn.Module):
    """f(x) = W·vec(x): every method has a closed form."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ self.w.T


# ---- gradients and the closed forms of a linear model ------------------------------------
def test_input_gradient_matches_finite_differences() -> None:
    model = small_cnn().double()
    x, t = images()
    x = x.double()
    grad = A.input_gradient(model, x, t)
    eps = 1e-6
    for index in [(0, 0, 3, 4), (1, 1, 0, 7), (3, 0, 5, 5)]:
        up, down = x.clone(), x.clone()
        up[index] += eps
        down[index] -= eps
        n = index[0]
        with torch.no_grad():
            fd = (A.target_score(model, up, t)[n] - A.target_score(model, down, t)[n]) / (2 * eps)
        assert float(grad[index]) == pytest.approx(float(fd), rel=1e-6, abs=1e-9)


def test_linear_model_closed_forms() -> None:
    g = torch.Generator().manual_seed(0)
    w = torch.randn(3, 2 * 8 * 8, generator=g, dtype=torch.float64)
    model = Linear(w)
    x, t = images()
    x = x.double()
    weights = w[t].view_as(x)
    assert torch.allclose(A.saliency(model, x, t), weights.abs())
    # the gradient is constant: integrated gradients is exactly (x − x′) ⊙ w at any step count
    baseline = 0.3
    ig = A.integrated_gradients(model, x, t, baseline, steps=2, method="trapezoid")
    assert torch.allclose(ig, (x - baseline) * weights)
    # a window of one pixel (all channels) removes exactly that pixel's terms w·(x − baseline)
    occ = A.occlusion(model, x, t, window=1, stride=1, baseline=baseline)
    for channel in range(2):
        assert torch.allclose(occ[:, channel], ((x - baseline) * weights).sum(1))
    # noise does not change a constant gradient
    sg = A.smoothgrad(model, x, t, 5, 1.0, torch.Generator().manual_seed(0))
    assert torch.allclose(sg, weights)


@pytest.mark.parametrize("method", ["gausslegendre", "trapezoid"])
def test_quadrature_integrates_polynomials(method: str) -> None:
    alphas, weights = A.quadrature(8, method)
    assert weights.sum() == pytest.approx(1.0)
    assert np.all((alphas >= 0) & (alphas <= 1))
    exact = 1 / 8 if method == "gausslegendre" else None  # Gauss–Legendre: exact to degree 15
    if exact is not None:
        assert (weights * alphas**7).sum() == pytest.approx(exact, rel=1e-12)
    assert (weights * alphas).sum() == pytest.approx(0.5)


def test_integrated_gradients_completeness_converges() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(128, 16), nn.Tanh(), nn.Linear(16, 3)).double()
    x, t = images()
    x = x.double()
    errors = []
    for steps in (4, 16, 64):
        ig = A.integrated_gradients(model, x, t, 0.0, steps=steps)
        errors.append(float(A.completeness_error(model, x, t, ig).max()))
    assert errors[2] < 1e-8 < errors[0]  # a smooth path: Gauss–Legendre converges fast
    ig = A.integrated_gradients(model, x, t, 0.0, steps=64, method="trapezoid")
    assert float(A.completeness_error(model, x, t, ig).max()) < 1e-3


def test_grad_cam_of_global_average_pooling_is_cam() -> None:
    """With global average pooling and a linear classifier, ∂f/∂A_k = w_k / (hw) everywhere,
    so Grad-CAM is ReLU(Σ_k w_k A_k) / (hw), the class activation map of Zhou et al. 2016."""
    torch.manual_seed(0)
    conv = nn.Conv2d(2, 6, 3, padding=1)
    linear = nn.Linear(6, 3)
    model = nn.Sequential(conv, nn.AdaptiveAvgPool2d(1), nn.Flatten(), linear).eval()
    x, t = images()
    with torch.no_grad():
        activation = conv(x)
        cam = torch.relu(torch.einsum("nk,nkhw->nhw", linear.weight[t], activation)) / 64
    assert torch.allclose(A.grad_cam(model, conv, x, t).squeeze(1), cam, atol=1e-6)


# ---- Captum, the anchor, to 1e-5 --------------------------------------------------------
def test_saliency_equals_captum() -> None:
    model = small_cnn()
    x, t = images()
    ours = A.saliency(model, x, t)
    theirs = Saliency(model).attribute(x, target=t)
    assert (ours - theirs).abs().max() <= 1e-6


def test_smoothgrad_equals_captum_with_the_same_seed() -> None:
    model = small_cnn()
    x, t = images()
    ours = A.smoothgrad(model, x, t, 6, 0.4, torch.Generator().manual_seed(7))
    torch.manual_seed(7)  # Captum draws its noise from the global generator
    theirs = NoiseTunnel(Saliency(model)).attribute(
        x, nt_type="smoothgrad", nt_samples=6, stdevs=0.4, target=t, abs=False
    )
    assert (ours - theirs).abs().max() <= 1e-5


def test_integrated_gradients_equals_captum() -> None:
    model = small_cnn()
    x, t = images()
    ours = A.integrated_gradients(model, x, t, -0.5, steps=32, chunk=5)
    theirs = IntegratedGradients(model).attribute(x, baselines=-0.5, target=t, n_steps=32)
    assert (ours - theirs).abs().max() <= 1e-5


def test_captums_trapezoid_weights_sum_to_one_minus_one_over_n() -> None:
    """Captum's ``riemann_trapezoid`` puts nodes at linspace(0, 1, n) but weights 1/n (ends
    halved), which sum to 1 − 1/n: ours (weights 1/(n − 1)) is its result times n/(n − 1)."""
    model = small_cnn()
    x, t = images()
    n = 32
    ours = A.integrated_gradients(model, x, t, -0.5, steps=n, method="trapezoid")
    theirs = IntegratedGradients(model).attribute(
        x, baselines=-0.5, target=t, n_steps=n, method="riemann_trapezoid"
    )
    assert (ours - theirs * n / (n - 1)).abs().max() <= 1e-5


def test_grad_cam_equals_captum() -> None:
    model = small_cnn()
    x, t = images()
    layer = model.features[2]
    ours = A.grad_cam(model, layer, x, t)
    theirs = LayerGradCam(model, layer).attribute(x, target=t, relu_attributions=True)
    assert (ours - theirs).abs().max() <= 1e-6


def test_occlusion_equals_captum() -> None:
    model = small_cnn()
    x, t = images()
    ours = A.occlusion(model, x, t, window=4, stride=2, baseline=-1.0)
    theirs = Occlusion(model).attribute(
        x, sliding_window_shapes=(2, 4, 4), strides=(2, 2, 2), baselines=-1.0, target=t
    )
    assert (ours - theirs).abs().max() <= 1e-5


def test_occlusion_refuses_windows_that_do_not_tile() -> None:
    model = small_cnn()
    x, t = images()
    with pytest.raises(PracticumError, match="do not tile"):
        A.occlusion(model, x, t, window=3, stride=2)


# ---- judging maps ------------------------------------------------------------------------
def test_deletion_curve_ends_at_the_blank_image() -> None:
    model = small_cnn()
    x, t = images()
    scores = torch.rand(len(x), 64, generator=torch.Generator().manual_seed(0))
    curve = A.deletion_curve(model, x, t, scores, steps=8, baseline=0.0)
    with torch.no_grad():
        p = torch.softmax(model(x), 1).gather(1, t.view(-1, 1)).squeeze(1)
        blank = torch.softmax(model(torch.zeros_like(x)), 1).gather(1, t.view(-1, 1)).squeeze(1)
    assert curve.shape == (4, 9)
    assert torch.allclose(curve[:, 0], p) and torch.allclose(curve[:, -1], blank)


def test_deletion_in_the_order_of_a_linear_models_contributions_is_fastest() -> None:
    """For f = softmax(W·x), hiding pixels by their contribution w·x to the target's logit
    lowers its probability faster than a random order (two classes, so the logit gap rules)."""
    g = torch.Generator().manual_seed(0)
    w = torch.randn(2, 128, generator=g)
    model = Linear(w)
    x = torch.randn(16, 2, 8, 8, generator=g)
    t = (x.flatten(1) @ w.T).argmax(1)
    contribution = (w[t] - w[1 - t]) * x.flatten(1)
    # both channels of a pixel go together: score a pixel by its two channels' sum
    best = A.pixel_scores(contribution.view_as(x))
    random = torch.rand(16, 64, generator=g)
    auc_best = A.area_under(A.deletion_curve(model, x, t, best, 16)).mean()
    auc_random = A.area_under(A.deletion_curve(model, x, t, random, 16)).mean()
    assert auc_best < auc_random


def test_area_under_a_line() -> None:
    assert float(A.area_under(torch.linspace(1, 0, 11))) == pytest.approx(0.5)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["identity", "cube", "exp"]))
def test_rank_correlation_is_spearman_and_invariant_to_monotone_maps(seed: int, f: str) -> None:
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(3, 20, generator=g)
    b = a + torch.randn(3, 20, generator=g)
    b[:, :5] = 0.0  # ties
    rho = A.rank_correlation(a, b)
    for row in range(3):
        assert rho[row] == pytest.approx(spearmanr(a[row], b[row]).statistic, abs=1e-12)
    transformed = {"identity": a, "cube": a**3, "exp": torch.exp(a)}[f]
    assert np.allclose(A.rank_correlation(transformed, b), rho)


def test_rank_correlation_of_a_constant_map_is_zero() -> None:
    assert A.rank_correlation(torch.zeros(1, 5), torch.arange(5.0).view(1, 5))[0] == 0.0


# ---- feature visualisation ---------------------------------------------------------------
def test_gaussian_blur_keeps_constants_and_mass() -> None:
    assert V.gaussian_kernel(1.3).sum() == pytest.approx(1.0)
    flat = torch.full((1, 2, 9, 9), 3.0)
    assert torch.allclose(V.gaussian_blur(flat, 1.0), flat)
    x = torch.zeros(1, 1, 15, 15)
    x[0, 0, 7, 7] = 1.0  # far from the edges: nothing is reflected
    blurred = V.gaussian_blur(x, 1.0)
    assert float(blurred.sum()) == pytest.approx(1.0, rel=1e-6)
    assert float(blurred[0, 0, 7, 7]) == pytest.approx(float(V.gaussian_kernel(1.0)[3] ** 2))


def test_high_frequency_fraction_of_pure_waves() -> None:
    n = torch.arange(16.0)
    slow = torch.cos(2 * math.pi * 2 * n / 16).view(1, 1, 1, 16).expand(1, 1, 16, 16)
    fast = torch.cos(2 * math.pi * 6 * n / 16).view(1, 1, 1, 16).expand(1, 1, 16, 16)
    assert float(V.high_frequency_fraction(slow)) == pytest.approx(0.0, abs=1e-12)
    assert float(V.high_frequency_fraction(fast)) == pytest.approx(1.0)
    noise = torch.randn(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    assert float(V.high_frequency_fraction(V.gaussian_blur(noise, 1.5))) < 0.05
    assert float(V.high_frequency_fraction(noise)) > 0.5


def test_activation_maximisation_raises_the_objective_and_regularisers_smooth() -> None:
    model = small_cnn()
    objective = lambda x: model(x)[:, 1]  # noqa: E731
    shape = (2, 2, 8, 8)
    start = 0.01 * torch.randn(shape, generator=torch.Generator().manual_seed(0))
    plain = V.activation_maximisation(objective, shape, 40, 0.05, torch.Generator().manual_seed(0))
    smooth = V.activation_maximisation(
        objective, shape, 40, 0.05, torch.Generator().manual_seed(0),
        jitter_pixels=1, blur_sigma=1.0, blur_every=2, decay=1e-3,
    )  # fmt: skip
    with torch.no_grad():
        assert (objective(plain) > objective(start) + 1).all()
        assert (objective(smooth) > objective(start)).all()
    assert V.high_frequency_fraction(smooth).mean() < V.high_frequency_fraction(plain).mean()


def test_ascent_respects_bounds_and_deep_dream_amplifies() -> None:
    model = small_cnn()
    x, _ = images()
    dreamed = V.deep_dream(
        model.features, x, 10, 0.05, torch.Generator().manual_seed(0), bounds=(-2.0, 2.0)
    )
    assert float(dreamed.min()) >= -2.0 and float(dreamed.max()) <= 2.0
    with torch.no_grad():
        before = model.features(x.clamp(-2, 2)).pow(2).mean()
        after = model.features(dreamed).pow(2).mean()
    assert after > before
