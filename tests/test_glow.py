"""Glow lab: the quick run passes and writes its plots, the config refuses what cannot be built,
the latent interpolation's endpoints decode to the two originals, and the trained quick model
gives the data finite bits per dimension below the uniform 8. The layers' mathematics (inverses,
log-determinants, LU = dense) is tests/test_flows.py's."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from practicum.data.digits import load_digit_images
from practicum.errors import PracticumError
from practicum.flows import bits_per_dim, dequantize
from practicum.lab import make_config
from practicum.labs.papers.glow import (
    LAB,
    Config,
    build_model,
    cell_centres,
    interpolate,
    learning_rate,
    mean_bits,
    model_space,
    ring,
    ring_log_density,
    two_moons,
)
from practicum.launch import run_lab

PLOTS = ("samples", "interpolation", "training_curve", "densities_2d")


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("glow") / "run"
    summary, folder = run_lab("glow", quick=True, quiet=True, out=out)
    return summary, folder


def trained_model(folder) -> torch.nn.Module:
    """The quick run's flow, from its last checkpoint (the end of training)."""
    config = make_config(LAB, quick=True)
    newest = sorted((folder / "checkpoints").glob("step-*.pt"))[-1]
    state = torch.load(newest, weights_only=True)["objects"]["model"]
    model = build_model(config, 8)
    model.load_state_dict(state)
    return model.eval()


def test_quick_run_passes_and_writes_its_plots(quick) -> None:
    summary, folder = quick
    assert summary["passed"], [t for t in summary["targets"] if not t["passed"]]
    for name in PLOTS:
        assert (folder / "plots" / f"{name}.png").stat().st_size > 1000
    m = summary["metrics"]
    assert m["steps"] == 300 and m["parameters"] > 0
    assert all(math.isfinite(v) for v in m.values())
    assert m["interpolation_round_trip_error"] < 1e-4


def test_trained_quick_model_gives_the_data_finite_bits_below_eight(quick) -> None:
    _, folder = quick
    model = trained_model(folder)
    data = load_digit_images("digits", 200, 0)
    y = model_space(data.x_test, torch.Generator().manual_seed(0), bits=4)
    bits = mean_bits(model, y, bits=4)
    assert math.isfinite(bits) and bits < 8
    # at 4 bits a uniform density on the cube is exactly 4 bits/dim; the flow does better
    assert bits < 4
    # and the 8-bit reading of the same density is the 4-bit one plus the 4 bits of each cell
    lp = model.log_prob(y[:10]).detach()
    assert torch.allclose(bits_per_dim(lp, 64, 8) - bits_per_dim(lp, 64, 4), torch.full((10,), 4.0))


def test_interpolation_endpoints_decode_to_the_two_originals(quick) -> None:
    _, folder = quick
    model = trained_model(folder)
    data = load_digit_images("digits", 200, 0)
    a, b = cell_centres(data.x_test[:4], 4), cell_centres(data.x_test[4:8], 4)
    path = interpolate(model, a, b, 7)
    assert path.shape == (4, 7, 1, 8, 8)
    assert torch.allclose(path[:, 0], a, atol=1e-4)
    assert torch.allclose(path[:, -1], b, atol=1e-4)
    assert (path[:, 3] - a).abs().max() > 0.05  # the middle is neither


def test_interpolation_endpoints_on_an_untrained_28x28_flow() -> None:
    torch.manual_seed(0)
    model = build_model(Config(steps_per_level=2, hidden=16), 28)
    with torch.no_grad():  # no layer the identity
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape))
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    a, b = cell_centres(x[:2]), cell_centres(x[2:])
    path = interpolate(model, a, b, 3)
    assert torch.allclose(path[:, 0], a, atol=1e-4) and torch.allclose(path[:, -1], b, atol=1e-4)


def test_config_refusals_are_one_line() -> None:
    make_config(LAB, quick=True)
    assert Config().levels == 2 and Config().bits == 8 and Config().temperature == 0.7
    with pytest.raises(PracticumError, match=r"28×28 images cannot be squeezed 3 times") as e:
        make_config(LAB, overrides={"levels": "3"})
    assert "\n" not in str(e.value) and "levels <= 2" in str(e.value)
    with pytest.raises(PracticumError, match=r"8×8 images cannot be squeezed 4 times"):
        make_config(LAB, quick=True, overrides={"levels": "4"})
    with pytest.raises(PracticumError, match="bits"):
        make_config(LAB, overrides={"bits": "9"})
    c = Config(warmup=10, learning_rate=1.0)
    assert learning_rate(0, c) == pytest.approx(0.1) and learning_rate(10, c) == 1.0


def test_data_in_model_space_and_cell_centres() -> None:
    x = torch.tensor([[0.0, 1.0, 128 / 255]])
    y = model_space(x, torch.Generator().manual_seed(0))
    assert torch.all(y >= -0.5) and torch.all(y < 0.5)
    centres = cell_centres(x)
    assert torch.allclose(centres, torch.tensor([[0.5, 255.5, 128.5]]) / 256 - 0.5)
    # every dequantised value lies in its pixel's cell, whose centre cell_centres gives
    assert torch.all((y - centres).abs() <= 0.5 / 256)
    four = cell_centres(x, 4)
    assert torch.allclose(four, torch.tensor([[0.5, 15.5, 8.5]]) / 16 - 0.5)
    y4 = dequantize(x, torch.Generator().manual_seed(0), 4) - 0.5
    assert torch.all((y4 - four).abs() <= 0.5 / 16)


def test_2d_densities_are_seeded_and_the_ring_density_normalises() -> None:
    a = two_moons(100, np.random.default_rng(0))
    assert np.array_equal(a, two_moons(100, np.random.default_rng(0))) and a.shape == (100, 2)
    pts = ring(4000, np.random.default_rng(1))
    assert np.allclose(np.linalg.norm(pts, axis=1).mean(), 2.0, atol=0.05)
    g = np.linspace(-4, 4, 401)
    xx, yy = np.meshgrid(g, g)
    dens = np.exp(ring_log_density(np.stack([xx.ravel(), yy.ravel()], 1)))
    assert dens.sum() * (g[1] - g[0]) ** 2 == pytest.approx(1.0, abs=1e-3)
