"""The written-out optimisers: equal to torch.optim step for step on a real MLP, their closed
forms (first steps, heavy-ball velocity, decoupled decay), scale invariance, exact resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits

from practicum import autodiff as ad
from practicum.autodiff import optim
from practicum.autodiff.nn import MLP, Parameter
from practicum.twins import OPTIMIZERS, OptimizerSpec, parameter_gap, step_for_step, torch_twin

LRS = {
    "sgd": 0.1,
    "momentum": 0.02,
    "nesterov": 0.02,
    "adagrad": 0.02,
    "rmsprop": 1e-3,
    "adam": 2e-3,
    "adamw": 2e-3,
}


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """scikit-learn's 8×8 digits (real images a dependency ships), standardised; 100 batches."""
    data = load_digits()
    x = data.data / 16.0
    x = (x - x.mean()) / x.std()
    rng = np.random.default_rng(0)
    batches = [rng.choice(len(x), size=64, replace=False) for _ in range(100)]
    return x, data.target.astype(np.int64), batches


def mlp(seed: int = 1) -> MLP:
    return MLP([64, 32, 32, 10], np.random.default_rng(seed), dtype=np.float64)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_each_optimiser_equals_torch_optim_for_100_steps_on_a_real_mlp(digits, name) -> None:
    x, y, batches = digits
    result = step_for_step(OPTIMIZERS[name], mlp(), x, y, batches, LRS[name])
    assert len(result.gaps) == 100
    assert result.gaps.max() <= 1e-6
    np.testing.assert_allclose(result.losses, result.twin_losses, rtol=1e-9)
    assert result.losses[-1] < 0.5 * result.losses[0]  # and it trained


@pytest.mark.parametrize(
    ("ours", "theirs", "kwargs"),
    [
        (optim.SGD, torch.optim.SGD, {"momentum": 0.9, "weight_decay": 1e-2, "nesterov": True}),
        (optim.SGD, torch.optim.SGD, {"weight_decay": 5e-2}),
        (optim.AdaGrad, torch.optim.Adagrad, {"weight_decay": 1e-2, "eps": 1e-6}),
        (
            optim.AdaGrad,
            torch.optim.Adagrad,
            {"initial_accumulator_value": 0.1},
        ),
        (optim.RMSProp, torch.optim.RMSprop, {"momentum": 0.5, "weight_decay": 1e-2}),
        (optim.RMSProp, torch.optim.RMSprop, {"alpha": 0.9, "eps": 1e-6}),
        (optim.Adam, torch.optim.Adam, {"weight_decay": 1e-2, "betas": (0.8, 0.99)}),
        (optim.AdamW, torch.optim.AdamW, {"weight_decay": 0.5, "eps": 1e-6}),
    ],
)
def test_non_default_hyperparameters_also_equal_torch(digits, ours, theirs, kwargs) -> None:
    x, y, batches = digits
    spec = OptimizerSpec("variant", "variant", ours, theirs, kwargs)
    result = step_for_step(spec, mlp(2), x, y, batches[:50], 0.01)
    assert result.gaps.max() <= 1e-6


@pytest.mark.parametrize(
    ("ours", "theirs", "ours_kwargs", "theirs_kwargs"),
    [
        # Nesterov against plain momentum: the look-ahead term is missing
        (optim.SGD, torch.optim.SGD, {"momentum": 0.9, "nesterov": True}, {"momentum": 0.9}),
        # Adam against Adam without bias correction's effect: different betas
        (optim.Adam, torch.optim.Adam, {}, {"betas": (0.9, 0.99)}),
        # AdamW's decay is not Adam's L2
        (optim.AdamW, torch.optim.Adam, {"weight_decay": 0.5}, {"weight_decay": 0.5}),
        # RMSProp is not AdaGrad
        (optim.RMSProp, torch.optim.Adagrad, {}, {}),
    ],
)
def test_the_check_fails_for_a_different_rule(
    digits, ours, theirs, ours_kwargs, theirs_kwargs
) -> None:
    """A gap of 1e-6 is not rounding luck: a wrong formula is off by about a step."""
    x, y, batches = digits
    spec = OptimizerSpec("wrong", "wrong", ours, theirs)
    model = mlp(3)
    twin = torch_twin(model)
    a, b = (
        ours(model.parameters(), lr=0.01, **ours_kwargs),
        theirs(twin.parameters(), lr=0.01, **theirs_kwargs),
    )
    assert spec.name == "wrong"
    for batch in batches[:20]:
        a.zero_grad()
        ad.cross_entropy(model(ad.Tensor(x[batch])), y[batch]).backward()
        a.step()
        b.zero_grad()
        torch.nn.functional.cross_entropy(
            twin(torch.from_numpy(x[batch])), torch.from_numpy(y[batch])
        ).backward()
        b.step()
    assert parameter_gap(model, twin) > 1e-4


def one_parameter(values: np.ndarray) -> Parameter:
    return Parameter(np.array(values, dtype=np.float64))


def set_grad(p: Parameter, g: np.ndarray) -> None:
    p.grad = ad.Tensor(np.array(g, dtype=np.float64))


gradients = st.lists(st.floats(1e-3, 1e3) | st.floats(-1e3, -1e-3), min_size=1, max_size=5).map(
    np.array
)


@given(g=gradients)
@settings(max_examples=50, deadline=None)
def test_first_steps_in_closed_form(g: np.ndarray) -> None:
    """Adam's and AdaGrad's first step is −η·sign(g) (m̂ = g, v̂ = s = g²); RMSProp's is
    −η·sign(g)/√(1 − α); SGD's is −η g, whatever the momentum (the buffer starts at g), and
    Nesterov's −η (1 + μ) g. ε is set negligible, so the forms are exact."""
    lr = 0.01
    for make, step in (
        (lambda p: optim.Adam([p], lr=lr, eps=1e-30), -lr * np.sign(g)),
        (lambda p: optim.AdamW([p], lr=lr, eps=1e-30, weight_decay=0.0), -lr * np.sign(g)),
        (lambda p: optim.AdaGrad([p], lr=lr, eps=1e-30), -lr * np.sign(g)),
        (lambda p: optim.RMSProp([p], lr=lr, eps=1e-30), -lr * np.sign(g) / np.sqrt(1 - 0.99)),
        (lambda p: optim.SGD([p], lr=lr, momentum=0.9), -lr * g),
        (lambda p: optim.SGD([p], lr=lr, momentum=0.9, nesterov=True), -lr * g * 1.9),
    ):
        p = one_parameter(np.zeros_like(g))
        opt = make(p)
        set_grad(p, g)
        opt.step()
        np.testing.assert_allclose(p.data, step, rtol=1e-9)  # ε negligible (1e-30)


@given(mu=st.floats(0.0, 0.99), n=st.integers(1, 200))
@settings(max_examples=50, deadline=None)
def test_heavy_ball_velocity_under_a_constant_gradient(mu: float, n: int) -> None:
    """Under a constant gradient g the velocity is g (1 − μⁿ)/(1 − μ) after n steps: the
    "terminal velocity" g/(1 − μ) of Goodfellow et al. eq. 8.17, 10 g at μ = 0.9."""
    if mu == 0:
        mu = 0.5
    p = one_parameter(np.zeros(1))
    opt = optim.SGD([p], lr=1.0, momentum=mu)
    g = np.array([2.0])
    for _ in range(n):
        set_grad(p, g)
        opt.step()
    np.testing.assert_allclose(opt.velocity[0], g * (1 - mu**n) / (1 - mu), rtol=1e-9)
    expected_position = -g * sum((1 - mu**k) / (1 - mu) for k in range(1, n + 1))
    np.testing.assert_allclose(p.data, expected_position, rtol=1e-9)


@given(decay=st.floats(1e-4, 0.5), n=st.integers(1, 50))
@settings(max_examples=40, deadline=None)
def test_adamw_decays_geometrically_where_the_gradient_is_zero(decay: float, n: int) -> None:
    """With ∇f = 0 Adam's step is 0 (m = 0), so AdamW's θ is θ₀ (1 − ηλ)ⁿ; Adam + L2 instead
    steps by −η sign(θ) at first: the decay is normalised away (Loshchilov & Hutter Sec. 2)."""
    lr = 0.1
    p = one_parameter(np.array([1.0, -2.0]))
    opt = optim.AdamW([p], lr=lr, weight_decay=decay)
    for _ in range(n):
        set_grad(p, np.zeros(2))
        opt.step()
    np.testing.assert_allclose(p.data, np.array([1.0, -2.0]) * (1 - lr * decay) ** n, rtol=1e-9)

    q = one_parameter(np.array([1.0, -2.0]))
    l2 = optim.Adam([q], lr=lr, weight_decay=decay, eps=1e-30)
    set_grad(q, np.zeros(2))
    l2.step()
    np.testing.assert_allclose(q.data, np.array([1.0 - lr, -2.0 + lr]), rtol=1e-6)


def test_weight_decay_is_the_gradient_of_the_l2_penalty() -> None:
    """SGD's weight_decay λ equals adding λ/2 ‖θ‖² to the loss."""
    rng = np.random.default_rng(0)
    theta, g, lam, lr = rng.normal(size=4), rng.normal(size=4), 0.3, 0.1
    p = one_parameter(theta)
    opt = optim.SGD([p], lr=lr, weight_decay=lam)
    set_grad(p, g)
    opt.step()
    q = Parameter(theta.copy())
    loss = ad.sum(ad.Tensor(g) * q) + ad.sum(q * q) * (lam / 2)
    loss.backward()
    np.testing.assert_allclose(p.data, theta - lr * q.grad.data, rtol=1e-12)


@given(scale=st.floats(1e-2, 1e2))
@settings(max_examples=25, deadline=None)
def test_adaptive_methods_ignore_the_gradients_scale_sgd_does_not(scale: float) -> None:
    """Multiplying the loss by c leaves Adam, RMSProp and AdaGrad's steps unchanged (up to ε:
    set to a negligible 1e-30 here) and multiplies SGD's by c (Kingma & Ba Sec. 2.1)."""
    rng = np.random.default_rng(0)
    grads = [rng.normal(size=3) for _ in range(10)]

    def final(make) -> np.ndarray:
        p = one_parameter(np.zeros(3))
        opt = make(p)
        for g in grads:
            set_grad(p, scale * g)
            opt.step()
        return p.data.copy()

    def reference(make) -> np.ndarray:
        p = one_parameter(np.zeros(3))
        opt = make(p)
        for g in grads:
            set_grad(p, g)
            opt.step()
        return p.data.copy()

    for make in (
        lambda p: optim.Adam([p], lr=0.01, eps=1e-30),
        lambda p: optim.RMSProp([p], lr=0.01, eps=1e-30),
        lambda p: optim.AdaGrad([p], lr=0.01, eps=1e-30),
    ):
        np.testing.assert_allclose(final(make), reference(make), rtol=1e-9)
    sgd = lambda p: optim.SGD([p], lr=0.01, momentum=0.9)  # noqa: E731
    np.testing.assert_allclose(final(sgd), scale * reference(sgd), rtol=1e-9)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_a_restored_optimiser_continues_bit_for_bit(digits, name) -> None:
    x, y, batches = digits

    def steps(model: MLP, opt: optim.Optimizer, chosen: list[np.ndarray]) -> None:
        for batch in chosen:
            opt.zero_grad()
            ad.cross_entropy(model(ad.Tensor(x[batch])), y[batch]).backward()
            opt.step()

    spec = OPTIMIZERS[name]
    straight = mlp(4)
    opt = spec.make(straight.parameters(), LRS[name])
    steps(straight, opt, batches[:10])

    first = mlp(4)
    opt1 = spec.make(first.parameters(), LRS[name])
    steps(first, opt1, batches[:5])
    saved_model, saved_opt = first.state_dict(), opt1.state_dict()
    resumed = mlp(99)
    resumed.load_state_dict(saved_model)
    opt2 = spec.make(resumed.parameters(), 1.0)  # hyperparameters come from the state
    opt2.load_state_dict(saved_opt)
    steps(resumed, opt2, batches[5:10])
    for key, value in straight.state_dict().items():
        assert np.array_equal(value, resumed.state_dict()[key]), key


def test_bad_hyperparameters_are_refused() -> None:
    p = one_parameter(np.zeros(1))
    for make in (
        lambda: optim.SGD([p], lr=0.1, nesterov=True),
        lambda: optim.AdaGrad([p], lr=-1.0),
        lambda: optim.RMSProp([p], alpha=1.0),
        lambda: optim.AdamW([p], lr=0.0),
    ):
        with pytest.raises(ValueError):
            make()
