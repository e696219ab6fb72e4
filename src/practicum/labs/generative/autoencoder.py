"""Autoencoders on MNIST: a 32-D code that reconstructs digits, and a 2-D code one can look at.

An autoencoder is an encoder f: image -> code and a decoder g: code -> image trained to make
g(f(x)) ≈ x. With a narrow code it must find the few directions that matter. We train two MLP
autoencoders with the same architecture and budget: one with a 32-D code (target: per-pixel
test MSE ≤ 0.01) and one with a 2-D code, whose codes we plot coloured by digit (labels are
never used in training).

The data helpers here (``load_digit_images``, ``minibatches``) are shared by the vae, ssvae
and gan labs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from practicum.errors import PracticumError
from practicum.lab import Lab, Target
from practicum.nn.generative import MLPDecoder, MLPEncoder
from practicum.run import Run

Dataset = Literal["mnist", "digits"]


# ---- data (shared with vae, ssvae, gan) ------------------------------------------------------


@dataclass
class DigitImages:
    """Images as float tensors (N, 1, S, S) in [0, 1] with int64 labels."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    @property
    def image_size(self) -> int:
        return int(self.x_train.shape[-1])

    @property
    def num_pixels(self) -> int:
        return self.image_size**2

    def to(self, device: str) -> DigitImages:
        return DigitImages(*(t.to(device) for t in vars(self).values()))


def load_digit_images(dataset: Dataset, val_size: int, seed: int) -> DigitImages:
    """MNIST (60,000 train / 10,000 test, 28×28) or scikit-learn's 8×8 digits (1,797 images).

    A validation split is taken from the training set (seeded); the test set is only used for
    the final numbers. The 8×8 digits need no files: they ship with scikit-learn.
    """
    from practicum.data import train_val_split

    if dataset == "mnist":
        from practicum.data import load_mnist

        x_tr, y_tr, x_te, y_te = load_mnist("mnist")
        x_tr = x_tr.float().div(255).unsqueeze(1)
        x_te = x_te.float().div(255).unsqueeze(1)
    elif dataset == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        x = torch.tensor(digits.images, dtype=torch.float32).div(16).unsqueeze(1)
        y = torch.tensor(digits.target, dtype=torch.int64)
        order = np.random.default_rng(12345).permutation(len(y))  # fixed test set
        test, rest = order[:300], np.sort(order[300:])
        x_tr, y_tr, x_te, y_te = x[rest], y[rest], x[test], y[test]
    else:
        raise PracticumError(f"unknown dataset {dataset!r} (choose mnist or digits)")
    if not 0 < val_size < len(y_tr):
        raise PracticumError(f"val_size must be in (0, {len(y_tr)}), got {val_size}")
    train_idx, val_idx = train_val_split(len(y_tr), val_size, seed)
    train_idx, val_idx = torch.from_numpy(train_idx), torch.from_numpy(val_idx)
    return DigitImages(x_tr[train_idx], y_tr[train_idx], x_tr[val_idx], y_tr[val_idx], x_te, y_te)


def minibatches(n: int, batch_size: int, gen: torch.Generator) -> Iterator[torch.Tensor]:
    """Shuffled index batches covering range(n) once; the last short batch is dropped."""
    order = torch.randperm(n, generator=gen)
    for start in range(0, n - batch_size + 1, batch_size):
        yield order[start : start + batch_size]


def image_grid(images: torch.Tensor, rows: int, pad: int = 1) -> np.ndarray:
    """(N, 1, S, S) images -> one (rows·(S+pad), cols·(S+pad)) array for imshow."""
    n, _, s, _ = images.shape
    cols = -(-n // rows)
    grid = np.ones((rows * (s + pad) + pad, cols * (s + pad) + pad), dtype=np.float32)
    for k in range(n):
        r, c = divmod(k, cols)
        top, left = pad + r * (s + pad), pad + c * (s + pad)
        grid[top : top + s, left : left + s] = images[k, 0].detach().cpu().numpy()
    return grid


# ---- config ----------------------------------------------------------------------------------


@dataclass
class Config:
    dataset: Dataset = "mnist"
    code_dim: int = 32
    hidden: tuple[int, ...] = (512, 256)
    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 1e-3
    val_size: int = 5000

    def validate(self) -> None:
        if self.code_dim < 1 or self.epochs < 1 or self.batch_size < 1:
            raise PracticumError("code_dim, epochs and batch_size must be >= 1")
        if not self.hidden or min(self.hidden) < 1:
            raise PracticumError("hidden must list at least one positive layer width")
        if self.learning_rate <= 0:
            raise PracticumError("learning_rate must be positive")


# ---- model -----------------------------------------------------------------------------------


class Autoencoder(nn.Module):
    """x -> MLP encoder -> code -> MLP decoder (mirrored widths) -> sigmoid -> x̂ in [0, 1]."""

    def __init__(self, num_pixels: int, hidden: tuple[int, ...], code_dim: int) -> None:
        super().__init__()
        self.encoder = MLPEncoder(num_pixels, hidden, code_dim)
        self.decoder = MLPDecoder(code_dim, tuple(reversed(hidden)), num_pixels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(self.encoder(x))).reshape(x.shape)


def evaluate_mse(model: Autoencoder, x: torch.Tensor, batch: int = 1000) -> float:
    """Mean squared error per pixel over a whole set."""
    model.eval()
    with torch.no_grad():
        total = sum(F.mse_loss(model(xb), xb, reduction="sum").item() for xb in x.split(batch))
    model.train()
    return total / x.numel()


def train(
    model: Autoencoder, data: DigitImages, config: Config, gen: torch.Generator, run: Run, tag: str
) -> list[tuple[int, float, float]]:
    """Adam on per-pixel MSE; returns (epoch, train MSE, validation MSE) per epoch."""
    opt = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.epochs)
    history = []
    n = len(data.x_train)
    for epoch in run.progress(range(1, config.epochs + 1), desc=f"{tag} epochs"):
        total, count = 0.0, 0
        for idx in minibatches(n, config.batch_size, gen):
            x = data.x_train[idx]
            loss = F.mse_loss(model(x), x)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, count = total + loss.item() * len(idx), count + len(idx)
        sched.step()
        if not np.isfinite(total):
            raise PracticumError(f"{tag}: the loss diverged in epoch {epoch}")
        val = evaluate_mse(model, data.x_val)
        history.append((epoch, total / count, val))
        run.log(model=tag, epoch=epoch, train_mse=total / count, val_mse=val)
        run.print(f"{tag} epoch {epoch}: train MSE {total / count:.5f}, val MSE {val:.5f}")
    return history


# ---- plots -----------------------------------------------------------------------------------


def plot_reconstructions(models: dict[str, Autoencoder], x: torch.Tensor, run: Run) -> None:
    import matplotlib.pyplot as plt

    with torch.no_grad():
        rows = [("input", x)] + [(name, m.eval()(x)) for name, m in models.items()]
    fig, axes = plt.subplots(len(rows), 1, figsize=(12, 0.85 * len(rows) + 0.5))
    fig.subplots_adjust(hspace=0.08)
    for ax, (name, images) in zip(axes, rows, strict=True):
        ax.imshow(image_grid(images, rows=1), cmap="gray", vmin=0, vmax=1)
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].set_title("Test digits (top) and their reconstructions")
    run.save_figure(fig, "reconstructions")


def plot_latent_2d(model: Autoencoder, x: torch.Tensor, y: torch.Tensor, run: Run) -> None:
    import matplotlib.pyplot as plt

    with torch.no_grad():
        codes = model.eval().encoder(x).cpu().numpy()
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    points = ax.scatter(codes[:, 0], codes[:, 1], c=y.cpu().numpy(), cmap="tab10", s=3, alpha=0.7)
    fig.colorbar(points, ax=ax, ticks=range(10), label="digit (not used in training)")
    ax.set_xlabel("code dimension 1")
    ax.set_ylabel("code dimension 2")
    ax.set_title(f"2-D autoencoder: codes of {len(y)} test digits")
    run.save_figure(fig, "latent_2d")


def plot_curves(histories: dict[str, list[tuple[int, float, float]]], run: Run) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, hist in histories.items():
        epochs, tr, va = zip(*hist, strict=True)
        line = ax.plot(epochs, tr, label=f"{name}: train")[0]
        ax.plot(epochs, va, ls="--", color=line.get_color(), label=f"{name}: validation")
    ax.axhline(0.01, color="grey", lw=1, ls=":", label="target 0.01 (32-D code)")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("per-pixel MSE")
    ax.set_title("Autoencoder reconstruction error")
    ax.legend()
    ax.grid(alpha=0.3)
    run.save_figure(fig, "mse_curves")


# ---- the lab ---------------------------------------------------------------------------------


def run(config: Config, run: Run) -> dict[str, float]:
    gen = torch.Generator().manual_seed(run.seed)
    data = load_digit_images(config.dataset, config.val_size, run.seed).to(run.device)
    models, histories = {}, {}
    for name, dim in ((f"{config.code_dim}-D code", config.code_dim), ("2-D code", 2)):
        torch.manual_seed(int(torch.randint(2**31, (1,), generator=gen)))
        models[name] = Autoencoder(data.num_pixels, config.hidden, dim).to(run.device)
        histories[name] = train(models[name], data, config, gen, run, name)
    main, flat = models[f"{config.code_dim}-D code"], models["2-D code"]

    plot_reconstructions(models, data.x_test[:16], run)
    plot_latent_2d(flat, data.x_test[:5000], data.y_test[:5000], run)
    plot_curves(histories, run)
    run.set_params({"code": main, "code_2d": flat})
    return {
        "test_mse": evaluate_mse(main, data.x_test),
        "test_mse_2d": evaluate_mse(flat, data.x_test),
        "val_mse": histories[f"{config.code_dim}-D code"][-1][2],
    }


LAB = Lab(
    name="autoencoder",
    title="MLP autoencoders on MNIST: a 32-D code and a 2-D code",
    source="OVGU 'Auto-Encoders'; DTU 02456 week 7",
    courses=("dtu02456", "ovgu"),
    config=Config,
    quick={"dataset": "digits", "epochs": 30, "batch_size": 64, "hidden": (128,), "val_size": 200},
    targets=[Target("test_mse", "<=", 0.01, "issue 6 (32-D code, pixels in [0, 1])")],
    quick_targets=[Target("test_mse", "<=", 0.03, "quick mode on 8×8 digits (relaxed)")],
    summary="A 32-D MLP code reconstructs MNIST digits; the 2-D code separates most digits",
    time_full="15 min (2 shared cores)",
    time_quick="7 s",
    run=run,
)
