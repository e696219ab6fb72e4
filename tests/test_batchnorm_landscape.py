"""The batchnorm-landscape lab's mathematics: noisy batch norm, the landscape and ICS probes."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from practicum import landscape
from practicum.nn.noisy_batchnorm import NoisyBatchNorm2d


def tiny_net(noise: torch.Generator | None = None, norm: str = "bn") -> nn.Sequential:
    """conv -> norm -> ReLU -> conv -> norm -> ReLU -> pool -> linear, seeded."""
    torch.manual_seed(0)

    def make_norm(c: int) -> nn.Module:
        if norm == "noisy":
            return NoisyBatchNorm2d(c, 0.5, 1.5, 0.2, generator=noise)
        return nn.BatchNorm2d(c) if norm == "bn" else nn.Identity()

    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        make_norm(4),
        nn.ReLU(),
        nn.Conv2d(4, 5, 3, padding=1),
        make_norm(5),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(20, 3),
    )


def layers_of(model: nn.Sequential) -> list[list[torch.Tensor]]:
    """Per conv/linear layer its parameters (weight first), with the following norm's."""
    out: list[list[torch.Tensor]] = []
    for m in model:
        if isinstance(m, nn.Conv2d | nn.Linear):
            out.append(list(m.parameters()))
        elif isinstance(m, nn.BatchNorm2d):
            out[-1] += list(m.parameters())
    return out


def batch(seed: int = 1, n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 6, 6, generator=g), torch.randint(0, 3, (n,), generator=g)


def state_of(model: nn.Module) -> list[torch.Tensor]:
    return [t.detach().clone() for t in [*model.parameters(), *model.buffers()]]


def assert_bits_equal(a: list[torch.Tensor], b: list[torch.Tensor]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype and torch.equal(x, y)


# ---- noisy batch norm ----------------------------------------------------------------------
def test_noiseless_noisy_bn_is_batchnorm_in_training_and_eval_mode():
    x = torch.randn(6, 4, 5, 5) * 3 + 1
    ref, ours = nn.BatchNorm2d(4), NoisyBatchNorm2d(4, 0.0, 1.0, 0.0)
    with torch.no_grad():  # a non-trivial affine part, the same in both
        for m in (ref, ours):
            m.weight.copy_(torch.tensor([0.5, 1.0, 2.0, -1.0]))
            m.bias.copy_(torch.tensor([0.1, -0.2, 0.3, 0.0]))
    for _ in range(3):  # running statistics accumulate alike
        xr, xo = x.clone().requires_grad_(), x.clone().requires_grad_()
        yr, yo = ref(xr), ours(xo)
        assert torch.equal(yr, yo)
        (yr * torch.arange(4.0).view(1, 4, 1, 1)).sum().backward()
        (yo * torch.arange(4.0).view(1, 4, 1, 1)).sum().backward()
        assert torch.equal(xr.grad, xo.grad)
        assert torch.equal(ref.weight.grad, ours.weight.grad)
        assert torch.equal(ref.bias.grad, ours.bias.grad)
        x = x * 1.1 + 0.2
    assert_bits_equal(list(ref.buffers()), list(ours.buffers()))
    ref.eval(), ours.eval()
    assert torch.equal(ref(x), ours(x))


def test_noisy_bn_is_batchnorm_scaled_and_shifted_by_its_generators_draws():
    gen = torch.Generator().manual_seed(3)
    noisy = NoisyBatchNorm2d(4, 0.5, 1.25, 0.1, generator=gen)
    plain = nn.BatchNorm2d(4)
    x = torch.randn(5, 4, 3, 3)
    replay = torch.Generator().manual_seed(3)
    twin = NoisyBatchNorm2d(4, 0.5, 1.25, 0.1, generator=replay)
    s, b = twin.sample_noise(5)
    assert torch.allclose(noisy(x), plain(x) * s[:, :, None, None] + b[:, :, None, None])
    # The distribution's parameters lie in their ranges and move from one step to the next.
    assert (s > 0).all() and s.mean() > 1.0
    s2, b2 = twin.sample_noise(5)
    assert not torch.equal(s, s2) and not torch.equal(b, b2)
    means = torch.stack([twin.sample_noise(4000)[1].mean(0) for _ in range(2)])
    assert means.abs().max() <= 0.5 + 0.02  # μ_c ~ U[-0.5, 0.5], jitter averaged out
    assert (means[0] - means[1]).abs().max() > 0.05  # redrawn each step
    noisy.eval()  # evaluation: plain batch norm on running statistics, no noise
    plain.eval()
    assert torch.equal(noisy(x), plain(x))


# ---- the probes leave everything as they found it ------------------------------------------
def test_probes_leave_weights_buffers_grads_and_random_states_unchanged():
    noise = torch.Generator().manual_seed(5)
    model = tiny_net(noise, "noisy")
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = batch()
    F.cross_entropy(model(x), y).backward()
    opt.step()  # a momentum buffer to read
    opt.zero_grad(set_to_none=True)
    before, noise_state, rng = state_of(model), noise.get_state(), torch.get_rng_state()
    opt_state = copy.deepcopy(opt.state_dict())

    def loss_fn() -> torch.Tensor:
        return F.cross_entropy(model(x), y)

    landscape.probe_landscape(model, loss_fn, [0.05, 0.2], (noise,))
    landscape.internal_covariate_shift(
        model, layers_of(model), loss_fn, lambda g: landscape.sgd_delta(opt, g), (noise,)
    )
    assert_bits_equal(state_of(model), before)  # weights and BN running statistics
    assert torch.equal(noise.get_state(), noise_state)
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(p.grad is None for p in model.parameters())
    after = opt.state_dict()
    for key, value in opt_state["state"].items():
        assert torch.equal(after["state"][key]["momentum_buffer"], value["momentum_buffer"])


def test_training_is_bit_identical_with_probes_on_and_off():
    def train(probing: bool) -> tuple[list[torch.Tensor], torch.Tensor]:
        noise = torch.Generator().manual_seed(7)
        model = tiny_net(noise, "noisy")
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        for step in range(4):
            x, y = batch(step)

            def loss_fn(x=x, y=y) -> torch.Tensor:
                return F.cross_entropy(model(x), y)

            if probing:
                landscape.probe_landscape(model, loss_fn, [0.1, 0.3], (noise,))
                landscape.internal_covariate_shift(
                    model,
                    layers_of(model),
                    loss_fn,
                    lambda g: landscape.sgd_delta(opt, g),
                    (noise,),
                )
            opt.zero_grad()
            loss_fn().backward()
            opt.step()
        return state_of(model), noise.get_state()

    on, off = train(True), train(False)
    assert_bits_equal(on[0], off[0])
    assert torch.equal(on[1], off[1])


def test_the_probes_gradient_is_the_training_steps_gradient_under_noise():
    """Every pass of a probe sees the noise of the step it probes."""
    noise = torch.Generator().manual_seed(11)
    model = tiny_net(noise, "noisy")
    x, y = batch()
    params = list(model.parameters())
    snap = landscape.Snapshot.take(model, (noise,))
    _, probed = landscape.loss_and_gradient(params, lambda: F.cross_entropy(model(x), y))
    snap.restore()
    F.cross_entropy(model(x), y).backward()
    for p, g in zip(params, probed, strict=True):
        assert torch.equal(p.grad, g)


# ---- the landscape probe against closed forms ----------------------------------------------
class Quadratic(nn.Module):
    """L(x) = ½ xᵀAx: ∇L = Ax, so ‖∇L(x) − ∇L(x − ηAx)‖ / ‖ηAx‖ = ‖A g‖ / ‖g‖ ≤ λ_max(A)."""

    def __init__(self, a: torch.Tensor, x: torch.Tensor) -> None:
        super().__init__()
        self.a = a
        self.x = nn.Parameter(x.clone())

    def forward(self) -> torch.Tensor:
        return 0.5 * self.x @ self.a @ self.x


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beta_smoothness_of_a_quadratic_is_at_most_its_top_eigenvalue(seed):
    g = torch.Generator().manual_seed(seed)
    m = torch.randn(6, 6, generator=g, dtype=torch.float64)
    a = m @ m.T + 0.1 * torch.eye(6, dtype=torch.float64)
    eigenvalues, vectors = torch.linalg.eigh(a)
    top = float(eigenvalues[-1])
    steps = [0.01, 0.02, 0.05]
    x0 = torch.randn(6, generator=g, dtype=torch.float64)
    model = Quadratic(a, x0)
    probe = landscape.probe_landscape(model, model, steps)
    grad = a @ x0
    assert probe.gradient_norm == pytest.approx(float(grad.norm()), rel=1e-12)
    for eta, loss, change in zip(steps, probe.losses, probe.gradient_changes, strict=True):
        moved = x0 - eta * grad
        assert loss == pytest.approx(float(0.5 * moved @ a @ moved), rel=1e-12)
        assert change == pytest.approx(eta * float((a @ grad).norm()), rel=1e-10)
    assert probe.beta_smoothness <= top * (1 + 1e-10)
    assert probe.beta_smoothness == pytest.approx(float((a @ grad).norm() / grad.norm()))
    assert probe.loss_range == pytest.approx(max(probe.losses) - min(probe.losses))
    assert torch.equal(model.x.detach(), x0)  # restored
    along_top = Quadratic(a, 3.0 * vectors[:, -1])  # gradient along the top eigenvector
    assert landscape.probe_landscape(along_top, along_top, steps).beta_smoothness == (
        pytest.approx(top, rel=1e-10)
    )


# ---- internal covariate shift --------------------------------------------------------------
def test_ics_is_zero_without_earlier_layers_and_when_their_learning_rate_is_zero():
    x, y = batch()
    one = nn.Linear(3 * 6 * 6, 3)
    opt = torch.optim.SGD(one.parameters(), lr=0.5)
    shift = landscape.internal_covariate_shift(
        one,
        [list(one.parameters())],
        lambda: F.cross_entropy(one(x.flatten(1)), y),
        lambda g: landscape.sgd_delta(opt, g),
    )
    assert shift.l2 == [0.0] and shift.cosine[0] == pytest.approx(1.0)

    model = tiny_net(norm="bn")
    layers = layers_of(model)
    frozen = [p for layer in layers[:-1] for p in layer]
    opt = torch.optim.SGD(
        [{"params": frozen, "lr": 0.0}, {"params": layers[-1], "lr": 0.3}], momentum=0.9
    )

    def loss_fn() -> torch.Tensor:
        return F.cross_entropy(model(x), y)

    shift = landscape.internal_covariate_shift(
        model, layers, loss_fn, lambda g: landscape.sgd_delta(opt, g)
    )
    assert shift.l2 == [0.0, 0.0, 0.0]
    moving = torch.optim.SGD(model.parameters(), lr=0.3)
    shift = landscape.internal_covariate_shift(
        model, layers, loss_fn, lambda g: landscape.sgd_delta(moving, g)
    )
    assert shift.l2[0] == 0.0 and min(shift.l2[1:]) > 0 and max(shift.cosine[1:]) < 1


def test_ics_equals_the_gradient_change_after_a_real_sgd_step_of_the_earlier_layers():
    """Definition 2.1 done naively: step a copy with torch's SGD, keep only layer 1's update."""
    x, y = batch(n=16)
    model = tiny_net(norm="bn")
    opt = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9, weight_decay=1e-3)
    layers = layers_of(model)
    shift = landscape.internal_covariate_shift(
        model, layers, lambda: F.cross_entropy(model(x), y), lambda g: landscape.sgd_delta(opt, g)
    )
    stepped, kept = copy.deepcopy(model), copy.deepcopy(model)
    step_opt = torch.optim.SGD(stepped.parameters(), lr=0.2, momentum=0.9, weight_decay=1e-3)
    F.cross_entropy(stepped(x), y).backward()
    step_opt.step()
    with torch.no_grad():  # layer 1 (the first conv and its BN) takes its step, the rest not
        for name in ("0.weight", "0.bias", "1.weight", "1.bias"):
            kept.get_parameter(name).copy_(stepped.get_parameter(name))
    before = copy.deepcopy(model)
    F.cross_entropy(before(x), y).backward()
    F.cross_entropy(kept(x), y).backward()
    g, g_after = before[3].weight.grad, kept[3].weight.grad
    assert shift.l2[1] == pytest.approx(float((g - g_after).norm()), rel=1e-4)
    cosine = float(F.cosine_similarity(g.flatten(), g_after.flatten(), dim=0))
    assert shift.cosine[1] == pytest.approx(cosine, abs=1e-6)


@pytest.mark.parametrize(
    "kw",
    [
        {"momentum": 0.0},
        {"momentum": 0.9},
        {"momentum": 0.9, "nesterov": True, "weight_decay": 1e-2},
        {"momentum": 0.5, "dampening": 0.3, "maximize": True},
    ],
)
def test_sgd_delta_is_the_step_torch_sgd_takes(kw):
    model = tiny_net(norm="none")
    opt = torch.optim.SGD(model.parameters(), lr=0.1, **kw)
    for seed in (1, 2):  # the second step reads the momentum buffer
        x, y = batch(seed)
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        grads = {p: p.grad.clone() for p in model.parameters()}
        delta = landscape.sgd_delta(opt, grads)
        before = [p.detach().clone() for p in model.parameters()]
        opt.step()
        for p, b in zip(model.parameters(), before, strict=True):
            torch.testing.assert_close(p.detach(), b + delta[p], rtol=0, atol=1e-7)


# ---- the lab's networks --------------------------------------------------------------------
def test_the_three_variants_start_from_the_same_weights():
    from practicum.labs.papers.batchnorm_landscape import VARIANTS, Config, vgg

    config = Config(widths=(4, 8), convs_per_stage=2)
    noise = torch.Generator().manual_seed(1)
    nets = {v: vgg(v, config, torch.Generator().manual_seed(0), noise) for v in VARIANTS}
    for v in VARIANTS:
        assert len(nets[v].layers) == 5
        for mine, ref in zip(nets[v].layers, nets["standard"].layers, strict=True):
            assert torch.equal(mine[0], ref[0])
    assert isinstance(nets["noisy"].model[1], NoisyBatchNorm2d)
    x = torch.randn(2, 3, 8, 8)
    assert nets["batchnorm"].model(x).shape == (2, 10)


def test_recalibration_sets_running_statistics_to_the_data_statistics_without_noise():
    from practicum.nn.noisy_batchnorm import recalibrate_batchnorm

    gen = torch.Generator().manual_seed(2)
    model = nn.Sequential(NoisyBatchNorm2d(3, 0.5, 1.5, 0.2, generator=gen))
    x = torch.randn(40, 3, 4, 4) * torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1) + 5.0
    model(x)  # running statistics of a noisy training pass, then re-estimated
    state = gen.get_state()
    recalibrate_batchnorm(model, x, batch=40)
    bn = model[0]
    assert torch.allclose(bn.running_mean, x.mean(dim=(0, 2, 3)))
    assert torch.allclose(bn.running_var, x.var(dim=(0, 2, 3), unbiased=True))
    assert torch.equal(gen.get_state(), state)  # no noise drawn
    assert (bn.shift, bn.scale, bn.jitter, bn.momentum) == (0.5, 1.5, 0.2, 0.1)  # put back
    assert not model.training
    halves = copy.deepcopy(model)  # two batches: the average of the batch statistics
    recalibrate_batchnorm(halves, x, batch=20)
    means = torch.stack([x[:20].mean(dim=(0, 2, 3)), x[20:].mean(dim=(0, 2, 3))]).mean(0)
    assert torch.allclose(halves[0].running_mean, means)
