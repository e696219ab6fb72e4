"""The introspection lab's parts: the cascade, the baseline, and its Captum comparison."""

from __future__ import annotations

import torch

from practicum.data.batching import ImageSplit
from practicum.labs.vision import introspection as L


def tiny_split(channels: int = 3, side: int = 8) -> ImageSplit:
    g = torch.Generator().manual_seed(0)
    raw = torch.randint(0, 256, (40, channels, side, side), generator=g).float() / 255
    raw[0] = 0.0  # a black image: the darkest value of every channel
    mean, std = raw.mean(dim=(0, 2, 3), keepdim=True), raw.std(dim=(0, 2, 3), keepdim=True)
    x = (raw - mean) / std
    y = torch.randint(0, 10, (40,), generator=g)
    return ImageSplit(x[:30], y[:30], x[30:35], y[30:35], x[35:], y[35:], 10)


def small_config() -> L.Config:
    return L.Config(widths=(4, 6), hidden=8, ig_steps=16, smoothgrad_samples=3, occlusion_window=2)


def test_black_is_the_standardised_zero_pixel() -> None:
    split = tiny_split()
    assert torch.allclose(L.black(split), split.x_train[0:1, :, :1, :1])


def test_cascade_reinitialises_the_last_k_layers_only() -> None:
    split = tiny_split()
    model = L.build(split, small_config(), 0, "cpu").eval()
    copies = L.cascade(model, 1)
    layers = model.weighted_layers()
    assert len(copies) == len(layers)
    for k, copy in enumerate(copies, start=1):
        changed = [
            not torch.equal(a.weight, b.weight)
            for a, b in zip(layers, copy.weighted_layers(), strict=True)
        ]
        assert changed == [i >= len(layers) - k for i in range(len(layers))]


def test_the_labs_maps_equal_captums_with_a_per_channel_baseline() -> None:
    split = tiny_split()
    config = small_config()
    model = L.build(split, config, 0, "cpu").eval()
    x, t, base = split.x_test, split.y_test, L.black(split)
    ours = L.attribute(model, x, t, base, config, seed=5)
    theirs = L.captum_maps(model, x, t, base, config, seed=5)
    for method in L.METHODS:
        assert (ours[method] - theirs[method]).abs().max() <= 1e-5, method


def test_pixel_maps_give_one_score_per_pixel() -> None:
    split = tiny_split()
    config = small_config()
    model = L.build(split, config, 0, "cpu").eval()
    maps = L.attribute(model, split.x_test, split.y_test, L.black(split), config, seed=0)
    scores = L.pixel_maps(maps, 8)
    assert all(s.shape == (5, 64) for s in scores.values())
    assert (scores["saliency"] >= 0).all() and (scores["grad_cam"] >= 0).all()
