"""The tricks of the trade, one at a time: a plain baseline on a small Fashion-MNIST training
set, and the same training with exactly one trick switched on, over several seeds, each row's
test accuracy compared with the baseline's by a paired t-test.

Problem: Fashion-MNIST (Xiao et al. 2017), a seeded random 5,000 of the 60,000 training images
per seed (a small set, so that the network overfits and regularisers have room), 5,000 others
for validation (early stopping only), the 10,000 test images for the table.

Baseline: a multilayer perceptron 784 → 256 → 256 → 10 with ReLUs, the pixels as they come in
[0, 1], weights drawn "naively" from N(0, 0.01²) (the small random numbers of CS231n's notes),
SGD with momentum 0.9 and a cosine-annealed rate, cross-entropy, a fixed number of epochs, the
final weights evaluated. Everything a trick would change is off.

Rows, each the baseline with one change (its textbook setting, untuned; the docs say why):
He initialisation, standardised inputs, batch norm, dropout, L2 weight decay, augmentation
(mirror and shift by a pixel), label smoothing, linear warm-up, gradient clipping, early
stopping on the validation accuracy, mixup, and an ensemble of five baseline trainings that
average their probabilities. The library pieces are in :mod:`practicum.tricks`.

Common random numbers: within seed r every row starts from the same standard-normal draws of
the weights (He only rescales them; batch norm adds layers without weights of its own to draw),
sees the same training subset and the same batch order, and draws its dropout masks,
augmentations and mixup pairs from one stream. The rows of a seed differ by their trick alone,
so the per-seed difference to the baseline is far less noisy than either accuracy, which is
what the paired t-test uses. Early stopping needs no training of its own: it watches the
baseline's validation accuracy and keeps its best weights (what a stopped run would have). The
ensemble's first member is the baseline itself; members 2-5 are baselines with their own
weights and batch order.

Resuming: every training is one iteration of ``run.loop``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from practicum import tricks
from practicum.data.batching import augment, batch_indices, to_float_images, train_val_split
from practicum.data.vision import load_digits_uint8, load_mnist
from practicum.errors import PracticumError
from practicum.footprint import MNIST_VALUES, mlp_parameters, training_bytes
from practicum.io import atomic_write_text
from practicum.lab import Lab, Target, bounded
from practicum.nn import init as initialisers
from practicum.nn.optimizers import cosine_multiplier
from practicum.plotting import figure
from practicum.repro import sub_seed
from practicum.run import Run
from practicum.sanity import SanityProblem

ROWS = (
    "baseline",
    "he_init",
    "input_norm",
    "batch_norm",
    "dropout",
    "weight_decay",
    "augmentation",
    "label_smoothing",
    "warmup",
    "grad_clip",
    "early_stopping",
    "mixup",
    "ensemble",
)
LABELS = {
    "baseline": "baseline",
    "he_init": "He initialisation",
    "input_norm": "input normalisation",
    "batch_norm": "batch norm",
    "dropout": "dropout",
    "weight_decay": "weight decay (L2)",
    "augmentation": "augmentation",
    "label_smoothing": "label smoothing",
    "warmup": "warm-up",
    "grad_clip": "gradient clipping",
    "early_stopping": "early stopping",
    "mixup": "mixup",
    "ensemble": "ensemble",
}
TRAINED = tuple(r for r in ROWS if r not in ("early_stopping", "ensemble"))  # their own training


# ---- config --------------------------------------------------------------------------------
@dataclass
class Config:
    data: Literal["fashion-mnist", "digits"] = "fashion-mnist"  # digits: scikit-learn's 8×8
    train_size: int = bounded(5000, "[10, 60000]")  # small: the baseline overfits
    val_size: int = bounded(5000, "[1, 30000]")  # early stopping's only
    seeds: int = bounded(5, "[2, 100]")  # every row over these; a paired t-test needs ≥ 2
    width: int = bounded(256, "[1, 4096]")  # units of each hidden layer
    depth: int = bounded(2, "[1, 16]")  # hidden layers
    epochs: int = bounded(60, "[1, 10000]")  # the baseline fits ~98% of its training set
    batch_size: int = bounded(128, "[1, 4096]")
    lr: float = bounded(0.05, "(0, 10]")  # SGD's peak rate, annealed by a cosine to 0
    momentum: float = bounded(0.9, "[0, 1)")
    naive_std: float = bounded(0.01, "(0, 10]")  # the baseline's N(0, σ²) weights
    # The tricks, each at its textbook setting (untuned: the question is what a trick does when
    # switched on as published, not how far it can be tuned).
    dropout: float = bounded(0.5, "(0, 1)")  # Srivastava et al. 2014: p = 0.5 for hidden units
    weight_decay: float = bounded(5e-4, "(0, 1]")  # L2 coefficient, the common CIFAR value
    shift: int = bounded(1, "[0, 8]")  # augmentation: shift by up to this many pixels
    flip: bool = True  # augmentation: mirror left-right (a mirrored garment is one)
    smoothing: float = bounded(0.1, "(0, 1)")  # Szegedy et al. 2016's ε
    warmup_epochs: float = bounded(3.0, "(0, 1000]")  # linear warm-up: 5% of the epochs
    clip_norm: float = bounded(1.0, "(0, 1e6]")  # the global gradient norm's ceiling
    patience: int = bounded(10, "[1, 1000]")  # early stopping: epochs without a better val acc
    mixup_alpha: float = bounded(0.2, "(0, 100]")  # Zhang et al. 2018's ImageNet α
    ensemble_size: int = bounded(5, "[2, 100]")  # members, the first the baseline itself
    significance: float = bounded(0.05, "(0, 1)")  # a paired t-test's p at most this
    eval_batch: int = bounded(5000, "[1, 100000]")

    def validate(self) -> None:
        if self.shift == 0 and not self.flip:
            raise PracticumError("augmentation needs shift >= 1 or flip=true")


def footprint(config: Config) -> int:
    side = 28 if config.data == "fashion-mnist" else 8
    params = mlp_parameters([side * side] + [config.width] * config.depth + [10])
    data = MNIST_VALUES if config.data == "fashion-mnist" else 1797 * 64
    # the test probabilities of every ensemble member, kept for the ensemble and its curve
    probs = config.seeds * config.ensemble_size * 10_000 * 10 * 4
    activations = max(config.batch_size, config.eval_batch) * config.depth * config.width * 4
    return training_bytes(params, activations, data) + probs


# ---- data ----------------------------------------------------------------------------------
@dataclass
class Split:
    """Images as float (N, 1, H, W) in [0, 1], labels, and the training part's pixel mean and
    standard deviation (the statistics input normalisation uses)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    mean: float
    std: float


def load_arrays(config: Config) -> tuple[torch.Tensor, ...]:
    return load_mnist("fashion-mnist") if config.data == "fashion-mnist" else load_digits_uint8()


def split(arrays: tuple[torch.Tensor, ...], config: Config, seed: int, device: str) -> Split:
    """Seed ``seed``'s split: ``val_size`` validation images (stratified), a random
    ``train_size`` of the rest, the whole test set; pixels scaled to [0, 1] only."""
    x, y, x_test, y_test = arrays
    if config.val_size + config.train_size > len(y):
        raise PracticumError(
            f"train_size + val_size = {config.train_size + config.val_size} exceeds the "
            f"{len(y)} training images of {config.data}"
        )
    train, val = train_val_split(len(y), config.val_size, seed, y.numpy())
    train = np.sort(np.random.default_rng(seed).permutation(train)[: config.train_size])

    def floats(images: torch.Tensor) -> torch.Tensor:
        return to_float_images(images, mean=[0.0], std=[1.0]).to(device)

    x_train = floats(x[train])
    return Split(
        x_train,
        y[train].to(device),
        floats(x[val]),
        y[val].to(device),
        floats(x_test),
        y_test.to(device),
        float(x_train.mean()),
        float(x_train.std()),
    )


# ---- model ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Setting:
    """What one training does: the baseline with at most one of these changed."""

    init: Literal["naive", "he"] = "naive"
    normalise: bool = False
    batch_norm: bool = False
    dropout: float = 0.0
    weight_decay: float = 0.0
    augment: bool = False
    smoothing: float = 0.0
    warmup_epochs: float = 0.0
    clip_norm: float = 0.0  # 0: no clipping
    mixup_alpha: float = 0.0  # 0: no mixup


def setting(row: str, config: Config) -> Setting:
    """The baseline's setting with ``row``'s trick switched on (early stopping and the ensemble
    train baselines)."""
    change: dict[str, Any] = {
        "he_init": {"init": "he"},
        "input_norm": {"normalise": True},
        "batch_norm": {"batch_norm": True},
        "dropout": {"dropout": config.dropout},
        "weight_decay": {"weight_decay": config.weight_decay},
        "augmentation": {"augment": True},
        "label_smoothing": {"smoothing": config.smoothing},
        "warmup": {"warmup_epochs": config.warmup_epochs},
        "grad_clip": {"clip_norm": config.clip_norm},
        "mixup": {"mixup_alpha": config.mixup_alpha},
    }.get(row, {})
    return dataclasses.replace(Setting(), **change)


class MLP(nn.Module):
    """Flatten → ``depth`` × (linear → [batch norm] → ReLU → [dropout]) → linear. Optional
    standardisation of the input by fixed statistics is its first step, so it is part of the
    model that a sanity check or an ensemble member is handed."""

    def __init__(
        self,
        inputs: int,
        width: int,
        depth: int,
        classes: int = 10,
        batch_norm: bool = False,
        dropout: float = 0.0,
        mean: float = 0.0,
        std: float = 1.0,
    ) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))
        layers: list[nn.Module] = [nn.Flatten()]
        for i in range(depth):
            layers.append(nn.Linear(inputs if i == 0 else width, width))
            if batch_norm:
                layers.append(nn.BatchNorm1d(width))
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(width, classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)


def initialise(model: nn.Module, scheme: Literal["naive", "he"], std: float, seed: int) -> None:
    """Every linear layer's weights from one stream of standard normals, scaled by ``std``
    (naive) or by He et al.'s √(2 / fan_in); biases zero. The same seed gives the same draws
    for both schemes: He only rescales them."""
    generator = torch.Generator().manual_seed(seed)
    for layer in initialisers.weighted_layers(model):
        scale = std if scheme == "naive" else initialisers.he_std(layer.weight)
        initialisers.fill_(layer.weight, scale, generator)
        with torch.no_grad():
            layer.bias.zero_()


def build(config: Config, s: Setting, data: Split, seed: int, device: str) -> MLP:
    side = data.x_train.shape[-1]
    model = MLP(
        side * side,
        config.width,
        config.depth,
        batch_norm=s.batch_norm,
        dropout=s.dropout,
        mean=data.mean if s.normalise else 0.0,
        std=data.std if s.normalise else 1.0,
    )
    initialise(model, s.init, config.naive_std, seed)
    return model.to(device)


# ---- one training --------------------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    """One training: a row (or ``member`` k ≥ 1 of the ensemble) for seed index ``repeat``."""

    row: str
    repeat: int
    member: int = 0

    @property
    def key(self) -> str:
        return f"{self.row}_s{self.repeat}" + (f"_m{self.member}" if self.member else "")


def plan(config: Config) -> list[Job]:
    """Per seed: each trained row, then the ensemble's extra members."""
    jobs = []
    for r in range(config.seeds):
        jobs += [Job(row, r) for row in TRAINED]
        jobs += [Job("baseline", r, k) for k in range(1, config.ensemble_size)]
    return jobs


@torch.no_grad()
def logits_of(model: nn.Module, x: torch.Tensor, batch: int) -> torch.Tensor:
    model.eval()
    out = torch.cat([model(x[i : i + batch]) for i in range(0, len(x), batch)])
    model.train()
    return out


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return 100.0 * float((logits.argmax(1) == y).float().mean())


def train(
    config: Config, s: Setting, data: Split, streams: tuple[int, int, int], device: str
) -> dict[str, Any]:
    """``epochs`` epochs of SGD with momentum under ``s``; the final test accuracy, the
    validation accuracy after every epoch, and (for a baseline) early stopping's pick."""
    init_seed, order_seed, noise_seed = streams
    torch.manual_seed(noise_seed)  # dropout's masks
    model = build(config, s, data, init_seed, device)
    optimiser = torch.optim.SGD(
        model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=s.weight_decay
    )
    order = torch.Generator().manual_seed(order_seed)
    noise = torch.Generator().manual_seed(noise_seed)
    stopper = tricks.EarlyStopping(config.patience)
    n = len(data.y_train)
    per_epoch = n // config.batch_size
    total, warmup = config.epochs * per_epoch, round(s.warmup_epochs * per_epoch)
    step, clipped, losses, val_acc, grad_norms = 0, 0, [], [], []
    for epoch in range(config.epochs):
        epoch_loss = 0.0
        for index in batch_indices(n, config.batch_size, order, drop_last=True):
            multiplier = cosine_multiplier(step, total) * tricks.warmup_multiplier(step, warmup)
            for group in optimiser.param_groups:
                group["lr"] = config.lr * multiplier
            index = index.to(device)
            x, y = data.x_train[index], data.y_train[index]
            if s.augment:
                x = augment(x, noise, crop_padding=config.shift, flip=config.flip)
            if s.mixup_alpha > 0:
                mixed = tricks.mixup(x, y, 10, s.mixup_alpha, noise)
                loss = tricks.soft_cross_entropy(model(mixed.x), mixed.targets)
            elif s.smoothing > 0:
                loss = tricks.label_smoothing_loss(model(x), y, s.smoothing)
            else:
                loss = F.cross_entropy(model(x), y)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            if s.clip_norm > 0:
                norm = tricks.clip_global_norm_(model.parameters(), s.clip_norm)
                clipped += norm > s.clip_norm
                grad_norms.append(norm)
            optimiser.step()
            epoch_loss += float(loss.detach())
            step += 1
        losses.append(epoch_loss / per_epoch)
        val_acc.append(accuracy(logits_of(model, data.x_val, config.eval_batch), data.y_val))
        stopper.update(epoch, val_acc[-1], model)
    test_logits = logits_of(model, data.x_test, config.eval_batch)
    result: dict[str, Any] = {
        "test_acc": accuracy(test_logits, data.y_test),
        "train_acc": accuracy(logits_of(model, data.x_train, config.eval_batch), data.y_train),
        "val_acc": val_acc,
        "train_loss": losses,
        "test_probs": F.softmax(test_logits, dim=1).cpu(),
        "model": model,
    }
    if s.clip_norm > 0:
        result["clipped_fraction"] = clipped / max(step, 1)
        result["median_grad_norm"] = float(np.median(grad_norms))
    if stopper.state is not None:
        final = {k: v.clone() for k, v in model.state_dict().items()}
        model.load_state_dict(stopper.state)
        result["early_stopping_acc"] = accuracy(
            logits_of(model, data.x_test, config.eval_batch), data.y_test
        )
        result["early_stopping_epoch"] = stopper.best_epoch + 1
        result["early_stopping_stopped"] = (
            config.epochs if stopper.stopped_epoch is None else stopper.stopped_epoch + 1
        )
        model.load_state_dict(final)
    return result


def streams(run_seed: int, job: Job) -> tuple[int, int, int]:
    """(initial weights, batch order, noise) of a job: shared by every row of a seed index;
    the ensemble's members k ≥ 1 get streams of their own."""
    return tuple(sub_seed(run_seed, job.repeat, job.member, what) for what in range(3))


# ---- the table -----------------------------------------------------------------------------
def row_accuracies(config: Config, results: dict[str, dict[str, Any]], probs: dict) -> dict:
    """Each row's test accuracy per seed (%)."""
    out: dict[str, list[float]] = {}
    for row in ROWS:
        values = []
        for r in range(config.seeds):
            if row == "early_stopping":
                values.append(results[Job("baseline", r).key]["early_stopping_acc"])
            elif row == "ensemble":
                values.append(ensemble_accuracy(config, probs, r, config.ensemble_size))
            else:
                values.append(results[Job(row, r).key]["test_acc"])
        out[row] = values
    return out


def ensemble_accuracy(config: Config, probs: dict, repeat: int, members: int) -> float:
    mean = torch.stack([probs[f"s{repeat}_m{k}"] for k in range(members)]).mean(0)
    return accuracy(mean, probs["y_test"])


def table(config: Config, accs: dict[str, list[float]]) -> tuple[dict[str, float], str]:
    """The metrics of every row (mean, std, paired gain, its s.e., 95% CI, p, significant) and
    the same as a Markdown table."""
    metrics: dict[str, float] = {}
    lines = [
        f"Test accuracy (%) over {config.seeds} seeds; gain = paired mean difference to the "
        f"baseline (points), paired t-test with {config.seeds - 1} degrees of freedom, "
        f"significant at p ≤ {config.significance:g}.",
        "",
        "| row | accuracy (mean ± std) | gain | 95% CI | p | significant |",
        "|---|---|---|---|---|---|",
    ]
    base = accs["baseline"]
    for row in ROWS:
        values = np.asarray(accs[row])
        metrics[f"{row}_acc_mean"] = float(values.mean())
        metrics[f"{row}_acc_std"] = float(values.std(ddof=1))
        cell = f"{values.mean():.2f} ± {values.std(ddof=1):.2f}"
        if row == "baseline":
            lines.append(f"| {LABELS[row]} | {cell} | – | – | – | – |")
            continue
        test = tricks.paired_t_test(base, accs[row])
        significant = test.significant(config.significance)
        metrics |= {
            f"{row}_gain": test.mean,
            f"{row}_gain_se": test.se,
            f"{row}_gain_ci_low": test.ci_low,
            f"{row}_gain_ci_high": test.ci_high,
            f"{row}_p": test.p,
            f"{row}_significant": float(significant),
        }
        verdict = ("yes, a gain" if test.mean > 0 else "yes, a loss") if significant else "no"
        lines.append(
            f"| {LABELS[row]} | {cell} | {test.mean:+.2f} | [{test.ci_low:+.2f}, "
            f"{test.ci_high:+.2f}] | {test.p:.3g} | {verdict} |"
        )
    return metrics, "\n".join(lines) + "\n"


# ---- the run -------------------------------------------------------------------------------
def run(config: Config, run: Run) -> dict[str, float]:
    arrays = load_arrays(config)
    jobs = plan(config)
    run.print(
        f"{config.data}: {config.train_size} training, {config.val_size} validation, "
        f"{len(arrays[3])} test images per seed; {len(jobs)} trainings ({config.seeds} seeds)"
    )
    results: dict[str, dict[str, Any]] = {}  # per job: numbers and lists
    probs: dict[str, torch.Tensor] = {"y_test": arrays[3].clone()}  # ensemble members' softmax
    params: dict[str, dict[str, torch.Tensor]] = {}  # each seed's final baseline weights
    state = {"results": results, "probs": probs, "params": params}
    data, data_repeat = None, -1
    for i in run.loop(len(jobs), state, desc="training", every=5):
        job = jobs[i]
        if job.repeat != data_repeat:
            data, data_repeat = (
                split(arrays, config, sub_seed(run.seed, job.repeat), run.device),
                job.repeat,
            )
        start = run.elapsed()
        result = train(config, setting(job.row, config), data, streams(run.seed, job), run.device)
        model, member_probs = result.pop("model"), result.pop("test_probs")
        if job.row == "baseline":
            probs[f"s{job.repeat}_m{job.member}"] = member_probs
            if job.member == 0:
                params[job.key] = {
                    k: v.detach().cpu().clone() for k, v in model.state_dict().items()
                }
        results[job.key] = result
        line = {k: v for k, v in result.items() if not isinstance(v, list)}
        run.log(training=job.key, **line, seconds=run.elapsed() - start)
        run.print(f"{job.key}: test accuracy {result['test_acc']:.2f}%")

    accs = row_accuracies(config, results, probs)
    metrics, markdown = table(config, accs)
    baseline = [results[Job("baseline", r).key] for r in range(config.seeds)]
    metrics["baseline_train_acc_mean"] = float(np.mean([b["train_acc"] for b in baseline]))
    metrics["early_stopping_epoch_mean"] = float(
        np.mean([b["early_stopping_epoch"] for b in baseline])
    )
    clip = [results[Job("grad_clip", r).key] for r in range(config.seeds)]
    metrics["grad_clip_clipped_fraction"] = float(np.mean([c["clipped_fraction"] for c in clip]))
    metrics["grad_clip_median_norm"] = float(np.mean([c["median_grad_norm"] for c in clip]))
    curve = [
        float(np.mean([ensemble_accuracy(config, probs, r, m) for r in range(config.seeds)]))
        for m in range(1, config.ensemble_size + 1)
    ]
    run.write_json("accuracies.json", {"per_seed": accs, "ensemble_curve": curve})
    atomic_write_text(run.dir / "table.md", markdown)
    run.print(markdown)
    run.save_figure(gains_figure(config, metrics, accs), "gains")
    run.save_figure(curves_figure(config, results, curve), "curves")
    run.set_params(params)
    return metrics


# ---- figures -------------------------------------------------------------------------------
def gains_figure(config: Config, metrics: dict[str, float], accs: dict[str, list[float]]):
    """Left: each row's paired gain over the baseline with its 95% CI, one dot per seed,
    significant rows filled. Right: each row's test accuracy per seed."""
    fig, axes = figure(ncols=2, size=(5.4, 4.6))
    ax1, ax2 = axes[0]
    rows = [r for r in ROWS if r != "baseline"]
    ypos = np.arange(len(rows))[::-1]
    base = np.asarray(accs["baseline"])
    for y, row in zip(ypos, rows, strict=True):
        gain, lo, hi = (metrics[f"{row}_gain{s}"] for s in ("", "_ci_low", "_ci_high"))
        colour = "C2" if gain > 0 else "C3"
        filled = metrics[f"{row}_significant"] > 0
        ax1.plot([lo, hi], [y, y], color=colour, lw=2)
        ax1.plot(gain, y, "o", ms=8, color=colour, mfc=colour if filled else "white")
        ax1.plot(np.asarray(accs[row]) - base, np.full(len(base), y + 0.25), ".", color="0.5", ms=4)
    ax1.axvline(0, color="0.3", lw=1)
    ax1.set_yticks(ypos, [LABELS[r] for r in rows])
    ax1.set(
        xlabel="test accuracy − baseline's (points)",
        title=f"Paired gain, 95% CI ({config.seeds} seeds; filled: p ≤ {config.significance:g})",
    )
    ypos_all = np.arange(len(ROWS))[::-1]
    for y, row in zip(ypos_all, ROWS, strict=True):
        values = np.asarray(accs[row])
        ax2.plot(values, np.full(len(values), y), "o", color="C0", alpha=0.6, ms=4)
        ax2.plot(values.mean(), y, "|", color="k", ms=14, mew=2)
    ax2.axvline(base.mean(), color="0.5", ls="--", lw=1)
    ax2.set_yticks(ypos_all, [LABELS[r] for r in ROWS])
    ax2.set(xlabel="test accuracy (%)", title="Every seed (bar: mean)")
    fig.tight_layout()
    return fig


def curves_figure(config: Config, results: dict[str, dict[str, Any]], curve: list[float]):
    """Left: validation accuracy per epoch of seed 0's trainings, early stopping's pick marked.
    Right: the ensemble's test accuracy against its number of members (mean over seeds)."""
    fig, axes = figure(ncols=2, size=(5.2, 4.8))
    ax1, ax2 = axes[0]
    epochs = np.arange(1, config.epochs + 1)
    for i, row in enumerate(TRAINED):
        r = results[Job(row, 0).key]
        ax1.plot(epochs, r["val_acc"], lw=2 if row == "baseline" else 1,
                 color="k" if row == "baseline" else f"C{i % 10}", label=LABELS[row])  # fmt: skip
    base = results[Job("baseline", 0).key]
    pick = base["early_stopping_epoch"]
    ax1.plot(pick, base["val_acc"][pick - 1], "k*", ms=12, label="early stopping's pick")
    ax1.set(xlabel="epoch", ylabel="validation accuracy (%)", title="Seed 0: validation accuracy")
    low = min(min(results[Job(row, 0).key]["val_acc"][config.epochs // 4 :]) for row in TRAINED)
    ax1.set_ylim(low - 1, None)
    # Below the axes: inside, twelve entries covered the curves they name.
    ax1.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False)
    ax2.plot(range(1, len(curve) + 1), curve, "o-")
    ax2.set(xlabel="members", ylabel="test accuracy (%)",
            title="Ensemble of baselines (mean over seeds)")  # fmt: skip
    ax2.set_xticks(range(1, len(curve) + 1))
    fig.tight_layout()
    return fig


# ---- sanity checks (`practicum debug tricks-of-the-trade`) ----------------------------------
def sanity(config: Config, run: Run) -> SanityProblem:
    """The baseline's model, freshly initialised, and a batch of 64 of its training images."""
    data = split(load_arrays(config), config, sub_seed(run.seed, 0), run.device)
    model = build(
        config, setting("baseline", config), data, sub_seed(run.seed, 0, 0, 0), run.device
    )
    take = min(64, len(data.y_train))
    return SanityProblem(model, data.x_train[:take], data.y_train[:take], num_classes=10)


LAB = Lab(
    name="tricks-of-the-trade",
    title="The tricks of the trade, one at a time, against one baseline over paired seeds",
    source="DTU 02456 week 6 (tricks of the trade); Karpathy 2019, 'A Recipe for Training "
    "Neural Networks'",
    courses=("dtu02456", "ovgu"),
    config=Config,
    run=run,
    footprint=footprint,
    sanity=sanity,
    quick={
        "data": "digits",
        "train_size": 1000,
        "val_size": 300,
        "seeds": 2,
        "width": 32,
        "epochs": 8,
        "batch_size": 64,
        "flip": False,  # a mirrored digit is another digit (or none)
        "ensemble_size": 3,
        "naive_std": 0.1,  # 0.01 leaves 32 units on 8×8 digits at chance for 8 epochs
    },
    targets=[
        Target(
            "augmentation_gain",
            ">=",
            0.0,
            "DTU 02456 week 6 and Karpathy 2019 (regularise: augment the data): augmentation's "
            "paired mean gain in test accuracy over the baseline is positive",
        ),
        Target(
            "ensemble_gain",
            ">=",
            0.0,
            "DTU 02456 week 6 and Karpathy 2019 ('ensembles are a pretty much guaranteed way to "
            "gain 2% of accuracy on anything'): an ensemble of five beats one member",
        ),
        Target(
            "ensemble_p",
            "<=",
            0.05,
            "Karpathy 2019 (ensembles): the ensemble's gain is significant, a paired t-test "
            "over the seeds at p ≤ 0.05",
        ),
    ],
    # digits, 8 epochs of a 32-unit MLP: a baseline that learns reaches ~90%, a broken one
    # stays near 10%
    quick_targets=[
        Target("he_init_acc_mean", ">=", 70.0, "quick mode: the network learns the digits"),
        Target("ensemble_acc_mean", ">=", 70.0, "quick mode: the ensemble averages learners"),
    ],
    summary="a Fashion-MNIST MLP baseline and twelve tricks, each alone, over five paired "
    "seeds: test accuracy, paired gain, t-test",
    time_full="17 min",  # 16.9 min: 75 trainings of ~13.5 s, one thread, the other core busy
    time_quick="5 s",
)
