"""Knowledge distillation (practicum.distill) and the distillation lab's parts: the soft
targets, the T²-scaled loss against its naive form, its gradient against the paper's Eq. 2 and
the high-temperature logit-matching limit (Sec. 2.1), the weight constraint, the choice of T."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from practicum.distill import distillation_loss, soft_loss, soft_targets
from practicum.labs.papers import distillation as lab

temperatures = st.floats(0.5, 50.0)
seeds = st.integers(0, 2**31 - 1)


def logits(seed: int, n: int = 6, k: int = 10, scale: float = 3.0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(n, k, generator=gen, dtype=torch.float64)).requires_grad_()


@settings(max_examples=30, deadline=None)
@given(seeds, temperatures)
def test_soft_targets_are_a_distribution_and_the_plain_softmax_at_T_1(seed: int, t: float) -> None:
    z = logits(seed).detach()
    p = soft_targets(z, t)
    assert torch.all(p > 0)
    torch.testing.assert_close(p.sum(dim=1), torch.ones(len(z), dtype=z.dtype))
    torch.testing.assert_close(soft_targets(z, 1.0), torch.softmax(z, dim=1))


def test_soft_targets_tend_to_uniform_as_T_grows_and_soften_monotonically() -> None:
    z = logits(0).detach()
    gaps = [float((soft_targets(z, t) - 0.1).abs().max()) for t in (1, 4, 20, 1e6)]
    assert gaps == sorted(gaps, reverse=True)
    assert gaps[-1] < 1e-5
    with pytest.raises(ValueError):
        soft_targets(z, 0.0)


def naive(z: np.ndarray, v: np.ndarray, y: np.ndarray, t: float, alpha: float) -> float:
    """The loss written out one example and one class at a time."""
    total = 0.0
    for zi, vi, yi in zip(z, v, y, strict=True):
        p = [math.exp(a / t) for a in vi]
        q = [math.exp(a / t) for a in zi]
        p = [a / sum(p) for a in p]
        q = [a / sum(q) for a in q]
        kl = sum(pj * math.log(pj / qj) for pj, qj in zip(p, q, strict=True))
        hard = -zi[yi] + math.log(sum(math.exp(a) for a in zi))
        total += alpha * t * t * kl + (1 - alpha) * hard
    return total / len(z)


@settings(max_examples=30, deadline=None)
@given(seeds, temperatures, st.floats(0.0, 1.0))
def test_the_loss_is_its_naive_form(seed: int, t: float, alpha: float) -> None:
    z, v = logits(seed), logits(seed + 1).detach()
    y = torch.randint(0, 10, (len(z),), generator=torch.Generator().manual_seed(seed))
    got = float(distillation_loss(z, v, y, t, alpha).detach())
    assert got == pytest.approx(naive(z.detach().numpy(), v.numpy(), y.numpy(), t, alpha), rel=1e-9)


def test_alpha_zero_is_the_cross_entropy_and_out_of_range_is_refused() -> None:
    z, v = logits(0), logits(1).detach()
    y = torch.arange(len(z)) % 10
    torch.testing.assert_close(
        distillation_loss(z, v, y, 20.0, 0.0), torch.nn.functional.cross_entropy(z, y)
    )
    with pytest.raises(ValueError):
        distillation_loss(z, v, y, 20.0, 1.5)


@settings(max_examples=30, deadline=None)
@given(seeds, temperatures)
def test_the_soft_gradient_is_T_squared_times_q_minus_p_over_T(seed: int, t: float) -> None:
    """Eq. 2: ∂H(p, q)/∂z_i = (q_i − p_i) / T; times T², and over the batch's mean."""
    z, v = logits(seed), logits(seed + 1).detach()
    (grad,) = torch.autograd.grad(soft_loss(z, v, t), z)
    q, p = soft_targets(z.detach(), t), soft_targets(v, t)
    torch.testing.assert_close(grad, t * t * (q - p) / t / len(z))


def test_the_teacher_gets_no_gradient() -> None:
    z, v = logits(0), logits(1)
    soft_loss(z, v, 4.0).backward()
    assert v.grad is None


@pytest.mark.parametrize("t", [50.0, 200.0])
def test_at_high_T_the_gradient_is_logit_matching(t: float) -> None:
    """Sec. 2.1: for zero-mean logits (q_i − p_i) / T ≈ (z_i − v_i) / (N T²), N classes: with
    the T² scaling, the gradient of ½ Σ (z_i − v_i)² / N per example."""
    z, v = logits(3), logits(4).detach()
    z = (z - z.mean(dim=1, keepdim=True)).detach().requires_grad_()
    v = v - v.mean(dim=1, keepdim=True)
    (grad,) = torch.autograd.grad(soft_loss(z, v, t), z)
    matching = (z.detach() - v) / z.shape[1] / len(z)
    error = float((grad - matching).abs().max() / matching.abs().max())
    assert error < 0.1 * 50.0 / t  # the error falls like 1/T


def test_the_weight_constraint_caps_every_units_incoming_norm() -> None:
    torch.manual_seed(0)
    model = lab.MLP(16, 8)
    with torch.no_grad():
        model.hidden[0].weight.mul_(100.0)
        model.hidden[0].weight[0] = 0.01  # a short row is left alone
    short = model.hidden[0].weight[0].clone()
    out = model.out.weight.clone()
    model.constrain_(2.0)
    for layer in model.hidden:
        assert float(layer.weight.detach().norm(dim=1).max()) <= 2.0 + 1e-5
    torch.testing.assert_close(model.hidden[0].weight[0], short)
    torch.testing.assert_close(model.out.weight, out)  # only the hidden units are constrained


def test_the_temperature_is_chosen_on_validation_errors_ties_to_the_higher() -> None:
    config = lab.Config(temperatures=(1.0, 8.0, 20.0))
    results = {
        "distilled_T1": {"val_errors": 30},
        "distilled_T8": {"val_errors": 20},
        "distilled_T20": {"val_errors": 20},
    }
    assert lab.chosen(config, results) == 20.0
    results["distilled_T8"]["val_errors"] = 19
    assert lab.chosen(config, results) == 8.0


def test_all_students_start_alike_and_the_teacher_differs() -> None:
    config = lab.Config(data="digits", teacher_width=16, student_width=16)
    a = lab.build(config, lab.Job("student"), 0, "cpu")
    b = lab.build(config, lab.Job("distilled", 20.0), 0, "cpu")
    t = lab.build(config, lab.Job("teacher"), 0, "cpu")
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert not torch.equal(a.hidden[0].weight, t.hidden[0].weight)
    assert lab.order_seed(0, lab.Job("student")) == lab.order_seed(0, lab.Job("distilled", 4.0))


def test_the_quick_mode_runs(tmp_path) -> None:
    from practicum.launch import run_lab

    summary, _ = run_lab("distillation", quick=True, quiet=True, out=tmp_path / "run")
    m = summary["metrics"]
    assert m["test_images"] == 400
    for key in ("teacher_test_errors", "student_test_errors", "distilled_test_errors"):
        assert 0 <= m[key] <= 400
    assert (tmp_path / "run" / "plots" / "sweep.png").exists()


def test_the_teachers_dropout_masks_come_from_its_own_generator() -> None:
    """The masks depend on the teacher's seed alone: torch's global generator (which the
    students' construction and anything else advance) does not change them."""
    config = lab.Config(data="digits", teacher_width=16, student_width=8)
    x = torch.rand(32, 1, 8, 8)
    outputs = []
    for global_seed in (0, 123):
        torch.manual_seed(global_seed)
        teacher = lab.build(config, lab.Job("teacher"), seed=5, device="cpu")
        torch.rand(1000)  # another consumer of the global stream
        outputs.append(teacher(x))
    torch.testing.assert_close(outputs[0], outputs[1], rtol=0, atol=0)
    teacher.eval()
    assert torch.equal(teacher(x), teacher(x))  # no dropout in evaluation mode


@given(p=st.floats(0.05, 0.9))
@settings(max_examples=20, deadline=None)
def test_inverted_dropout_keeps_the_mean_and_drops_a_fraction_p(p: float) -> None:
    net = lab.MLP(4, 4)
    net.masks = torch.Generator().manual_seed(0)
    x = torch.ones(200_000)
    y = net.dropout(x, p)
    assert abs(float((y == 0).float().mean()) - p) < 0.01
    assert abs(float(y.mean()) - 1.0) < 0.02
    kept = y[y != 0]
    torch.testing.assert_close(kept, torch.full_like(kept, 1 / (1 - p)))
