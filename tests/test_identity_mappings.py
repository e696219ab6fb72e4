"""practicum.nn.residual_units against the equations of He et al. 2016 ("Identity Mappings in
Deep Residual Networks"): what each unit reduces to when its residual function or gate is
switched off, the identity Jacobian of a stack of pre-activation units, the depth count
6n + 2, gradients against finite differences; and the identity-mappings lab's plan, schedule
and quick mode."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from practicum.errors import PracticumError
from practicum.labs.papers import identity_mappings as lab
from practicum.launch import run_lab
from practicum.nn.residual_units import (
    SHORTCUTS,
    ResidualUnit,
    resnet,
    units_for_depth,
    weighted_layers,
)


def _x(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _randomise_bn(module: nn.Module, seed: int = 1) -> None:
    """Non-trivial BN affine parameters and running statistics, so eval mode is no no-op."""
    gen = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.copy_(1 + 0.3 * torch.randn(m.weight.shape, generator=gen))
                m.bias.copy_(0.3 * torch.randn(m.bias.shape, generator=gen))
                m.running_mean.copy_(0.5 * torch.randn(m.running_mean.shape, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=gen))


def _silence_residual(unit: ResidualUnit) -> None:
    """F = 0: the last layer of the residual function set to zero (BN's affine for the
    original unit, whose F ends with BN; the last convolution for pre-activation)."""
    with torch.no_grad():
        if unit.kind == "original":
            unit.bn2.weight.zero_()
            unit.bn2.bias.zero_()
        else:
            unit.conv2.weight.zero_()


# ---- the units -----------------------------------------------------------------------------
@pytest.mark.parametrize("train", [True, False])
def test_with_f_zero_pre_activation_is_the_identity_and_original_is_relu(train: bool) -> None:
    x = _x(4, 3, 5, 5)
    for kind, expected in (("pre-activation", x), ("original", torch.relu(x))):
        unit = ResidualUnit(3, 3, kind=kind)
        _randomise_bn(unit)
        _silence_residual(unit)
        unit.train(train)
        assert torch.equal(unit(x), expected), kind


def test_constant_scaling_with_lambda_one_is_the_identity_shortcut() -> None:
    x = _x(3, 4, 6, 6)
    for kind in ("original", "pre-activation"):
        plain = ResidualUnit(4, kind=kind)
        scaled = ResidualUnit(4, kind=kind, shortcut="constant-scaling", scale=1.0)
        scaled.load_state_dict(plain.state_dict())
        torch.testing.assert_close(scaled(x), plain(x), rtol=0, atol=0)


def test_constant_scaling_scales_both_paths_by_lambda() -> None:
    """y = λx + λF (Table 1's 0.5 / 0.5), or λx + F with scale_residual=False."""
    x = _x(3, 4, 6, 6)
    unit = ResidualUnit(4, kind="pre-activation", shortcut="constant-scaling", scale=0.5)
    half_f = ResidualUnit(
        4, kind="pre-activation", shortcut="constant-scaling", scale=0.5, scale_residual=False
    )
    half_f.load_state_dict(unit.state_dict())
    f, _ = unit.residual(x)
    torch.testing.assert_close(unit(x), 0.5 * x + 0.5 * f)
    torch.testing.assert_close(half_f(x), 0.5 * x + f)


def test_a_shut_gate_reduces_gating_to_the_identity_shortcut() -> None:
    """σ(b_g) → 0: shortcut-only gating is the identity unit (F + x); exclusive gating keeps
    only the shortcut (x, F suppressed); σ(b_g) → 1 makes exclusive gating a plain unit (F)."""
    x = _x(3, 4, 6, 6)
    plain = ResidualUnit(4)
    for kind, bias, expected in (
        ("shortcut-gating", -1e4, plain(x)),
        ("exclusive-gating", -1e4, torch.relu(x)),
        ("exclusive-gating", 1e4, torch.relu(plain.residual(x)[0])),
    ):
        gated = ResidualUnit(4, shortcut=kind, gate_bias=bias)
        gated.load_state_dict(plain.state_dict(), strict=False)
        torch.testing.assert_close(gated(x), expected, msg=f"{kind} {bias}")


def test_dropout_shortcut_is_the_identity_in_eval_mode_and_drops_in_training() -> None:
    x = _x(2, 4, 6, 6)
    plain = ResidualUnit(4, kind="pre-activation")
    dropped = ResidualUnit(4, kind="pre-activation", shortcut="dropout", dropout=0.5)
    dropped.load_state_dict(plain.state_dict())
    plain.eval(), dropped.eval()
    assert torch.equal(dropped(x), plain(x))
    dropped.train()
    _silence_residual(dropped)
    torch.manual_seed(0)
    y = dropped(x)  # F = 0: the shortcut alone, each value 0 or 2x (inverted dropout)
    kept = y != 0
    assert torch.allclose(y[kept], 2 * x[kept]) and 0.3 < kept.float().mean() < 0.7


@pytest.mark.parametrize("kind", ["original", "pre-activation"])
def test_downsampling_units_halve_the_map_and_project_whatever_the_shortcut(kind: str) -> None:
    for shortcut in SHORTCUTS:
        unit = ResidualUnit(4, 8, stride=2, kind=kind, shortcut=shortcut)  # type: ignore[arg-type]
        assert unit.shortcut == "projection"
        assert unit(_x(2, 4, 8, 8)).shape == (2, 8, 4, 4)


def test_depth_is_six_n_plus_two_weighted_layers() -> None:
    for depth in (8, 14, 20, 56, 110):
        for kind in ("original", "pre-activation"):
            model = resnet(depth, (2, 4, 8), kind, "exclusive-gating")  # type: ignore[arg-type]
            assert weighted_layers(model) == depth
            assert len(model.units) == 3 * units_for_depth(depth)
            assert model(_x(2, 3, 8, 8)).shape == (2, 10)
    for bad in (7, 21, 2):
        with pytest.raises(ValueError):
            units_for_depth(bad)


def test_a_stack_of_pre_activation_units_at_zero_init_has_the_identity_jacobian() -> None:
    """x_L = x_l + Σ F_i (the paper's Eq. 4): with every F zero, ∂x_L/∂x_l = I exactly, over
    30 units; the original units' ReLU after each sum gives diag(x > 0) instead."""
    x = _x(1, 2, 3, 3, seed=3)
    pre = nn.Sequential(*(ResidualUnit(2, kind="pre-activation") for _ in range(30)))
    orig = nn.Sequential(*(ResidualUnit(2, kind="original") for _ in range(30)))
    for stack in (pre, orig):
        for unit in stack:
            _randomise_bn(unit)
            _silence_residual(unit)
    jac = torch.autograd.functional.jacobian(pre, x).reshape(18, 18)
    assert torch.equal(jac, torch.eye(18))
    jac = torch.autograd.functional.jacobian(orig, x).reshape(18, 18)
    assert torch.equal(jac, torch.diag((x.reshape(-1) > 0).float()))


@pytest.mark.parametrize("kind", ["original", "pre-activation"])
@pytest.mark.parametrize("shortcut", SHORTCUTS)
def test_backprop_matches_finite_differences_in_double_precision(kind: str, shortcut: str) -> None:
    torch.manual_seed(0)
    unit = ResidualUnit(2, kind=kind, shortcut=shortcut, gate_bias=0.5).double()  # type: ignore[arg-type]
    _randomise_bn(unit)
    unit.train(shortcut != "dropout")  # dropout is random in training: check it in eval mode
    x = _x(3, 2, 3, 3, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(unit, (x,), eps=1e-6, atol=1e-5)
    down = ResidualUnit(2, 3, stride=2, kind=kind).double()  # type: ignore[arg-type]
    assert torch.autograd.gradcheck(down, (x,), eps=1e-6, atol=1e-5)


def test_bad_kinds_and_shortcuts_are_refused() -> None:
    with pytest.raises(ValueError):
        ResidualUnit(2, kind="post-activation")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ResidualUnit(2, shortcut="highway")  # type: ignore[arg-type]


# ---- the lab -------------------------------------------------------------------------------
def test_the_plan_runs_both_orderings_at_every_depth_and_the_variants_at_the_greatest() -> None:
    config = lab.Config()
    jobs = lab.plan(config)
    variants = config.variant_list
    assert len(jobs) == config.seeds * (2 * len(config.depths) + len(variants))
    deep = [j for j in jobs if j.depth == max(config.depths) and j.repeat == 0]
    assert [j.variant for j in deep] == ["original", "pre-activation", *variants]
    assert all(j.kind == "original" for j in deep if j.variant in variants)
    assert len({j.name for j in jobs}) == len(jobs)


def test_the_schedule_warms_up_then_steps_at_half_and_three_quarters() -> None:
    config = lab.Config(warmup_iterations=10)
    rates = [lab.learning_rate(config, i, 100) for i in range(100)]
    assert rates[:10] == [0.01] * 10 and rates[10:50] == [0.1] * 40
    assert all(math.isclose(r, 0.01) for r in rates[50:75])
    assert all(math.isclose(r, 0.001) for r in rates[75:])


def test_a_repeat_shares_its_initialisation_across_variants() -> None:
    """Same seed, same stem and first unit for the original and the gated network (the gate
    convolutions are drawn after the unit's own layers)."""
    config = lab.Config(depths=(8,), widths=(2, 4, 8))
    a = lab.build(config, lab.Job(8, "original", 0), 10, seed=5, device="cpu")
    b = lab.build(config, lab.Job(8, "conv", 0), 10, seed=5, device="cpu")
    assert torch.equal(a.stem[0].weight, b.stem[0].weight)
    assert torch.equal(a.units[0].conv1.weight, b.units[0].conv1.weight)


@pytest.mark.parametrize(
    "overrides",
    [{"depths": (21,)}, {"variants": "constant-scaling,highway"}, {"widths": (4, 8)}],
)
def test_the_lab_refuses_what_it_cannot_run(overrides: dict) -> None:
    with pytest.raises(PracticumError):
        lab.Config(**overrides).validate()
    lab.Config().validate()


def test_quick_mode_passes_with_finite_metrics(tmp_path: Path) -> None:
    summary, folder = run_lab(
        "identity-mappings",
        quick=True,
        out=tmp_path / "im",
        quiet=True,
        overrides={"epochs": "2", "seeds": "1"},
    )
    metrics = summary["metrics"]
    assert all(math.isfinite(v) for v in metrics.values())
    for name in ("preact_minus_original_train_loss", "identity_margin_points"):
        assert name in metrics
    assert (folder / "plots" / "curves.png").is_file()
    assert (folder / "plots" / "table1.png").is_file()


def test_two_worker_processes_end_with_the_bits_of_one(tmp_path: Path) -> None:
    """Every training is seeded on its own, so training them side by side in worker processes
    changes neither a metric nor a parameter."""
    tiny = {"depths": "8", "epochs": "1", "seeds": "2", "variants": "exclusive-gating"}
    runs = [
        run_lab(
            "identity-mappings",
            quick=True,
            out=tmp_path / f"w{workers}",
            quiet=True,
            overrides={**tiny, "workers": str(workers)},
        )[0]
        for workers in (1, 2)
    ]
    assert runs[0]["param_hash"] == runs[1]["param_hash"]
    assert runs[0]["metrics"] == runs[1]["metrics"]
