"""The generative labs: their mathematical pieces, configs, and seeded determinism."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from practicum.cli import main
from practicum.errors import PracticumError
from practicum.lab import get_lab, make_config
from practicum.labs.generative import gan, ssvae, vae
from practicum.labs.vision import siren
from practicum.launch import run_lab
from practicum.nn.generative import (
    bernoulli_log_likelihood,
    log_mean_exp,
    standard_normal_log_prob,
)
from practicum.run import Run

# ---- siren -----------------------------------------------------------------------------------


def test_area_resize_block_average_and_constants() -> None:
    image = torch.rand(8, 12)
    down = siren.area_resize(image, 4, 6)
    torch.testing.assert_close(down, F.avg_pool2d(image[None, None], 2)[0, 0])
    # Non-integer factors keep constants constant and the mean unchanged.
    odd = siren.area_resize(torch.full((7, 5), 0.3), 3, 4)
    torch.testing.assert_close(odd, torch.full((3, 4), 0.3))
    other = siren.area_resize(image, 5, 7)
    assert other.mean().item() == pytest.approx(image.mean().item(), abs=1e-6)
    up = siren.area_resize(image, 16, 24)  # upsampling by 2 repeats pixels
    torch.testing.assert_close(up[::2, ::2], image)


class _Known(nn.Module):
    """f(y, x) = sin(3y)·x², whose gradient and Laplacian we know."""

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        return (torch.sin(3 * c[:, 0]) * c[:, 1] ** 2)[:, None]


def test_autograd_derivatives_match_closed_form() -> None:
    c = torch.rand(50, 2) * 2 - 1
    grad, lap = siren.autograd_derivatives(_Known(), c, chunk=16)
    y, x = c[:, 0], c[:, 1]
    torch.testing.assert_close(grad[:, 0], 3 * torch.cos(3 * y) * x**2)
    torch.testing.assert_close(grad[:, 1], 2 * torch.sin(3 * y) * x)
    torch.testing.assert_close(lap, -9 * torch.sin(3 * y) * x**2 + 2 * torch.sin(3 * y))


def test_sobel_and_laplace_on_a_quadratic() -> None:
    # f = (row² + col²)/2 in pixel units: ∂/∂row = row, ∂/∂col = col, Laplacian = 2.
    r, c = torch.meshgrid(torch.arange(9.0), torch.arange(9.0), indexing="ij")
    dy, dx, lap = siren.sobel_and_laplace((r**2 + c**2) / 2)
    torch.testing.assert_close(dy[1:-1, 1:-1], r[1:-1, 1:-1])
    torch.testing.assert_close(dx[1:-1, 1:-1], c[1:-1, 1:-1])
    torch.testing.assert_close(lap[1:-1, 1:-1], torch.full((7, 7), 2.0))


def test_psnr_of_known_error() -> None:
    target = torch.zeros(10, 10)
    assert siren.psnr(target + 0.1, target) == pytest.approx(20.0, abs=1e-4)


def test_siren_bad_config_and_missing_image() -> None:
    lab = get_lab("siren")
    with pytest.raises(PracticumError):
        make_config(lab, overrides={"size": "4"})
    with pytest.raises(PracticumError, match="not found"):
        siren.load_image("/nonexistent/picture.png")


def test_siren_lab_is_deterministic(tmp_path) -> None:
    sets = {"steps": "30", "eval_every": "10", "size": "16", "width": "16", "superres_size": "32"}
    a, _ = run_lab("siren", quick=True, seed=3, overrides=sets, out=tmp_path / "a", quiet=True)
    b, _ = run_lab("siren", quick=True, seed=3, overrides=sets, out=tmp_path / "b", quiet=True)
    assert a["metrics"] == b["metrics"]
    assert a["param_hash"] == b["param_hash"]
    assert (tmp_path / "a" / "plots" / "psnr_comparison.png").is_file()


# ---- vae -------------------------------------------------------------------------------------


def test_importance_weighted_bound_is_tighter_than_elbo() -> None:
    # For the same samples, log mean exp(log w) >= mean(log w) (Jensen): the k-sample bound
    # is at least the ELBO estimated from those k samples.
    torch.manual_seed(0)
    model = vae.VAE(64, (32,), 4)
    x = torch.bernoulli(torch.full((20, 64), 0.3))
    g = torch.Generator().manual_seed(0)
    q = model.posterior(x)
    z = q.rsample(num_samples=50, generator=g)
    log_w = bernoulli_log_likelihood(model.decoder(z), x) + standard_normal_log_prob(z)
    log_w = log_w - q.log_prob(z)
    assert (log_mean_exp(log_w, 0) >= log_w.mean(0) - 1e-5).all()


def test_vae_lab_is_deterministic(tmp_path) -> None:
    sets = {"epochs": "2"}
    a, _ = run_lab("vae", quick=True, seed=1, overrides=sets, out=tmp_path / "a", quiet=True)
    b, _ = run_lab("vae", quick=True, seed=1, overrides=sets, out=tmp_path / "b", quiet=True)
    assert a["metrics"] == b["metrics"]
    assert a["param_hash"] == b["param_hash"]
    # The IW estimate of −log p(x) is at most the −ELBO (up to Monte-Carlo noise).
    assert a["metrics"]["test_iw_nll"] <= a["metrics"]["test_neg_elbo"] + 0.5


# ---- ssvae -----------------------------------------------------------------------------------


def test_unlabelled_bound_is_the_expectation_over_labels() -> None:
    torch.manual_seed(0)
    model = ssvae.M2(64, (16,), 3)
    x = torch.bernoulli(torch.full((5, 1, 8, 8), 0.4))
    # Zero the encoder's variance so z is deterministic and both sides use the same z.
    with torch.no_grad():
        last = model.encoder.net[-1]
        last.weight[3:] = 0
        last.bias[3:] = -60.0
    u = model.neg_bound_unlabelled(x)
    probs = model.classifier(x).softmax(-1)
    per_label = torch.stack(
        [model.neg_bound_labelled(x, torch.full((5,), c, dtype=torch.long)) for c in range(10)], 1
    )
    entropy = -(probs * probs.log()).sum(-1)
    torch.testing.assert_close(u, (probs * per_label).sum(-1) - entropy, atol=1e-4, rtol=1e-5)


def test_pick_labelled_is_balanced_and_seeded() -> None:
    y = torch.arange(10).repeat(30)
    a = ssvae.pick_labelled(y, 4, seed=0)
    assert torch.bincount(y[a], minlength=10).tolist() == [4] * 10
    assert torch.equal(a, ssvae.pick_labelled(y, 4, seed=0))
    assert not torch.equal(a, ssvae.pick_labelled(y, 4, seed=1))
    with pytest.raises(PracticumError):
        ssvae.pick_labelled(y, 31, seed=0)


# ---- gan -------------------------------------------------------------------------------------


def test_generator_average_is_an_exponential_moving_average() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    average = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    before = [p.detach().clone() for p in average.parameters()]
    model(torch.randn(8, 3))  # moves the running statistics away from their initial values
    gan.update_average(average, model, decay=0.9)
    for a, b, p in zip(average.parameters(), before, model.parameters(), strict=True):
        torch.testing.assert_close(a, 0.9 * b + 0.1 * p.detach())
    for a, m in zip(average.buffers(), model.buffers(), strict=True):
        assert torch.equal(a, m)  # running statistics are copied, not averaged
    gan.update_average(average, model, decay=0.0)  # decay 0: a plain copy
    for a, p in zip(average.parameters(), model.parameters(), strict=True):
        assert torch.equal(a, p)


# ---- configs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lab", "key", "value"),
    [
        ("autoencoder", "code_dim", "0"),
        ("vae", "importance_samples", "0"),
        ("ssvae", "alpha", "-1"),
        ("gan", "beta1", "1.5"),
        ("gan", "ema_decay", "1.0"),
        ("siren", "batch_pixels", "-1"),
    ],
)
def test_bad_config_values_raise(lab: str, key: str, value: str) -> None:
    with pytest.raises(PracticumError):
        make_config(get_lab(lab), overrides={key: value})


def test_targets_are_the_issue_s() -> None:
    wanted = {
        "autoencoder": ("test_mse", "<=", 0.01),
        "vae": ("test_neg_elbo", "<=", 100.0),
        "ssvae": ("test_accuracy", ">=", 0.88),
        "siren": ("psnr_siren", ">=", 40.0),
        "gan": ("class_entropy", ">=", 0.95 * math.log(10)),
    }
    for name, (metric, op, value) in wanted.items():
        targets = {(t.metric, t.op, t.value) for t in get_lab(name).targets}
        assert (metric, op, value) in targets


# ---- resume ----------------------------------------------------------------------------------


class _Interrupted(Exception):
    pass


@pytest.mark.parametrize(
    ("lab", "settings", "stop_after"),
    [
        # Two epochs per network: the resumed run starts with the 2-D code's first epoch, whose
        # initial weights are drawn from the restored generator.
        ("autoencoder", ["epochs=2"], 1),
        ("autoencoder", ["epochs=3"], 1),  # in the middle of the first network's epochs
        ("vae", ["epochs=3"], 1),
        # 3 networks × 30 steps, a checkpoint every 9: stop in the middle of the second
        # network (step 35); random pixel batches make the generator part of the state.
        (
            "siren",
            ["steps=30", "eval_every=10", "size=16", "width=16", "superres_size=32"]
            + ["batch_pixels=64"],
            30,
        ),
    ],
)
def test_generative_labs_resume_with_the_same_bits(
    tmp_path, monkeypatch, capsys, lab: str, settings: list[str], stop_after: int
) -> None:
    """Stop a quick run right after its first checkpoint at or after iteration ``stop_after``;
    ``practicum run --resume`` gives the same parameters, metrics and metrics log."""
    args = ["--quick", "--quiet"] + [a for s in settings for a in ("--set", s)]
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    code = main(["run", lab, *args, "--out", str(whole)])
    assert code in (0, 1)  # so few epochs may miss the quick target: both runs alike

    save = Run.checkpoint

    def save_then_stop(self: Run, step: int, **objects: object):
        path = save(self, step, **objects)
        if step >= stop_after:
            raise _Interrupted
        return path

    monkeypatch.setattr(Run, "checkpoint", save_then_stop)
    with pytest.raises(_Interrupted):
        main(["run", lab, *args, "--out", str(cut)])
    assert not (cut / "summary.json").exists()
    monkeypatch.setattr(Run, "checkpoint", save)
    capsys.readouterr()
    assert main(["run", "--resume", str(cut), "--quiet"]) == code
    # An unreadable checkpoint would be named on stderr and the run would resume from an older
    # one (or start over): nothing may be said.
    assert capsys.readouterr().err == ""
    assert not list((cut / "checkpoints").glob("*.unreadable"))
    a = json.loads((cut / "summary.json").read_text())
    b = json.loads((whole / "summary.json").read_text())
    assert a["param_hash"] == b["param_hash"]
    assert a["metrics"] == b["metrics"]
    assert (cut / "metrics.jsonl").read_text() == (whole / "metrics.jsonl").read_text()
