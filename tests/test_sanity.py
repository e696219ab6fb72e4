"""The recipe's sanity checks (practicum.sanity): each passes on a sound classifier and fails on
the bug it is there to catch, and `practicum debug` runs them for a lab that opts in."""

from __future__ import annotations

import dataclasses
import json

import torch
from torch import nn

from practicum import sanity
from practicum.cli import main


def batch(n: int = 32, d: int = 12, k: int = 4, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randint(0, k, (n,), generator=g)


def sound(d: int = 12, k: int = 4, seed: int = 0, scale: float = 0.1) -> nn.Module:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(d, 64), nn.ReLU(), nn.Linear(64, k))
    with torch.no_grad():
        model[2].weight.mul_(scale)  # a small last layer: logits near equal at the start
    return model


def problem(model: nn.Module, **kw) -> sanity.SanityProblem:
    x, y = batch(**kw)
    return sanity.SanityProblem(model, x, y, num_classes=4)


class Mixer(nn.Module):
    """The classic bug: flattening with the batch and feature axes swapped,
    ``x.reshape(features, batch).T`` where ``x`` was (batch, features)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(len(x), -1)
        return self.inner(flat.reshape(flat.shape[1], flat.shape[0]).T)


class Blind(nn.Module):
    """A model that ignores its input (a tensor overwritten by a constant)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(torch.ones_like(x))


def test_a_sound_classifier_passes_every_check_and_they_leave_it_untouched():
    model = sound()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    checks = sanity.run_checks(problem(model))
    assert [c.name for c in checks] == [
        "loss at initialisation",
        "overfit one batch",
        "input-independent baseline",
        "per-sample gradient independence",
    ]
    assert all(c.passed for c in checks), [c.detail for c in checks if not c.passed]
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert "| loss at initialisation | pass |" in sanity.checks_table(checks)


def test_a_bad_initial_scale_fails_the_loss_at_initialisation():
    model = sound(scale=30.0)  # logits spread over tens: the loss starts far above ln 4
    check = sanity.init_loss_check(problem(model))
    assert not check.passed and check.value > check.reference + 1
    assert sanity.init_loss_check(problem(sound())).passed


def test_a_model_that_cannot_fit_fails_overfit_one_batch():
    # a bias alone can only learn the label frequencies of 32 random labels
    class Prior(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bias = nn.Parameter(torch.zeros(4))

        def forward(self, x):
            return self.bias.expand(len(x), 4)

    assert not sanity.overfit_check(problem(Prior())).passed


def test_a_model_that_ignores_its_input_fails_the_input_independent_baseline():
    check = sanity.input_independent_check(problem(Blind(sound())))
    assert not check.passed
    assert abs(check.value - check.reference) < 1e-6  # zeroed or real, the same training
    assert sanity.input_independent_check(problem(sound())).passed


def test_a_view_that_mixes_the_batch_fails_gradient_independence():
    check = sanity.gradient_independence_check(problem(Mixer(sound())))
    assert not check.passed and check.value > 0
    good = sanity.gradient_independence_check(problem(sound()))
    assert good.passed and good.value == 0.0


def test_batch_norm_mixes_in_training_mode_but_the_check_runs_in_eval_mode():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 4))
    p = problem(model)
    x = p.x.clone().requires_grad_(True)
    model.train()(x)[3].sum().backward()  # in training mode the batch statistics mix rows
    assert x.grad[torch.arange(len(x)) != 3].abs().max() > 0
    assert sanity.gradient_independence_check(p).passed


def test_debug_runs_the_labs_sanity_checks_and_exits_1_when_one_fails(
    tmp_path, capsys, monkeypatch
):
    out = tmp_path / "dbg"
    assert main(["debug", "tricks-of-the-trade", "--quick", "--steps", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| per-sample gradient independence | pass |" in printed
    report = json.loads((out / "debug.json").read_text())
    assert [c["passed"] for c in report["sanity"]] == [True] * 4
    assert "Sanity checks (Karpathy 2019)" in (out / "debug.md").read_text()

    # the same lab with the batch-mixing bug planted in its model
    import practicum.lab as lab_module

    real = lab_module.get_lab("tricks-of-the-trade")

    def buggy(config, run):
        p = real.sanity(config, run)
        return dataclasses.replace(p, model=Mixer(p.model))

    planted = dataclasses.replace(real, sanity=buggy)
    monkeypatch.setattr(lab_module, "get_lab", lambda name: planted)
    out2 = tmp_path / "dbg2"
    assert (
        main(["debug", "tricks-of-the-trade", "--quick", "--steps", "3", "--out", str(out2)]) == 1
    )
    report = json.loads((out2 / "debug.json").read_text())
    assert [c["passed"] for c in report["sanity"]][3] is False
    assert "| per-sample gradient independence | FAIL |" in capsys.readouterr().out
