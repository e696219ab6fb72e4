"""The CIFAR ResNet program (practicum.recipes.cifar_resnet) on its own."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from practicum.data.vision import ImageData, load_digits_rgb
from practicum.recipes.cifar_resnet import (
    QUICK,
    Config,
    build_model,
    logits,
    one_cycle_factor,
    prepare,
    topk_accuracy,
    train,
    translate,
)
from practicum.run import Run


@pytest.mark.parametrize("shift", [1, 2, -1, -3])
def test_tta_translate_moves_content_and_fills_with_zeros(shift: int) -> None:
    x = torch.randn(2, 3, 8, 8) + 5  # no zeros in the content
    y = translate(x, shift)
    s = abs(shift)
    assert y.shape == x.shape
    if shift > 0:  # moved down and right: the top rows and left columns are new, zero
        torch.testing.assert_close(y[..., s:, s:], x[..., :-s, :-s])
        assert (y[..., :s, :] == 0).all() and (y[..., :, :s] == 0).all()
    else:
        torch.testing.assert_close(y[..., :-s, :-s], x[..., s:, s:])
        assert (y[..., -s:, :] == 0).all() and (y[..., :, -s:] == 0).all()


def test_tta_averages_the_logits_of_every_view() -> None:
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 4))
    x = torch.randn(5, 3, 8, 8)
    views = [x, x.flip(-1)]
    views += [translate(v, d) for v in views for d in (2, -2)]
    expected = torch.stack([model(v) for v in views]).mean(dim=0)
    torch.testing.assert_close(logits(model, x, tta=True, batch_size=2, shift=2), expected)
    torch.testing.assert_close(logits(model, x, tta=False), model(x))


@given(warm=st.integers(1, 50), extra=st.integers(1, 200))
@settings(max_examples=40, deadline=None)
def test_one_cycle_rises_linearly_to_the_peak_then_falls_linearly_to_zero(
    warm: int, extra: int
) -> None:
    total = warm + extra
    factors = np.array([one_cycle_factor(s, warm, total) for s in range(total + 1)])
    np.testing.assert_allclose(factors[:warm], np.arange(1, warm + 1) / warm)
    assert factors[warm - 1] == 1.0 and factors.max() == 1.0
    assert factors[total] == 0.0 and (factors >= 0).all()
    fall = factors[warm - 1 :]
    np.testing.assert_allclose(np.diff(fall)[1:], -1 / extra, atol=1e-12)  # a straight line


def test_topk_accuracy_counts_labels_among_the_k_largest_logits() -> None:
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(50, 7, generator=gen)
    y = torch.randint(0, 7, (50,), generator=gen)
    for k in (1, 3, 7, 10):
        naive = np.mean(
            [int(y[i]) in z[i].argsort(descending=True)[:k].tolist() for i in range(50)]
        )
        assert topk_accuracy(z, y, k) == pytest.approx(naive)
    assert topk_accuracy(z, y, 7) == 1.0


def test_prepare_splits_subsamples_and_standardises_each_channel() -> None:
    images = load_digits_rgb()
    # Colour channels with different statistics, so per-channel standardising shows.
    scale = torch.tensor([1.0, 0.5, 0.25])
    x = (images.x_train.float() * scale).round().to(torch.uint8)
    images = ImageData(x, images.y_train, images.x_test, images.y_test, images.classes, "t")
    config = Config(**{**QUICK, "val_size": 5_000, "channels_last": False})
    split = prepare(images, config, seed=0, device="cpu")
    assert len(split.x_val) == 1397 // 5  # at most a fifth of the training images
    assert len(split.x_train) + len(split.x_val) == 1397 and split.x_train.shape[1:] == (3, 8, 8)
    torch.testing.assert_close(split.x_train.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(split.x_train.std(dim=(0, 2, 3)), torch.ones(3), atol=1e-3, rtol=0)
    small = dataclasses.replace(config, train_subset=100)
    a, b = (prepare(images, small, seed=0, device="cpu") for _ in range(2))
    assert len(a.x_train) == 100 and torch.equal(a.x_train, b.x_train)  # seeded
    assert len(set(a.y_train.tolist())) == 10  # a random subset, not the first class's images
    cl = prepare(images, dataclasses.replace(config, channels_last=True), seed=0, device="cpu")
    assert cl.x_train.is_contiguous(memory_format=torch.channels_last)


def test_build_model_needs_images_to_fit_the_whitening() -> None:
    config = Config(**{**QUICK, "whiten": True, "layer_depths": (8,), "pool": ()})
    with pytest.raises(ValueError, match="fit_images"):
        build_model(config, 10)
    fit = torch.randn(200, 3, 8, 8)
    whitened = build_model(config, 10, fit)
    assert whitened(torch.randn(2, 3, 8, 8)).shape == (2, 10)


def test_train_returns_the_weight_average_when_asked(tmp_path: Path) -> None:
    """With ema_decay the network to evaluate is a separate, untrained-by-gradient copy that
    differs from the last weights; without it, the model itself."""
    images = load_digits_rgb()
    for decay, folder in ((0.0, "plain"), (0.9, "ema")):
        config = Config(**{**QUICK, "epochs": 1, "ema_decay": decay})
        data = prepare(images, config, seed=0, device="cpu")
        torch.manual_seed(0)
        model = build_model(config, 10)
        history, evaluated = train(model, config, data, Run(tmp_path / folder, quiet=True))
        assert [h["epoch"] for h in history] == [1]
        if decay:
            assert evaluated is not model
            assert not any(p.requires_grad for p in evaluated.parameters())
            w = next(iter(model.state_dict()))
            assert not torch.equal(evaluated.state_dict()[w], model.state_dict()[w])
        else:
            assert evaluated is model
