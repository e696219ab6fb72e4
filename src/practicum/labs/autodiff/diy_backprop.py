"""diy-backprop — a feed-forward network trained with practicum.autodiff only (no PyTorch).

Course: DTU 02456 weeks 1–2 (backpropagation by hand, then in NumPy); OVGU "MLPs, gradient
descent and backpropagation".

Data:  MNIST (full; 55,000 train / 5,000 validation from the training set, 10,000 test) or
       scikit-learn's bundled 8×8 digits (quick; 1,797 images split 64/16/20 %). Pixels are
       scaled to [0, 1] and standardised with the training mean and standard deviation.
Model: MLP with ReLU hidden layers (practicum.autodiff.nn.MLP), float32.
Loss:  mean cross-entropy of the softmax over 10 classes.
Fit:   Adam on minibatches, learning rate on a cosine schedule; after every epoch the
       validation accuracy is measured and the best epoch's weights are kept (the test set is
       touched once, at the end).
Check: MNIST test accuracy ≥ 97.5 %; 8×8 digits test accuracy ≥ 95 % in quick mode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from practicum import autodiff as ad
from practicum.autodiff.nn import MLP
from practicum.autodiff.optim import Adam
from practicum.errors import PracticumError
from practicum.footprint import mlp_parameters, training_bytes
from practicum.lab import Lab, Target, bounded
from practicum.plotting import figure
from practicum.run import Run


@dataclass
class Config:
    dataset: str = "mnist"  # mnist | digits (scikit-learn's 8x8, no files needed)
    hidden_sizes: tuple[int, ...] = bounded((512, 256), "[1, 65536]")
    activation: str = "relu"  # relu | tanh | sigmoid
    epochs: int = bounded(20, "[1, 1000]")
    batch_size: int = bounded(128, "[1, 65536]")
    learning_rate: float = bounded(1e-3, "(0, 10]")
    final_lr_fraction: float = bounded(
        0.02, "[0, 1]"
    )  # cosine schedule ends at this fraction of learning_rate
    weight_decay: float = bounded(0.0, "[0, 10]")
    val_size: int = bounded(
        5000, "[1, 1e6]"
    )  # taken from the training set; used for choosing the best epoch

    def validate(self) -> None:
        if self.dataset not in ("mnist", "digits"):
            raise PracticumError(f"dataset must be mnist or digits, got {self.dataset!r}")
        if self.activation not in ("relu", "tanh", "sigmoid"):
            raise PracticumError(
                f"activation must be relu, tanh or sigmoid, got {self.activation!r}"
            )


DATASET_NAMES = {"mnist": "MNIST", "digits": "8×8 digits"}
SIDES = {"mnist": 28, "digits": 8}  # image side in pixels
EVAL_BATCH = 2000  # images per forward pass when evaluating


def footprint(config: Config) -> int:
    """The MLP's training step or evaluation batch, and the images (MNIST: 70,000)."""
    pixels = SIDES.get(config.dataset, 28) ** 2
    parameters = mlp_parameters([pixels, *config.hidden_sizes, 10])
    activations = max(config.batch_size, EVAL_BATCH) * sum(config.hidden_sizes)
    return training_bytes(parameters, activations, data=70_000 * pixels)


# ---- data --------------------------------------------------------------------------------------
Split = tuple[np.ndarray, np.ndarray]


def load_data(config: Config, seed: int) -> tuple[Split, Split, Split, int]:
    """(train, validation, test) as (images (N, H, W) float32 in [0, 1], labels) and image side."""
    if config.dataset == "mnist":
        from practicum.data import load_mnist, train_val_split

        x_train, y_train, x_test, y_test = (t.numpy() for t in load_mnist("mnist"))
        x_train, x_test = x_train / np.float32(255), x_test / np.float32(255)
        side = SIDES["mnist"]
    else:
        from sklearn.datasets import load_digits

        from practicum.data import train_val_split

        digits = load_digits()
        images, labels = digits.images.astype(np.float32) / 16, digits.target.astype(np.int64)
        order = np.random.default_rng(seed).permutation(len(labels))
        n_test = len(labels) // 5
        test, rest = order[:n_test], np.sort(order[n_test:])
        x_train, y_train, x_test, y_test = images[rest], labels[rest], images[test], labels[test]
        side = SIDES["digits"]
    if config.val_size >= len(y_train):
        raise PracticumError(f"val_size {config.val_size} >= training set size {len(y_train)}")
    train_idx, val_idx = train_val_split(len(y_train), config.val_size, seed=seed, labels=y_train)
    train = (x_train[train_idx].astype(np.float32), y_train[train_idx])
    val = (x_train[val_idx].astype(np.float32), y_train[val_idx])
    return train, val, (x_test.astype(np.float32), y_test), side


# ---- training and evaluation ------------------------------------------------------------------
def evaluate(
    model: MLP, x: np.ndarray, y: np.ndarray, batch: int = EVAL_BATCH
) -> tuple[float, np.ndarray]:
    """Mean cross-entropy and predicted labels, without recording a graph."""
    total, preds = 0.0, []
    with ad.no_grad():
        for start in range(0, len(y), batch):
            logits = model(ad.Tensor(x[start : start + batch]))
            labels = y[start : start + batch]
            total += ad.cross_entropy(logits, labels, reduction="sum").item()
            preds.append(logits.data.argmax(axis=1))
    return total / len(y), np.concatenate(preds)


def cosine_lr(config: Config, step: int, total: int) -> float:
    low = config.learning_rate * config.final_lr_fraction
    return low + 0.5 * (config.learning_rate - low) * (1 + math.cos(math.pi * step / total))


def run(config: Config, run: Run) -> dict[str, float]:
    rng = np.random.default_rng(run.seed)
    (x_train, y_train), (x_val, y_val), (x_test, y_test), side = load_data(config, run.seed)
    mean, std = float(x_train.mean()), float(x_train.std())

    def prepare(x: np.ndarray) -> np.ndarray:
        return ((x.reshape(len(x), -1) - mean) / std).astype(np.float32)

    inputs_train, inputs_val, inputs_test = prepare(x_train), prepare(x_val), prepare(x_test)
    run.print(
        f"{config.dataset}: {len(y_train)} train, {len(y_val)} validation, {len(y_test)} test"
    )

    # NumPy only, on the CPU: the engine has no devices, so run.device does not apply here.
    sizes = [side * side, *config.hidden_sizes, 10]
    model = MLP(sizes, rng, activation=config.activation)
    optimizer = Adam(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    steps_per_epoch = math.ceil(len(y_train) / config.batch_size)
    total_steps = config.epochs * steps_per_epoch

    # What an interrupted run needs to continue bit for bit: the engine's weights and Adam's
    # moments (as NumPy arrays), the generator that shuffles, the curves and the best epoch.
    history: dict[str, list[float]] = {"train_loss": [], "val_loss": [], "val_accuracy": []}
    best = {"val_accuracy": -1.0, "epoch": 0, "state": model.state_dict()}
    state = {"model": model, "optimizer": optimizer, "rng": rng, "history": history, "best": best}
    for epoch in run.loop(config.epochs, state, desc="epochs"):
        order = rng.permutation(len(y_train))
        losses = []
        for i, start in enumerate(range(0, len(order), config.batch_size)):
            batch = order[start : start + config.batch_size]
            optimizer.lr = cosine_lr(config, epoch * steps_per_epoch + i, total_steps)
            optimizer.zero_grad()
            loss = ad.cross_entropy(model(ad.Tensor(inputs_train[batch])), y_train[batch])
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        train_loss = float(np.mean(losses))
        # The engine is ours, not torch.optim, so the runner's non-finite guard does not see it.
        if not math.isfinite(train_loss):
            raise PracticumError(
                f"training diverged at epoch {epoch + 1} (loss {train_loss}); "
                "lower the learning rate"
            )
        val_loss, val_pred = evaluate(model, inputs_val, y_val)
        val_accuracy = float(np.mean(val_pred == y_val))
        history["train_loss"].append(train_loss)
        history["val_loss"].append(val_loss)
        history["val_accuracy"].append(val_accuracy)
        run.log(
            epoch=epoch + 1, train_loss=train_loss, val_loss=val_loss, val_accuracy=val_accuracy
        )
        run.print(
            f"epoch {epoch + 1:3d}  train loss {train_loss:.4f}  "
            f"val loss {val_loss:.4f}  val acc {val_accuracy:.4f}"
        )
        if val_accuracy > best["val_accuracy"]:
            best.update(val_accuracy=val_accuracy, epoch=epoch + 1, state=model.state_dict())

    # The epoch chosen on validation accuracy; the test set is used once, here.
    model.load_state_dict(best["state"])
    test_loss, test_pred = evaluate(model, inputs_test, y_test)
    test_accuracy = float(np.mean(test_pred == y_test))
    train_loss_final, train_pred = evaluate(model, inputs_train, y_train)

    plot_curves(history, int(best["epoch"]), config, run)
    plot_misclassified(x_test, y_test, test_pred, test_accuracy, config, run)
    run.set_params(model.state_dict())
    return {
        "test_accuracy": test_accuracy,
        "test_loss": test_loss,
        "val_accuracy": float(best["val_accuracy"]),
        "best_epoch": int(best["epoch"]),
        "train_accuracy": float(np.mean(train_pred == y_train)),
        "train_loss": train_loss_final,
        "num_parameters": model.num_parameters(),
    }


# ---- plots ---------------------------------------------------------------------------------------
def plot_curves(history: dict[str, list[float]], best_epoch: int, config: Config, run: Run) -> None:
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    fig, axes = figure(ncols=2, size=(5.2, 3.8))
    ax_loss, ax_acc = axes[0]
    ax_loss.plot(epochs, history["train_loss"], "o-", ms=3, label="train (mean over epoch)")
    ax_loss.plot(epochs, history["val_loss"], "s-", ms=3, label="validation")
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("cross-entropy (log scale)")
    ax_loss.set_title("Loss")
    ax_loss.axvline(best_epoch, color="grey", ls=":", label=f"best epoch ({best_epoch})")
    ax_loss.legend()
    ax_acc.plot(
        epochs,
        100 * np.asarray(history["val_accuracy"]),
        "s-",
        ms=3,
        color="C1",
        label="validation",
    )
    ax_acc.axvline(best_epoch, color="grey", ls=":", label=f"best epoch ({best_epoch})")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy (%)")
    ax_acc.set_title("Validation accuracy")
    ax_acc.legend()
    sizes = "-".join(map(str, config.hidden_sizes))
    fig.suptitle(
        f"diy-backprop: MLP (hidden {sizes}) on {DATASET_NAMES[config.dataset]}, "
        "trained with practicum.autodiff",
        y=1.03,
    )
    run.save_figure(fig, "loss_curves")


def plot_misclassified(
    images: np.ndarray,
    labels: np.ndarray,
    pred: np.ndarray,
    accuracy: float,
    config: Config,
    run: Run,
) -> None:
    wrong = np.flatnonzero(pred != labels)[:40]
    cols = 10
    rows = max(1, math.ceil(len(wrong) / cols))
    fig, axes = figure(ncols=cols, nrows=rows, size=(1.05, 1.25))
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, i in zip(np.ravel(axes), wrong, strict=False):
        ax.imshow(images[i], cmap="gray_r", interpolation="nearest")
        ax.set_title(f"{labels[i]} → {pred[i]}", fontsize=9, color="C3")
    fig.suptitle(
        f"Misclassified {DATASET_NAMES[config.dataset]} test images (true → predicted): "
        f"first {len(wrong)} of "
        f"{int(np.sum(pred != labels))}, test accuracy {accuracy:.2%}",
        fontsize=11,
        y=1.0 + 0.12 / rows,
    )
    run.save_figure(fig, "misclassified")


LAB = Lab(
    name="diy-backprop",
    title="A feed-forward network trained with our own NumPy backprop engine",
    source="DTU 02456 weeks 1-2; OVGU MLPs, gradient descent and backpropagation",
    courses=("dtu02456", "ovgu"),
    config=Config,
    quick={
        "dataset": "digits",
        "hidden_sizes": (128,),
        "epochs": 30,
        "batch_size": 32,
        "learning_rate": 3e-3,
        "val_size": 230,
    },
    targets=[
        Target(
            "test_accuracy",
            ">=",
            0.975,
            "practicum (ours), for DTU 02456 weeks 1-2: MNIST with the engine only",
        )
    ],
    quick_targets=[
        # Logistic regression on the pixels of the same split reaches 0.961-0.967 (C 0.1-100).
        Target("test_accuracy", ">=", 0.97, "quick: 8x8 digits, above logistic regression")
    ],
    summary="An MLP trained on MNIST with practicum.autodiff only: graph, backprop, Adam in NumPy.",
    time_full="5 min",
    time_quick="2 s",
    footprint=footprint,
    run=run,
)
