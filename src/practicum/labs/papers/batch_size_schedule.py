"""Decaying the learning rate against increasing the batch size (Smith, Kindermans, Ying & Le
2018, "Don't Decay the Learning Rate, Increase the Batch Size", ICLR, Sec. 5.1, Figs. 1-3).

Claim: what a learning-rate decay does is lower the noise scale of SGD, g = ε N / (B (1 − m))
(Sec. 3), so growing the batch B by the factor the rate ε would fall gives the same training
curve and test accuracy at equal epochs, in far fewer parameter updates. Their Sec. 5.1 trains a
16-4 wide ResNet on CIFAR-10 with three schedules (Fig. 1), each dividing g by 5 at epochs 60,
120 and 160 of 200 (the schedule of Zagoruyko & Komodakis's wide ResNet code, ε₀ = 0.1, B₀ =
128): "decaying learning rate" (ε ÷ 5, B = 128), "increasing batch size" (ε = 0.1, B × 5: 128,
640, 3200, 16000) and "hybrid" (B × 5 at the first step, then ε ÷ 5). The three curves of
training cross-entropy (Fig. 2a) and test accuracy (Fig. 3a) against epochs lie on each other;
against updates (Fig. 2b) the growing batch gets there in about 0.37 of the updates.

Scaled to one CPU thread (:class:`Config` says why each number): 16,000 CIFAR-10 training
images (the JPEG copy), a three-stage CNN with group normalisation, 10 epochs with the steps at
epochs 3, 6 and 8 (the paper's 0.3, 0.6, 0.8 of training), factor 5, B₀ = 16, so the largest
batch is 2,000 (an eighth of the training set; the paper's 16,000 is a third of 50,000).

Schedules (:mod:`practicum.data.batch_schedule`): the three above, g(epoch) identical in closed
form; every epoch sees every training image once in ⌈N / B⌉ batches of near-equal size.

Training: SGD with momentum 0.9 (as the paper; torch's form v ← m v + g, θ ← θ − ε v, theirs
too), weight decay 5e-4, random crops (4 pixels) and flips. Group normalisation instead of the
paper's ghost batch norm: both make an example's gradient independent of the batch it is in,
which the noise-scale argument needs (Sec. 5.1: "the mean gradient is independent of batch
size"); group norm needs no ghost-batch size. A large batch is computed in micro-batches of
``micro_batch`` images whose gradients are summed: the same gradient as one pass (per-example
normalisation), and faster on a CPU's caches.

Seeds: each repeat draws one initialisation and one generator of batch orders and crops,
shared by the three schedules, so they are identical until the first step and differ only by
what the schedules do. Segments that two schedules share (the first phase, and the second of
grow-batch and hybrid) are trained once and branched, which saves 30% of the run; a schedule's
history is the chain of its segments.

Evaluation: the validation accuracy (2,000 images held out of the training set) after every
epoch, for the curves; the test accuracy (all 10,000) once, at the end of each training; the
training loss is the mean minibatch loss of each epoch.

Resuming: every segment is one iteration of ``run.loop``; a segment's state (weights, momentum,
generator) is kept until the segments that continue it are trained.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from practicum.data.batch_schedule import MODES, StepSchedule, even_batches
from practicum.data.batching import ImageSplit, augment, split_image_data
from practicum.data.vision import ImageData, load_cifar10_jpeg, load_digits_rgb
from practicum.errors import PracticumError
from practicum.footprint import conv_stack_bytes
from practicum.lab import Lab, Target, bounded
from practicum.nn import Classifier, GroupNorm
from practicum.plotting import figure
from practicum.repro import sub_seed
from practicum.run import Run

LABELS = {
    "decay-lr": "decaying learning rate",
    "grow-batch": "increasing batch size",
    "hybrid": "hybrid",
}
COLOURS = {"decay-lr": "C0", "grow-batch": "C3", "hybrid": "C2"}
STYLES = {"decay-lr": "-", "grow-batch": "--", "hybrid": ":"}
TRAIN_IMAGES = {"cifar10-jpeg": 50_000, "digits": 1_397}  # before the validation split


def metric_name(mode: str) -> str:
    return mode.replace("-", "_")


# ---- config --------------------------------------------------------------------------------
@dataclass
class Config:
    data: Literal["cifar10-jpeg", "digits"] = "cifar10-jpeg"  # digits: 8×8, for quick runs
    # Training images, a seeded subset of the 50,000 less the validation split: 16,000 × 10
    # epochs is what 9 trainings fit in 25 minutes of one thread (~1,000 images/s measured).
    train_size: int = bounded(16_000, "[0, 1e6]")  # 0: all that is left
    val_size: int = bounded(2_000, "[1, 1e6]")  # held out of the training set, for the curves
    widths: tuple[int, ...] = bounded((16, 32, 64), "[1, 4096]")  # conv stages, each then a pool
    num_groups: int = bounded(8, "[1, 4096]")  # group normalisation
    # The paper's ε₀ = 0.1 at B₀ = 128 on N = 50,000 is g₀ = ε N / (B (1 − m)) = 391; ours,
    # 0.04 at 16 on 16,000, is 400: the same initial noise scale.
    learning_rate: float = bounded(0.04, "(0, 10]")  # initial
    batch_size: int = bounded(16, "[1, 1e6]")  # initial; × factor³ = 2,000 at the largest
    epochs: int = bounded(10, "[1, 10000]")  # the paper: 200
    milestones: tuple[int, ...] = bounded((3, 6, 8), "[1, 10000]")  # the paper: 60, 120, 160
    factor: float = bounded(5.0, "[1, 100]")  # the paper's
    hybrid_batch_steps: int = bounded(1, "[0, 100]")  # hybrid grows the batch at this many steps
    momentum: float = bounded(0.9, "[0, 1)")  # the paper's
    weight_decay: float = bounded(5e-4, "[0, 1]")  # Zagoruyko & Komodakis's
    crop_padding: int = bounded(4, "[0, 16]")  # random crops, as the wide ResNet code
    flip: bool = True
    seeds: int = bounded(3, "[1, 100]")  # repeats of all three schedules
    micro_batch: int = bounded(128, "[1, 1e6]")  # images per forward pass (gradients summed)
    eval_batch: int = bounded(1000, "[1, 1e6]")

    def validate(self) -> None:
        if any(m >= self.epochs for m in self.milestones):
            raise PracticumError(f"every milestone must be below epochs={self.epochs}")
        if list(self.milestones) != sorted(set(self.milestones)):
            raise PracticumError(f"milestones must increase, got {self.milestones}")
        if self.hybrid_batch_steps > len(self.milestones):
            raise PracticumError("hybrid_batch_steps cannot exceed the number of milestones")
        if not self.widths:
            raise PracticumError("widths needs at least one stage")
        if any(w % min(self.num_groups, w) for w in self.widths):
            raise PracticumError(f"every width must be divisible by num_groups={self.num_groups}")
        total = TRAIN_IMAGES[self.data]
        if self.val_size + self.train_size > total:
            raise PracticumError(
                f"val_size + train_size must be at most the {total:,} training images of "
                f"{self.data}"
            )
        n = self.train_size or total - self.val_size
        largest = max(schedule(self, m).max_batch_size() for m in MODES)
        if largest > n:
            raise PracticumError(
                f"the largest batch ({largest:,}) exceeds the {n:,} training images: "
                "lower batch_size or factor"
            )


def schedule(config: Config, mode: str) -> StepSchedule:
    return StepSchedule(
        config.learning_rate,
        config.batch_size,
        tuple(config.milestones),
        config.factor,
        mode,  # type: ignore[arg-type]
        config.hybrid_batch_steps,
    )


def footprint(config: Config) -> int:
    """A micro-batch through the CNN, and the 60,000 images as floats."""
    side = 8 if config.data == "digits" else 32
    return conv_stack_bytes(
        side, 3, config.widths, config.micro_batch, data=60_000 * 3 * side * side
    )


# ---- data ----------------------------------------------------------------------------------
def load(config: Config, seed: int, device: str) -> ImageSplit:
    """A stratified validation split and a seeded training subset, standardised with the
    training subset's statistics; the whole test set. (Config.validate has checked the sizes.)"""
    images: ImageData = load_digits_rgb() if config.data == "digits" else load_cifar10_jpeg()
    return split_image_data(images, config.val_size, seed, device, train_subset=config.train_size)


# ---- model ---------------------------------------------------------------------------------
def build(config: Config, classes: int, seed: int, device: str) -> nn.Module:
    """Conv 3×3 → group norm → ReLU → 2×2 max-pool per stage, global average pooling, a linear
    layer; He-initialised from ``seed`` (without touching the global generator)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Classifier(
            3,
            config.widths,
            [3] * len(config.widths),
            classes,
            norm="group",
            num_groups=config.num_groups,
        )
    for module in model.modules():  # torch's one-kernel group norm: the same function, faster
        if isinstance(module, GroupNorm):
            module.fused = True
    return model.to(device)


def accumulate_gradient(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, micro_batch: int
) -> float:
    """Backpropagate the mean cross-entropy of the batch in micro-batches, summing their
    gradients (each micro-batch's summed loss over the whole batch size); returns the mean loss.
    With per-example normalisation this is the gradient of one pass over the batch."""
    total = 0.0
    for start in range(0, len(y), micro_batch):
        logits = model(x[start : start + micro_batch])
        loss = F.cross_entropy(logits, y[start : start + micro_batch], reduction="sum")
        (loss / len(y)).backward()
        total += float(loss.detach())
    return total / len(y)


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int) -> float:
    model.eval()
    correct = sum(
        int((model(x[i : i + batch]).argmax(dim=1) == y[i : i + batch]).sum())
        for i in range(0, len(y), batch)
    )
    model.train()
    return correct / len(y)


# ---- segments: phases that schedules share are trained once ---------------------------------
@dataclass(frozen=True)
class Segment:
    """One phase of training of one repeat: from epoch ``start`` to ``stop`` at a learning rate
    and batch size, continuing ``parent`` (None: from the initialisation). ``key`` names the
    whole path of (rate, batch) phases so far, so two schedules that have done the same share it;
    ``modes`` are the schedules that pass through it, ``leaf`` whether one of them ends here."""

    key: str
    parent: str | None
    repeat: int
    start: int
    stop: int
    lr: float
    batch: int
    modes: tuple[str, ...]
    leaf: bool


def path(config: Config, mode: str, repeat: int) -> list[str]:
    """The keys of the segments that schedule ``mode`` of a repeat passes through."""
    keys, key = [], f"r{repeat}"
    for _, _, lr, batch in schedule(config, mode).phases(config.epochs):
        key += f"/{lr:g}x{batch}"
        keys.append(key)
    return keys


def plan(config: Config) -> list[Segment]:
    """Every distinct segment, repeat by repeat and phase by phase (so parents come first)."""
    segments: dict[str, dict[str, Any]] = {}
    phases = {mode: schedule(config, mode).phases(config.epochs) for mode in MODES}
    for r in range(config.seeds):
        paths = {mode: path(config, mode, r) for mode in MODES}
        for k in range(len(phases[MODES[0]])):  # the schedules share their milestones
            for mode in MODES:
                key, (start, stop, lr, batch) = paths[mode][k], phases[mode][k]
                seg = segments.setdefault(
                    key,
                    {
                        "key": key,
                        "parent": paths[mode][k - 1] if k else None,
                        "repeat": r,
                        "start": start,
                        "stop": stop,
                        "lr": lr,
                        "batch": batch,
                        "modes": (),
                        "leaf": False,
                    },
                )
                seg["modes"] += (mode,)
                seg["leaf"] = seg["leaf"] or k == len(paths[mode]) - 1
    return [Segment(**s) for s in segments.values()]


def stream_seed(run_seed: int, repeat: int, what: int) -> int:
    """The seed of a repeat's initialisation (``what=0``) or its batches and crops (1)."""
    return sub_seed(run_seed, repeat, what)


def train_segment(
    config: Config, seg: Segment, parent: dict[str, Any] | None, data: ImageSplit, run: Run
) -> tuple[dict[str, Any], list[dict[str, float]], nn.Module]:
    """Train one segment from its parent's state; returns the new state, one record per epoch
    and the model."""
    model = build(config, data.num_classes, stream_seed(run.seed, seg.repeat, 0), run.device)
    params = list(model.parameters())
    optimiser = torch.optim.SGD(
        params, lr=seg.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
    generator = torch.Generator().manual_seed(stream_seed(run.seed, seg.repeat, 1))
    updates = 0
    if parent is not None:
        model.load_state_dict(parent["model"])
        for p, buffer in zip(params, parent["momentum"], strict=True):
            optimiser.state[p]["momentum_buffer"] = buffer.to(run.device).clone()
        generator.set_state(parent["generator"])
        updates = int(parent["updates"])
    n = len(data.y_train)
    history = []
    for epoch in range(seg.start, seg.stop):
        loss_sum = 0.0
        for index in even_batches(n, seg.batch, generator):
            index = index.to(run.device)
            x = augment(data.x_train[index], generator, config.crop_padding, config.flip)
            optimiser.zero_grad()
            loss_sum += accumulate_gradient(
                model, x, data.y_train[index], config.micro_batch
            ) * len(index)
            optimiser.step()
            updates += 1
        record = {
            "epoch": epoch + 1,
            "lr": seg.lr,
            "batch_size": seg.batch,
            "updates": updates,
            "train_loss": loss_sum / n,
            "val_accuracy": accuracy(model, data.x_val, data.y_val, config.eval_batch),
        }
        history.append(record)
        run.log(segment=seg.key, **record)
    state = {
        "model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "momentum": [optimiser.state[p]["momentum_buffer"].detach().cpu().clone() for p in params],
        "generator": generator.get_state(),
        "updates": updates,
    }
    return state, history, model


# ---- the run -------------------------------------------------------------------------------
def run(config: Config, run: Run) -> dict[str, float]:
    data = load(config, run.seed, run.device)
    n = len(data.y_train)
    segments = plan(config)
    last_use = {s.parent: i for i, s in enumerate(segments) if s.parent}
    done: dict[str, dict[str, Any]] = {}  # key -> {"history", "state"?, "test_accuracy"?}
    for i in run.loop(len(segments), {"done": done}, desc="segment"):
        seg = segments[i]
        parent = done[seg.parent]["state"] if seg.parent else None
        state, history, model = train_segment(config, seg, parent, data, run)
        entry: dict[str, Any] = {"history": history, "state": state}
        if seg.leaf:
            entry["test_accuracy"] = accuracy(model, data.x_test, data.y_test, config.eval_batch)
            run.log(
                segment=seg.key, modes=",".join(seg.modes), test_accuracy=entry["test_accuracy"]
            )
        done[seg.key] = entry
        for key, last in last_use.items():  # a state no later segment continues is dropped
            if last == i and not any(s.leaf for s in segments if s.key == key):
                done[key].pop("state", None)
        run.print(f"{seg.key} ({', '.join(seg.modes)}): val acc {history[-1]['val_accuracy']:.4f}")

    # each schedule's run: the chain of its segments
    results: dict[str, list[dict[str, Any]]] = {}
    params: dict[str, dict[str, torch.Tensor]] = {}
    for mode in MODES:
        results[mode] = []
        for r in range(config.seeds):
            keys = path(config, mode, r)
            history = [rec for key in keys for rec in done[key]["history"]]
            results[mode].append(
                {"history": history, "test_accuracy": done[keys[-1]]["test_accuracy"]}
            )
            params[f"{mode}_r{r}"] = done[keys[-1]]["state"]["model"]
    run.write_json("trainings.json", results)

    metrics: dict[str, float] = {"train_size": n}
    means = {}
    for mode in MODES:
        sched, name = schedule(config, mode), metric_name(mode)
        acc = np.array([res["test_accuracy"] for res in results[mode]])
        means[mode] = float(acc.mean())
        metrics[f"{name}_test_accuracy"] = means[mode]
        metrics[f"{name}_test_accuracy_std"] = float(acc.std())
        metrics[f"{name}_test_accuracy_min"] = float(acc.min())
        metrics[f"{name}_test_accuracy_max"] = float(acc.max())
        metrics[f"{name}_updates"] = sched.total_updates(config.epochs, n)
        metrics[f"{name}_max_batch"] = sched.max_batch_size()
        counted = {res["history"][-1]["updates"] for res in results[mode]}
        if counted != {metrics[f"{name}_updates"]}:  # the loop and the closed form must agree
            raise RuntimeError(f"{mode}: {counted} updates against {metrics[f'{name}_updates']}")
    decay = metrics["decay_lr_updates"]
    metrics["grow_batch_update_ratio"] = metrics["grow_batch_updates"] / decay
    metrics["hybrid_update_ratio"] = metrics["hybrid_updates"] / decay
    # The target: the largest difference between two schedules' seed means, in points.
    metrics["accuracy_spread_points"] = 100 * (max(means.values()) - min(means.values()))
    # Beside it, the noise it is judged against: the seeds' spread within a schedule, and the
    # schedules' spread within a repeat (which shares the initialisation and the first phase).
    metrics["seed_std_points"] = 100 * float(
        np.mean([metrics[f"{metric_name(m)}_test_accuracy_std"] for m in MODES])
    )
    per_repeat = np.array([[res["test_accuracy"] for res in results[m]] for m in MODES])
    metrics["repeat_spread_points_mean"] = 100 * float(np.mean(np.ptp(per_repeat, axis=0)))

    run.save_figure(schedule_figure(config, n), "schedules")
    run.save_figure(curves_figure(results, config), "curves")
    run.set_params(params)
    return metrics


# ---- plots ---------------------------------------------------------------------------------
def schedule_figure(config: Config, n: int):
    """Smith et al. Fig. 1, and the noise scale the three schedules share."""
    fig, axes = figure(ncols=3, size=(4.2, 3.4))
    axes = np.asarray(axes).reshape(-1)
    # Epoch e runs from e to e + 1 on the axis (epochs done), so a step at milestone m shows at
    # m, where the curves figure marks it.
    epochs = list(range(config.epochs)) + [config.epochs - 1]
    x = np.arange(config.epochs + 1)
    for mode in MODES:
        sched = schedule(config, mode)
        style = {"color": COLOURS[mode], "ls": STYLES[mode], "label": LABELS[mode], "lw": 2}
        for ax, value in zip(
            axes,
            (
                sched.learning_rate_at,
                sched.batch_size_at,
                lambda e, s=sched: s.noise_scale_at(e, n, config.momentum),
            ),
            strict=True,
        ):
            ax.step(x, [value(e) for e in epochs], where="post", **style)
    axes[0].set(xlabel="epochs done", ylabel="learning rate", yscale="log", title="learning rate")
    axes[1].set(xlabel="epochs done", ylabel="batch size", yscale="log", title="batch size")
    axes[2].set(
        xlabel="epochs done",
        ylabel="g = εN / (B(1 − m))",
        yscale="log",
        title=f"noise scale (N = {n:,}, m = {config.momentum:g})",
    )
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def curves_figure(results: dict[str, list[dict[str, Any]]], config: Config):
    """Smith et al. Figs. 2-3: validation accuracy and training loss against epochs and
    against parameter updates; the mean of the repeats, and each repeat faintly."""
    fig, axes = figure(ncols=2, nrows=2, size=(5.0, 3.6))
    for mode in MODES:
        runs = results[mode]
        epochs = [rec["epoch"] for rec in runs[0]["history"]]
        updates = [rec["updates"] for rec in runs[0]["history"]]
        for row, key in enumerate(("val_accuracy", "train_loss")):
            values = np.array([[rec[key] for rec in res["history"]] for res in runs])
            for col, x in enumerate((epochs, updates)):
                ax = axes[row, col]
                for v in values:
                    ax.plot(x, v, color=COLOURS[mode], lw=0.6, alpha=0.35)
                ax.plot(
                    x, values.mean(axis=0), color=COLOURS[mode], ls=STYLES[mode], lw=2,
                    marker="o", ms=3, label=LABELS[mode],
                )  # fmt: skip
    for col, xlabel in enumerate(("epoch", "parameter updates")):
        axes[0, col].set(xlabel=xlabel, ylabel="validation accuracy", title=f"accuracy vs {xlabel}")
        axes[1, col].set(xlabel=xlabel, ylabel="training cross-entropy", title=f"loss vs {xlabel}")
    for ax in axes.reshape(-1):
        for m in config.milestones if ax in axes[:, 0] else ():
            ax.axvline(m, color="k", lw=0.5, ls=":")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig


LAB = Lab(
    name="batch-size-schedule",
    title="Don't decay the learning rate, increase the batch size",
    source="Smith, Kindermans, Ying & Le 2018 (ICLR), 'Don't Decay the Learning Rate, Increase "
    "the Batch Size', Sec. 5.1, Figs. 1-3",
    courses=("ece472",),
    config=Config,
    run=run,
    footprint=footprint,
    quick={
        "data": "digits",
        "train_size": 0,
        "val_size": 200,
        "widths": (8, 16),
        "epochs": 6,
        "milestones": (2, 4),
        "batch_size": 8,  # 8, 40, 200 of 1,197 images
        "seeds": 2,
        "crop_padding": 1,
        "flip": False,
    },
    targets=[
        Target(
            "accuracy_spread_points",
            "<=",
            0.5,
            "Smith et al. 2018 Sec. 5.1, Fig. 3a: the three schedules reach the same test "
            "accuracy at equal epochs (the largest difference between two schedules' means over "
            "seeds, in points, within 0.5)",
            paper="three curves 'almost identical' (Fig. 3a), no table",
        ),
        Target(
            "grow_batch_update_ratio",
            "<=",
            0.5,
            "Smith et al. 2018 Sec. 5.1, Fig. 2b: increasing the batch size takes at most half "
            "the parameter updates of decaying the learning rate",
            paper="≈ 0.37 (≈ 29,000 of 78,000 updates, their schedule on N = 50,000)",
        ),
    ],
    quick_targets=[
        Target("accuracy_spread_points", "<=", 3.0, "quick mode: the three schedules agree"),
        Target("grow_batch_update_ratio", "<=", 0.5, "quick mode: fewer updates"),
        Target("grow_batch_test_accuracy", ">=", 0.75, "quick mode: the growing batch trains"),
    ],
    summary="decaying the learning rate, growing the batch by the same factors and the hybrid "
    "follow one noise scale and reach the same test accuracy at equal epochs",
    time_full="25 min",  # 24.4 min: one thread, 2 cores shared with two other runs (load ≈ 3)
    time_quick="10 s",  # 9.2 s at load ≈ 2, 14-17 s at load ≈ 3
)
