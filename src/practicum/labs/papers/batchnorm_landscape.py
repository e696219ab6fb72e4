"""How does batch normalization help optimization? (Santurkar, Tsipras, Ilyas & Madry 2018).

Claim: batch norm does not help by reducing internal covariate shift (ICS). A network with
noise injected after every BN layer — a large, time-varying covariate shift — trains about
as well as plain BN (their Figs. 2 and 7), BN does not reduce ICS by a gradient-based
definition (Definition 2.1, Fig. 3), and what BN does change is the landscape: along the
gradient direction the loss varies less, the gradient changes less, and the "effective
β-smoothness" is lower (Sec. 3.1, Fig. 4).

Data: CIFAR-10 (the official archive when present, else the JPEG copy), a seeded stratified
validation split of ``val_size`` images carved from the training set (for choosing the
learning rate), ``train_size`` of the remaining images for training, and the test set for
the reported accuracies. Images standardised per channel with the training part's
statistics; no augmentation. ``--quick`` uses scikit-learn's 8x8 digits as RGB.

Models: a VGG-style network scaled to the CPU: stages of ``convs_per_stage`` 3x3
convolutions with ``widths`` channels, each followed by [BN] and ReLU, a 2x2 max-pool after
each stage, then global average pooling and a linear classifier. Three variants built from
the same generator state, so their weights start identical: ``standard`` (no BN;
convolutions with a zero-initialised bias), ``batchnorm`` and ``noisy`` (each BN followed by
:class:`NoisyBatchNorm2d`'s noise; none at evaluation). All three see the same batches, with
plain SGD (``momentum`` is an option) at the same learning rate.

Measurements, on the training batch of every ``probe_every``-th step, before that step
(:mod:`practicum.landscape`; each probe restores weights, buffers and random states bit for
bit, so the run is the same with probes on or off): along ``x − η·∇L(x)`` for
``η = factor × learning_rate`` (the paper's 0.05 ... 0.4 at its learning rate of 0.1), the
range of the loss, the ℓ2 change of the gradient and the effective β-smoothness; and ICS of
every layer by Definition 2.1, for ``standard`` and ``batchnorm``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from practicum import landscape
from practicum.data.batching import ImageSplit, batch_indices, standardised_split
from practicum.data.store import find_local
from practicum.data.vision import (
    CIFAR_ARCHIVES,
    ImageData,
    load_cifar,
    load_cifar10_jpeg,
    load_digits_rgb,
)
from practicum.errors import PracticumError
from practicum.footprint import conv_stack_bytes
from practicum.lab import Lab, Target, bounded
from practicum.nn.noisy_batchnorm import NoisyBatchNorm2d, recalibrate_batchnorm
from practicum.plotting import figure, smooth
from practicum.run import Run

VARIANTS = ("standard", "batchnorm", "noisy")
PROBED = ("standard", "batchnorm")  # the paper's Figs. 3 and 4 compare these two
LABELS = {"standard": "standard (no BN)", "batchnorm": "standard + BN", "noisy": "noisy BN"}
COLOURS = {"standard": "C3", "batchnorm": "C0", "noisy": "C2"}
Source = Literal["auto", "official", "jpeg", "digits"]


# ---- config --------------------------------------------------------------------------------
@dataclass
class Config:
    source: Source = "auto"  # "digits": scikit-learn's 8x8 digits, for --quick
    val_size: int = bounded(5000, "[0, 1e6]")  # carved from the training set, for choosing lr
    train_size: int = bounded(45_000, "[1, 1e6]")  # of the rest (all 45,000 of CIFAR-10)
    widths: tuple[int, ...] = bounded((16, 32, 64), "[1, 4096]")  # channels of each stage
    convs_per_stage: int = bounded(2, "[1, 16]")  # VGG's conv-conv-pool stacks
    epochs: int = bounded(5, "[1, 10000]")
    batch_size: int = bounded(128, "[1, 100000]")  # the paper's batch size
    # The same for all three: the paper's 0.1, the largest at which the network without BN
    # trains (validation, 2 epochs on 10,000 images: 0.2 diverges); plain SGD, since with
    # momentum 0.9 BN trained worse than no BN early on (both with the first, flattened
    # head; docs/labs/batchnorm-landscape.md).
    learning_rate: float = bounded(0.1, "(0, 10]")
    momentum: float = bounded(0.0, "[0, 1)")
    noise_shift: float = bounded(0.5, "[0, 100]")  # μ_c ~ U[-shift, shift] at each step
    noise_scale: float = bounded(1.25, "[1, 100]")  # σ_c ~ U[1, scale] at each step
    noise_jitter: float = bounded(0.1, "[0, 100]")  # per-sample spread around μ_c, σ_c
    probe_every: int = bounded(50, "[1, 1e8]")  # steps between probes (each costs ~16 steps)
    # Step sizes of the landscape probe, in units of the learning rate: at the paper's
    # learning rate of 0.1 these are its 0.05, 0.1, ..., 0.4.
    probe_factors: tuple[float, ...] = bounded(
        (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0), "(0, 1000]"
    )
    eval_batch: int = bounded(500, "[1, 100000]")  # images per forward pass when evaluating
    # Training images on which BN's statistics are re-estimated, noise off, before each
    # evaluation (on a copy; 0 keeps the running averages): noisy BN's running statistics
    # were gathered under noise that evaluation does not apply (52.1% on validation with
    # them, 61.6% re-estimated, against BN's 62.4%; docs/labs/batchnorm-landscape.md).
    recalibrate: int = bounded(5000, "[0, 1e6]")

    def validate(self) -> None:
        if not self.widths:
            raise PracticumError("widths needs at least one stage")
        if len(self.probe_factors) < 2:
            raise PracticumError("probe_factors needs at least two step sizes (a range)")


def footprint(config: Config) -> int:
    side = 8 if config.source == "digits" else 32
    one = conv_stack_bytes(
        side, 3, config.widths, config.batch_size, before_pool=3 * config.convs_per_stage
    )
    return 3 * one + 4 * 60_000 * 3 * side * side  # three networks; the images as float32


# ---- data ----------------------------------------------------------------------------------
def load_images(config: Config) -> ImageData:
    if config.source == "digits":
        return load_digits_rgb()
    official = CIFAR_ARCHIVES["cifar10"]
    if config.source == "official" or (config.source == "auto" and find_local(official)):
        return load_cifar("cifar10")
    return load_cifar10_jpeg()


def prepare(images: ImageData, config: Config, seed: int, device: str) -> ImageSplit:
    """Validation split, training subset, per-channel standardisation, on ``device``."""
    return standardised_split(
        images.x_train,
        images.y_train,
        images.x_test,
        images.y_test,
        min(config.val_size, len(images.x_train) // 5),
        seed,
        device,
        train_subset=config.train_size,
        source=images.source,
    )


# ---- models --------------------------------------------------------------------------------
@dataclass
class Network:
    model: nn.Sequential
    layers: list[list[torch.Tensor]]  # per layer, its parameters, the measured weight first


def vgg(variant: str, config: Config, gen: torch.Generator, noise: torch.Generator) -> Network:
    """The VGG-style network of one variant; weights drawn from ``gen`` in the same order
    for every variant (He-normal convolutions, zero biases), so all start alike."""
    modules: list[nn.Module] = []
    layers: list[list[torch.Tensor]] = []
    channels = 3
    for width in config.widths:
        for _ in range(config.convs_per_stage):
            conv = nn.Conv2d(channels, width, 3, padding=1, bias=variant == "standard")
            with torch.no_grad():
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen))
                conv.weight.mul_((2.0 / (channels * 9)) ** 0.5)
                if conv.bias is not None:
                    conv.bias.zero_()
            modules.append(conv)
            layer = [conv.weight] + ([conv.bias] if conv.bias is not None else [])
            if variant != "standard":
                norm = (
                    NoisyBatchNorm2d(
                        width,
                        config.noise_shift,
                        config.noise_scale,
                        config.noise_jitter,
                        generator=noise,
                    )
                    if variant == "noisy"
                    else nn.BatchNorm2d(width)
                )
                modules.append(norm)
                layer += [norm.weight, norm.bias]
            modules.append(nn.ReLU())
            layers.append(layer)
            channels = width
        modules.append(nn.MaxPool2d(2))
    # Global average pooling before the classifier: on the flattened 4x4 maps, the first
    # steps at lr 0.1 sent the BN networks' logits off (‖features‖² ≈ 1,000; training loss 5
    # over the first 20 steps), which would have measured the transient, not the method.
    head = nn.Linear(channels, 10)
    with torch.no_grad():
        head.weight.copy_(torch.randn(head.weight.shape, generator=gen))
        head.weight.mul_(head.in_features**-0.5)
        head.bias.zero_()
    modules += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), head]
    layers.append([head.weight, head.bias])
    return Network(nn.Sequential(*modules), layers)


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int) -> float:
    model.eval()
    correct = sum(
        int((model(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum())
        for i in range(0, len(x), batch)
    )
    model.train()
    return correct / max(1, len(x))


def evaluate(
    net: Network, data: ImageSplit, calibration: torch.Tensor, config: Config, final: bool
) -> dict[str, float]:
    """Validation and test accuracy with BN's statistics re-estimated on ``calibration``
    (on a copy during training, so the training run is untouched; in place at the end),
    and test accuracy with the running averages training left behind."""
    out = {"test_running": accuracy(net.model, data.x_test, data.y_test, config.eval_batch)}
    model = net.model if final else copy.deepcopy(net.model)
    if len(calibration) and any(isinstance(m, nn.BatchNorm2d) for m in model.modules()):
        recalibrate_batchnorm(model, calibration, config.eval_batch)
    out["val"] = accuracy(model, data.x_val, data.y_val, config.eval_batch)
    out["test"] = accuracy(model, data.x_test, data.y_test, config.eval_batch)
    return out


# ---- the probes ----------------------------------------------------------------------------
def probe(
    net: Network,
    optimizer: torch.optim.SGD,
    x: torch.Tensor,
    y: torch.Tensor,
    config: Config,
    generators: tuple[torch.Generator, ...],
) -> dict[str, object]:
    """Landscape and ICS at the current point, on this step's batch; changes nothing."""

    def loss_fn() -> torch.Tensor:
        return F.cross_entropy(net.model(x), y)

    steps = [f * config.learning_rate for f in config.probe_factors]
    land = landscape.probe_landscape(net.model, loss_fn, steps, generators)
    ics = landscape.internal_covariate_shift(
        net.model,
        net.layers,
        loss_fn,
        lambda grads: landscape.sgd_delta(optimizer, grads),
        generators,
    )
    return {
        "loss": land.loss,
        "losses": land.losses,
        "gradient_norm": land.gradient_norm,
        "gradient_changes": land.gradient_changes,
        "beta": land.beta_smoothness,
        "ics_l2": ics.l2,
        "ics_cosine": ics.cosine,
        "ics_gradient_norm": ics.gradient_norms,
    }


# ---- training ------------------------------------------------------------------------------
def run(config: Config, run: Run) -> dict[str, float]:
    data = prepare(load_images(config), config, run.seed, run.device)
    run.log(data_source=data.source)
    noise = torch.Generator().manual_seed(run.seed + 1)  # the noisy network's noise only
    nets: dict[str, Network] = {}
    for variant in VARIANTS:  # the same generator state for each: identical initial weights
        nets[variant] = vgg(variant, config, torch.Generator().manual_seed(run.seed), noise)
        nets[variant].model.to(run.device).train()
    optimisers = {
        v: torch.optim.SGD(
            nets[v].model.parameters(), lr=config.learning_rate, momentum=config.momentum
        )
        for v in VARIANTS
    }
    gen = torch.Generator().manual_seed(run.seed)  # the batch order, shared by all three
    n = len(data.x_train)
    pick = torch.randperm(n, generator=torch.Generator().manual_seed(run.seed + 2))
    calibration = data.x_train[pick[: config.recalibrate]]
    per_epoch = n // config.batch_size
    if per_epoch == 0:
        raise PracticumError(f"train_size {n} is smaller than one batch of {config.batch_size}")
    run.print(
        f"batchnorm-landscape: {n:,} training images of {data.source}, "
        f"{per_epoch} steps an epoch, lr {config.learning_rate}"
    )
    steps: list[dict[str, float]] = []  # per step: each variant's training loss
    epochs: list[dict[str, float]] = []
    probes: list[dict[str, object]] = []
    state: dict[str, object] = {"gen": gen, "noise": noise, "steps": steps}
    state |= {"epochs": epochs, "probes": probes}
    state |= {f"model_{v}": nets[v].model for v in VARIANTS}
    state |= {f"opt_{v}": optimisers[v] for v in VARIANTS}

    for epoch in run.loop(config.epochs, state):
        sums = dict.fromkeys(VARIANTS, 0.0)
        for k, idx in enumerate(batch_indices(n, config.batch_size, gen, drop_last=True)):
            step = epoch * per_epoch + k
            x, y = data.x_train[idx], data.y_train[idx]
            line: dict[str, float] = {"step": step}
            for v in VARIANTS:
                net, opt = nets[v], optimisers[v]
                if v in PROBED and step % config.probe_every == 0:
                    found = probe(net, opt, x, y, config, (gen, noise))
                    probes.append({"step": step, "variant": v, **found})
                loss = F.cross_entropy(net.model(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                line[v] = float(loss.detach())
                sums[v] += line[v]
            steps.append(line)
        summary: dict[str, float] = {"epoch": epoch + 1}
        for v in VARIANTS:
            summary[f"train_loss_{v}"] = sums[v] / per_epoch
            found = evaluate(nets[v], data, calibration, config, final=False)
            summary[f"val_accuracy_{v}"] = found["val"]
            summary[f"test_accuracy_{v}"] = found["test"]
            summary[f"test_accuracy_running_{v}"] = found["test_running"]
        run.log(**summary)
        epochs.append(summary)
        run.print(
            f"epoch {epoch + 1}: "
            + ", ".join(f"{v} val {summary[f'val_accuracy_{v}']:.3f}" for v in VARIANTS)
        )

    for v in VARIANTS:  # the final models carry the statistics they were evaluated with
        evaluate(nets[v], data, calibration, config, final=True)
    metrics = measurements(epochs[-1], probes)
    run.write_json("probes.json", probes)
    run.save_figure(curves_figure(steps, epochs, per_epoch), "training_curves")
    if probes:
        run.save_figure(landscape_figure(probes, config), "landscape")
        run.save_figure(ics_figure(probes, len(nets["standard"].layers)), "ics")
    run.set_params({v: nets[v].model for v in VARIANTS})
    return metrics


# ---- evaluation ----------------------------------------------------------------------------
def measurements(last: dict[str, float], probes: list[dict]) -> dict[str, float]:
    """The final accuracies and the probes' means; each ratio is BN's over no BN's.

    loss variation: the mean over probe points of (max − min) of the losses along the
    gradient direction; gradient change: the mean over probe points and step sizes of
    ‖∇L(x) − ∇L(x − η∇L(x))‖; ICS: the mean over probe points and over every layer but the
    first (which has no earlier layers) of ‖G − G'‖, also relative to ‖G‖, and of cos(G, G').
    """
    m: dict[str, float] = {}
    for v in VARIANTS:
        m[f"test_accuracy_{v}"] = last[f"test_accuracy_{v}"]
        m[f"test_accuracy_running_{v}"] = last[f"test_accuracy_running_{v}"]
        m[f"val_accuracy_{v}"] = last[f"val_accuracy_{v}"]
        m[f"train_loss_{v}"] = last[f"train_loss_{v}"]
    m["noisy_bn_accuracy_gap"] = abs(m["test_accuracy_batchnorm"] - m["test_accuracy_noisy"])
    m["bn_margin_over_standard"] = (
        min(m["test_accuracy_batchnorm"], m["test_accuracy_noisy"]) - m["test_accuracy_standard"]
    )
    for v in PROBED:
        mine = [p for p in probes if p["variant"] == v]
        if not mine:
            continue
        m[f"loss_variation_{v}"] = float(np.mean([np.ptp(p["losses"]) for p in mine]))
        m[f"gradient_change_{v}"] = float(np.mean([p["gradient_changes"] for p in mine]))
        m[f"beta_smoothness_{v}"] = float(np.mean([p["beta"] for p in mine]))
        m[f"gradient_norm_{v}"] = float(np.mean([p["gradient_norm"] for p in mine]))
        l2 = np.array([p["ics_l2"][1:] for p in mine])
        norm = np.array([p["ics_gradient_norm"][1:] for p in mine])
        m[f"ics_l2_{v}"] = float(l2.mean())
        m[f"ics_relative_{v}"] = float((l2 / np.maximum(norm, 1e-30)).mean())
        m[f"ics_cosine_{v}"] = float(np.mean([p["ics_cosine"][1:] for p in mine]))
    if "loss_variation_standard" in m and "loss_variation_batchnorm" in m:
        for key in ("loss_variation", "gradient_change", "beta_smoothness", "ics_l2"):
            m[f"{key}_ratio"] = m[f"{key}_batchnorm"] / max(m[f"{key}_standard"], 1e-30)
    return m


# ---- plots ---------------------------------------------------------------------------------
def curves_figure(steps: list[dict[str, float]], epochs: list[dict[str, float]], per_epoch: int):
    """The paper's Fig. 2 (right)/Fig. 7: training loss and test accuracy of the three."""
    fig, axes = figure(ncols=2, size=(5.0, 3.8))
    ax_loss, ax_acc = axes[0]
    x = [s["step"] for s in steps]
    window = max(1, per_epoch // 5)
    for v in VARIANTS:
        ax_loss.plot(x, smooth([s[v] for s in steps], window), color=COLOURS[v], label=LABELS[v])
        at = [e["epoch"] * per_epoch for e in epochs]
        ax_acc.plot(at, [e[f"test_accuracy_{v}"] for e in epochs], "o-", color=COLOURS[v])
        if v != "standard":  # BN's running averages as training left them
            running = [e[f"test_accuracy_running_{v}"] for e in epochs]
            ax_acc.plot(at, running, "x--", color=COLOURS[v], alpha=0.6)
    ax_loss.set(xlabel="step", ylabel="training loss (smoothed)", title="training loss")
    ax_acc.set(
        xlabel="step",
        ylabel="test accuracy",
        title="test accuracy (dashed: BN's running statistics)",
    )
    ax_loss.legend()
    fig.tight_layout()
    return fig


def landscape_figure(probes: list[dict], config: Config):
    """The paper's Fig. 4: (a) loss landscape, (b) gradient predictiveness, (c) effective
    β-smoothness, with the range over the step sizes shaded."""
    fig, axes = figure(ncols=3, size=(4.6, 3.6))
    axes = axes[0]
    for v in PROBED:
        mine = [p for p in probes if p["variant"] == v]
        x = [p["step"] for p in mine]
        for ax, key in zip(axes[:2], ("losses", "gradient_changes"), strict=True):
            lo = [min(p[key]) for p in mine]
            hi = [max(p[key]) for p in mine]
            ax.fill_between(x, lo, hi, color=COLOURS[v], alpha=0.35, label=LABELS[v])
        axes[2].plot(x, [p["beta"] for p in mine], color=COLOURS[v], label=LABELS[v])
    factors = f"η = {min(config.probe_factors):g}...{max(config.probe_factors):g} × lr"
    axes[0].set(title=f"(a) loss landscape ({factors})", ylabel="loss", yscale="log")
    axes[1].set(title="(b) gradient predictiveness", ylabel="ℓ2 change of the gradient")
    axes[2].set(title="(c) effective β-smoothness", ylabel="max ‖Δ∇L‖ / ‖Δx‖")
    for ax in axes:
        ax.set_xlabel("step")
    axes[1].set_yscale("log")
    axes[0].legend()
    fig.tight_layout()
    return fig


def ics_figure(probes: list[dict], layers: int):
    """The paper's Fig. 3: ICS (‖G − G'‖ and cos(G, G')) of a few layers during training."""
    shown = sorted({1, layers // 2, layers - 1}) if layers > 1 else [0]
    fig, axes = figure(ncols=len(shown), nrows=2, size=(4.0, 3.0), sharex=True)
    axes = np.asarray(axes).reshape(2, len(shown))
    for col, layer in enumerate(shown):
        for v in PROBED:
            mine = [p for p in probes if p["variant"] == v]
            x = [p["step"] for p in mine]
            axes[0, col].plot(x, [p["ics_l2"][layer] for p in mine], color=COLOURS[v])
            axes[1, col].plot(
                x, [p["ics_cosine"][layer] for p in mine], color=COLOURS[v], label=LABELS[v]
            )
        axes[0, col].set(title=f"layer {layer + 1}", ylabel="‖G − G'‖₂", yscale="log")
        axes[1, col].set(xlabel="step", ylabel="cos(G, G')")
    axes[1, 0].legend()
    fig.tight_layout()
    return fig


LAB = Lab(
    name="batchnorm-landscape",
    title="How batch norm helps: noisy BN, internal covariate shift and the loss landscape",
    source="Santurkar, Tsipras, Ilyas & Madry 2018 (NeurIPS), Figs. 2-4 and 7, Def. 2.1",
    courses=("practitioners",),
    config=Config,
    run=run,
    footprint=footprint,
    quick={
        "source": "digits",
        "val_size": 200,
        "widths": (8, 16),
        "convs_per_stage": 1,
        "epochs": 3,
        "batch_size": 64,
        "probe_every": 6,
        "eval_batch": 400,
    },
    targets=[
        Target(
            "noisy_bn_accuracy_gap",
            "<=",
            0.03,
            "Santurkar et al. 2018 Fig. 2 (VGG, CIFAR-10): noisy BN trains and tests about as "
            "well as BN",
            paper="noisy BN ≈ BN test accuracy (curves overlap, Fig. 2)",
        ),
        Target(
            "bn_margin_over_standard",
            ">=",
            0.0,
            "Santurkar et al. 2018 Figs. 2 and 7: BN and noisy BN both above no BN at the same "
            "budget and learning rate",
            paper="BN and noisy BN above standard (Fig. 2, Fig. 7)",
        ),
        Target(
            "loss_variation_ratio",
            "<=",
            0.5,
            "Santurkar et al. 2018 Fig. 4(a): the range of the loss along the gradient "
            "(mean over probe points of max − min) with BN at most half of it without",
            paper="loss range along the gradient far smaller with BN (Fig. 4a)",
        ),
        Target(
            "gradient_change_ratio",
            "<=",
            1.0,
            "Santurkar et al. 2018 Fig. 4(b): the ℓ2 change of the gradient along the gradient "
            "direction (gradient predictiveness) smaller with BN",
            paper="ℓ2 gradient change smaller with BN (Fig. 4b)",
        ),
    ],
    # Quick mode tests on 400 digits (one standard error ≈ 2.4 points), so the gap is held
    # to 6 points there; a noisy BN that failed to train (or no BN at all) misses it.
    quick_targets=[
        Target(
            "noisy_bn_accuracy_gap",
            "<=",
            0.06,
            "quick mode: noisy BN within 6 points of BN on 400 test digits",
        ),
        Target("bn_margin_over_standard", ">=", 0.0, "quick mode: both BNs above no BN"),
        Target("loss_variation_ratio", "<=", 0.5, "quick mode: Fig. 4(a) on digits"),
        Target("gradient_change_ratio", "<=", 1.0, "quick mode: Fig. 4(b) on digits"),
    ],
    summary="with and without BN, and with injected covariate shift: accuracy, the loss "
    "landscape along the gradient, and internal covariate shift",
    time_full="30 min",  # 29.2 min on one thread, 2 cores shared with another helper (load 2-4)
    time_quick="5 s",  # 4.1-5.6 s at load 2-4
)
