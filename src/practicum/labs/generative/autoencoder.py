"""Autoencoders on MNIST: a 32-D code that reconstructs digits, and a 2-D code one can look at.

An autoencoder is an encoder f: image -> code and a decoder g: code -> image trained to make
g(f(x)) ≈ x. With a narrow code it must find the few directions that matter. We train two MLP
autoencoders with the same architecture and budget: one with a 32-D code (target: per-pixel
test MSE ≤ 0.01) and one with a 2-D code, whose codes we plot coloured by digit (labels are
never used in training).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from practicum.data import batch_indices
from practicum.data.digits import DigitDataset, load_digit_images
from practicum.errors import PracticumError
from practicum.footprint import encoder_decoder_bytes
from practicum.lab import Lab, Target, bounded
from practicum.nn.generative import MLPDecoder, MLPEncoder
from practicum.plotting import image_grid
from practicum.run import Run

# ---- config ----------------------------------------------------------------------------------


@dataclass
class Config:
    dataset: DigitDataset = "mnist"
    code_dim: int = bounded(32, "[1, 4096]")
    hidden: tuple[int, ...] = bounded((512, 256), "[1, 65536]")
    epochs: int = bounded(10, "[1, 1000]")
    batch_size: int = bounded(128, "[1, 65536]")
    learning_rate: float = bounded(1e-3, "(0, 10]")
    val_size: int = bounded(5000, "[1, 1e6]")

    def validate(self) -> None:
        if not self.hidden:
            raise PracticumError("hidden must list at least one layer width")


def footprint(config: Config) -> int:
    """Two autoencoders (the code of code_dim and the 2-D one) on MNIST-sized images."""
    return encoder_decoder_bytes(784, config.hidden, config.code_dim, config.batch_size, 2)


# ---- model -----------------------------------------------------------------------------------


class Autoencoder(nn.Module):
    """x -> MLP encoder -> code -> MLP decoder (mirrored widths) -> sigmoid -> x̂ in [0, 1]."""

    def __init__(self, num_pixels: int, hidden: tuple[int, ...], code_dim: int) -> None:
        super().__init__()
        self.sizes = (num_pixels, hidden, code_dim)  # to build a fresh one: initialise()
        self.encoder = MLPEncoder(num_pixels, hidden, code_dim)
        self.decoder = MLPDecoder(code_dim, tuple(reversed(hidden)), num_pixels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(self.encoder(x))).reshape(x.shape)


def initialise(model: Autoencoder, gen: torch.Generator) -> None:
    """Fresh initial weights, drawn after seeding torch's global generator from ``gen``.

    Each network is initialised when its training starts, so its seed depends on the draws
    of the network trained before it, exactly as if it had been built only then.
    """
    torch.manual_seed(int(torch.randint(2**31, (1,), generator=gen)))
    model.load_state_dict(Autoencoder(*model.sizes).state_dict())


# ---- loss and training -----------------------------------------------------------------------


def evaluate_mse(model: Autoencoder, x: torch.Tensor, batch: int = 1000) -> float:
    """Mean squared error per pixel over a whole set."""
    model.eval()
    with torch.no_grad():
        total = sum(F.mse_loss(model(xb), xb, reduction="sum").item() for xb in x.split(batch))
    model.train()
    return total / x.numel()


def train_epoch(
    model: Autoencoder,
    opt: torch.optim.Optimizer,
    x_train: torch.Tensor,
    batch_size: int,
    gen: torch.Generator,
) -> float:
    """One pass of Adam on per-pixel MSE over shuffled minibatches; the mean training MSE."""
    total, count = 0.0, 0
    for idx in batch_indices(len(x_train), batch_size, gen, drop_last=True):
        x = x_train[idx]
        loss = F.mse_loss(model(x), x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total, count = total + loss.item() * len(idx), count + len(idx)
    return total / count


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
    from matplotlib.colors import BoundaryNorm

    with torch.no_grad():
        codes = model.eval().encoder(x).cpu().numpy()
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    # One colour per digit, with its tick in the middle of its band of the colour bar.
    norm = BoundaryNorm([k - 0.5 for k in range(11)], 10)
    points = ax.scatter(
        codes[:, 0], codes[:, 1], c=y.cpu().numpy(), cmap="tab10", norm=norm, s=3, alpha=0.7
    )
    bar = fig.colorbar(points, ax=ax, ticks=range(10), label="digit (not used in training)")
    bar.ax.tick_params(length=0)
    bar.solids.set_alpha(1.0)  # the bar shows the colours, not the points' transparency
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
    code_dims = {f"{config.code_dim}-D code": config.code_dim, "2-D code": 2}
    models = {
        name: Autoencoder(data.num_pixels, config.hidden, dim).to(run.device)
        for name, dim in code_dims.items()
    }
    opts = {
        name: torch.optim.Adam(m.parameters(), lr=config.learning_rate)
        for name, m in models.items()
    }
    scheds = {
        name: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.epochs)
        for name, opt in opts.items()
    }
    histories: dict[str, list[tuple[int, float, float]]] = {name: [] for name in models}

    # One loop trains the networks in turn (all epochs of the first, then of the second), so
    # that one sequence of checkpoints covers both and --resume continues either of them.
    state: dict[str, object] = {"generator": gen, "history": histories}
    for k, name in enumerate(models):
        state |= {
            f"model{k}": models[name],
            f"optimizer{k}": opts[name],
            f"schedule{k}": scheds[name],
        }
    for i in run.loop(len(models) * config.epochs, state):
        name, epoch = list(models)[i // config.epochs], i % config.epochs + 1
        model = models[name]
        if epoch == 1:
            initialise(model, gen)
        train_mse = train_epoch(model, opts[name], data.x_train, config.batch_size, gen)
        scheds[name].step()
        val = evaluate_mse(model, data.x_val)
        histories[name].append((epoch, train_mse, val))
        run.log(model=name, epoch=epoch, train_mse=train_mse, val_mse=val)
        run.print(f"{name} epoch {epoch}: train MSE {train_mse:.5f}, val MSE {val:.5f}")
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
    targets=[Target("test_mse", "<=", 0.01, "DTU 02456 week 7 (32-D code, pixels in [0, 1])")],
    # The mean image (a decoder that ignores the code) gives MSE ≈ 0.073 on 8×8 digits.
    quick_targets=[Target("test_mse", "<=", 0.03, "quick: 8×8 digits, well below the mean image")],
    summary="A 32-D MLP code reconstructs MNIST digits; the 2-D code separates most digits",
    time_full="7 min",  # 1 thread on a shared machine (3.2 min with the machine to itself)
    time_quick="7 s",
    footprint=footprint,
    run=run,
)
