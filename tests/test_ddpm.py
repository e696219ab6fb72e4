"""DDPM lab: the forward process and its posterior, the loss, the samplers
(practicum.diffusion), the time-conditioned U-Net (practicum.nn.unet), the judge
(practicum.recipes.judge) and the lab's config."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from practicum.diffusion import (
    Schedule,
    ancestral_sample,
    ddim_sample,
    ddim_sigma,
    ddim_step,
    ddim_times,
    linear_betas,
    simple_loss,
)
from practicum.errors import PracticumError
from practicum.lab import make_config
from practicum.labs.papers.ddpm import LAB, Config, ema_decay, learning_rate
from practicum.nn.unet import UNet, sinusoidal_embedding
from practicum.recipes.judge import Judge, judge_samples

schedules = st.builds(
    lambda T, lo, ratio: Schedule.linear(T, lo, min(0.999, lo * ratio)),
    st.integers(1, 60),
    st.floats(1e-5, 0.2),
    st.floats(1.0, 50.0),
)


# ---- the schedule and the forward process --------------------------------------------------
def test_the_papers_linear_schedule() -> None:
    s = Schedule.linear(1000)
    assert s.T == 1000 and len(s.betas) == 1001
    assert s.betas[0] == 0 and s.alpha_bars[0] == 1  # time 0 is the data
    assert s.betas[1].item() == pytest.approx(1e-4) and s.betas[1000].item() == pytest.approx(0.02)
    # x_T is almost pure noise: √ᾱ_T ≈ 0.006 of the image is left (Ho et al. sec. 4)
    assert s.alpha_bars[1000].sqrt().item() == pytest.approx(0.0064, abs=2e-4)
    with pytest.raises(ValueError):
        linear_betas(10, 0.1, 0.01)


@given(schedules, st.floats(-3, 3))
@settings(max_examples=60, deadline=None)
def test_closed_form_marginal_equals_iterating_the_forward_process(s: Schedule, x0: float) -> None:
    """q(x_t | x_0) = N(√ᾱ_t x_0, 1 − ᾱ_t) against x_t = √(1 − β_t) x_{t−1} + √β_t ε step by
    step: mean m_t = √α_t m_{t−1}, variance v_t = α_t v_{t−1} + β_t from m_0 = x_0, v_0 = 0."""
    x = torch.tensor([x0], dtype=torch.float64)
    m, v = x.clone(), torch.zeros(1, dtype=torch.float64)
    for t in range(1, s.T + 1):
        m = s.alphas[t].sqrt() * m
        v = s.alphas[t] * v + s.betas[t]
        mean, var = s.q_mean_var(x, t)
        assert torch.allclose(mean, m, rtol=1e-12, atol=1e-12)
        assert torch.allclose(var, v, rtol=1e-10, atol=1e-12)


def test_closed_form_marginal_matches_simulated_chains() -> None:
    """The same by Monte Carlo: 40,000 chains run through the forward process step by step."""
    s = Schedule.linear(50, 1e-3, 0.1)
    gen = torch.Generator().manual_seed(0)
    x0 = torch.tensor([0.7, -1.2], dtype=torch.float64)
    x = x0.repeat(40_000, 1)
    for t in range(1, s.T + 1):
        eps = torch.randn(x.shape, generator=gen, dtype=torch.float64)
        x = s.alphas[t].sqrt() * x + s.betas[t].sqrt() * eps
        if t in (1, 10, 50):
            mean, var = s.q_mean_var(x0, t)
            se = (var / len(x)).sqrt()
            assert torch.all((x.mean(0) - mean).abs() < 5 * se)
            assert torch.allclose(x.var(0), var, rtol=0.04)
    # q_sample is the reparameterised draw of that marginal
    eps = torch.randn(x.shape, generator=gen, dtype=torch.float64)
    drawn = s.q_sample(x0.repeat(len(eps), 1), 50, eps)
    assert torch.allclose(drawn.var(0), s.q_mean_var(x0, 50)[1], rtol=0.04)


@given(schedules, st.data())
@settings(max_examples=60, deadline=None)
def test_posterior_is_bayes_rule_on_the_two_gaussians(s: Schedule, data: st.DataObject) -> None:
    """μ̃_t, β̃_t (eqs. 6-7) against two direct computations: the product
    q(x_t | x_{t−1}) q(x_{t−1} | x_0) completed as a square (precisions add), and the
    conditioning of the joint Gaussian of (x_{t−1}, x_t) given x_0."""
    t = data.draw(st.integers(1, s.T))
    x0 = torch.tensor(data.draw(st.lists(st.floats(-2, 2), min_size=3, max_size=3)))
    xt = torch.tensor(data.draw(st.lists(st.floats(-4, 4), min_size=3, max_size=3)))
    x0, xt = x0.double(), xt.double()
    mean, var = s.posterior(x0, xt, t)
    a, b, ab_prev = s.alphas[t], s.betas[t], s.alpha_bars[t - 1]
    # product of N(x_t; √α x, β) and N(x; √ᾱ_{t−1} x_0, 1 − ᾱ_{t−1}) as a function of x
    precision = a / b + 1 / (1 - ab_prev)
    direct_mean = (a.sqrt() * xt / b + ab_prev.sqrt() * x0 / (1 - ab_prev)) / precision
    if ab_prev < 1:  # t = 1: the prior on x_0 is a point, its precision infinite
        assert torch.allclose(var, 1 / precision.expand(3), rtol=1e-9)
        assert torch.allclose(mean, direct_mean, rtol=1e-8, atol=1e-10)
    # the joint: Var x_{t−1} = v, Cov = √α v, Var x_t = α v + β
    v = 1 - ab_prev
    m_prev, m_t = ab_prev.sqrt() * x0, s.alpha_bars[t].sqrt() * x0
    cond_mean = m_prev + a.sqrt() * v / (a * v + b) * (xt - m_t)
    cond_var = v - a * v * v / (a * v + b)
    assert torch.allclose(mean, cond_mean, rtol=1e-8, atol=1e-10)
    assert torch.allclose(var, cond_var.expand(3), rtol=1e-8, atol=1e-14)


@given(schedules, st.data())
@settings(max_examples=40, deadline=None)
def test_reverse_mean_is_the_posterior_mean_at_the_predicted_x0(s: Schedule, data) -> None:
    """Eq. 11: μ_θ(x_t, t) = μ̃_t(x_t, x̂_0(x_t, ε_θ)), and x̂_0 inverts q_sample."""
    t = data.draw(st.integers(1, s.T))
    gen = torch.Generator().manual_seed(data.draw(st.integers(0, 1000)))
    x0, eps = torch.randn(2, 5, generator=gen, dtype=torch.float64)
    xt = s.q_sample(x0, t, eps)
    assert torch.allclose(s.predict_x0(xt, t, eps), x0, atol=1e-6 / s.alpha_bars[t].sqrt())
    posterior_mean = s.posterior(s.predict_x0(xt, t, eps), xt, t)[0]
    assert torch.allclose(s.reverse_mean(xt, t, eps), posterior_mean, rtol=1e-6, atol=1e-6)


# ---- the loss ----------------------------------------------------------------------------
class GaussianOracle(nn.Module):
    """E[ε | x_t] for data x_0 ~ N(0, s² I): x_t ~ N(0, ᾱ s² + 1 − ᾱ) and
    Cov(ε, x_t) = √(1 − ᾱ), so E[ε | x_t] = √(1 − ᾱ) x_t / (ᾱ s² + 1 − ᾱ)."""

    def __init__(self, schedule: Schedule, scale: float, shrink: float = 1.0) -> None:
        super().__init__()
        self.s, self.scale, self.shrink = schedule, scale, shrink

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        ab = self.s.alpha_bars[t.cpu()].float().reshape(-1, *[1] * (x.ndim - 1))
        return self.shrink * (1 - ab).sqrt() * x / (ab * self.scale**2 + 1 - ab)


def test_loss_at_the_bayes_optimal_noise_predictor_is_the_noise_floor() -> None:
    """With the Bayes-optimal ε̂ the simple loss is E_t[1 − (1 − ᾱ_t)/(ᾱ_t s² + 1 − ᾱ_t)], the
    irreducible part; any other predictor (here a shrunk one) scores higher."""
    s, scale = Schedule.linear(200, 1e-3, 0.05), 0.5
    ab = s.alpha_bars[1:]
    floor = (1 - (1 - ab) / (ab * scale**2 + 1 - ab)).mean().item()
    x0 = torch.randn(20_000, 1, 4, 4, generator=torch.Generator().manual_seed(1)) * scale
    loss = simple_loss(GaussianOracle(s, scale), x0, s, torch.Generator().manual_seed(2))
    assert loss.item() == pytest.approx(floor, rel=0.02)
    worse = simple_loss(GaussianOracle(s, scale, 0.8), x0, s, torch.Generator().manual_seed(2))
    assert worse.item() > loss.item() * 1.01
    # a zero predictor scores E‖ε‖²/d = 1 (the untrained U-Net's starting loss)
    zero = simple_loss(lambda x, t: torch.zeros_like(x), x0, s, torch.Generator().manual_seed(2))
    assert zero.item() == pytest.approx(1.0, rel=0.02)


# ---- the samplers ----------------------------------------------------------------------------
def test_ddim_with_eta_one_on_every_step_is_the_ancestral_step_with_beta_tilde() -> None:
    s = Schedule.linear(100, 1e-3, 0.05)
    gen = torch.Generator().manual_seed(0)
    for t in (2, 10, 50, 100):
        assert ddim_sigma(s, t, t - 1, 1.0) ** 2 == pytest.approx(s.sigma2(t, "beta_tilde"))
        assert ddim_sigma(s, t, t - 1, 0.0) == 0.0
        x, eps, z = torch.randn(3, 6, generator=gen, dtype=torch.float64)
        x_prev, x0 = ddim_step(s, x, t, t - 1, eps, 1.0, z)
        expected = s.reverse_mean(x, t, eps) + s.sigma2(t, "beta_tilde") ** 0.5 * z
        assert torch.allclose(x_prev, expected, rtol=1e-9, atol=1e-9)
        assert torch.allclose(x0, s.predict_x0(x, t, eps))


class Toy(nn.Module):
    """A fixed, time-dependent noise predictor (no training needed to compare samplers)."""

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.tanh(0.7 * x + 0.01 * t.float().reshape(-1, 1, 1, 1))


def test_full_ddim_with_eta_one_retraces_the_ancestral_chain() -> None:
    """Both draw x_T, then one z per step for t = T, …, 2: with the same generator the two
    samplers produce the same samples when σ_t² = β̃_t."""
    s, shape = Schedule.linear(40, 1e-3, 0.1), (3, 1, 4, 4)
    a = ancestral_sample(Toy(), s, shape, torch.Generator().manual_seed(5), "beta_tilde")
    d = ddim_sample(Toy(), s, shape, torch.Generator().manual_seed(5), steps=40, eta=1.0)
    assert torch.allclose(a, d, atol=1e-5)
    # β_t as the variance is another chain (larger steps), from the same noise
    b = ancestral_sample(Toy(), s, shape, torch.Generator().manual_seed(5), "beta")
    assert not torch.allclose(a, b, atol=1e-3)


def test_ddim_eta_zero_is_deterministic_and_times_are_a_subsequence() -> None:
    s, shape = Schedule.linear(100), (2, 1, 4, 4)
    assert ddim_times(1000, 10) == [1000, 889, 778, 667, 556, 445, 334, 223, 112, 1]
    assert ddim_times(5, 5) == [5, 4, 3, 2, 1]
    with pytest.raises(ValueError):
        ddim_times(5, 6)
    gen = torch.Generator().manual_seed(0)
    x1 = ddim_sample(Toy(), s, shape, gen, steps=10, eta=0.0)
    after = gen.get_state()
    x2 = ddim_sample(Toy(), s, shape, torch.Generator().manual_seed(0), steps=10, eta=0.0)
    assert torch.equal(x1, x2)
    # η = 0 draws only x_T from the generator
    ref = torch.Generator().manual_seed(0)
    torch.randn(shape, generator=ref)
    assert torch.equal(after, ref.get_state())


def test_samplers_report_each_step_and_clip_the_prediction() -> None:
    s, shape, seen = Schedule.linear(20, 1e-2, 0.2), (2, 1, 4, 4), []

    def hook(t: int, xt: torch.Tensor, x0: torch.Tensor) -> None:
        seen.append(t)
        assert x0.abs().max() <= 1.0  # clipped

    ancestral_sample(Toy(), s, shape, torch.Generator().manual_seed(0), clip=True, on_step=hook)
    assert seen == list(range(20, 0, -1))
    seen.clear()
    ddim_sample(Toy(), s, shape, torch.Generator().manual_seed(0), 5, clip=True, on_step=hook)
    assert seen == ddim_times(20, 5)


# ---- the U-Net ---------------------------------------------------------------------------
def test_sinusoidal_embedding() -> None:
    t = torch.tensor([0, 1, 500])
    e = sinusoidal_embedding(t, 8)
    assert e.shape == (3, 8)
    assert torch.allclose(e[0], torch.tensor([0.0] * 4 + [1.0] * 4))
    freq = torch.exp(-math.log(10_000) * torch.arange(4) / 4)
    assert torch.allclose(e[2, :4], torch.sin(500 * freq), atol=1e-4)
    assert torch.allclose(e[:, :4] ** 2 + e[:, 4:] ** 2, torch.ones(3, 4), atol=1e-6)
    with pytest.raises(ValueError):
        sinusoidal_embedding(t, 7)


@pytest.mark.parametrize(("side", "channels"), [(28, (8, 16, 16)), (8, (8, 16)), (16, (4,))])
def test_unet_keeps_the_shape_and_hears_the_time(side: int, channels: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    net = UNet(1, channels, time_dim=16, groups=4)
    x = torch.randn(3, 1, side, side)
    t = torch.tensor([1, 500, 1000])
    out = net(x, t)
    assert out.shape == x.shape
    assert torch.equal(out, torch.zeros_like(out))  # zero-initialised output: ε̂ = 0
    nn.init.normal_(net.out.weight, std=0.1)
    same_x = x[:1].repeat(3, 1, 1, 1)
    out = net(same_x, t)
    # one image at three times: three different predictions, through the embedding alone
    assert not torch.allclose(out[0], out[1]) and not torch.allclose(out[1], out[2])
    assert torch.allclose(net(same_x[:1], t[:1]), out[:1], atol=1e-5)  # no batch coupling
    with pytest.raises(ValueError):
        UNet(1, (8, 8, 8))(torch.randn(1, 1, 6, 6), torch.tensor([1]))


def test_unet_can_overfit_one_batch() -> None:
    """Eight images, their noise and times fixed: the loss falls to a small part of its start."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    s = Schedule.linear(1000)
    x0 = torch.rand(8, 1, 8, 8, generator=gen) * 2 - 1
    noise = torch.randn(x0.shape, generator=gen)
    t = torch.randint(1, 1001, (8,), generator=gen)
    net = UNet(1, (8, 16), time_dim=16)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    xt = s.q_sample(x0, t, noise)
    losses = []
    for _ in range(80):
        loss = (net(xt, t) - noise).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] == pytest.approx(1.0, rel=0.3)
    assert losses[-1] < 0.05 * losses[0]


# ---- the judge ---------------------------------------------------------------------------
class Fixed(nn.Module):
    """Penultimate features = the first two pixels; the head reads the class from pixel 0."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = x.flatten(1)[:, :2]
        logits = torch.zeros(len(x), 10)
        logits[torch.arange(len(x)), feats[:, 0].long().clamp(0, 9)] = 20.0 * feats[:, 1] + 1.0
        return self.head(feats) @ torch.zeros(2, 10) + logits


def test_judge_counts_confidence_classes_and_distance() -> None:
    judge = Judge(Fixed(), mean=0.0, std=1.0, test_accuracy=1.0, source="test")
    gen = torch.Generator().manual_seed(0)
    digits = torch.arange(100) % 10
    sure = torch.ones(100)
    sure[:30] = 0.0  # logit 1 against 0: probability e/(e + 9) ≈ 0.23, not confident
    x = torch.zeros(100, 1, 2, 2)
    x[:, 0, 0, 0], x[:, 0, 0, 1] = digits.float(), sure
    x[:, 0, 1] = torch.randn(100, 2, generator=gen)
    v = judge_samples(judge, x, x)
    assert v.confident_fraction == pytest.approx(0.7)
    assert v.class_entropy == pytest.approx(math.log(10))  # 10 of each label
    assert v.frechet_distance == pytest.approx(0.0, abs=1e-9)
    assert judge.frechet(x, x) == pytest.approx(0.0, abs=1e-9)
    shifted = x.clone()
    shifted[:, 0, 0, 1] += 1.0
    assert judge.frechet(shifted, x) == pytest.approx(1.0, rel=1e-6)  # ‖Δmean‖² = 1


# ---- the lab -----------------------------------------------------------------------------
def test_config_defaults_quick_and_refusals() -> None:
    assert Config().timesteps == 1000 and Config().beta_T == 0.02
    make_config(LAB, quick=True)
    with pytest.raises(PracticumError, match="beta_1"):
        make_config(LAB, overrides={"beta_1": "0.1", "beta_T": "0.01"})
    with pytest.raises(PracticumError, match="halved"):
        make_config(LAB, overrides={"channels": "8,8,8,8"})
    with pytest.raises(PracticumError, match="at most timesteps"):
        make_config(LAB, overrides={"timesteps": "10"})
    c = Config(warmup=10, learning_rate=1.0)
    assert learning_rate(0, c) == pytest.approx(0.1) and learning_rate(10, c) == 1.0
    assert ema_decay(0, 0.999) == pytest.approx(0.1) and ema_decay(10**6, 0.999) == 0.999
