"""Decoupled weight decay: SGD / SGDW and Adam / AdamW over a learning-rate × weight-decay grid
(Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization", ICLR, Fig. 2).

Claim: with L2 regularisation the decay passes through the optimiser's step, so its strength is
α·λ (SGD) or α·λ/√v̂ (Adam): the best λ moves with the learning rate α and the good region of
the (α, λ) plane is a diagonal valley. With the decay decoupled from the step (SGDW, AdamW: θ ←
θ − η_t λ θ beside the gradient step) the best λ hardly depends on α, the valley is axis-aligned
("a more separable hyperparameter space", Fig. 2), and AdamW reaches a lower test error than
Adam with L2 (Fig. 2's bottom row; Sec. 4.3).

Optimisers (:mod:`practicum.nn.optimizers`): the paper's Algorithms 1 and 2, λ in the paper's
parametrisation (the decoupled decay is η_t λ, not multiplied by α), SGD momentum 0.9, Adam's
β = (0.9, 0.999), ε = 1e-8; cosine annealing of η_t over every step (no restarts), as the paper's
Fig. 2 runs. Every parameter is decayed, the batch-norm ones too.

Data: Fashion-MNIST (Xiao et al. 2017), a seeded random 5,000 of the 60,000 training images to
train on, 5,000 others for validation (reported only), the 10,000 test images for the heatmaps'
final error, as the paper's heatmaps show final test error. Standardised with the training
part's statistics.

Network (scaled from their 26 2×64d ResNet with batch norm): a multilayer perceptron whose
hidden layers are linear (no bias) → batch norm → ReLU, then a linear classifier. The batch
norm matters: it makes every hidden weight matrix scale-invariant, which is where weight decay's
coupling to the learning rate comes from (the docs say why a plain MLP would not test the claim).

Grid: ``lrs`` × ``weight_decays`` of each optimiser, every cell one training from the same
initial weights and batch order (common random numbers: the cells differ by (α, λ) alone). Then,
for each optimiser, its best cell (least test error) and the same learning rate without weight
decay, each for ``best_seeds`` seeds (the first is the grid's own run).

The decoupling, measured (:func:`ridge` and :func:`ridge_slope`): for each learning rate, the
best log λ as the mean of log λ over the cells within ``ridge_tolerance`` of that column's least
error, weighted by how far inside they are; then the least-squares slope of that against log α,
over the columns whose least error is within ``ridge_columns`` of the optimiser's best. The
paper's claim is a slope near −1 for the L2 forms and near 0 for the decoupled ones.

Resuming: every training is one iteration of ``run.loop`` from seeds fixed by the run's seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.patches import Rectangle
from torch import nn

from practicum.data.batching import ImageSplit, batch_indices, standardised_split
from practicum.data.vision import load_digits_uint8, load_mnist
from practicum.errors import PracticumError
from practicum.footprint import MNIST_VALUES, mlp_parameters, training_bytes
from practicum.lab import Lab, Target, bounded
from practicum.nn import optimizers
from practicum.plotting import figure
from practicum.repro import sub_seed
from practicum.run import Run

NAMES = optimizers.NAMES  # sgd, sgdw, adam, adamw
LABELS = optimizers.LABELS
DIVERGED_ERROR = 0.9  # a training whose loss became non-finite counts as a guess over 10 classes


# ---- config --------------------------------------------------------------------------------
@dataclass
class Config:
    data: Literal["fashion-mnist", "digits"] = "fashion-mnist"  # digits: scikit-learn's 8×8
    train_size: int = bounded(5000, "[10, 60000]")  # a small train set: decay has to matter
    val_size: int = bounded(5000, "[1, 30000]")  # reported only; the heatmaps are test error
    width: int = bounded(128, "[1, 4096]")  # units of every hidden layer
    depth: int = bounded(2, "[1, 16]")  # hidden layers, each linear → batch norm → ReLU
    epochs: int = bounded(30, "[1, 10000]")  # per training, with cosine annealing to 0
    batch_size: int = bounded(128, "[1, 4096]")
    schedule: Literal["cosine", "constant"] = "cosine"  # η_t: the paper's cosine annealing
    momentum: float = bounded(0.9, "[0, 1)")  # SGD, SGDW
    betas: tuple[float, ...] = bounded((0.9, 0.999), "[0, 1)")  # Adam, AdamW
    eps: float = bounded(1e-8, "(0, 1]")
    # Learning rates α (SGD/SGDW share one set, Adam/AdamW another) and weight decays λ, each
    # log-spaced by a factor √10 and placed from a coarse look (docs/labs/adamw.md) so that every
    # optimiser's best cell lies inside its grid.
    sgd_lrs: tuple[float, ...] = bounded((0.01, 0.0316, 0.1, 0.316, 1.0, 3.16), "(0, 100]")
    adam_lrs: tuple[float, ...] = bounded((1e-4, 3.16e-4, 1e-3, 3.16e-3, 0.01, 0.0316), "(0, 10]")
    sgd_decays: tuple[float, ...] = bounded((1e-4, 3.16e-4, 1e-3, 3.16e-3, 0.01, 0.0316), "(0, 10]")
    sgdw_decays: tuple[float, ...] = bounded(
        (3.16e-6, 1e-5, 3.16e-5, 1e-4, 3.16e-4, 1e-3), "(0, 1)"
    )
    adam_decays: tuple[float, ...] = bounded(
        (1e-4, 3.16e-4, 1e-3, 3.16e-3, 0.01, 0.0316), "(0, 10]"
    )
    adamw_decays: tuple[float, ...] = bounded(
        (1e-5, 3.16e-5, 1e-4, 3.16e-4, 1e-3, 3.16e-3), "(0, 1)"
    )
    best_seeds: int = bounded(2, "[1, 100]")  # seeds of each best cell and of its no-decay twin
    ridge_tolerance: float = bounded(0.01, "(0, 1]")  # error above a column's least: in the ridge
    ridge_columns: float = bounded(0.05, "(0, 1]")  # columns this close to the best enter the fit
    eval_batch: int = bounded(2000, "[1, 100000]")

    def validate(self) -> None:
        if len(self.betas) != 2:
            raise PracticumError(f"betas needs two values (β1, β2), got {len(self.betas)}")
        for name in ("sgd_lrs", "adam_lrs", *(f"{n}_decays" for n in NAMES)):
            values = getattr(self, name)
            if len(values) < 2 or list(values) != sorted(set(values)):
                raise PracticumError(f"{name} must hold at least two increasing values")

    def lrs(self, name: str) -> tuple[float, ...]:
        return self.sgd_lrs if name.startswith("sgd") else self.adam_lrs

    def decays(self, name: str) -> tuple[float, ...]:
        return getattr(self, f"{name}_decays")


def footprint(config: Config) -> int:
    side = 28 if config.data == "fashion-mnist" else 8
    params = mlp_parameters([side * side] + [config.width] * config.depth + [10])
    per_image = config.depth * config.width * 4
    data = MNIST_VALUES if config.data == "fashion-mnist" else 1797 * 64
    return training_bytes(params, max(config.batch_size, config.eval_batch) * per_image, data)


# ---- data ----------------------------------------------------------------------------------
def load(config: Config, seed: int, device: str) -> ImageSplit:
    """A random ``train_size`` of the training images, ``val_size`` others, the test set."""
    fashion = config.data == "fashion-mnist"
    arrays = load_mnist("fashion-mnist") if fashion else load_digits_uint8()
    n = len(arrays[1])
    if config.val_size + min(config.train_size, 1) > n - 1:
        raise PracticumError(f"val_size must leave training images of the {n}")
    return standardised_split(
        *arrays, config.val_size, seed, device, train_subset=config.train_size
    )


# ---- model ---------------------------------------------------------------------------------
class NormMLP(nn.Module):
    """The flattened image through ``depth`` blocks of linear (no bias: batch norm has one) →
    batch norm → ReLU, then a linear classifier. Each hidden weight matrix is scale-invariant:
    the output does not change when it is multiplied by c > 0, only its gradient (by 1/c)."""

    def __init__(self, inputs: int, width: int, depth: int, classes: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        for i in range(depth):
            layers += [nn.Linear(inputs if i == 0 else width, width, bias=False)]
            layers += [nn.BatchNorm1d(width), nn.ReLU()]
        layers.append(nn.Linear(width, classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


# ---- the plan: one iteration per training --------------------------------------------------
@dataclass(frozen=True)
class Job:
    """One training: an optimiser, its (α, λ), and a seed index (0: the grid's)."""

    name: str
    lr: float
    decay: float
    repeat: int = 0

    @property
    def key(self) -> str:
        return f"{self.name}_lr{self.lr:g}_wd{self.decay:g}_s{self.repeat}"


def grid_jobs(config: Config) -> list[Job]:
    return [
        Job(name, lr, wd) for name in NAMES for lr in config.lrs(name) for wd in config.decays(name)
    ]


def best_cell(config: Config, name: str, results: dict[str, dict[str, Any]]) -> Job:
    """The grid cell of least test error (ties: the first in the grid's order)."""
    cells = [j for j in grid_jobs(config) if j.name == name]
    return min(cells, key=lambda j: results[j.key]["test_error"])


def extra_jobs(config: Config, results: dict[str, dict[str, Any]]) -> list[Job]:
    """After the grid: each best cell for seeds 1.. and its learning rate without decay for
    seeds 0.. (common random numbers again: seed r of both starts from the same weights)."""
    jobs = []
    for name in NAMES:
        best = best_cell(config, name, results)
        jobs += [Job(name, best.lr, best.decay, r) for r in range(1, config.best_seeds)]
        jobs += [Job(name, best.lr, 0.0, r) for r in range(config.best_seeds)]
    return jobs


def stream_seed(run_seed: int, repeat: int, what: int) -> int:
    """The seed of a training's initial weights (``what=0``) or batch order (1): shared by all
    cells of a seed index, so that cells differ by (α, λ) alone."""
    return sub_seed(run_seed, repeat, what)


# ---- one training --------------------------------------------------------------------------
@torch.no_grad()
def error_rate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int) -> float:
    model.eval()
    wrong = sum(
        int((model(x[i : i + batch]).argmax(1) != y[i : i + batch]).sum())
        for i in range(0, len(y), batch)
    )
    model.train()
    return wrong / len(y)


def train(config: Config, job: Job, data: ImageSplit, run: Run) -> tuple[dict[str, Any], nn.Module]:
    """``epochs`` epochs of ``job``'s optimiser with η_t annealed per step; final errors."""
    torch.manual_seed(stream_seed(run.seed, job.repeat, 0))
    inputs = int(np.prod(data.x_train.shape[1:]))
    model = NormMLP(inputs, config.width, config.depth).to(run.device)
    optimiser = optimizers.make(
        job.name,
        model.parameters(),
        job.lr,
        job.decay,
        momentum=config.momentum,
        betas=(config.betas[0], config.betas[1]),
        eps=config.eps,
    )
    order = torch.Generator().manual_seed(stream_seed(run.seed, job.repeat, 1))
    per_epoch = len(data.y_train) // config.batch_size
    total, step, diverged, losses = config.epochs * per_epoch, 0, False, []
    for _ in range(config.epochs):
        epoch_loss = 0.0
        for index in batch_indices(len(data.y_train), config.batch_size, order, drop_last=True):
            if config.schedule == "cosine":
                optimizers.set_schedule(optimiser, optimizers.cosine_multiplier(step, total))
            index = index.to(run.device)
            loss = F.cross_entropy(model(data.x_train[index]), data.y_train[index])
            if not torch.isfinite(loss):  # too large a rate: this cell diverged, stop it
                diverged = True
                break
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            epoch_loss += float(loss.detach())
            step += 1
        if diverged:
            break
        losses.append(epoch_loss / per_epoch)
    result: dict[str, Any] = {"diverged": diverged, "train_loss": losses}
    for split in ("train", "val", "test"):
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        result[f"{split}_error"] = (
            DIVERGED_ERROR if diverged else error_rate(model, x, y, config.eval_batch)
        )
    hidden = [m.weight for m in model.modules() if isinstance(m, nn.Linear)][:-1]
    result["hidden_weight_norm"] = float(torch.sqrt(sum((w.detach() ** 2).sum() for w in hidden)))
    return result, model


# ---- the decoupling, measured --------------------------------------------------------------
def ridge(
    errors: np.ndarray, decays: np.ndarray, tolerance: float
) -> tuple[np.ndarray, np.ndarray]:
    """For each row of ``errors`` (learning rates × weight decays): the best log₁₀ λ, as the
    mean of log₁₀ λ over the cells with error below the row's least + ``tolerance``, each
    weighted by (least + tolerance − error) — a smoothed argmin that moves continuously between
    grid points — and the row's least error."""
    logs = np.log10(np.asarray(decays, dtype=float))
    best = errors.min(axis=1)
    weights = np.clip(best[:, None] + tolerance - errors, 0.0, None)
    return (weights * logs).sum(axis=1) / weights.sum(axis=1), best


def ridge_slope(
    errors: np.ndarray,
    lrs: np.ndarray,
    decays: np.ndarray,
    tolerance: float,
    columns: float,
) -> tuple[float, np.ndarray, np.ndarray]:
    """The least-squares slope of the ridge's log₁₀ λ against log₁₀ α, over the learning rates
    whose least error is within ``columns`` of the grid's best (where the basin is); also the
    ridge and which learning rates entered the fit. NaN with fewer than two of them."""
    ridge_log, row_best = ridge(errors, decays, tolerance)
    used = row_best <= errors.min() + columns
    if used.sum() < 2:
        return float("nan"), ridge_log, used
    x = np.log10(np.asarray(lrs, dtype=float))[used]
    slope = np.polyfit(x, ridge_log[used], 1)[0]
    return float(slope), ridge_log, used


def heatmap(config: Config, name: str, results: dict[str, dict[str, Any]], key: str) -> np.ndarray:
    """The grid's ``key`` (e.g. test_error) as an array (learning rates × weight decays)."""
    return np.array(
        [
            [results[Job(name, lr, wd).key][key] for wd in config.decays(name)]
            for lr in config.lrs(name)
        ]
    )


# ---- the run -------------------------------------------------------------------------------
def run(config: Config, run: Run) -> dict[str, float]:
    data = load(config, run.seed, run.device)
    grid = grid_jobs(config)
    run.print(
        f"{config.data}: {len(data.y_train)} training, {len(data.y_val)} validation, "
        f"{len(data.y_test)} test images; {len(grid)} grid trainings, then "
        f"{4 * (2 * config.best_seeds - 1)} at the best cells"
    )
    results: dict[str, dict[str, Any]] = {}
    params: dict[str, dict[str, torch.Tensor]] = {}  # the extra trainings' final weights
    state = {"results": results, "params": params}
    total = len(grid) + 4 * (2 * config.best_seeds - 1)
    for i in run.loop(total, state, desc="training", every=4):
        job = grid[i] if i < len(grid) else extra_jobs(config, results)[i - len(grid)]
        start = run.elapsed()
        result, model = train(config, job, data, run)
        results[job.key] = result
        if i >= len(grid):
            params[job.key] = {k: t.detach().cpu().clone() for k, t in model.state_dict().items()}
        line = {k: v for k, v in result.items() if not isinstance(v, list)}
        run.log(training=job.key, **line, seconds=run.elapsed() - start)
        run.print(
            f"{job.key}: test error {result['test_error']:.4f}"
            + (" (diverged)" if result["diverged"] else "")
        )

    metrics: dict[str, float] = {}
    ridges: dict[str, dict[str, Any]] = {}
    for name in NAMES:
        lrs, decays = np.array(config.lrs(name)), np.array(config.decays(name))
        errors = heatmap(config, name, results, "test_error")
        slope, ridge_log, used = ridge_slope(
            errors, lrs, decays, config.ridge_tolerance, config.ridge_columns
        )
        ridges[name] = {"log10_decay": ridge_log.tolist(), "used": used.tolist(), "slope": slope}
        best = best_cell(config, name, results)
        i, j = config.lrs(name).index(best.lr), config.decays(name).index(best.decay)
        seeds = [results[Job(name, best.lr, best.decay, r).key]["test_error"] for r in
                 range(config.best_seeds)]  # fmt: skip
        plain = [results[Job(name, best.lr, 0.0, r).key]["test_error"] for r in
                 range(config.best_seeds)]  # fmt: skip
        metrics |= {
            f"{name}_best_test_error": float(errors.min()),
            f"{name}_best_val_error": float(heatmap(config, name, results, "val_error").min()),
            f"{name}_best_lr": best.lr,
            f"{name}_best_decay": best.decay,
            f"{name}_best_on_edge": float(i in (0, len(lrs) - 1) or j in (0, len(decays) - 1)),
            f"{name}_best_cell_error_mean": float(np.mean(seeds)),
            f"{name}_best_cell_error_std": float(np.std(seeds)),
            f"{name}_no_decay_error_mean": float(np.mean(plain)),
            f"{name}_no_decay_error_std": float(np.std(plain)),
            f"{name}_decay_gain": float(np.mean(plain) - np.mean(seeds)),
            f"{name}_ridge_slope": slope,
            f"{name}_ridge_columns": float(used.sum()),
            f"{name}_diverged": float(
                sum(results[j.key]["diverged"] for j in grid if j.name == name)
            ),
        }
    for base in ("sgd", "adam"):
        coupled, decoupled = metrics[f"{base}_ridge_slope"], metrics[f"{base}w_ridge_slope"]
        metrics[f"{base}w_over_{base}_slope_ratio"] = abs(decoupled) / abs(coupled)
        metrics[f"{base}w_minus_{base}_best_error"] = (
            metrics[f"{base}w_best_cell_error_mean"] - metrics[f"{base}_best_cell_error_mean"]
        )

    run.write_json(
        "grid.json",
        {
            "lrs": {n: list(config.lrs(n)) for n in NAMES},
            "decays": {n: list(config.decays(n)) for n in NAMES},
            "test_error": {n: heatmap(config, n, results, "test_error").tolist() for n in NAMES},
            "val_error": {n: heatmap(config, n, results, "val_error").tolist() for n in NAMES},
            "train_error": {n: heatmap(config, n, results, "train_error").tolist() for n in NAMES},
            "ridges": ridges,
        },
    )
    run.write_json("trainings.json", results)
    run.save_figure(heatmap_figure(config, results, ridges), "heatmaps")
    run.save_figure(ridge_figure(config, ridges), "ridges")
    run.set_params(params)
    return metrics


# ---- figures -------------------------------------------------------------------------------
def heatmap_figure(config: Config, results: dict[str, dict[str, Any]], ridges: dict[str, Any]):
    """Loshchilov & Hutter Fig. 2: final test error over (λ, α) for each optimiser (top: SGD,
    SGDW; bottom: Adam, AdamW), the best cell boxed, the ridge's best λ per α drawn over it."""
    fig, axes = figure(ncols=2, nrows=2, size=(5.2, 4.4))
    for ax, name in zip(np.asarray(axes).reshape(-1), NAMES, strict=True):
        errors = 100 * heatmap(config, name, results, "test_error")
        lrs, decays = config.lrs(name), config.decays(name)
        best = errors.min()
        image = ax.imshow(
            errors,
            origin="lower",
            cmap="viridis",
            vmin=best,
            vmax=min(errors.max(), best + 10),
            aspect="auto",
        )
        fig.colorbar(image, ax=ax, label="test error (%)")
        for i in range(len(lrs)):
            for j in range(len(decays)):
                ax.text(j, i, f"{errors[i, j]:.1f}", ha="center", va="center", fontsize=7,
                        color="k" if errors[i, j] > best + 5 else "w")  # fmt: skip
        i, j = np.unravel_index(np.argmin(errors), errors.shape)
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="r", lw=2))
        # the ridge, in grid coordinates: log λ → position along the decay axis
        logs = np.log10(decays)
        position = np.interp(ridges[name]["log10_decay"], logs, np.arange(len(decays)))
        used = np.asarray(ridges[name]["used"])
        rows = np.arange(len(lrs))
        ax.plot(position, rows, "w--", lw=1)
        ax.plot(position[used], rows[used], "wo", ms=4)
        ax.set_xticks(range(len(decays)), [f"{d:.2g}" for d in decays], rotation=45, fontsize=8)
        ax.set_yticks(range(len(lrs)), [f"{a:.2g}" for a in lrs], fontsize=8)
        ax.grid(False)
        ax.set(
            xlabel="weight decay λ" + (" (L2)" if not name.endswith("w") else " (decoupled)"),
            ylabel="learning rate α",
            title=f"{LABELS[name]}: best {best:.2f}%, slope {ridges[name]['slope']:.2f}",
        )
    fig.tight_layout()
    return fig


def ridge_figure(config: Config, ridges: dict[str, Any]):
    """The best weight decay of each learning rate (the ridge) against the learning rate, log
    scales, with the least-squares line over the columns used: slope −1 is a diagonal basin,
    0 an axis-aligned one."""
    fig, axes = figure(ncols=2, size=(4.8, 4.0))
    axes = np.asarray(axes).reshape(-1)
    colours = {"sgd": "C0", "sgdw": "C3", "adam": "C0", "adamw": "C3"}
    for name in NAMES:
        ax = axes[0] if name.startswith("sgd") else axes[1]
        x = np.log10(config.lrs(name))
        y = np.asarray(ridges[name]["log10_decay"])
        used = np.asarray(ridges[name]["used"])
        slope = ridges[name]["slope"]
        ax.plot(x, y, "o:", color=colours[name], alpha=0.5)
        ax.plot(x[used], y[used], "o", color=colours[name], label=f"{LABELS[name]}: {slope:.2f}")
        if np.isfinite(slope):
            fit = np.polyfit(x[used], y[used], 1)
            ax.plot(x[used], np.polyval(fit, x[used]), "-", color=colours[name])
    for ax, title in zip(axes, ("SGD", "Adam"), strict=True):
        ax.set(xlabel="log₁₀ learning rate α", ylabel="log₁₀ best weight decay λ",
               title=f"{title}: the best λ against α (slope)")  # fmt: skip
        ax.legend()
    fig.tight_layout()
    return fig


LAB = Lab(
    name="adamw",
    title="Decoupled weight decay: the best weight decay stops moving with the learning rate",
    source="Loshchilov & Hutter 2019 (ICLR), 'Decoupled Weight Decay Regularization', Fig. 2, "
    "Algs. 1-2",
    courses=("ece472",),
    config=Config,
    run=run,
    footprint=footprint,
    quick={
        "data": "digits",
        "train_size": 600,
        "val_size": 300,
        "width": 32,
        "epochs": 6,
        "batch_size": 64,
        "sgd_lrs": (0.03, 0.3, 3.0),
        "adam_lrs": (3e-4, 3e-3, 0.03),
        "sgd_decays": (1e-4, 1e-3, 1e-2),
        "sgdw_decays": (1e-5, 1e-4, 1e-3),
        "adam_decays": (1e-4, 1e-3, 1e-2),
        "adamw_decays": (1e-4, 1e-3, 1e-2),
        "best_seeds": 1,
        "ridge_columns": 0.2,
    },
    targets=[
        Target(
            "adamw_minus_adam_best_error",
            "<=",
            0.0,
            "Loshchilov & Hutter 2019 Fig. 2 (bottom row) and Sec. 4.3: AdamW's best test error "
            "at most Adam + L2's (each best cell's mean over seeds)",
            paper="AdamW below Adam + L2 at the best settings (Fig. 2)",
        ),
        Target(
            "adam_ridge_slope",
            "<=",
            -0.5,
            "Loshchilov & Hutter 2019 Fig. 2 (bottom left): with L2 the best λ moves with α, a "
            "diagonal basin (slope of log best λ against log α; −1 is λ ∝ 1/α)",
            paper="diagonal basin: best λ falls as α rises",
        ),
        Target(
            "adamw_over_adam_slope_ratio",
            "<=",
            0.5,
            "Loshchilov & Hutter 2019 Fig. 2 (bottom right): decoupled, the best λ moves much "
            "less with α (|slope AdamW| at most half |slope Adam + L2|)",
            paper="a more separable hyperparameter space (Fig. 2)",
        ),
    ],
    # digits, 3×3 grids of 8 epochs: every optimiser's best cell reaches 8.5-9% error
    # (measured); a broken update rule stays near 90%.
    quick_targets=[
        Target("adamw_best_test_error", "<=", 0.2, "quick mode: AdamW trains on the digits"),
        Target("adam_best_test_error", "<=", 0.2, "quick mode: Adam + L2 trains"),
        Target("sgdw_best_test_error", "<=", 0.2, "quick mode: SGDW trains"),
        Target("sgd_best_test_error", "<=", 0.2, "quick mode: SGD + L2 trains"),
    ],
    summary="SGD/SGDW and Adam/AdamW over 6×6 (α, λ) grids on Fashion-MNIST: with L2 the best "
    "λ moves with α under Adam, decoupled it hardly moves",
    # 19.9 min: 156 trainings of ~7.7 s, one thread on 2 cores shared with two other jobs
    # (load ≈ 3); about 4.5 s a training on an idle core
    time_full="20 min",
    time_quick="10 s",  # 10.1 s at load ≈ 3
)
