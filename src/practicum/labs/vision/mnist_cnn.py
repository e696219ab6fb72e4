"""MNIST with a small convolutional network (ECE472 assignment 3).

Methods: a 50,000 / 10,000 train/validation split of the 60,000 training images (seeded,
stratified); the test set is used once, at the end. The network is a
:class:`practicum.nn.Classifier`: three 3x3 convolution stages with batch normalisation,
ReLU and 2x2 max-pooling (28 -> 14 -> 7 -> 3), then dropout and a linear layer on the
flattened 3x3 map. Loss: cross-entropy plus an L2 penalty on the weights. Optimiser: Adam
with a one-cycle learning rate (linear warm-up, cosine decay). Augmentation: random
translations by up to 2 pixels, done on whole batches. ``--quick`` trains the same program
on scikit-learn's 8x8 digits.

The training code here is shared by ``mnist-tiny`` and ``fashion-mnist-cnn``, and
:func:`build_model` builds the trained network for other labs (the GAN's judge).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from practicum.data import augment, batch_indices, to_float_images, train_val_split
from practicum.errors import PracticumError
from practicum.io import atomic_write
from practicum.lab import Lab, Target
from practicum.nn import Classifier, count_parameters
from practicum.run import Run

Dataset = Literal["mnist", "fashion-mnist", "digits"]


@dataclass
class Config:
    dataset: Dataset = "mnist"  # "digits": scikit-learn's 8x8 digits, for --quick
    layer_depths: tuple[int, ...] = (16, 32, 64)
    layer_kernel_sizes: tuple[int, ...] = (3, 3, 3)
    norm: Literal["none", "group", "batch"] = "batch"
    head_pool: int = 3  # average-pool the last map to 3x3, then flatten
    dropout: float = 0.25
    l2: float = 5e-5  # λ in loss + λ Σ w² (weights of convolutions and linear layers)
    epochs: int = 8
    batch_size: int = 128
    learning_rate: float = 0.01  # peak of the one-cycle schedule
    warmup: float = 0.2  # fraction of steps spent warming up
    crop_padding: int = 2  # random translations by up to this many pixels
    flip: bool = False  # random left-right mirroring (not for digits)
    val_size: int = 10_000
    evals_per_epoch: int = 1  # validation evaluations per epoch (for the curves)
    channels_last: bool = False  # NHWC memory layout: faster convolutions on CPU

    def validate(self) -> None:
        if len(self.layer_depths) != len(self.layer_kernel_sizes) or not self.layer_depths:
            raise PracticumError("layer_depths and layer_kernel_sizes need the same length")
        if min(self.layer_depths) < 1 or any(k < 1 or k % 2 == 0 for k in self.layer_kernel_sizes):
            raise PracticumError("depths must be >= 1 and kernel sizes odd and >= 1")
        if not 0.0 <= self.dropout < 1.0:
            raise PracticumError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.l2 < 0 or self.learning_rate <= 0 or not 0 <= self.warmup < 1:
            raise PracticumError("need l2 >= 0, learning_rate > 0 and warmup in [0, 1)")
        if self.epochs < 1 or self.batch_size < 1 or self.evals_per_epoch < 1:
            raise PracticumError("epochs, batch_size and evals_per_epoch must be >= 1")
        if self.head_pool < 1 or self.crop_padding < 0 or self.val_size < 1:
            raise PracticumError("need head_pool >= 1, crop_padding >= 0, val_size >= 1")


# ---- data --------------------------------------------------------------------------------


@dataclass
class Data:
    """Standardised float images (N, 1, H, W) and int64 labels."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: tuple[str, ...]
    source: str


def load_digits_uint8() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """scikit-learn's 1,797 8x8 digits as uint8: the first 1,397 for training, the last
    400 for testing (a fixed split, whatever the seed)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.from_numpy((digits.images * 255.0 / 16.0).round().astype(np.uint8))
    y = torch.from_numpy(digits.target.astype(np.int64))
    return x[:1397], y[:1397], x[1397:], y[1397:]


def load_data(config: Config, seed: int, device: str = "cpu") -> Data:
    from practicum.data import load_mnist
    from practicum.data.vision import FASHION_CLASSES, MNIST_CLASSES

    if config.dataset == "digits":
        x_train, y_train, x_test, y_test = load_digits_uint8()
        classes, source = MNIST_CLASSES, "scikit-learn 8x8 digits"
    else:
        x_train, y_train, x_test, y_test = load_mnist(config.dataset)
        classes = FASHION_CLASSES if config.dataset == "fashion-mnist" else MNIST_CLASSES
        source = f"{config.dataset} official idx files"
    if config.val_size >= len(x_train):
        raise PracticumError(f"val_size {config.val_size} leaves no training images")
    train_idx, val_idx = train_val_split(len(x_train), config.val_size, seed, y_train.numpy())
    # Standardise with statistics of the training part only.
    mean = [x_train[train_idx].float().mean().item() / 255.0]
    std = [x_train[train_idx].float().std().item() / 255.0]

    fmt = (
        torch.channels_last if getattr(config, "channels_last", False) else torch.contiguous_format
    )

    def prep(x: torch.Tensor) -> torch.Tensor:
        return to_float_images(x, mean, std).to(device).contiguous(memory_format=fmt)

    return Data(
        x_train=prep(x_train[train_idx]),
        y_train=y_train[train_idx].to(device),
        x_val=prep(x_train[val_idx]),
        y_val=y_train[val_idx].to(device),
        x_test=prep(x_test),
        y_test=y_test.to(device),
        classes=classes,
        source=source,
    )


# ---- model and loss ----------------------------------------------------------------------


def build_model(config: Config, num_classes: int = 10) -> Classifier:
    """The classifier of this lab for a config (load a checkpoint's state dict into it)."""
    model = Classifier(
        1,
        config.layer_depths,
        config.layer_kernel_sizes,
        num_classes,
        norm=config.norm,
        head_pool=config.head_pool,
        dropout=config.dropout,
    )
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def weight_penalty(model: nn.Module) -> torch.Tensor:
    """Σ w² over convolution and linear weights (not biases or normalisation scales)."""
    return sum((p.pow(2).sum() for p in model.parameters() if p.ndim > 1), torch.zeros(()))


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
    was_training = model.training
    model.eval()
    out = torch.cat([model(x[i : i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)])
    model.train(was_training)
    return out


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return float((predict(model, x) == y).float().mean())


# ---- training ----------------------------------------------------------------------------


def train(
    model: nn.Module,
    config: Config,
    x: torch.Tensor,
    y: torch.Tensor,
    generator: torch.Generator,
    on_eval: Callable[[int, float], bool | None],
    progress: Callable[..., object] | None = None,
    run: Run | None = None,
    history: list[dict[str, float]] | None = None,
) -> float:
    """Train ``model`` on (x, y); call ``on_eval(epochs_done, train_seconds)``
    ``evals_per_epoch`` times an epoch (stop early if it returns True). Returns the
    training time in seconds, evaluation excluded. With ``run``, every epoch ends with a
    checkpoint (``history``, the evaluations so far, is saved with it) and ``--resume``
    continues from the last one with the same bits."""
    steps_per_epoch = len(x) // config.batch_size
    if steps_per_epoch < 1:
        raise PracticumError(f"batch_size {config.batch_size} exceeds the {len(x)} images")
    total = steps_per_epoch * config.epochs
    eval_steps = {
        round(steps_per_epoch * (e + (k + 1) / config.evals_per_epoch))
        for e in range(config.epochs)
        for k in range(config.evals_per_epoch)
    }
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=config.learning_rate,
        total_steps=total,
        pct_start=max(config.warmup, 1e-3),
        anneal_strategy="cos",
    )
    history = [] if history is None else history
    state = {"model": model, "optimizer": optimizer, "schedule": schedule, "generator": generator}
    resumed = run.restore(**state, history=history, seconds=0.0) if run else None
    first_epoch, seconds = 0, 0.0
    if resumed:
        first_epoch, seconds = resumed["step"] + 1, resumed["seconds"]
        history[:] = resumed["history"]
    step = first_epoch * steps_per_epoch
    steps = range(step, total)
    bar = progress(steps, total=total - step, desc="train") if progress else steps
    it = iter(bar)
    model.train()
    for epoch in range(first_epoch, config.epochs):
        for idx in batch_indices(len(x), config.batch_size, generator, drop_last=True):
            next(it, None)
            start = time.perf_counter()
            xb = augment(
                x[idx.to(x.device)],
                generator,
                crop_padding=config.crop_padding,
                flip=getattr(config, "flip", False),
            )
            if getattr(config, "channels_last", False):  # the crop's gather returns NCHW
                xb = xb.contiguous(memory_format=torch.channels_last)
            yb = y[idx.to(y.device)]
            loss = F.cross_entropy(model(xb), yb)
            if config.l2 > 0:
                loss = loss + config.l2 * weight_penalty(model)
            if not torch.isfinite(loss):
                raise PracticumError(f"the loss became {loss.item()} at step {step}: lower the LR")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            seconds += time.perf_counter() - start
            step += 1
            if step in eval_steps and on_eval(step / steps_per_epoch, seconds):
                return seconds
        if run is not None:
            run.checkpoint(epoch, **state, history=history, seconds=seconds)
    return seconds


# ---- plots -------------------------------------------------------------------------------


def plot_confusion(
    run: Run, y_true: np.ndarray, y_pred: np.ndarray, classes: tuple[str, ...], title: str
) -> None:
    import matplotlib.pyplot as plt

    k = len(classes)
    counts = np.zeros((k, k), dtype=np.int64)
    np.add.at(counts, (y_true, y_pred), 1)
    # Constrained layout keeps a two-line title clear of the colour bar.
    fig, ax = plt.subplots(figsize=(7.2, 6.2), layout="constrained")
    # Log colour scale: the diagonal holds ~1000 per class, the errors a handful.
    shown = np.log10(1 + counts)
    im = ax.imshow(shown, cmap="Blues")
    for i in range(k):
        for j in range(k):
            if counts[i, j]:
                colour = "white" if shown[i, j] > shown.max() / 2 else "black"
                ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=7, color=colour)
    ax.set_xticks(
        range(k),
        classes,
        rotation=45 if max(map(len, classes)) > 2 else 0,
        ha="right" if max(map(len, classes)) > 2 else "center",
    )
    ax.set_yticks(range(k), classes)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, label="log10(1 + count)")
    run.save_figure(fig, "confusion")


def plot_curves(run: Run, history: list[dict[str, float]], title: str) -> None:
    import matplotlib.pyplot as plt
    import matplotlib.ticker as mticker

    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(6.4, 4))
    ax.plot(
        epochs, [100 * (1 - h["val_accuracy"]) for h in history], "o-", label="validation error"
    )
    ax.plot(
        epochs,
        [100 * (1 - h["train_accuracy"]) for h in history],
        "s--",
        label="training error (eval mode, <= 10k images)",
    )
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(mticker.FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(mticker.FormatStrFormatter("%g"))
    ax.set_xlabel("epoch")
    ax.set_ylabel("error (%)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    run.save_figure(fig, "curves")


# ---- the lab -----------------------------------------------------------------------------


def run_classifier(
    config: Config,
    run: Run,
    name: str,
    build: Callable[[Any, int], nn.Module] = build_model,
) -> tuple[dict[str, float], nn.Module]:
    """Data, model (``build(config, num_classes)``), training with validation curves, test
    evaluation and plots: the whole program, shared with mnist-tiny and fashion-mnist-cnn."""
    data = load_data(config, run.seed, run.device)
    generator = torch.Generator().manual_seed(run.seed)
    torch.manual_seed(run.seed)  # the model's initialisation
    model = build(config, len(data.classes)).to(run.device)
    num_params = count_parameters(model)
    run.print(
        f"{name}: {num_params:,} parameters, training on {len(data.x_train):,} images of {data.source}"
    )
    history: list[dict[str, float]] = []
    n_train_eval = min(len(data.x_train), 10_000)

    def on_eval(epoch: float, seconds: float) -> None:
        entry = {
            "epoch": epoch,
            "train_seconds": seconds,
            "val_accuracy": accuracy(model, data.x_val, data.y_val),
            "train_accuracy": accuracy(
                model, data.x_train[:n_train_eval], data.y_train[:n_train_eval]
            ),
        }
        history.append(entry)
        run.log(**entry)

    seconds = train(
        model, config, data.x_train, data.y_train, generator, on_eval, run.progress, run, history
    )
    pred = predict(model, data.x_test)
    test_accuracy = float((pred == data.y_test).float().mean())
    atomic_write(run.checkpoints_dir / "model.pt", lambda f: torch.save(model.state_dict(), f))
    plot_confusion(
        run,
        data.y_test.cpu().numpy(),
        pred.cpu().numpy(),
        data.classes,
        f"{name}: test confusion matrix, {data.source}\n"
        f"{100 * test_accuracy:.2f}% correct, {num_params:,} parameters",
    )
    plot_curves(run, history, f"{name}: error during training ({data.source})")
    run.set_params(model)
    metrics = {
        "test_accuracy": test_accuracy,
        "val_accuracy": history[-1]["val_accuracy"],
        "num_params": num_params,
        "epochs": config.epochs,
    }
    run.log(train_seconds=seconds)  # timings vary run to run: logged, not a metric
    return metrics, model


def run(config: Config, run: Run) -> dict[str, float]:
    metrics, _ = run_classifier(config, run, "MNIST CNN")
    return metrics


QUICK = {
    "dataset": "digits",
    "layer_depths": (16, 32),
    "layer_kernel_sizes": (3, 3),
    "head_pool": 2,
    "epochs": 12,
    "batch_size": 64,
    "crop_padding": 1,
    "val_size": 200,
    "dropout": 0.1,
}

LAB = Lab(
    name="mnist-cnn",
    title="MNIST digits with a small CNN: dropout, L2 penalty, held-out validation",
    source="ECE472 assignment 3",
    courses=("ece472",),
    config=Config,
    quick=QUICK,
    targets=[
        Target("test_accuracy", ">=", 0.955, "ECE472 assignment 3"),
        Target("test_accuracy", ">=", 0.993, "practicum (ours)"),
    ],
    quick_targets=[Target("test_accuracy", ">=", 0.90, "quick mode on 8x8 digits")],
    summary="a three-stage CNN with batch norm, dropout and L2 classifies MNIST; test set used once",
    time_full="3.1 min (1 thread)",
    time_quick="5 s",
    run=run,
)
