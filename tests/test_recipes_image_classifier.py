"""The image-classifier program (practicum.recipes.image_classifier) on its own."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_pre_hook

from practicum.errors import PracticumError
from practicum.nn import Conv2d, Linear
from practicum.recipes.image_classifier import (
    QUICK,
    Config,
    TrainingConfig,
    accuracy,
    build_model,
    load_data,
    predict,
    train,
    weight_penalty,
)
from practicum.run import Run


class _Stop(Exception):
    pass


@pytest.fixture
def learning_rates():
    """The learning rate of every optimiser step taken while the fixture is active."""
    seen: list[float] = []
    handle = register_optimizer_step_pre_hook(
        lambda opt, args, kwargs: seen.append(opt.param_groups[0]["lr"])
    )
    yield seen
    handle.remove()


def _tiny_problem(n: int = 64) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, 1, 8, 8, generator=gen)
    y = torch.randint(0, 10, (n,), generator=gen)
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), x, y


def test_weight_penalty_is_the_naive_sum_over_convolution_and_linear_weights() -> None:
    torch.manual_seed(0)
    model = build_model(Config(**QUICK))
    for p in model.parameters():  # non-trivial biases and norm scales, which must not count
        nn.init.normal_(p)
    naive = sum(
        float((m.weight.detach().double() ** 2).sum())
        for m in model.modules()
        if isinstance(m, Conv2d | Linear | nn.Conv2d | nn.Linear)
    )
    everything = sum(float((p.detach().double() ** 2).sum()) for p in model.parameters())
    assert naive < everything  # the exclusion is exercised
    assert weight_penalty(model).item() == pytest.approx(naive, rel=1e-5)


def test_train_steps_the_one_cycle_schedule_once_per_batch(learning_rates) -> None:
    """Adam's learning rate at step t is torch's cosine one-cycle: from peak/25 up to the
    peak over the first warmup fraction of the steps, then down to peak/25/1e4."""
    model, x, y = _tiny_problem()
    config = TrainingConfig(epochs=3, batch_size=16, learning_rate=0.05, warmup=0.25, l2=0.0)
    train(model, config, x, y, torch.Generator().manual_seed(1), lambda e, s: None)
    total = 3 * 64 // 16
    assert len(learning_rates) == total
    peak, start = 0.05, 0.05 / 25
    end, turn = start / 1e4, 0.25 * total - 1

    def cosine(a: float, b: float, fraction: float) -> float:
        return b + (a - b) / 2 * (1 + math.cos(math.pi * fraction))

    expected = [
        cosine(start, peak, t / turn)
        if t <= turn
        else cosine(peak, end, (t - turn) / (total - 1 - turn))
        for t in range(total)
    ]
    assert learning_rates == pytest.approx(expected, rel=1e-9)


def test_train_evaluates_evals_per_epoch_times_and_stops_when_on_eval_says_so(
    learning_rates,
) -> None:
    model, x, y = _tiny_problem()
    config = TrainingConfig(epochs=3, batch_size=16, evals_per_epoch=2, crop_padding=1)
    calls: list[tuple[float, float]] = []

    def on_eval(epoch: float, seconds: float) -> bool:
        calls.append((epoch, seconds))
        return len(calls) == 3  # stop after one and a half epochs

    seconds = train(model, config, x, y, torch.Generator().manual_seed(1), on_eval)
    assert [epoch for epoch, _ in calls] == [0.5, 1.0, 1.5]
    assert len(learning_rates) == 6  # 4 steps an epoch
    assert seconds == calls[-1][1] and 0 < calls[0][1] <= calls[1][1] <= seconds
    assert model.training  # left in training mode; evaluation restores it


def test_train_resumed_mid_way_gives_the_same_parameters_and_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Interrupt after the first of three epochs' checkpoints, resume in a new Run: the
    weights, batch-norm statistics and evaluations equal those of an uninterrupted run
    (dropout draws from the global generator, which the checkpoint restores too)."""
    config = Config(**{**QUICK, "epochs": 3, "val_size": 100})
    data = load_data(config, seed=0)

    def attempt(folder: Path, resuming: bool = False) -> tuple[nn.Module, list[dict]]:
        run = Run(folder, seed=0, quiet=True)
        run.resuming = resuming
        torch.manual_seed(0)
        model = build_model(config)
        history: list[dict[str, float]] = []

        def on_eval(epoch: float, seconds: float) -> None:
            history.append({"epoch": epoch, "val": accuracy(model, data.x_val, data.y_val)})

        gen = torch.Generator().manual_seed(0)
        train(model, config, data.x_train, data.y_train, gen, on_eval, run=run, history=history)
        return model, history

    whole, whole_history = attempt(tmp_path / "whole")
    save = Run.checkpoint

    def save_then_stop(self: Run, step: int, **objects: object) -> Path:
        path = save(self, step, **objects)
        if step == 0:
            raise _Stop
        return path

    monkeypatch.setattr(Run, "checkpoint", save_then_stop)
    with pytest.raises(_Stop):
        attempt(tmp_path / "cut")
    monkeypatch.setattr(Run, "checkpoint", save)
    torch.manual_seed(123)  # the resumed process starts from other global RNG states
    resumed, resumed_history = attempt(tmp_path / "cut", resuming=True)
    assert resumed_history == whole_history and len(whole_history) == 3
    a, b = resumed.state_dict(), whole.state_dict()
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_load_data_standardises_with_the_training_part_and_keeps_the_test_set() -> None:
    config = Config(**{**QUICK, "val_size": 300})
    data = load_data(config, seed=3)
    assert data.x_train.shape == (1397 - 300, 1, 8, 8) and data.x_val.shape == (300, 1, 8, 8)
    assert data.x_test.shape == (400, 1, 8, 8) and data.classes[0] == "0"
    assert abs(float(data.x_train.mean())) < 1e-5
    assert float(data.x_train.std()) == pytest.approx(1.0, abs=1e-4)
    other = load_data(config, seed=4)  # another seed: another split, the same test images
    assert torch.equal(other.y_test, data.y_test) and not torch.equal(other.y_val, data.y_val)
    assert not torch.equal(other.x_test, data.x_test)  # standardised with other statistics
    fast = load_data(dataclasses.replace(config, channels_last=True), seed=3)
    assert fast.x_train.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(fast.x_train, data.x_train, rtol=0, atol=0)
    with pytest.raises(PracticumError, match="leaves no training images"):
        load_data(dataclasses.replace(config, val_size=1397), seed=0)


def test_predict_is_the_eval_mode_argmax_and_keeps_the_mode() -> None:
    torch.manual_seed(0)
    model = build_model(Config(**QUICK))
    x = torch.randn(7, 1, 8, 8)
    model.train()
    pred = predict(model, x, batch_size=3)
    assert model.training
    model.eval()
    assert torch.equal(pred, model(x).argmax(1))
    assert accuracy(model, x, pred) == 1.0


def test_options_a_lab_does_not_declare_are_off_and_not_in_its_config() -> None:
    """mnist-tiny builds on TrainingConfig without flip/channels_last: its config.json
    keys stay those of its records; mnist-cnn's Config declares both."""
    plain = TrainingConfig()
    assert plain.flip is False and plain.channels_last is False
    assert not {"flip", "channels_last"} & set(dataclasses.asdict(plain))
    cnn = Config(flip=True, channels_last=True)
    assert cnn.flip and cnn.channels_last
    assert {"flip", "channels_last"} <= set(dataclasses.asdict(cnn))


@pytest.mark.parametrize(
    "change",
    [{"warmup": 1.0}, {"l2": -1.0}, {"evals_per_epoch": 0}, {"crop_padding": -1}, {"epochs": 0}],
)
def test_training_settings_are_validated(change: dict) -> None:
    with pytest.raises(PracticumError):
        TrainingConfig(**change).validate()
    with pytest.raises(PracticumError):
        Config(**change).validate()
