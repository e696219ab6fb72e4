"""The CIFAR ResNet program of cifar10-resnet and cifar100-resnet.

Methods: a seeded, stratified train/validation split of the training set; the test set is
evaluated once at the end. Network: an optional frozen first layer that whitens 2x2 patches
(:class:`practicum.nn.PatchWhitening`, airbench's idea), then a
:class:`practicum.nn.Classifier` of pre-activation residual stages with GroupNorm (and
weight standardisation) or BatchNorm, global average pooling and a linear layer. Training:
SGD with Nesterov momentum, a one-cycle learning rate (linear warm-up and decay), weight
decay (not on biases and normalisation scales), label smoothing, whole-batch augmentation
(random crop, horizontal flip, cutout), optionally an exponential moving average of the
weights that is evaluated instead of them. Evaluation: test-time augmentation averages the
logits of each image, its mirror image and copies moved by +-``tta_shift`` pixels.

Data: ``source="auto"`` reads the official python archive when it is present (in
``$PRACTICUM_DATA/<dataset>/`` or the cache) and, for CIFAR-10, the JPEG image-folder copy
otherwise; ``source="official"`` / ``"jpeg"`` choose; ``archive=PATH`` reads your own copy
of the official archive; ``"digits"`` trains on scikit-learn's 8x8 digits (quick modes).
Under ``torchrun`` each process trains on its shard of every batch (DistributedDataParallel).

:class:`Config` holds cifar10-resnet's settings, the program's defaults.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F

from practicum.data import ImageSplit, augment, batch_indices, split_image_data
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
from practicum.io import atomic_write
from practicum.lab import bounded
from practicum.nn import Classifier, GroupNorm, PatchWhitening, count_parameters, update_average
from practicum.run import Run

Source = Literal["auto", "official", "jpeg", "digits"]


@dataclass
class Config:
    """cifar10-resnet's settings; cifar100-resnet changes a few."""

    source: Source = "auto"  # "digits": scikit-learn 8x8 digits as RGB, for --quick
    archive: str = ""  # path to your own official archive (overrides source)
    # The recipe of record (92.08% on the JPEG copy, run P in docs/labs/cifar10-resnet.md,
    # with the sweep): 7.8 M parameters, ~4 min on one H100 but ~9 h on 2 CPU threads.
    # CPU budget (2 threads): --set layer_depths=64,256,256 --set pool= --set epochs=32
    # --set crop_padding=2 --set ema_decay=0.99 gave 90.05% in 97 min (run cpu-D-ws-32).
    layer_depths: tuple[int, ...] = bounded((64, 128, 256, 512), "[1, 4096]")
    residual_blocks: int = bounded(1, "[0, 64]")  # per stage
    pool_first: bool = True  # conv -> pool -> norm -> ReLU -> blocks (ResNet-9 layout)
    pool: tuple[bool, ...] = (False, True, True, True)  # per stage; empty: every stage pools
    norm: Literal["group", "batch"] = "group"  # "batch": a BatchNorm comparison, not the lab's
    num_groups: int = bounded(16, "[1, 4096]")
    standardize_weights: bool = True  # weight standardisation before each GroupNorm (Qiao 2019)
    whiten: bool = True  # a frozen 2x2 patch-whitening first layer (airbench)
    epochs: int = bounded(60, "[1, 1000]")
    batch_size: int = bounded(256, "[1, 65536]")
    learning_rate: float = bounded(0.2, "(0, 10]")  # peak, SGD with Nesterov momentum 0.9
    warmup: float = bounded(0.15, "[0, 1)")
    weight_decay: float = bounded(5e-4, "[0, 1]")
    label_smoothing: float = bounded(0.2, "[0, 1)")
    # > 0: evaluate an exponential moving average of the weights
    ema_decay: float = bounded(0.0, "[0, 1)")
    crop_padding: int = bounded(4, "[0, 16]")
    flip: bool = True
    cutout: int = bounded(8, "[0, 32]")
    val_size: int = bounded(5_000, "[0, 1e6]")
    train_subset: int = bounded(0, "[0, 1e7]")  # > 0: train on only this many images (smoke tests)
    tta: bool = True  # average logits over each image and its mirror image at test time
    # > 0: also over copies translated by +-tta_shift pixels (final eval)
    tta_shift: int = bounded(1, "[0, 16]")
    # CPU, 2 threads (benchmarks/cifar10_speed.py): ours written out 63 img/s, fused 76,
    # fused + channels-last 87 (channels-last gained 26% on the old 48/96/192 network, less
    # on wider ones); torch.compile does not help on CPU (73 img/s).
    channels_last: bool = True
    fused_norm: bool = True  # torch's one-kernel group norm (tested equal to ours)

    def validate(self) -> None:
        if not self.layer_depths or min(self.layer_depths) < 1:
            raise PracticumError("layer_depths must be a nonempty list of positive widths")
        if self.pool and len(self.pool) != len(self.layer_depths):
            raise PracticumError(
                "pool needs one entry per layer depth, or none (--set pool=): every stage pools"
            )
        if self.norm not in ("group", "batch"):
            raise PracticumError(f"norm must be group or batch, got {self.norm!r}")
        if self.norm == "group" and any(d % min(self.num_groups, d) for d in self.layer_depths):
            raise PracticumError(
                f"every layer depth must be divisible by num_groups={self.num_groups}"
            )
        if self.epochs < 1 or self.batch_size < 1 or self.learning_rate <= 0:
            raise PracticumError("need epochs >= 1, batch_size >= 1, learning_rate > 0")
        if not 0 <= self.label_smoothing < 1 or not 0 <= self.warmup < 1:
            raise PracticumError("label_smoothing and warmup must be in [0, 1)")
        if not 0 <= self.ema_decay < 1:
            raise PracticumError("ema_decay must be in [0, 1)")
        if min(self.crop_padding, self.cutout, self.residual_blocks, self.val_size) < 0:
            raise PracticumError("crop_padding, cutout, residual_blocks, val_size must be >= 0")


def footprint(config: Config) -> int:
    """Rough peak memory of training (see practicum.footprint): each stage's convolution,
    then after pooling its normalisation, ReLU and residual blocks (two convolutions each),
    on a batch; and the 60,000 images."""
    side = 8 if config.source == "digits" else 32
    blocks = config.residual_blocks
    return conv_stack_bytes(
        side,
        3,
        config.layer_depths,
        config.batch_size,
        pools=config.pool,
        before_pool=1,
        after_pool=2 + 6 * blocks,
        extra_convs=2 * blocks,
        data=60_000 * 3 * 32 * 32,
    )


#: The quick modes' settings: a tiny network on scikit-learn's 8x8 digits.
QUICK: dict[str, Any] = {
    "source": "digits",
    "layer_depths": (8, 16),
    "pool": (),
    "whiten": False,  # 2x2 patches of 8x8 digits: too little map left
    "standardize_weights": False,
    "tta_shift": 0,
    "pool_first": False,  # 8x8 inputs: pooling first leaves too little map (87% vs 93%)
    "num_groups": 4,
    "epochs": 8,
    "batch_size": 64,
    "learning_rate": 0.1,
    "crop_padding": 1,
    "flip": False,
    "cutout": 0,
    "tta": False,
    "val_size": 200,
}


# ---- data --------------------------------------------------------------------------------


def load_images(config: Config, dataset: str) -> ImageData:
    """The dataset chosen by ``source``/``archive`` (see the module docstring)."""
    if config.source == "digits":
        return load_digits_rgb()
    if config.archive:
        return load_cifar(dataset, archive=config.archive)
    official = CIFAR_ARCHIVES[dataset]
    if config.source == "official" or (config.source == "auto" and find_local(official)):
        return load_cifar(dataset)
    if dataset == "cifar10":
        return load_cifar10_jpeg()
    raise PracticumError(
        f"{dataset} needs the official archive {official.relpath} (from {official.url}) "
        "under $PRACTICUM_DATA or the cache, or --set archive=PATH"
    )


def prepare(images: ImageData, config: Config, seed: int, device: str) -> ImageSplit:
    """Split off ``val_size`` images (at most a fifth), optionally subsample the rest, and
    standardise every channel with the training part's statistics."""
    return split_image_data(
        images,
        min(config.val_size, len(images.x_train) // 5),
        seed,
        device,
        train_subset=config.train_subset,
        memory_format=torch.channels_last if config.channels_last else torch.contiguous_format,
    )


# ---- model, evaluation, training ----------------------------------------------------------


def build_model(
    config: Config, num_classes: int, fit_images: torch.Tensor | None = None
) -> torch.nn.Module:
    """The classifier; with ``whiten``, after a patch-whitening layer fitted to
    ``fit_images`` (a few thousand standardised training images)."""
    whitening = None
    if config.whiten:
        if fit_images is None:
            raise ValueError("whiten=True needs fit_images")
        whitening = PatchWhitening(3, patch_size=2).fit(fit_images)
    model: torch.nn.Module = Classifier(
        whitening.out_channels if whitening else 3,
        config.layer_depths,
        [3] * len(config.layer_depths),
        num_classes,
        pool=config.pool or None,
        norm=config.norm,
        num_groups=config.num_groups,
        residual_blocks=config.residual_blocks,
        pool_first=config.pool_first,
        standardize_weights=config.standardize_weights,
    )
    for module in model.modules():  # same function, one kernel (tested against ours)
        if isinstance(module, GroupNorm):
            module.fused = config.fused_norm
    return torch.nn.Sequential(whitening, model) if whitening else model


def translate(x: torch.Tensor, shift: int) -> torch.Tensor:
    """Images moved down and right by ``shift`` pixels (up and left if negative), filled
    with zeros (the mean colour after standardising)."""
    s = abs(shift)
    padded = F.pad(x, (s, s, s, s))
    start = s - shift
    return padded[..., start : start + x.shape[-2], start : start + x.shape[-1]]


@torch.no_grad()
def logits(
    model: torch.nn.Module, x: torch.Tensor, tta: bool, batch_size: int = 1000, shift: int = 0
) -> torch.Tensor:
    """Logits averaged over test-time views: the image, its mirror image (``tta``) and,
    with ``shift`` > 0, each of those translated by +-shift pixels (airbench's TTA)."""
    model.eval()
    out = []
    for i in range(0, len(x), batch_size):
        xb = x[i : i + batch_size]
        views = [xb, xb.flip(-1)] if tta else [xb]
        if shift:
            views += [translate(v, d) for v in views for d in (shift, -shift)]
        out.append(torch.stack([model(v) for v in views]).mean(dim=0))
    model.train()
    return torch.cat(out)


def topk_accuracy(z: torch.Tensor, y: torch.Tensor, k: int) -> float:
    """The fraction of rows of logits ``z`` whose ``k`` largest include the label."""
    k = min(k, z.shape[1])
    return float((z.topk(k, dim=1).indices == y[:, None]).any(dim=1).float().mean())


def one_cycle_factor(step: int, warm: int, total: int) -> float:
    """The learning rate at ``step`` (counted from 0) as a fraction of its peak: a linear
    rise to 1 over the first ``warm`` steps, then a linear fall that reaches 0 at ``total``."""
    return min((step + 1) / warm, max(0.0, (total - step) / max(total - warm, 1)))


def train(
    model: torch.nn.Module, config: Config, data: ImageSplit, run: Run
) -> tuple[list[dict[str, float]], torch.nn.Module]:
    """Train ``model``; returns the history and the network to evaluate (the model itself,
    or with ``ema_decay`` > 0 the moving average of its weights)."""
    generator = torch.Generator().manual_seed(run.seed)
    steps_per_epoch = max(len(data.x_train) // config.batch_size, 1)
    total = steps_per_epoch * config.epochs
    decay, no_decay = [], []
    for p in model.parameters():  # no weight decay on biases and normalisation scales
        (decay if p.ndim > 1 else no_decay).append(p)
    optimizer = torch.optim.SGD(
        [
            {"params": decay, "weight_decay": config.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=config.learning_rate,
        momentum=0.9,
        nesterov=True,
    )
    warm = max(int(config.warmup * total), 1)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: one_cycle_factor(step, warm, total)
    )
    # The average starts at the initial weights; with decay d it forgets them after
    # ~1/(1-d) steps, so it follows the last epoch or two at the end of the schedule.
    average = copy.deepcopy(model).requires_grad_(False) if config.ema_decay else model
    history: list[dict[str, float]] = []
    counts = {"seconds": 0.0, "images": 0}  # training time (evaluation excluded), images seen
    # A checkpoint after every epoch: `practicum run --resume RUN_DIR` continues bit for bit
    # (the whitening filters are buffers of the model, so they come back with it).
    state = {
        "model": model,
        "optimizer": optimizer,
        "schedule": schedule,
        "generator": generator,
        "history": history,
        "counts": counts,
    }
    if config.ema_decay:
        state["average"] = average
    # Under torchrun every process draws the same augmented batch (same generator, same seed)
    # and trains on its shard of it; DDP averages the gradients. GroupNorm normalises each
    # image on its own, so N processes compute what one process does on the whole batch.
    trained = run.distribute(model)
    for epoch in run.loop(config.epochs, state, desc="epoch"):
        start = time.perf_counter()
        for idx in batch_indices(len(data.x_train), config.batch_size, generator, drop_last=True):
            xb = augment(
                data.x_train[idx.to(data.x_train.device)],
                generator,
                crop_padding=config.crop_padding,
                flip=config.flip,
                cutout_size=config.cutout,
            )
            loss = F.cross_entropy(
                trained(run.shard(xb)),
                run.shard(data.y_train[idx.to(data.y_train.device)]),
                label_smoothing=config.label_smoothing,
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            if config.ema_decay:  # early on a shorter memory, so the start fades fast
                step = schedule.last_epoch
                update_average(average, model, min(config.ema_decay, (1 + step) / (10 + step)))
            counts["images"] += len(idx)
        counts["seconds"] += time.perf_counter() - start
        z = logits(average, data.x_val, config.tta) if len(data.x_val) else None
        entry = {
            "epoch": epoch + 1,
            "loss": loss.item(),
            "val_accuracy": topk_accuracy(z, data.y_val, 1) if z is not None else float("nan"),
            "train_seconds": counts["seconds"],
            "images_per_second": counts["images"] / counts["seconds"],
        }
        history.append(entry)
        run.log(**entry)
        run.print(
            f"epoch {epoch + 1}: val {entry['val_accuracy']:.4f}, {entry['images_per_second']:.0f} img/s"
        )
    return history, average


def plot_curves(
    run: Run, history: list[dict[str, float]], title: str, averaged: bool = False
) -> None:
    """Validation accuracy against epochs as ``plots/curves.png``."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4))
    epochs = [h["epoch"] for h in history]
    ax.plot(
        epochs,
        [100 * h["val_accuracy"] for h in history],
        "o-",
        label="validation accuracy (flip TTA" + (", weight average)" if averaged else ")"),
    )
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    run.save_figure(fig, "curves")


def run_resnet(config: Config, run: Run, dataset: str, name: str) -> dict[str, float]:
    """The whole program on ``dataset`` ("cifar10" or "cifar100"): data, model, training,
    final evaluation with every test-time view, plots; returns the metrics."""
    images = load_images(config, dataset)
    data = prepare(images, config, run.seed, run.device)
    run.log(data_source=data.source)
    torch.manual_seed(run.seed)
    # every k-th image for the whitening statistics (the files are sorted by class)
    fit = data.x_train[:: max(len(data.x_train) // 5000, 1)] if config.whiten else None
    model = build_model(config, data.num_classes, fit).to(run.device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    num_params = count_parameters(model)
    run.print(
        f"{name}: {num_params:,} parameters, {len(data.x_train):,} training images of {data.source}"
    )
    history, average = train(model, config, data, run)
    extra = {}
    if config.ema_decay and len(data.x_val):  # what the average adds over the last weights
        z_last = logits(model, data.x_val, config.tta, shift=config.tta_shift)
        extra["val_accuracy_last_weights"] = topk_accuracy(z_last, data.y_val, 1)
    model = average
    # Validation during training uses the cheap flip TTA; the final numbers use every view
    # (without shifted views that is the last epoch's validation pass, not repeated).
    final_val = history[-1]["val_accuracy"]
    if config.tta_shift and len(data.x_val):
        z_val = logits(model, data.x_val, config.tta, shift=config.tta_shift)
        final_val = topk_accuracy(z_val, data.y_val, 1)
    z = logits(model, data.x_test, config.tta, shift=config.tta_shift)
    atomic_write(run.checkpoints_dir / "model.pt", lambda f: torch.save(model.state_dict(), f))
    plot_curves(run, history, f"{name} on {data.source}", averaged=config.ema_decay > 0)
    run.set_params(model)
    return {
        "test_accuracy": topk_accuracy(z, data.y_test, 1),
        "test_top5_accuracy": topk_accuracy(z, data.y_test, 5),
        "val_accuracy": final_val,
        "val_accuracy_flip_tta": history[-1]["val_accuracy"],
        "num_params": num_params,
        "epochs": config.epochs,
        "official_data": float(data.source.startswith(f"{dataset} official")),
        **extra,
    }
