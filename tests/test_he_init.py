"""The initialisers of practicum.nn.init against their formulas (empirical variances of large
tensors, fans of convolution kernels, torch's own gains), their reproducibility, the variance
propagation of a deep linear-ReLU stack against He et al.'s recursion, the forward hooks, and
the he-init lab's networks: their closed form, the exact scaling between their two inits, and
how the lab turns per-layer variances into its ratio."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from practicum.nn import init

BIG = (256, 128, 3, 3)  # 294,912 weights: the sample variance is within 0.3% of the truth


def _sample_variance_tolerance(n: int, distribution: str) -> float:
    """Five standard errors of the relative sample variance: √((κ − 1) / n), with the
    kurtosis κ = 3 (Gaussian) or 9/5 (uniform)."""
    kurtosis = 3.0 if distribution == "normal" else 1.8
    return 5 * math.sqrt((kurtosis - 1) / n)


@pytest.mark.parametrize("distribution", ["normal", "uniform"])
@pytest.mark.parametrize(
    "scheme, kwargs, expected",
    [
        ("he", {"mode": "fan_in"}, 2 / (128 * 9)),
        ("he", {"mode": "fan_out"}, 2 / (256 * 9)),
        ("he", {"mode": "fan_in", "negative_slope": 0.25}, 2 / ((1 + 0.25**2) * 128 * 9)),
        ("xavier", {"variant": "average"}, 2 / (128 * 9 + 256 * 9)),
        ("xavier", {"variant": "fan_in"}, 1 / (128 * 9)),
    ],
)
def test_initialisers_have_the_variance_of_their_formula(scheme, kwargs, expected, distribution):
    weight = torch.empty(BIG)
    gen = torch.Generator().manual_seed(1)
    if scheme == "he":
        init.he_(weight, gen, distribution=distribution, **kwargs)
    else:
        init.xavier_(weight, gen, distribution=distribution, **kwargs)
    n = weight.numel()
    variance = float(weight.double().var(correction=0))
    assert abs(variance / expected - 1) < _sample_variance_tolerance(n, distribution)
    assert abs(float(weight.double().mean())) < 5 * math.sqrt(expected / n)
    if distribution == "uniform":  # bounded by √3 · std, and reaching close to it
        bound = math.sqrt(3 * expected)
        assert float(weight.abs().max()) <= bound * (1 + 1e-6)
        assert float(weight.abs().max()) > 0.999 * bound


def test_fans_of_convolution_kernels_and_linear_layers_and_torchs_gains():
    conv = torch.empty(8, 3, 5, 7)  # (out, in, kh, kw)
    assert init.fans(conv) == (3 * 35, 8 * 35)
    assert init.fans(torch.empty(10, 4)) == (4, 10)  # Linear: (out, in)
    assert init.fans(torch.empty(6, 2, 3)) == (2 * 3, 6 * 3)  # Conv1d
    for weight in (conv, torch.empty(10, 4), nn.Conv2d(3, 8, 3).weight):
        assert init.fans(weight) == nn.init._calculate_fan_in_and_fan_out(weight)
    for slope in (0.0, 0.01, 0.25, 1.0):
        assert init.relu_gain(slope) == pytest.approx(nn.init.calculate_gain("leaky_relu", slope))
    fan_in, fan_out = init.fans(conv)
    assert init.he_std(conv) == pytest.approx(math.sqrt(2 / fan_in))
    assert init.he_std(conv, "fan_out") == pytest.approx(math.sqrt(2 / fan_out))
    assert init.xavier_std(conv) == pytest.approx(math.sqrt(2 / (fan_in + fan_out)))
    assert init.xavier_std(conv, "fan_in") == pytest.approx(math.sqrt(1 / fan_in))
    # with equal fan-in and fan-out, He et al.'s "Xavier" is Glorot & Bengio's
    square = torch.empty(16, 16, 3, 3)
    assert init.xavier_std(square, "fan_in") == pytest.approx(init.xavier_std(square))
    with pytest.raises(ValueError):
        init.fans(torch.empty(5))
    with pytest.raises(ValueError):
        init.he_std(conv, "fan_sideways")  # type: ignore[arg-type]


def test_a_generator_makes_the_weights_reproducible_and_leaves_the_global_rng_alone():
    def draw(seed: int) -> torch.Tensor:
        model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4, 3))
        init.initialise_(model, "he", torch.Generator().manual_seed(seed))
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    before = torch.get_rng_state()
    torch.manual_seed(123)  # the global RNG is consumed by the constructors only
    first = draw(7)
    torch.manual_seed(456)
    assert torch.equal(first, draw(7))
    assert not torch.equal(first, draw(8))
    torch.set_rng_state(before)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Linear(4, 3))
    state = torch.get_rng_state()
    init.initialise_(model, "xavier", torch.Generator().manual_seed(0))
    assert torch.equal(state, torch.get_rng_state())
    assert all(float(m.bias.detach().abs().max()) == 0 for m in model)  # biases zero


@pytest.mark.parametrize(
    "scheme, kwargs, slope, gain",
    [
        ("he", {}, 0.0, 1.0),  # He: the variance stays the same
        ("xavier", {"variant": "fan_in"}, 0.0, 0.5),  # "Xavier" through ReLUs: halves
        ("he", {"negative_slope": 0.25}, 0.25, 1.0),  # PReLU/leaky gain √(2/(1+a²))
        ("he", {}, 0.25, (1 + 0.25**2) / 2 * 2),  # the ReLU gain with a leaky ReLU: grows
    ],
)
def test_variance_through_a_deep_linear_relu_stack_follows_the_recursion(
    scheme, kwargs, slope, gain
):
    """E[y_l²] = ½(1 + a²) · n · Var(w) · E[y_(l−1)²] (He et al. Sec. 2.2, with a leaky ReLU), each
    layer's mean gain over 6 independent draws within 5 standard errors of the closed form."""
    width, depth, draws = 256, 10, 6
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), nn.LeakyReLU(slope)]
    model = nn.Sequential(*layers[:-1])  # the last response y_L, before its nonlinearity
    x = torch.randn(1024, width, generator=torch.Generator().manual_seed(0))  # E[x²] = 1
    gains, firsts = [], []
    for draw in range(draws):
        gen = torch.Generator().manual_seed(100 + draw)
        if scheme == "he":
            init.initialise_(model, "he", gen, **kwargs)
        else:
            init.initialise_(model, "xavier", gen, **kwargs)
        v = np.asarray(init.activation_variances(model, x))
        assert len(v) == depth
        gains.append(v[1:] / v[:-1])
        firsts.append(v[0])
    gains = np.asarray(gains)
    mean, error = gains.mean(axis=0), gains.std(axis=0, ddof=1) / math.sqrt(draws)
    assert np.all(np.abs(mean - gain) < 5 * error + 1e-3 * gain), (mean, error)
    # the first layer sees x itself (no ReLU before it): E[y_1²] = n · Var(w) · E[x²]
    var_w = init.he_std(model[0].weight, **kwargs) ** 2 if scheme == "he" else 1 / width
    assert np.mean(firsts) == pytest.approx(width * var_w, rel=0.1)


def test_the_hooks_record_every_layer_and_leave_the_model_unchanged():
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, stride=2), nn.ReLU()
    )
    model.append(nn.Flatten()).append(nn.Linear(4 * 3 * 3, 5))
    init.initialise_(model, "he", torch.Generator().manual_seed(0))
    x = torch.randn(32, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    before = model(x)
    variances = init.activation_variances(model, x)
    assert torch.equal(model(x), before)
    assert all(not m._forward_hooks for m in model.modules())  # removed again
    with torch.no_grad():  # the first entry is the first conv's output variance
        expected = [float(model[0](x).double().var(correction=0))]
    assert len(variances) == 3 and variances[0] == pytest.approx(expected[0], rel=1e-12)
    with pytest.raises(ValueError, match="did not run"):
        init.activation_variances(model, x, [model[0], nn.Linear(2, 2)])
    assert all(not m._forward_hooks for m in model.modules())


@pytest.mark.parametrize("network", ["mlp", "conv"])
def test_the_labs_networks_closed_form_and_the_exact_scale_between_their_inits(network):
    """He and Xavier of one seed are the same draws scaled by 1/√2 per layer; a network of ReLUs
    without biases is positively homogeneous, so Xavier's layer l responds with exactly 2⁻ˡ of
    He's variance: the measured ratios are the closed form to rounding."""
    from practicum.labs.papers.he_init import Config, PlainMLP, PlainNet, build, predicted_ratios

    config = Config(data="digits", network=network, width=8, depths=(12,), stem_stride=1)
    he = build(config, 12, "he", 5, "cpu")
    xavier = build(config, 12, "xavier", 5, "cpu")
    assert len(he.layers) == 12
    if network == "conv":
        assert isinstance(he, PlainNet)
        strides = [conv.stride[0] for conv in he.layers]
        assert strides == [1, 1, 1, 1, 2, 1, 1, 1, 2, 1, 1, 1]
        assert all(conv.padding_mode == "circular" for conv in he.layers)
    else:  # the flattened 8×8 image, then 12 layers of 8 units: fan-ins 64, 8, 8, ...
        assert isinstance(he, PlainMLP)
        assert [init.fans(m.weight)[0] for m in he.layers] == [64] + [8] * 11
    x = torch.randn(16, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    v_he = np.asarray(init.activation_variances(he, x, list(he.layers)))
    v_x = np.asarray(init.activation_variances(xavier, x, list(xavier.layers)))
    np.testing.assert_allclose(v_x / v_he, 0.5 ** np.arange(1, 13), rtol=1e-5)
    np.testing.assert_allclose(predicted_ratios(he, "he", config), np.ones(12))
    np.testing.assert_allclose(predicted_ratios(xavier, "xavier", config), 0.5 ** np.arange(12))
    assert he(x).shape == (16, 10)


def test_the_labs_ratio_is_the_product_of_mean_gains_not_the_mean_of_ratios():
    """Two draws of three layers: gains (2, 2) and (½, ½). Each layer's mean gain is 5/4, so
    the expected ratio is 25/16, while the single networks' ratios are 4 and 1/4."""
    from practicum.labs.papers.he_init import variance_metrics

    v = np.array([[1.0, 2.0, 4.0], [4.0, 2.0, 1.0]])
    metrics = variance_metrics("he", 3, v)
    assert metrics["he_variance_ratio_d3"] == pytest.approx(25 / 16)
    assert metrics["he_variance_ratio_d3_single_median"] == pytest.approx((4 + 0.25) / 2)
    assert metrics["he_variance_ratio_d3_single_q10"] == pytest.approx(0.25 + 0.1 * 3.75)
    padded = variance_metrics("he_zeros_padding", 3, v)
    assert set(padded) == {
        f"he_variance_ratio_d3_zeros_padding{s}"
        for s in ("", "_single_median", "_single_q10", "_single_q90")
    }
