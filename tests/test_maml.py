"""The mathematics of MAML (practicum.meta): the meta-gradient through the inner step against
finite differences, MAML with α = 0 as the multi-task objective, first-order MAML as the
post-update gradient, the batched task dimension against a loop over tasks, the functional
network against torch.nn, and the sinusoid tasks' distribution."""

from __future__ import annotations

import math

import pytest
import torch

from practicum import meta

SIZES = [1, 4, 3, 1]  # a tiny network: 8 + 15 + 4 = 27 parameters


def _problem(tasks: int = 3, k: int = 4, seed: int = 0):
    """Float64 parameters and a few tasks with K support and K query points."""
    gen = torch.Generator().manual_seed(seed)
    params = meta.init_mlp(SIZES, gen, dtype=torch.float64)
    amp, phase = meta.SinusoidTasks().sample(tasks, gen)
    support = meta.SinusoidTasks().points(amp, phase, k, gen)
    query = meta.SinusoidTasks().points(amp, phase, k, gen)
    return params, support, query


def _grad(loss: torch.Tensor, params: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([g.flatten() for g in torch.autograd.grad(loss, params)])


def _set_flat(params: list[torch.Tensor], flat: torch.Tensor) -> list[torch.Tensor]:
    out, i = [], 0
    for p in params:
        out.append(flat[i : i + p.numel()].view_as(p).clone())
        i += p.numel()
    return out


@pytest.mark.parametrize("steps", [1, 2])
def test_the_meta_gradient_through_the_inner_steps_matches_finite_differences(steps):
    params, support, query = _problem()
    alpha = 0.05  # large enough that the second-order terms matter at this precision
    grad = _grad(meta.maml_loss(params, support, query, alpha, steps), params)
    flat = torch.cat([p.detach().flatten() for p in params])
    eps = 1e-6
    numeric = torch.empty_like(flat)
    with torch.enable_grad():  # the inner step needs gradients even for the probe points
        for i in range(flat.numel()):
            shift = torch.zeros_like(flat)
            shift[i] = eps
            up = [p.requires_grad_() for p in _set_flat(params, flat + shift)]
            down = [p.requires_grad_() for p in _set_flat(params, flat - shift)]
            value_up = meta.maml_loss(up, support, query, alpha, steps)
            value_down = meta.maml_loss(down, support, query, alpha, steps)
            numeric[i] = (value_up - value_down).detach() / (2 * eps)
    torch.testing.assert_close(grad, numeric, rtol=1e-6, atol=1e-8)
    # The first-order gradient misses the second-order terms, so it does not pass this test.
    first_order = _grad(meta.maml_loss(params, support, query, alpha, steps, True), params)
    assert (first_order - numeric).abs().max() > 1e-4 * numeric.abs().max()


@pytest.mark.parametrize("first_order", [False, True])
def test_maml_with_alpha_zero_is_the_multitask_objective(first_order):
    params, support, query = _problem()
    maml = meta.maml_loss(params, support, query, 0.0, steps=3, first_order=first_order)
    multitask = meta.multitask_loss(params, *query)
    torch.testing.assert_close(maml, multitask, rtol=0, atol=1e-15)
    torch.testing.assert_close(_grad(maml, params), _grad(multitask, params), rtol=1e-12, atol=0)
    # ... and the multi-task objective is the MSE over all points when tasks are equally sized
    x, y = query
    naive = sum(
        float((meta.mlp_forward(params, x[t]) - y[t]).pow(2).sum().detach()) for t in range(3)
    )
    assert float(multitask.detach()) == pytest.approx(naive / y.numel(), rel=1e-12)


def test_first_order_maml_gradient_is_the_post_update_gradient():
    """FOMAML: ∇θ L_query(θ − α∇L_support(θ)) with the Jacobian of the step taken as I, i.e.
    the mean over tasks of each task's query gradient at its adapted parameters, computed
    here one task at a time with plain autograd."""
    params, (xs, ys), (xq, yq) = _problem(tasks=4)
    alpha = 0.1
    fomaml = _grad(meta.maml_loss(params, (xs, ys), (xq, yq), alpha, 1, True), params)
    expected = torch.zeros_like(fomaml)
    for t in range(4):
        support_grad = torch.autograd.grad(
            (meta.mlp_forward(params, xs[t]) - ys[t]).pow(2).mean(), params
        )
        adapted = [
            (p - alpha * g).detach().requires_grad_()
            for p, g in zip(params, support_grad, strict=True)
        ]
        post = (meta.mlp_forward(adapted, xq[t]) - yq[t]).pow(2).mean()
        expected += _grad(post, adapted) / 4
    torch.testing.assert_close(fomaml, expected, rtol=1e-12, atol=1e-15)


def test_second_order_maml_equals_a_loop_over_tasks():
    """The batched task dimension gives each task its own inner step: the same objective and
    meta-gradient as differentiating through each task's step on its own."""
    params, (xs, ys), (xq, yq) = _problem(tasks=4)
    alpha = 0.1
    batched = meta.maml_loss(params, (xs, ys), (xq, yq), alpha)
    looped = 0.0
    for t in range(4):
        inner = (meta.mlp_forward(params, xs[t]) - ys[t]).pow(2).mean()
        grads = torch.autograd.grad(inner, params, create_graph=True)
        adapted = [p - alpha * g for p, g in zip(params, grads, strict=True)]
        looped = looped + (meta.mlp_forward(adapted, xq[t]) - yq[t]).pow(2).mean() / 4
    torch.testing.assert_close(batched, looped, rtol=1e-12, atol=0)
    torch.testing.assert_close(_grad(batched, params), _grad(looped, params), rtol=1e-10, atol=0)


def test_test_time_fine_tuning_is_plain_gradient_descent_per_task():
    params, support, query = _problem(tasks=2)
    alpha, steps = 0.05, 3
    curve = meta.adaptation_curve(params, support, query, alpha, steps)
    assert curve.shape == (steps + 1, 2)
    (xs, ys), (xq, yq) = support, query
    for t in range(2):
        current = [p.detach().clone().requires_grad_() for p in params]
        for step in range(steps + 1):
            mse = (meta.mlp_forward(current, xq[t]) - yq[t]).pow(2).mean()
            assert float(curve[step, t]) == pytest.approx(float(mse.detach()), rel=1e-12)
            loss = (meta.mlp_forward(current, xs[t]) - ys[t]).pow(2).mean()
            grads = torch.autograd.grad(loss, current)
            current = [
                (p - alpha * g).detach().requires_grad_()
                for p, g in zip(current, grads, strict=True)
            ]
    assert float(curve[-1].mean()) < float(curve[0].mean())  # on its own support set it learns


def test_the_functional_network_is_torch_nn():
    gen = torch.Generator().manual_seed(1)
    params = meta.init_mlp([1, 40, 40, 1], gen)
    net = torch.nn.Sequential(
        torch.nn.Linear(1, 40), torch.nn.ReLU(), torch.nn.Linear(40, 40), torch.nn.ReLU()
    )
    net.append(torch.nn.Linear(40, 1))
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for i, layer in enumerate(linears):
            layer.weight.copy_(params[2 * i])
            layer.bias.copy_(params[2 * i + 1])
    x = torch.rand(5, 7, 1, generator=gen) * 10 - 5
    torch.testing.assert_close(meta.mlp_forward(params, x), net(x))
    # Parameters with a task dimension: task t meets its own copy (here: output bias + t).
    batched = [p.detach().clone() for p in meta.per_task(params, 5)]
    batched[-1] += torch.arange(5.0)[:, None]
    shift = torch.arange(5.0)[:, None, None]
    torch.testing.assert_close(meta.mlp_forward(batched, x), net(x) + shift)
    # ... and nn.Linear's initialisation bound, 1/sqrt(fan_in)
    largest = float(params[2].detach().abs().max())
    assert 0.9 / math.sqrt(40) < largest <= 1 / math.sqrt(40)


def test_sinusoid_tasks_follow_the_paper():
    tasks = meta.SinusoidTasks()
    gen = torch.Generator().manual_seed(0)
    amp, phase = tasks.sample(20_000, gen)
    x, y = tasks.points(amp, phase, 3, gen)
    assert amp.min() >= 0.1 and amp.max() <= 5.0
    assert phase.min() >= 0 and phase.max() <= math.pi
    assert x.min() >= -5 and x.max() <= 5 and x.shape == (20_000, 3, 1)
    torch.testing.assert_close(y, amp[:, None, None] * torch.sin(x - phase[:, None, None]))
    # Uniform: means and variances of U[a, b] within five standard errors
    for values, (a, b) in ((amp, (0.1, 5.0)), (phase, (0, math.pi)), (x, (-5, 5))):
        n = values.numel()
        mean, var = (a + b) / 2, (b - a) ** 2 / 12
        assert abs(float(values.mean()) - mean) < 5 * math.sqrt(var / n)
        assert abs(float(values.var()) - var) < 5 * math.sqrt(var**2 * 0.8 / n)
    # Same generator state, same tasks
    again = tasks.sample(20_000, torch.Generator().manual_seed(0))
    assert torch.equal(again[0], amp) and torch.equal(again[1], phase)


def test_mean_ci95_is_the_normal_interval():
    values = torch.tensor([1.0, 2.0, 3.0, 4.0])
    mean, half = meta.mean_ci95(values)
    assert mean == 2.5
    assert half == pytest.approx(1.96 * math.sqrt(5 / 3) / 2)


def test_the_best_prediction_without_adaptation_has_the_closed_form_error():
    """Before seeing a task the best prediction is the mean function E[y | x] =
    −(2/π) E[A] cos x (the phase averages over half a period), and its error is
    E[A²]/2 − E[m(x)²]: 3.006 on x ~ U[−5, 5]. The pretrained baseline's pre-update MSE can
    at best reach it, which is why a one-step MAML far below 3 is the paper's claim."""
    tasks = meta.SinusoidTasks()
    gen = torch.Generator().manual_seed(3)
    amp, phase = tasks.sample(200_000, gen)
    x, y = tasks.points(amp, phase, 1, gen)
    mean_amp = (0.1 + 5.0) / 2
    mean_amp_sq = (5.0**3 - 0.1**3) / (3 * (5.0 - 0.1))
    m = -(2 / math.pi) * mean_amp * torch.cos(x)
    mean_cos_sq = 0.5 + math.sin(10.0) / 20  # the mean of cos² x over [−5, 5]
    closed = mean_amp_sq / 2 - (2 / math.pi * mean_amp) ** 2 * mean_cos_sq
    errors = (y - m).pow(2).flatten()
    assert closed == pytest.approx(3.006, abs=1e-3)
    assert abs(float(errors.mean()) - closed) < 4 * float(errors.std()) / math.sqrt(len(errors))


def test_the_learning_curve_has_a_panel_per_k_and_keeps_a_diverged_mean_off_scale():
    """The lab's Fig. 3: one panel per K (two in the full run), and a mean that a few
    diverging tasks blew up does not set the scale of the others."""
    import matplotlib.pyplot as plt

    from practicum.labs.papers.maml import METHODS, Config, learning_curve_figure

    config = Config(shots=(5, 10), test_steps=2)
    curves = {
        f"{m}_k{k}": {"mse": [3.0, 1.0, 0.5], "ci95": [0.1] * 3} for m in METHODS for k in (5, 10)
    }
    curves["maml_k5"]["mse"][2] = 1e30
    fig = learning_curve_figure(curves, config)
    axes = fig.get_axes()
    assert [ax.get_title() for ax in axes] == ["K = 5, 1000 test tasks", "K = 10, 1000 test tasks"]
    assert axes[0].get_ylim() == pytest.approx((0, 3.45))
    plt.close(fig)
