"""The debugging tools: overfit one batch, gradient-flow monitoring, `practicum debug`."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from practicum.cli import main
from practicum.debug import GradientFlowMonitor, StopTraining, overfit_one_batch
from practicum.nn import MLP


def mse(model, batch):
    x, y = batch
    return ((model(x) - y) ** 2).mean()


def test_overfit_one_batch_passes_for_a_capable_model():
    torch.manual_seed(0)
    x, y = torch.randn(16, 3), torch.randn(16, 1)
    model = MLP(3, 1, 2, 32, hidden_activation=torch.tanh)
    report = overfit_one_batch(model, (x, y), mse, steps=400)
    assert report.passed, report
    assert report.final_loss < 1e-3 * report.initial_loss


def test_overfit_one_batch_fails_when_the_model_cannot_fit():
    # XOR is not linearly separable: a linear model stays at MSE 0.25.
    x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = torch.tensor([[0.0], [1.0], [1.0], [0.0]])
    report = overfit_one_batch(nn.Linear(2, 1), (x, y), mse, steps=400)
    assert not report.passed
    assert report.final_loss == pytest.approx(0.25, abs=1e-3)


def _train(model, steps, monitor_steps=None, lr=1e-2):
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    x, y = torch.randn(32, 4), torch.randn(32, 2)
    with GradientFlowMonitor(max_steps=monitor_steps) as monitor:
        try:
            for _ in range(steps):
                loss = mse(model, (x, y))
                opt.zero_grad()
                loss.backward()
                grads = {n: p.grad.clone() for n, p in model.named_parameters()}
                before = {n: p.detach().clone() for n, p in model.named_parameters()}
                opt.step()
        except StopTraining:
            pass
    return monitor, grads, before


def test_monitor_measures_gradient_norms_and_update_ratios():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    monitor, grads, before = _train(model, steps=3)
    assert monitor.steps == 3
    first = monitor.layers["Sequential.0"]
    expected = math.sqrt(sum(grads[f"0.{k}"].pow(2).sum().item() for k in ("weight", "bias")))
    assert first.grad_norm[-1] == pytest.approx(expected, rel=1e-5)
    du = sum(
        (model[0].get_parameter(k).detach() - before[f"0.{k}"]).pow(2).sum()
        for k in ("weight", "bias")
    )
    w = sum(before[f"0.{k}"].pow(2).sum() for k in ("weight", "bias"))
    assert first.update_ratio[-1] == pytest.approx(math.sqrt(du / w), rel=1e-4)


def test_monitor_finds_dead_units_and_stops_after_max_steps():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    with torch.no_grad():
        model[0].bias[:6] = -100.0  # 6 of 8 units can never be positive
    monitor, _, _ = _train(model, steps=50, monitor_steps=2)
    assert monitor.steps == 2
    assert monitor.layers["Sequential.0"].dead_fraction == pytest.approx(6 / 8)
    row = next(r for r in monitor.rows() if r["layer"] == "Sequential.0")
    assert "mostly dead units" in row["flags"]


def test_monitor_names_the_first_layer_that_goes_non_finite():
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    with torch.no_grad():
        model[2].weight[0, 0] = float("inf")
    monitor, _, _ = _train(model, steps=1)
    assert monitor.first_nonfinite == "output of Sequential.2 at step 0"


def test_debug_command_writes_table_and_plots(tmp_path, capsys):
    out = tmp_path / "dbg"
    assert main(["debug", "spirals", "--quick", "--steps", "5", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| MLP.layers.0 |" in printed
    report = json.loads((out / "debug.json").read_text())
    assert report["steps"] == 5 and len(report["layers"]) == 5
    assert (out / "plots" / "gradient_flow.png").stat().st_size > 10_000
    assert (out / "plots" / "activation_histograms.png").stat().st_size > 10_000
    assert main(["debug", "spirals", "--steps", "0"]) == 2
