"""Identity mappings in deep residual networks (He, Zhang, Ren & Sun 2016, ECCV, Fig. 1,
Table 1, Table 3, Fig. 6).

Claim 1 (Fig. 1, Table 3, Fig. 6): the *pre-activation* residual unit, x + F(x) with F = BN →
ReLU → conv → BN → ReLU → conv, trains to a lower training loss and a lower test error than
the *original* unit, ReLU(x + F(x)) with F = conv → BN → ReLU → conv → BN, and the gap grows
with depth (CIFAR-10 test error, original → pre-activation: ResNet-110 6.61 → 6.37, ResNet-164
5.93 → 5.46, ResNet-1001 7.61 → 4.92). The reason (Sec. 2-3): with both h and f identities,
x_L = x_l + Σ F, so the signal and the gradient pass between any two units unchanged; the
ReLU after the addition of the original unit is in the way of that, more so the deeper the net.

Claim 2 (Table 1, ResNet-110 of original units): any multiplicative change of the shortcut
h(x) = x hurts: constant scaling, gates, a 1×1 convolution, dropout on the shortcut each train
to a higher test error than the identity (or fail).

Scaled to two CPU cores (:class:`Config` says why each number): a seeded 6,000 of the
CIFAR-10 training images (the JPEG copy) average-pooled to 16×16, narrow ResNets (widths 4, 8,
16 instead of 16, 32, 64) of depth 56 (n = 9; the paper's is 110, see :class:`Config`) and 20,
80 epochs of SGD with the paper's recipe otherwise (momentum 0.9, weight decay 1e-4, batch 64
— theirs 128 — learning rate 0.1 after a warm-up at 0.01, divided by 10 at 50% and 75% of
training, 4-pixel crops — 2 at 16×16 — and flips). Units from :mod:`practicum.nn.residual_units`; the downsampling units
project with a 1×1 convolution (the paper's code); Table 1's variants replace the shortcut
of every other unit of the original ResNet-56.

Seeds: a repeat draws one initialisation seed and one generator of batch orders and crops,
shared by every variant of that repeat (so the variants see the same batches); dropout draws
from the global generator, seeded per training.

Measures: the *training loss* is the cross-entropy on a fixed 2,000 of the training images,
without augmentation, in eval mode (BN with its running statistics, dropout off): the loss of
the function the network computes, not the mean of the augmented minibatch losses (logged too);
the test error is on all 10,000 CIFAR-10 test images. Curves are taken at ``curve_points``
iterations on 1,000 training and 1,000 test images.

Resuming: every training is one iteration of ``run.loop``, seeded from the run's seed, its
repeat and its variant, so a resumed run ends with the same bits, and so does a run whose
trainings go to ``workers`` processes side by side.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from practicum.data.batching import (
    ImageSplit,
    augment,
    batch_indices,
    downsample,
    split_image_data,
)
from practicum.data.vision import ImageData, load_cifar10_jpeg, load_digits_rgb
from practicum.errors import PracticumError
from practicum.footprint import training_bytes
from practicum.lab import Lab, Target, bounded
from practicum.nn.conv import count_parameters
from practicum.nn.residual_units import resnet, units_for_depth
from practicum.parallel import InOrder, worker_pool
from practicum.plotting import figure
from practicum.repro import sub_seed
from practicum.run import Run

# The Table 1 variants this lab can run (each on the original unit), and Table 1's test error
# (%, ResNet-110, CIFAR-10) as we read the paper (no stored copy of the table could be searched
# to re-check them); None: "fail" (the paper's word for a test error above 20%) or a row we
# do not have, see docs/labs/identity-mappings.md.
VARIANTS = ("constant-scaling", "exclusive-gating", "shortcut-gating", "conv", "dropout")
PAPER_TABLE1: dict[str, float | None] = {
    "identity": 6.61,
    "constant-scaling": 12.35,  # λ = 0.5 on both h and F
    "exclusive-gating": 8.70,  # b_g initialised to −6
    "shortcut-gating": None,
    "conv": 12.22,
    "dropout": None,  # "fail"
}
PAPER_TABLE3 = {110: (6.61, 6.37), 164: (5.93, 5.46), 1001: (7.61, 4.92)}  # original, pre-act
DIVERGED_LOSS = 1e3  # the loss recorded for a training whose loss stopped being finite
COLOURS = {"original": "C3", "pre-activation": "C0"}


def key(variant: str) -> str:
    return variant.replace("-", "_")


# ---- config --------------------------------------------------------------------------------
@dataclass
class Config:
    data: Literal["cifar10-jpeg", "digits"] = "cifar10-jpeg"  # digits: 8×8, for quick runs
    # 6,000 images × 80 epochs: 12 ResNet-56 trainings (2 seeds × 6 networks) and 4 ResNet-20
    # ones, ~75 min with workers=2 (measured ~860 images/s for ResNet-56 at batch 64 on one
    # thread; the gated and 1×1-conv networks 1.2-1.6× slower).
    train_size: int = bounded(6000, "[0, 50000]")  # 0: all 50,000
    resolution: int = bounded(16, "[8, 32]")  # images average-pooled to this side
    # The greatest depth is ResNet-56 (n = 9, of the CIFAR family of He et al. 2015), not the
    # paper's 110: at a budget these cores afford, the deeper network is still far from
    # converged, and Table 1 ranks converged networks (the report measures the gating margin
    # at 110 and 56 against the budget); 20 shows whether the gap grows with depth.
    depths: tuple[int, ...] = bounded((20, 56), "[8, 2000]")
    # A quarter of the paper's (16, 32, 64): on one thread the per-layer overhead, not the
    # width, sets the time (measured: widths 8-16-32 cost 1.3× of 4-8-16), and depth is the point.
    widths: tuple[int, ...] = bounded((4, 8, 16), "[1, 1024]")
    # Table 1 variants, on the original units at the greatest depth. shortcut-gating with
    # b_g = −6 starts as the identity and the paper finds it close to it (left out: a margin
    # too small for two seeds); add it with --set variants=... (comma-separated names: a string,
    # since a tuple override reads "x" as a separator)
    variants: str = "constant-scaling,exclusive-gating,conv,dropout"
    scale: float = bounded(0.5, "(0, 2]")  # λ of constant scaling, on h and on F (Table 1)
    gate_bias: float = bounded(-6.0, "[-20, 20]")  # initial b_g of the gates (Table 1's best)
    shortcut_dropout: float = bounded(0.5, "[0, 1)")  # Table 1's dropout ratio
    # The paper: 64k iterations ≈ 164 epochs; ours 7,520 iterations, the shortest budget at
    # which the identity led exclusive gating at depth 56 (20 and 40 epochs: it trailed).
    epochs: int = bounded(80, "[1, 10000]")
    batch_size: int = bounded(64, "[1, 8192]")  # the paper: 128; 64 doubles our iterations
    learning_rate: float = bounded(0.1, "(0, 10]")  # the paper's
    # The paper warms ResNet-110 up at 0.01 for ~400 of 64k iterations; we warm up every
    # network for one epoch (94 iterations), harmless for the shallower ones.
    warmup_iterations: int = bounded(94, "[0, 1e6]")
    warmup_learning_rate: float = bounded(0.01, "(0, 10]")  # the paper's
    milestones: tuple[float, ...] = bounded((0.5, 0.75), "(0, 1)")  # the paper's 32k, 48k of 64k
    momentum: float = bounded(0.9, "[0, 1)")  # the paper's
    weight_decay: float = bounded(1e-4, "[0, 1]")  # the paper's
    crop_padding: int = bounded(2, "[0, 16]")  # the paper's 4 pixels at 32×32, halved at 16×16
    flip: bool = True
    seeds: int = bounded(2, "[1, 100]")  # repeats of every network
    # Processes training networks side by side, one thread each, on the CPU (on a GPU all run
    # in this process). On one thread these narrow networks are overhead-bound: a second
    # thread speeds a ResNet-56 step by 5%, a second process by 2×. Every training is seeded
    # on its own, so the bits do not change with the workers.
    workers: int = bounded(2, "[1, 64]")
    loss_images: int = bounded(2000, "[1, 50000]")  # training images of the final loss
    curve_images: int = bounded(1000, "[1, 10000]")  # train and test images per curve point
    curve_points: int = bounded(5, "[1, 1000]")  # curve evaluations per training
    eval_batch: int = bounded(1000, "[1, 100000]")

    def validate(self) -> None:
        for depth in self.depths:
            try:
                units_for_depth(depth)
            except ValueError as err:
                raise PracticumError(str(err)) from None
        if list(self.depths) != sorted(set(self.depths)):
            raise PracticumError(f"depths must increase, got {self.depths}")
        if len(self.widths) != 3:
            raise PracticumError(f"widths needs three stages, got {self.widths}")
        unknown = set(self.variant_list) - set(VARIANTS)
        if unknown:
            raise PracticumError(f"unknown variants {sorted(unknown)}; known: {VARIANTS}")
        if list(self.milestones) != sorted(set(self.milestones)):
            raise PracticumError(f"milestones must increase, got {self.milestones}")

    @property
    def variant_list(self) -> tuple[str, ...]:
        return tuple(v.strip() for v in self.variants.split(",") if v.strip())


def footprint(config: Config) -> int:
    """The deepest network's activations for a batch (each unit keeps ~6 maps of the first
    stage's size), and the images as floats."""
    side, depth, width = config.resolution, max(config.depths), config.widths[0]
    per_image = 6 * units_for_depth(depth) * width * side * side
    params = 9 * sum(w * w for w in config.widths) * 2 * units_for_depth(depth)
    return training_bytes(params, config.batch_size * per_image, 60_000 * 3 * 32 * 32)


# ---- jobs ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    depth: int
    variant: str  # "original", "pre-activation", or a shortcut of VARIANTS on original units
    repeat: int

    @property
    def name(self) -> str:
        return f"d{self.depth}_{key(self.variant)}_s{self.repeat}"

    @property
    def kind(self) -> str:
        return "pre-activation" if self.variant == "pre-activation" else "original"

    @property
    def shortcut(self) -> str:
        return self.variant if self.variant in VARIANTS else "identity"


def plan(config: Config) -> list[Job]:
    """Per repeat: both orderings at every depth, then the variants at the greatest."""
    jobs = []
    for r in range(config.seeds):
        for depth in config.depths:
            extra = config.variant_list if depth == max(config.depths) else ()
            jobs += [Job(depth, v, r) for v in ("original", "pre-activation", *extra)]
    return jobs


def stream_seed(run_seed: int, repeat: int, what: int) -> int:
    """The seed of a repeat's initialisation (``what=0``), its batches and crops (1), or its
    dropout (2): shared by every network of the repeat."""
    return sub_seed(run_seed, repeat, what)


# ---- data ----------------------------------------------------------------------------------
def load(config: Config, seed: int, device: str) -> ImageSplit:
    """A seeded training subset and the whole test set, standardised with the subset's
    statistics, average-pooled to ``resolution`` (after standardising: the same per channel)."""
    images: ImageData = load_digits_rgb() if config.data == "digits" else load_cifar10_jpeg()
    if config.train_size > len(images.y_train):
        raise PracticumError(f"train_size must be at most {len(images.y_train):,}")
    split = split_image_data(images, 0, seed, device, train_subset=config.train_size)
    side = split.x_train.shape[-1]
    if side % config.resolution:
        raise PracticumError(f"resolution must divide the images' side {side}")
    split = downsample(split, config.resolution)
    # Both files are sorted by class (the test set's first 1,000 images are all airplanes):
    # one seeded shuffle, so that the first k images the measures use are a random k.
    rng = np.random.default_rng(seed)
    for part in ("train", "test"):
        order = torch.as_tensor(rng.permutation(len(getattr(split, f"y_{part}"))))
        order = order.to(split.x_train.device)
        setattr(split, f"x_{part}", getattr(split, f"x_{part}")[order].contiguous())
        setattr(split, f"y_{part}", getattr(split, f"y_{part}")[order])
    return split


# ---- training ------------------------------------------------------------------------------
def build(config: Config, job: Job, classes: int, seed: int, device: str) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = resnet(
            job.depth,
            tuple(config.widths),  # type: ignore[arg-type]
            job.kind,  # type: ignore[arg-type]
            job.shortcut,  # type: ignore[arg-type]
            classes,
            scale=config.scale,
            gate_bias=config.gate_bias,
            dropout=config.shortcut_dropout,
        )
    return model.to(device)


def learning_rate(config: Config, iteration: int, total: int) -> float:
    """Warm-up, then the base rate divided by 10 at each milestone (fractions of ``total``)."""
    if iteration < config.warmup_iterations:
        return config.warmup_learning_rate
    steps = sum(iteration >= round(m * total) for m in config.milestones)
    return config.learning_rate * 0.1**steps


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int) -> tuple[float, float]:
    """Mean cross-entropy and error in eval mode; a non-finite loss is reported as
    ``DIVERGED_LOSS`` so that no metric is NaN."""
    model.eval()
    loss, wrong = 0.0, 0
    for i in range(0, len(y), batch):
        logits = model(x[i : i + batch])
        loss += float(F.cross_entropy(logits, y[i : i + batch], reduction="sum"))
        wrong += int((logits.argmax(dim=1) != y[i : i + batch]).sum())
    model.train()
    mean = loss / len(y)
    return (mean if math.isfinite(mean) else DIVERGED_LOSS), wrong / len(y)


def train(
    config: Config, job: Job, data: ImageSplit, seed: int, device: str
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """One network, SGD with the warm-up and step schedule, curves at ``curve_points``;
    a function of its arguments alone, so that it runs the same in a worker process."""
    start = time.perf_counter()
    model = build(config, job, data.num_classes, stream_seed(seed, job.repeat, 0), device)
    optimiser = torch.optim.SGD(
        model.parameters(),
        lr=config.learning_rate,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
    )
    generator = torch.Generator().manual_seed(stream_seed(seed, job.repeat, 1))
    torch.manual_seed(stream_seed(seed, job.repeat, 2))  # dropout on the shortcut
    n = len(data.y_train)
    per_epoch = math.ceil(n / config.batch_size)
    total = per_epoch * config.epochs
    marks = {round(total * (k + 1) / config.curve_points) for k in range(config.curve_points)}
    m = min(config.curve_images, n, len(data.y_test))
    curve: dict[str, list[float]] = {"iteration": [], "train_loss": [], "test_error": []}
    epoch_losses: list[float] = []
    iteration, diverged = 0, False
    for _ in range(config.epochs):
        loss_sum = 0.0
        for index in batch_indices(n, config.batch_size, generator):
            index = index.to(device)
            x = augment(data.x_train[index], generator, config.crop_padding, config.flip)
            loss = F.cross_entropy(model(x), data.y_train[index])
            value = float(loss.detach())
            if not math.isfinite(value) or value > DIVERGED_LOSS:
                diverged = True  # stop this network, not the run (the NaN hook would)
                break
            for group in optimiser.param_groups:
                group["lr"] = learning_rate(config, iteration, total)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            loss_sum += value * len(index)
            iteration += 1
            if iteration in marks:
                curve["iteration"].append(iteration)
                curve["train_loss"].append(
                    evaluate(model, data.x_train[:m], data.y_train[:m], config.eval_batch)[0]
                )
                curve["test_error"].append(
                    evaluate(model, data.x_test[:m], data.y_test[:m], config.eval_batch)[1]
                )
        if diverged:
            break
        epoch_losses.append(loss_sum / n)
    k = min(config.loss_images, n)
    train_loss, train_error = evaluate(model, data.x_train[:k], data.y_train[:k], config.eval_batch)
    _, test_error = evaluate(model, data.x_test, data.y_test, config.eval_batch)
    result = {
        "depth": job.depth,
        "variant": job.variant,
        "repeat": job.repeat,
        "parameters": count_parameters(model),
        "iterations": iteration,
        "diverged": diverged,
        "train_loss": DIVERGED_LOSS if diverged else train_loss,
        "train_error": train_error,
        "test_error": test_error,
        "epoch_losses": epoch_losses,
        "curve": curve,
        "seconds": time.perf_counter() - start,
    }
    return result, {k: t.detach().cpu().clone() for k, t in model.state_dict().items()}


# ---- the run -------------------------------------------------------------------------------
def run(config: Config, run: Run) -> dict[str, float]:
    data = load(config, run.seed, run.device)
    jobs = plan(config)
    results: dict[str, dict[str, Any]] = {}
    params: dict[str, dict[str, torch.Tensor]] = {}
    with worker_pool(config.workers if run.device == "cpu" else 1) as pool:
        trainings = InOrder(
            train, [(config, job, data, run.seed, run.device) for job in jobs], pool
        )
        for i in run.loop(len(jobs), {"results": results, "params": params}, desc="trainings"):
            job = jobs[i]
            result, params[job.name] = trainings.result(i)
            results[job.name] = result
            line = {k: v for k, v in result.items() if not isinstance(v, dict | list)}
            run.log(training=job.name, **line)
            run.print(
                f"{job.name}: train loss {result['train_loss']:.4f}, "
                f"test error {result['test_error']:.4f} ({result['seconds']:.0f} s)"
            )
    run.write_json("trainings.json", results)

    metrics: dict[str, float] = {"train_size": float(len(data.y_train))}
    deepest = max(config.depths)
    for depth in config.depths:
        names = ["original", "pre-activation"] + list(
            config.variant_list if depth == deepest else []
        )
        for variant in names:
            runs = [results[Job(depth, variant, r).name] for r in range(config.seeds)]
            prefix = f"d{depth}_{key(variant)}"
            for measure in ("train_loss", "test_error"):
                values = np.array([res[measure] for res in runs], dtype=float)
                metrics[f"{prefix}_{measure}"] = float(values.mean())
                metrics[f"{prefix}_{measure}_std"] = float(values.std())
                metrics[f"{prefix}_{measure}_min"] = float(values.min())
                metrics[f"{prefix}_{measure}_max"] = float(values.max())
            metrics[f"{prefix}_diverged"] = float(sum(res["diverged"] for res in runs))
        for measure in ("train_loss", "test_error"):
            metrics[f"d{depth}_preact_minus_original_{measure}"] = (
                metrics[f"d{depth}_pre_activation_{measure}"]
                - metrics[f"d{depth}_original_{measure}"]
            )
    metrics["depth"] = float(deepest)
    for measure in ("train_loss", "test_error"):
        metrics[f"preact_minus_original_{measure}"] = metrics[
            f"d{deepest}_preact_minus_original_{measure}"
        ]
    if config.variant_list:  # the best variant's test error less the identity's, in points
        best = min(metrics[f"d{deepest}_{key(v)}_test_error"] for v in config.variant_list)
        metrics["identity_margin_points"] = 100 * (
            best - metrics[f"d{deepest}_original_test_error"]
        )
    if len(config.depths) > 1:  # does the gap grow with depth? (negative: it does)
        shallow = min(config.depths)
        metrics["preact_gap_change_points"] = 100 * (
            metrics[f"d{deepest}_preact_minus_original_test_error"]
            - metrics[f"d{shallow}_preact_minus_original_test_error"]
        )

    run.save_figure(curves_figure(results, config), "curves")
    if config.variant_list:
        run.save_figure(table1_figure(metrics, config), "table1")
    run.set_params(params)
    return metrics


# ---- plots ---------------------------------------------------------------------------------
def curves_figure(results: dict[str, dict[str, Any]], config: Config):
    """The paper's Fig. 6: training loss (dashed) and test error (solid) against iterations,
    original against pre-activation, one panel per depth; the mean over repeats."""
    fig, axes = figure(ncols=len(config.depths), size=(4.6, 3.6))
    axes = np.atleast_1d(np.asarray(axes)).reshape(-1)
    for ax, depth in zip(axes, config.depths, strict=True):
        twin = ax.twinx()
        for variant in ("original", "pre-activation"):
            runs = [results[Job(depth, variant, r).name]["curve"] for r in range(config.seeds)]
            x = runs[0]["iteration"]
            loss = np.mean([c["train_loss"] for c in runs], axis=0)
            err = 100 * np.mean([c["test_error"] for c in runs], axis=0)
            label = f"{variant}" if variant == "original" else "pre-activation"
            twin.plot(x, loss, "--", color=COLOURS[variant], lw=1.2, label=f"{label}, train loss")
            ax.plot(x, err, "-o", color=COLOURS[variant], ms=3, lw=2, label=f"{label}, test error")
        ax.set(xlabel="iterations", ylabel="test error (%)", title=f"ResNet-{depth}")
        twin.set_ylabel("training loss (eval mode, dashed)")
        lines = ax.get_legend_handles_labels()
        more = twin.get_legend_handles_labels()
        ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=7)
    fig.tight_layout()
    return fig


def table1_figure(metrics: dict[str, float], config: Config):
    """Table 1 as bars: test error per shortcut at the greatest depth, ours (mean, with the
    seeds' range) beside the paper's (ResNet-110 on full CIFAR-10; 'fail' drawn as a hatch)."""
    deepest = max(config.depths)
    names = ["identity", *config.variant_list]
    ours = [
        metrics[f"d{deepest}_{key('original' if n == 'identity' else n)}_test_error"] * 100
        for n in names
    ]
    lows = [
        metrics[f"d{deepest}_{key('original' if n == 'identity' else n)}_test_error_min"] * 100
        for n in names
    ]
    highs = [
        metrics[f"d{deepest}_{key('original' if n == 'identity' else n)}_test_error_max"] * 100
        for n in names
    ]
    fig, ax = figure(size=(7.0, 3.8))
    x = np.arange(len(names))
    err = [np.subtract(ours, lows), np.subtract(highs, ours)]
    ax.bar(x - 0.2, ours, 0.4, yerr=err, color="C0", capsize=3, label=f"ours, ResNet-{deepest}")
    for i, n in enumerate(names):
        value = PAPER_TABLE1.get(n)
        if value is None:
            ax.bar(i + 0.2, 20, 0.4, color="none", edgecolor="C7", hatch="//")
            ax.text(
                i + 0.2,
                20.5,
                "fail (> 20%)" if n == "dropout" else "not checked",
                ha="center",
                fontsize=7,
            )
        else:
            ax.bar(i + 0.2, value, 0.4, color="C7", label="paper, ResNet-110" if i == 0 else None)
    ax.set_xticks(x, names, rotation=15, fontsize=8)
    ax.set(ylabel="test error (%)", title="shortcut variants on original units (Table 1)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


LAB = Lab(
    name="identity-mappings",
    title="Identity mappings in deep residual networks",
    source="He, Zhang, Ren & Sun 2016 (ECCV), 'Identity Mappings in Deep Residual Networks', "
    "Fig. 1, Table 1, Table 3, Fig. 6",
    courses=("practitioners",),
    config=Config,
    run=run,
    footprint=footprint,
    quick={
        "data": "digits",
        "train_size": 0,
        "resolution": 8,
        "depths": (8, 14),
        "epochs": 4,
        "batch_size": 32,
        "seeds": 1,  # the seconds go to the depths and variants; the full run has 2
        "workers": 1,  # starting processes would cost more than they save
        "warmup_iterations": 10,
        "crop_padding": 1,
        "flip": False,
        "loss_images": 500,
        "curve_images": 300,
        "curve_points": 3,
    },
    targets=[
        Target(
            "preact_minus_original_train_loss",
            "<=",
            0.0,
            "He et al. 2016 Fig. 1 and Fig. 6: at the greatest depth trained (56), "
            "pre-activation units reach a lower training loss than the original units (mean "
            "over seeds; training loss in eval mode, without augmentation)",
            paper="lower training loss for pre-activation, ResNet-1001 (Fig. 1), ResNet-110 "
            "and 164 (Fig. 6), curves only",
        ),
        Target(
            "preact_minus_original_test_error",
            "<=",
            0.0,
            "He et al. 2016 Table 3: at the greatest depth trained (56), pre-activation units "
            "reach a lower test error than the original units (mean over seeds)",
            paper="ResNet-110: 6.61% → 6.37%; ResNet-164: 5.93% → 5.46%; ResNet-1001: 7.61% → "
            "4.92% (CIFAR-10)",
        ),
        Target(
            "identity_margin_points",
            ">=",
            0.0,
            "He et al. 2016 Table 1 (ResNet-110): on ResNet-56 of original units the identity "
            "shortcut beats every variant run (the best variant's mean test error less the identity's, "
            "in points)",
            paper="identity 6.61%; constant scaling 0.5/0.5 12.35%; exclusive gating "
            "(b_g = −6) 8.70%; 1×1 conv 12.22%; dropout 0.5: fail",
        ),
    ],
    quick_targets=[
        Target("d14_pre_activation_test_error", "<=", 0.3, "quick mode: pre-activation trains"),
        Target("d14_original_test_error", "<=", 0.3, "quick mode: the original units train"),
        Target(
            "identity_margin_points",
            ">=",
            -5.0,
            "quick mode: no shortcut variant far ahead of the identity",
        ),
    ],
    summary="pre-activation units against the original ordering at depths 20 and 56, and "
    "Table 1's shortcut variants against the identity, on 16×16 CIFAR-10",
    time_full="75 min",  # two workers; see the report for the measured times
    time_quick="13 s",  # 12.6 s at load ≈ 2
)
