"""practicum.nn.optimizers against PyTorch's optimisers and against closed forms: AdamW equals
``torch.optim.AdamW`` with weight_decay = λ/α (under a schedule too), Adam + L2 equals
``torch.optim.Adam(weight_decay=λ)``, SGD + L2 equals ``torch.optim.SGD(momentum, weight_decay)``
at a constant rate, SGDW equals a step written out by hand; with a zero gradient the decoupled
forms shrink θ by exactly (1 − η λ) per step; Adam + L2's decay is divided by √v̂."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from practicum.nn import optimizers as opt

STEPS = 7


def _problem(seed: int = 0) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Two parameters and a fixed sequence of gradients for them (float64: compare the update
    rules, not float32 rounding)."""
    gen = torch.Generator().manual_seed(seed)
    params = [
        torch.randn(5, 3, generator=gen, dtype=torch.float64),
        torch.randn(4, generator=gen, dtype=torch.float64),
    ]
    grads = [torch.randn(STEPS, *p.shape, generator=gen, dtype=torch.float64) for p in params]
    return params, grads


def _trajectory(make_optimiser, schedule=None, seed: int = 0) -> list[list[torch.Tensor]]:
    """The parameters after each of STEPS steps with the fixed gradients; ``schedule(t, o)``
    sets the rate before step t."""
    start, grads = _problem(seed)
    params = [p.clone().requires_grad_(True) for p in start]
    optimiser = make_optimiser(params)
    out = []
    for t in range(STEPS):
        if schedule is not None:
            schedule(t, optimiser)
        for p, g in zip(params, grads, strict=True):
            p.grad = g[t].clone()
        optimiser.step()
        out.append([p.detach().clone() for p in params])
    return out


def _assert_same(a, b, tol: float = 1e-7) -> None:
    for step_a, step_b in zip(a, b, strict=True):
        for x, y in zip(step_a, step_b, strict=True):
            assert torch.allclose(x, y, atol=tol, rtol=0), float((x - y).abs().max())


ETAS = [opt.cosine_multiplier(t, STEPS) for t in range(STEPS)]


@given(
    alpha=st.floats(1e-4, 1e-1),
    lam=st.floats(1e-4, 0.3),
    beta2=st.sampled_from([0.99, 0.999]),
)
@settings(max_examples=10, deadline=None)
def test_adamw_equals_torch_adamw_with_weight_decay_lambda_over_alpha(alpha, lam, beta2):
    ours = _trajectory(
        lambda p: opt.Adam(p, alpha, lam, betas=(0.9, beta2), decoupled=True),
        lambda t, o: opt.set_schedule(o, ETAS[t]),
    )

    def torch_rate(t, o):  # torch's lr is η_t α; its decay lr · weight_decay = η_t λ
        for group in o.param_groups:
            group["lr"] = ETAS[t] * alpha

    theirs = _trajectory(
        lambda p: torch.optim.AdamW(p, lr=alpha, betas=(0.9, beta2), weight_decay=lam / alpha),
        torch_rate,
    )
    _assert_same(ours, theirs)


@given(alpha=st.floats(1e-4, 1e-1), lam=st.floats(0.0, 0.3))
@settings(max_examples=20, deadline=None)
def test_adam_l2_equals_torch_adam_weight_decay(alpha, lam):
    ours = _trajectory(lambda p: opt.Adam(p, alpha, lam))
    theirs = _trajectory(lambda p: torch.optim.Adam(p, lr=alpha, weight_decay=lam))
    _assert_same(ours, theirs)


@given(alpha=st.floats(1e-3, 0.5), lam=st.floats(0.0, 0.1), beta=st.floats(0.0, 0.95))
@settings(max_examples=20, deadline=None)
def test_sgd_l2_equals_torch_sgd_at_a_constant_rate(alpha, lam, beta):
    ours = _trajectory(lambda p: opt.SGD(p, alpha, lam, momentum=beta))
    theirs = _trajectory(lambda p: torch.optim.SGD(p, lr=alpha, momentum=beta, weight_decay=lam))
    _assert_same(ours, theirs)


def test_sgdw_equals_algorithm_1_written_out():
    alpha, lam, beta = 0.05, 0.01, 0.9
    ours = _trajectory(
        lambda p: opt.SGD(p, alpha, lam, momentum=beta, decoupled=True),
        lambda t, o: opt.set_schedule(o, ETAS[t]),
    )
    params, grads = _problem()
    theta = [p.clone() for p in params]
    m = [torch.zeros_like(p) for p in params]
    for t in range(STEPS):
        for i in range(len(theta)):
            m[i] = beta * m[i] + ETAS[t] * alpha * grads[i][t]  # Alg. 1, line 8
            theta[i] = theta[i] - m[i] - ETAS[t] * lam * theta[i]  # line 9, decoupled
        _assert_same([ours[t]], [theta], tol=1e-12)
    # ... and under the same schedule it is *not* torch.optim.SGD's L2 step
    l2 = _trajectory(
        lambda p: opt.SGD(p, alpha, lam, momentum=beta),
        lambda t, o: opt.set_schedule(o, ETAS[t]),
    )
    assert (l2[-1][0] - ours[-1][0]).abs().max() > 1e-4


def test_sgd_momentum_buffer_holds_the_rate_it_was_taken_at():
    """Under a schedule the paper's buffer m = β m + η α g differs from torch's lr · (β b + g)."""
    alpha, beta = 0.1, 0.9
    rates = [1.0, 0.5]

    def sched(t, o):
        opt.set_schedule(o, rates[t % 2])

    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    o = opt.SGD([p], alpha, momentum=beta)
    for t in range(2):
        sched(t, o)
        p.grad = torch.ones(1, dtype=torch.float64)
        o.step()
    # step 1: m = 0.1; step 2: m = 0.9 · 0.1 + 0.5 · 0.1 = 0.14; θ = −0.24
    assert float(p.detach()) == pytest.approx(-0.24, abs=1e-12)


@pytest.mark.parametrize("name", ["sgdw", "adamw"])
@given(eta=st.floats(0.05, 1.0), lam=st.floats(1e-4, 0.5), steps=st.integers(1, 20))
@settings(max_examples=15, deadline=None)
def test_decoupled_decay_with_zero_gradient_shrinks_by_one_minus_eta_lambda(name, eta, lam, steps):
    theta = torch.tensor([1.5, -2.0, 0.25], dtype=torch.float64, requires_grad=True)
    o = opt.make(name, [theta], lr=0.1, weight_decay=lam)
    opt.set_schedule(o, eta)
    for _ in range(steps):
        theta.grad = torch.zeros_like(theta)
        o.step()
    expected = torch.tensor([1.5, -2.0, 0.25], dtype=torch.float64) * (1 - eta * lam) ** steps
    assert torch.allclose(theta.detach(), expected, rtol=1e-12, atol=0)


def test_adam_l2_decays_a_weight_with_a_large_gradient_history_less():
    """From a state whose second moments v hold a large and a small gradient history (first
    moments zero), one step with a zero loss gradient: Adam + L2's gradient is g = λθ, so θ moves
    by α m̂ / (√v̂ + ε) with m = (1 − β₁) λθ, v = β₂ v + (1 − β₂) (λθ)², and the weight with the
    large history is decayed ~√(v_small / v_large) times less; AdamW shrinks both by 1 − λ."""
    alpha, lam, beta1, beta2, t = 1e-3, 1e-2, 0.9, 0.999, 10
    v0 = torch.tensor([100.0, 1e-6], dtype=torch.float64)  # |g| ~ 10 against |g| ~ 0.001
    moved = {}
    for decoupled in (False, True):
        theta = torch.tensor([1.0, 1.0], dtype=torch.float64, requires_grad=True)
        o = opt.Adam([theta], alpha, lam, betas=(beta1, beta2), decoupled=decoupled)
        o.state[theta] = {
            "step": t - 1,
            "exp_avg": torch.zeros(2, dtype=torch.float64),
            "exp_avg_sq": v0.clone(),
        }
        theta.grad = torch.zeros(2, dtype=torch.float64)
        o.step()
        moved[decoupled] = 1.0 - theta.detach()
    g = lam * torch.ones(2, dtype=torch.float64)
    m_hat = (1 - beta1) * g / (1 - beta1**t)
    v_hat = (beta2 * v0 + (1 - beta2) * g**2) / (1 - beta2**t)
    assert torch.allclose(moved[False], alpha * m_hat / (v_hat.sqrt() + 1e-8), rtol=1e-12)
    assert moved[False][0] < moved[False][1] / 1000  # 10 against 0.001: decayed far less
    assert torch.allclose(moved[True], torch.full((2,), lam, dtype=torch.float64), rtol=1e-12)


def test_cosine_multiplier_and_make():
    assert opt.cosine_multiplier(0, 10) == 1.0
    assert opt.cosine_multiplier(5, 10) == pytest.approx(0.5)
    assert opt.cosine_multiplier(10, 10) == pytest.approx(0.0, abs=1e-15)
    assert opt.cosine_multiplier(2, 8) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
    p = [torch.zeros(1, requires_grad=True)]
    assert isinstance(opt.make("sgdw", p, 0.1, 0.0), opt.SGD)
    assert opt.make("adamw", p, 0.1, 0.0).param_groups[0]["decoupled"]
    assert not opt.make("adam", p, 0.1, 0.0).param_groups[0]["decoupled"]
    with pytest.raises(ValueError, match="unknown optimiser"):
        opt.make("lion", p, 0.1, 0.0)
    with pytest.raises(ValueError):
        opt.SGD(p, lr=0.0)
    with pytest.raises(ValueError):
        opt.cosine_multiplier(11, 10)


def test_state_survives_a_checkpoint_round_trip():
    """state_dict / load_state_dict (run.loop's checkpoints) continue to the same bits."""
    full = _trajectory(lambda p: opt.Adam(p, 1e-2, 1e-2, decoupled=True))
    start, grads = _problem()
    params = [p.clone().requires_grad_(True) for p in start]
    o = opt.Adam(params, 1e-2, 1e-2, decoupled=True)
    for t in range(3):
        for p, g in zip(params, grads, strict=True):
            p.grad = g[t].clone()
        o.step()
    saved = o.state_dict()
    o2 = opt.Adam(params, 1e-2, 1e-2, decoupled=True)
    o2.load_state_dict(saved)
    for t in range(3, STEPS):
        for p, g in zip(params, grads, strict=True):
            p.grad = g[t].clone()
        o2.step()
    _assert_same([full[-1]], [[p.detach() for p in params]], tol=0)
