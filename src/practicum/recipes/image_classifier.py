"""The image-classifier program of mnist-cnn, mnist-tiny and fashion-mnist-cnn.

Methods: a seeded, stratified train/validation split of the training images (the test set is
used once, at the end), images standardised with the training part's mean and deviation, a
network built from the config, cross-entropy plus an optional L2 penalty on the weights, Adam
with a one-cycle learning rate (cosine rise from peak/25, cosine decay), random translations (and
optionally mirroring) done on whole batches, validation curves, a test confusion matrix.

:class:`TrainingConfig` holds what this program reads; a lab's config builds on it.
:class:`Config` is the convolutional network of mnist-cnn, and :func:`build_model` builds
it (other labs load a trained one: the GAN's judge).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from practicum.data import augment, batch_indices, load_mnist, to_float_images, train_val_split
from practicum.data.vision import FASHION_CLASSES, MNIST_CLASSES, load_digits_uint8
from practicum.errors import PracticumError
from practicum.footprint import conv_stack_bytes
from practicum.io import atomic_write
from practicum.lab import bounded
from practicum.nn import Classifier, count_parameters
from practicum.run import Run
from practicum.sanity import SanityProblem

Dataset = Literal["mnist", "fashion-mnist", "digits"]


@dataclass
class TrainingConfig:
    """The data and training settings of the program (a lab's config adds its model's)."""

    dataset: Dataset = "mnist"  # "digits": scikit-learn's 8x8 digits, for --quick
    # λ in loss + λ Σ w² (weights of convolutions and linear layers)
    l2: float = bounded(5e-5, "[0, 10]")
    epochs: int = bounded(8, "[1, 1000]")
    batch_size: int = bounded(128, "[1, 65536]")
    learning_rate: float = bounded(0.01, "(0, 10]")  # peak of the one-cycle schedule
    warmup: float = bounded(0.2, "[0, 1)")  # fraction of steps spent warming up
    crop_padding: int = bounded(2, "[0, 14]")  # random translations by up to this many pixels
    val_size: int = bounded(10_000, "[1, 1e6]")
    # validation evaluations per epoch (for the curves)
    evals_per_epoch: int = bounded(1, "[1, 1000]")

    # Options a lab may declare as fields (mnist-cnn does); a lab without them trains on
    # unmirrored images in the default NCHW layout, and its config.json does not list them.
    @property
    def flip(self) -> bool:
        """Random left-right mirroring (not for digits)."""
        return False

    @property
    def channels_last(self) -> bool:
        """NHWC memory layout: faster convolutions on CPU."""
        return False

    def validate(self) -> None:
        if self.l2 < 0 or self.learning_rate <= 0 or not 0 <= self.warmup < 1:
            raise PracticumError("need l2 >= 0, learning_rate > 0 and warmup in [0, 1)")
        if self.epochs < 1 or self.batch_size < 1 or self.evals_per_epoch < 1:
            raise PracticumError("epochs, batch_size and evals_per_epoch must be >= 1")
        if self.crop_padding < 0 or self.val_size < 1:
            raise PracticumError("need crop_padding >= 0 and val_size >= 1")


@dataclass
class Config(TrainingConfig):
    """mnist-cnn: three convolution stages with batch norm, dropout and a linear head."""

    layer_depths: tuple[int, ...] = bounded((16, 32, 64), "[1, 4096]")
    layer_kernel_sizes: tuple[int, ...] = bounded((3, 3, 3), "[1, 27]")
    norm: Literal["none", "group", "batch"] = "batch"
    head_pool: int = bounded(3, "[1, 28]")  # average-pool the last map to 3x3, then flatten
    dropout: float = bounded(0.25, "[0, 1)")
    flip: bool = False  # random left-right mirroring (not for digits)
    channels_last: bool = False  # NHWC memory layout: faster convolutions on CPU

    def validate(self) -> None:
        if len(self.layer_depths) != len(self.layer_kernel_sizes) or not self.layer_depths:
            raise PracticumError("layer_depths and layer_kernel_sizes need the same length")
        if min(self.layer_depths) < 1 or any(k < 1 or k % 2 == 0 for k in self.layer_kernel_sizes):
            raise PracticumError("depths must be >= 1 and kernel sizes odd and >= 1")
        if not 0.0 <= self.dropout < 1.0:
            raise PracticumError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.head_pool < 1:
            raise PracticumError(f"head_pool must be >= 1, got {self.head_pool}")
        super().validate()


def footprint(config: Config) -> int:
    """Rough peak memory of training (see practicum.footprint): convolution, normalisation
    and ReLU before each 2x2 pooling, on a batch; and the 70,000 images."""
    side = 8 if config.dataset == "digits" else 28
    return conv_stack_bytes(side, 1, config.layer_depths, config.batch_size, data=70_000 * side**2)


#: mnist-cnn's --quick: a smaller network for scikit-learn's 8x8 digits.
QUICK: dict[str, Any] = {
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


def load_data(config: TrainingConfig, seed: int, device: str = "cpu") -> Data:
    """The split of ``config.dataset``, standardised with the training part's statistics."""
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
    fmt = torch.channels_last if config.channels_last else torch.contiguous_format

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
    """The classifier of mnist-cnn for a config (load a checkpoint's state dict into it)."""
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


def sanity_problem(config: Config, run: Run) -> SanityProblem:
    """What ``practicum debug`` checks (:mod:`practicum.sanity`): the classifier, freshly
    built from the run's seed, and 64 of its training images."""
    data = load_data(config, run.seed, run.device)
    torch.manual_seed(run.seed)
    model = build_model(config, len(data.classes)).to(run.device)
    return SanityProblem(model, data.x_train[:64], data.y_train[:64], len(data.classes))


def weight_penalty(model: nn.Module) -> torch.Tensor:
    """Σ w² over convolution and linear weights (not biases or normalisation scales)."""
    return sum((p.pow(2).sum() for p in model.parameters() if p.ndim > 1), torch.zeros(()))


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
    """Predicted classes in eval mode (the model's mode is left as it was)."""
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
    config: TrainingConfig,
    x: torch.Tensor,
    y: torch.Tensor,
    generator: torch.Generator,
    on_eval: Callable[[float, float], bool | None],
    progress: Callable[..., Iterable[int]] | None = None,
    run: Run | None = None,
    history: list[dict[str, float]] | None = None,
) -> float:
    """Train ``model`` on (x, y); call ``on_eval(epochs_done, train_seconds)``
    ``evals_per_epoch`` times an epoch (stop early if it returns True). Returns the
    training time in seconds, evaluation excluded.

    With ``run``, the epochs are ``run.loop``'s: every epoch ends with a checkpoint
    (``history``, the evaluations so far, is saved with it) and ``--resume`` continues from
    the last one with the same bits. Without it, ``progress`` (like ``Run.progress``) shows
    the epochs.
    """
    steps_per_epoch = len(x) // config.batch_size
    if steps_per_epoch < 1:
        raise PracticumError(f"batch_size {config.batch_size} exceeds the {len(x)} images")
    eval_steps = {
        round(steps_per_epoch * (e + (k + 1) / config.evals_per_epoch))
        for e in range(config.epochs)
        for k in range(config.evals_per_epoch)
    }
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=config.learning_rate,
        total_steps=steps_per_epoch * config.epochs,
        pct_start=max(config.warmup, 1e-3),
        anneal_strategy="cos",
    )
    clock = {"seconds": 0.0}  # training time so far, evaluation excluded
    state = {
        "model": model,
        "optimizer": optimizer,
        "schedule": schedule,
        "generator": generator,
        "history": [] if history is None else history,
        "clock": clock,
    }
    if run is not None:
        epochs: Iterable[int] = run.loop(config.epochs, state, desc="epoch")
    elif progress is not None:
        epochs = progress(range(config.epochs), total=config.epochs, desc="epoch")
    else:
        epochs = range(config.epochs)
    model.train()
    for epoch in epochs:
        step = epoch * steps_per_epoch
        for idx in batch_indices(len(x), config.batch_size, generator, drop_last=True):
            start = time.perf_counter()
            xb = augment(
                x[idx.to(x.device)], generator, crop_padding=config.crop_padding, flip=config.flip
            )
            if config.channels_last:  # the crop's gather returns NCHW
                xb = xb.contiguous(memory_format=torch.channels_last)
            yb = y[idx.to(y.device)]
            loss = F.cross_entropy(model(xb), yb)
            if config.l2 > 0:
                loss = loss + config.l2 * weight_penalty(model)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            clock["seconds"] += time.perf_counter() - start
            step += 1
            if step in eval_steps and on_eval(step / steps_per_epoch, clock["seconds"]):
                return clock["seconds"]  # leaving run.loop early saves no checkpoint
    return clock["seconds"]


# ---- plots -------------------------------------------------------------------------------


def plot_confusion(
    run: Run, y_true: np.ndarray, y_pred: np.ndarray, classes: tuple[str, ...], title: str
) -> None:
    """The test confusion matrix as ``plots/confusion.png``, counts on a log colour scale."""
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
    """Validation and training error against epochs as ``plots/curves.png``."""
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


# ---- the program -------------------------------------------------------------------------


def run_classifier(
    config: TrainingConfig,
    run: Run,
    name: str,
    build: Callable[[Any, int], nn.Module] = build_model,
) -> tuple[dict[str, float], nn.Module]:
    """Data, model (``build(config, num_classes)``), training with validation curves, test
    evaluation and plots: the whole program. ``config`` is a :class:`TrainingConfig` with
    the fields ``build`` reads. Returns the metrics and the trained model."""
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
        model, config, data.x_train, data.y_train, generator, on_eval, run=run, history=history
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
