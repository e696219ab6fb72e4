"""CIFAR-10 with a small pre-activation residual network (ECE472 assignment 4).

Methods: 45,000 / 5,000 train/validation split of the training set (seeded, stratified);
the test set is evaluated once at the end. Network: a frozen first layer that whitens 2x2
patches (:class:`practicum.nn.PatchWhitening`, airbench's idea: 24 eigen-filters of the patch
covariance, both signs), then a :class:`practicum.nn.Classifier` of four stages of
64/128/256/512 channels (31 -> 15 -> 7 -> 3 pixels): each a 3x3 convolution, a 2x2 max-pool
(not in the first, full-resolution stage, like ResNet-9's prep layer), ``GroupNorm``, ReLU
and one pre-activation ``ResidualBlock`` (zero-initialised, so it starts as the identity);
then global average pooling and a linear layer. The convolutions before each GroupNorm use
weight standardisation (Qiao et al. 2019), which recovers part of what GroupNorm loses
against BatchNorm. 60 epochs. Training: SGD with Nesterov momentum, a one-cycle learning
rate (linear warm-up and decay), weight decay, label smoothing, and whole-batch
augmentation in torch (random crop with 4-pixel padding, horizontal flip, cutout).
Test-time augmentation: the logits of each image, its mirror image and both moved by +-1
pixel are averaged. Ideas from airbench (Keller Jordan 2024) and ResNet-9 (David Page
2018); ``ema_decay`` (evaluate a moving average of the weights) is an option that measured
no gain. The sweep behind the defaults is in docs/labs/cifar10-resnet.md.

Data: ``source="auto"`` reads the official python archive when it is present (in
``$PRACTICUM_DATA/cifar10/`` or the cache) and the JPEG image-folder copy otherwise;
``source="official"`` / ``"jpeg"`` choose; ``archive=PATH`` reads your own copy of the
official archive. The summary says which data it was computed on (``data_source`` in
metrics.jsonl). ``--quick`` trains a tiny network on scikit-learn's 8x8 digits. Under
``torchrun`` each process trains on its shard of every batch (DistributedDataParallel).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from practicum.data import augment, batch_indices, channel_stats, to_float_images, train_val_split
from practicum.data.store import find_local
from practicum.data.vision import CIFAR_ARCHIVES, ImageData, load_cifar, load_cifar10_jpeg
from practicum.errors import PracticumError
from practicum.io import atomic_write
from practicum.lab import Lab, Target
from practicum.nn import Classifier, GroupNorm, PatchWhitening, count_parameters, update_average
from practicum.run import Run

Source = Literal["auto", "official", "jpeg", "digits"]


@dataclass
class Config:
    source: Source = "auto"  # "digits": scikit-learn 8x8 digits as RGB, for --quick
    archive: str = ""  # path to your own official archive (overrides source)
    # The recipe of record (92.08% on the JPEG copy, run P in docs/labs/cifar10-resnet.md,
    # with the sweep): 7.8 M parameters, ~4 min on one H100 but ~9 h on 2 CPU threads.
    # CPU budget (2 threads): --set layer_depths=64,256,256 --set pool= --set epochs=32
    # --set crop_padding=2 --set ema_decay=0.99 gave 90.05% in 97 min (run cpu-D-ws-32).
    layer_depths: tuple[int, ...] = (64, 128, 256, 512)
    residual_blocks: int = 1  # per stage
    pool_first: bool = True  # conv -> pool -> norm -> ReLU -> blocks (ResNet-9 layout)
    pool: tuple[bool, ...] = (False, True, True, True)  # per stage; empty: every stage pools
    norm: Literal["group", "batch"] = "group"  # "batch": a BatchNorm comparison, not the lab's
    num_groups: int = 16
    standardize_weights: bool = True  # weight standardisation before each GroupNorm (Qiao 2019)
    whiten: bool = True  # a frozen 2x2 patch-whitening first layer (airbench)
    epochs: int = 60
    batch_size: int = 256
    learning_rate: float = 0.2  # peak, SGD with Nesterov momentum 0.9
    warmup: float = 0.15
    weight_decay: float = 5e-4
    label_smoothing: float = 0.2
    ema_decay: float = 0.0  # > 0: evaluate an exponential moving average of the weights
    crop_padding: int = 4
    flip: bool = True
    cutout: int = 8
    val_size: int = 5_000
    train_subset: int = 0  # > 0: train on only this many images (smoke tests)
    tta: bool = True  # average logits over each image and its mirror image at test time
    tta_shift: int = 1  # > 0: also over copies translated by +-tta_shift pixels (final eval)
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


# ---- data --------------------------------------------------------------------------------


def digits_rgb() -> ImageData:
    """scikit-learn's 8x8 digits as 3-channel images (fixed split: last 400 for testing)."""
    from practicum.labs.vision.mnist_cnn import load_digits_uint8

    x_train, y_train, x_test, y_test = load_digits_uint8()
    rgb = lambda x: x.unsqueeze(-1).expand(-1, -1, -1, 3).contiguous()  # noqa: E731
    return ImageData(
        rgb(x_train),
        y_train,
        rgb(x_test),
        y_test,
        tuple(map(str, range(10))),
        "scikit-learn 8x8 digits",
    )


def load_images(config: Config, dataset: str) -> ImageData:
    """The dataset chosen by ``source``/``archive`` (see the module docstring)."""
    if config.source == "digits":
        return digits_rgb()
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


@dataclass
class Split:
    x_train: torch.Tensor  # float (N, C, H, W), standardised
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    source: str


def prepare(images: ImageData, config: Config, seed: int, device: str) -> Split:
    n = len(images.x_train)
    val_size = min(config.val_size, n // 5)
    train_idx, val_idx = train_val_split(n, val_size, seed, images.y_train.numpy())
    if config.train_subset:  # a seeded random subset (the files are sorted by class)
        pick = np.random.default_rng(seed).permutation(len(train_idx))[: config.train_subset]
        train_idx = np.sort(train_idx[pick])
    mean, std = channel_stats(images.x_train[train_idx])
    fmt = torch.channels_last if config.channels_last else torch.contiguous_format

    def prep(x: torch.Tensor) -> torch.Tensor:
        return to_float_images(x, mean, std).to(device).contiguous(memory_format=fmt)

    return Split(
        prep(images.x_train[train_idx]),
        images.y_train[train_idx].to(device),
        prep(images.x_train[val_idx]),
        images.y_train[val_idx].to(device),
        prep(images.x_test),
        images.y_test.to(device),
        images.num_classes,
        images.source,
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
    k = min(k, z.shape[1])
    return float((z.topk(k, dim=1).indices == y[:, None]).any(dim=1).float().mean())


def train(
    model: torch.nn.Module, config: Config, data: Split, run: Run
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
        optimizer, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(total - warm, 1)))
    )
    # The average starts at the initial weights; with decay d it forgets them after
    # ~1/(1-d) steps, so it follows the last epoch or two at the end of the schedule.
    average = copy.deepcopy(model).requires_grad_(False) if config.ema_decay else model
    history: list[dict[str, float]] = []
    seconds, images = 0.0, 0
    # A checkpoint after every epoch: `practicum run --resume RUN_DIR` continues bit for bit.
    state = {"model": model, "optimizer": optimizer, "schedule": schedule, "generator": generator}
    if config.ema_decay:
        state["average"] = average
    resumed = run.restore(**state, history=[], seconds=0.0, images=0)
    first = 0
    if resumed:
        first, history = resumed["step"] + 1, resumed["history"]
        seconds, images = resumed["seconds"], resumed["images"]
    # Under torchrun every process draws the same augmented batch (same generator, same seed)
    # and trains on its shard of it; DDP averages the gradients. GroupNorm normalises each
    # image on its own, so N processes compute what one process does on the whole batch.
    trained = run.distribute(model)
    left = total - first * steps_per_epoch
    bar = iter(run.progress(range(left), total=left, desc="train"))
    for epoch in range(first, config.epochs):
        start = time.perf_counter()
        for idx in batch_indices(len(data.x_train), config.batch_size, generator, drop_last=True):
            next(bar, None)
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
            if not torch.isfinite(loss):
                raise PracticumError(
                    f"the loss became {loss.item()} in epoch {epoch}: lower the learning rate"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            if config.ema_decay:  # early on a shorter memory, so the start fades fast
                step = schedule.last_epoch
                update_average(average, model, min(config.ema_decay, (1 + step) / (10 + step)))
            images += len(idx)
        seconds += time.perf_counter() - start
        z = logits(average, data.x_val, config.tta) if len(data.x_val) else None
        entry = {
            "epoch": epoch + 1,
            "loss": loss.item(),
            "val_accuracy": topk_accuracy(z, data.y_val, 1) if z is not None else float("nan"),
            "train_seconds": seconds,
            "images_per_second": images / seconds,
        }
        history.append(entry)
        run.log(**entry)
        run.print(
            f"epoch {epoch + 1}: val {entry['val_accuracy']:.4f}, {entry['images_per_second']:.0f} img/s"
        )
        run.checkpoint(epoch, **state, history=history, seconds=seconds, images=images)
    return history, average


def plot_curves(
    run: Run, history: list[dict[str, float]], title: str, averaged: bool = False
) -> None:
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


def run(config: Config, run: Run) -> dict[str, float]:
    return run_resnet(config, run, "cifar10", "CIFAR-10 ResNet")


QUICK = {
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

LAB = Lab(
    name="cifar10-resnet",
    title="CIFAR-10 with a small pre-activation ResNet, GroupNorm and batch augmentation",
    source="ECE472 assignment 4; ideas from airbench (Jordan 2024)",
    courses=("ece472",),
    config=Config,
    quick=QUICK,
    targets=[Target("test_accuracy", ">=", 0.92, "practicum (ours), on the JPEG copy")],
    quick_targets=[Target("test_accuracy", ">=", 0.85, "quick mode on 8x8 digits")],
    summary="a pre-activation ResNet: patch whitening, GroupNorm with weight standardisation, cutout, TTA",
    time_full="10 min on an H100 shared by 3 runs (~4 min alone); ~9 h (2 CPU threads)",
    time_quick="3 s",
    run=run,
)
