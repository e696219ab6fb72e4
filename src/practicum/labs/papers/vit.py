"""The Vision Transformer: patches as words, and the inductive bias it lacks (Dosovitskiy 2020).

Claim (Dosovitskiy, Beyer, Kolesnikov, Weissenborn, Zhai, Unterthiner, Dehghani, Minderer,
Heigold, Gelly, Uszkoreit & Houlsby 2020, "An Image is Worth 16x16 Words: Transformers for
Image Recognition at Scale", ICLR 2021): a plain transformer on a sequence of linearly
embedded image patches classifies images. It lacks the convolutional network's inductive
biases (locality, translation equivariance), so on small data a ResNet of comparable cost
beats it, and the gap closes as the data grow (Sec. 4.3, Figs. 3-4: "the convolutional
inductive bias is useful for smaller datasets, but for larger ones, learning the relevant
patterns directly from data is sufficient, even beneficial"). What it learns instead (Fig. 7,
centre and right): position embeddings whose similarity falls with the distance between
patches, and heads whose mean attention distance spans local and global in the first layers
and grows with depth.

Model (:class:`practicum.nn.vit.VisionTransformer`): P x P patches embedded by a strided
convolution, a learned class token, learned position embeddings, pre-norm
:class:`~practicum.nn.attention.TransformerBlock`\\ s, LayerNorm and a linear head on the class
token. MNIST: 7 x 7 patches (16 tokens + class), width 64, 4 layers of 4 heads.
CIFAR-10: 4 x 4 patches of the 32 x 32 image (an 8 x 8 grid, 64 tokens + class), width 64,
4 layers, 4 heads. The convolutional baseline is the library's pre-activation ResNet (the
cifar10-resnet recipe's :func:`~practicum.recipes.cifar_resnet.build_model`, no patch
whitening): three stages of 16/32/64 channels, each a 3x3 convolution, GroupNorm, ReLU, one
pre-activation residual block and a 2x2 max-pool, then global average pooling and a linear
layer; its training step costs about what the ViT's does (1.1 against 1.0 in FLOPs).

Loss and loop: cross-entropy, AdamW (β = 0.9, 0.999, decoupled weight decay; the paper trains
ViTs and ResNets alike with Adam and high weight decay) with a linear warm-up and linear decay
of the learning rate (peak 2e-3 on MNIST, 12 epochs; 1e-3 on CIFAR-10), batches of 128.
Augmentation: random shifts of up to ``mnist_shift``
pixels (MNIST); random crops with 4 pixels of padding and horizontal flips (CIFAR).

Equal training time: a count of work, not a clock, so the same seed gives the same bits. At
every training-set size both networks get the same budget of training FLOPs (``budget_images``
x the ViT's FLOPs per image, forward and backward, counted by FlopCounterMode,
:mod:`practicum.flops`); each trains for as many steps as that budget buys. The wall-clock
time of every training is measured and reported beside it (in ``trainings.json`` and the
log), never in a metric.

Evaluation: MNIST test accuracy (10,000 images; a 5,000-image validation split of the
training set draws the learning curves). CIFAR-10 (the JPEG copy): nested random subsets of
the 50,000 training images (``sweep_sizes``), each network evaluated on all 10,000 test
images; the gap is ResNet accuracy minus ViT accuracy. Fig. 7 read-outs from the ViT of the
largest subset: mean attention distance of every head and layer on ``attention_images``
test images, and the cosine similarity of its position embeddings.

Resuming: every MNIST epoch and every CIFAR training is one iteration of ``run.loop``, each
training seeded from the run's seed and its index.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr

from practicum.data import batch_indices, random_crop, random_flip, standardised_split
from practicum.data.vision import load_digits_rgb, load_digits_uint8, load_mnist
from practicum.errors import PracticumError
from practicum.flops import training_step_flops
from practicum.lab import Lab, Target, bounded
from practicum.nn.vit import (
    VisionTransformer,
    cosine_similarity_matrix,
    mean_attention_distance,
    patch_distances,
)
from practicum.plotting import figure
from practicum.recipes.cifar_resnet import Config as ResNetConfig
from practicum.recipes.cifar_resnet import build_model, load_images, one_cycle_factor
from practicum.repro import sub_seed
from practicum.run import Run


# ---- config --------------------------------------------------------------------------------
@dataclass
class Config:
    # MNIST ("digits": scikit-learn's 8x8 digits, for --quick)
    mnist_source: Literal["mnist", "digits"] = "mnist"
    mnist_patch: int = bounded(7, "[1, 28]")  # 28/7 = 4: a 4x4 grid, 16 tokens
    mnist_width: int = bounded(64, "[4, 4096]")
    mnist_depth: int = bounded(4, "[1, 64]")
    mnist_heads: int = bounded(4, "[1, 64]")
    mnist_epochs: int = bounded(12, "[1, 1000]")  # 10 epochs of a 12-epoch run: 98.76% val
    # peak rate on MNIST; at 1e-3 the small ViT fitted more slowly (95.6% val after 3 epochs)
    mnist_learning_rate: float = bounded(2e-3, "(0, 1]")
    mnist_shift: int = bounded(2, "[0, 8]")  # random shifts of up to this many pixels
    mnist_val: int = bounded(5000, "[0, 20000]")  # validation images for the learning curves
    # CIFAR-10 ("digits": scikit-learn's 8x8 digits as RGB, for --quick)
    cifar_source: Literal["jpeg", "digits"] = "jpeg"
    cifar_patch: int = bounded(4, "[1, 32]")  # 32/4 = 8: an 8x8 grid, 64 tokens
    cifar_width: int = bounded(64, "[4, 4096]")
    cifar_depth: int = bounded(4, "[1, 64]")
    cifar_heads: int = bounded(4, "[1, 64]")
    resnet_depths: tuple[int, ...] = bounded((16, 32, 64), "[1, 4096]")  # channels per stage
    resnet_groups: int = bounded(8, "[1, 4096]")  # GroupNorm groups
    # Nested random subsets of the training set, smallest first.
    sweep_sizes: tuple[int, ...] = bounded((1000, 5000, 25000), "[10, 50000]")
    # The equal budget of every training, in FLOPs: this many ViT training images (forward
    # and backward): 100 epochs of 1k, 20 of 5k, 4 of 25k. Sized to the clock, not to a
    # result: ~4.6 min of the ViT and ~2.5 min of the ResNet per size on an idle thread
    # (363 and 619 images/s measured), about 1.5 times that on the shared machine. A first
    # record at 60,000 took 24.9 min and left the position embeddings less ordered (ρ -0.40).
    budget_images: int = bounded(100_000, "[1, 1e9]")
    crop_padding: int = bounded(4, "[0, 16]")
    flip: bool = True
    # optimisation (both datasets, both networks)
    batch_size: int = bounded(128, "[1, 65536]")
    learning_rate: float = bounded(1e-3, "(0, 1]")  # peak, CIFAR-10
    weight_decay: float = bounded(0.1, "[0, 10]")  # torch AdamW's (multiplied by the rate)
    warmup: float = bounded(0.05, "[0, 1)")  # share of the steps
    # read-outs
    attention_images: int = bounded(1000, "[1, 10000]")  # test images for attention distance
    eval_batch: int = bounded(500, "[1, 65536]")

    def validate(self) -> None:
        if list(self.sweep_sizes) != sorted(set(self.sweep_sizes)) or len(self.sweep_sizes) < 2:
            raise PracticumError("sweep_sizes must be at least two increasing sizes")
        for name in ("mnist", "cifar"):
            width, heads = getattr(self, f"{name}_width"), getattr(self, f"{name}_heads")
            if width % heads:
                raise PracticumError(f"{name}_width {width} is not a multiple of {name}_heads")
        side = 8 if self.mnist_source == "digits" else 28
        if side % self.mnist_patch:
            raise PracticumError(f"mnist_patch {self.mnist_patch} does not divide {side}")
        side = 8 if self.cifar_source == "digits" else 32
        if side % self.cifar_patch:
            raise PracticumError(f"cifar_patch {self.cifar_patch} does not divide {side}")


# ---- training of one classifier for a fixed number of steps ---------------------------------
def make_optimizer(model: torch.nn.Module, config: Config, steps: int, lr: float):
    """AdamW, no decay on biases, norms and the 1-d class token's kin (ndim <= 1); a linear
    warm-up over ``warmup`` of the steps, then a linear decay to zero."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": config.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=lr,
        betas=(0.9, 0.999),
    )
    warm = max(int(config.warmup * steps), 1)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: one_cycle_factor(step, warm, steps)
    )
    return optimizer, schedule


def train_step(model, optimizer, schedule, xb, yb) -> float:
    loss = F.cross_entropy(model(xb), yb)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    schedule.step()
    return float(loss.detach())


@torch.no_grad()
def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int) -> float:
    model.eval()
    right = sum(
        int((model(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum())
        for i in range(0, len(x), batch)
    )
    model.train()
    return right / max(len(x), 1)


def shift(x: torch.Tensor, pixels: int, generator: torch.Generator) -> torch.Tensor:
    """Random translations by up to ``pixels`` each way (a padded random crop)."""
    return random_crop(x, pixels, generator)


# ---- CIFAR-10: the data-size sweep -----------------------------------------------------------
@dataclass(frozen=True)
class Job:
    model: Literal["vit", "resnet"]
    size: int


def sweep_plan(config: Config) -> list[Job]:
    return [Job(m, n) for n in config.sweep_sizes for m in ("vit", "resnet")]


def build_cifar_model(config: Config, kind: str, side: int, num_classes: int) -> torch.nn.Module:
    if kind == "vit":
        return VisionTransformer(
            side,
            config.cifar_patch,
            3,
            num_classes,
            config.cifar_width,
            config.cifar_depth,
            config.cifar_heads,
        )
    resnet = ResNetConfig(
        layer_depths=tuple(config.resnet_depths),
        pool=(),  # every stage pools after its convolution
        whiten=False,
        standardize_weights=False,
        pool_first=False,
        num_groups=config.resnet_groups,
        channels_last=False,
    )
    return build_model(resnet, num_classes)


def train_sweep_job(
    config: Config, job: Job, data, order: torch.Tensor, budget: float, seed: int, device: str
) -> dict[str, Any]:
    """One training on the first ``job.size`` images of ``order`` for the steps that
    ``budget`` FLOPs buy; its test accuracy, steps, FLOPs and measured seconds."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    side = data.x_train.shape[-1]
    model = build_cifar_model(config, job.model, side, data.num_classes).to(device)
    idx = order[: job.size]
    x, y = data.x_train[idx.to(device)], data.y_train[idx.to(device)]
    probe = min(config.batch_size, job.size)
    step_flops = training_step_flops(model, x[:probe], y[:probe]) * config.batch_size / probe
    steps = max(round(budget / step_flops), 1)
    optimizer, schedule = make_optimizer(model, config, steps, config.learning_rate)
    start = time.perf_counter()
    done, losses = 0, []
    while done < steps:
        for b in batch_indices(job.size, config.batch_size, gen, drop_last=job.size >= 2 * probe):
            xb = random_crop(x[b.to(device)], config.crop_padding, gen)
            xb = random_flip(xb, gen) if config.flip else xb
            losses.append(train_step(model, optimizer, schedule, xb, y[b.to(device)]))
            done += 1
            if done == steps:
                break
    seconds = time.perf_counter() - start
    return {
        "model": job.model,
        "size": job.size,
        "steps": steps,
        "epochs": steps * config.batch_size / job.size,
        "flops_per_step": step_flops,
        "train_flops": steps * step_flops,
        "train_seconds": seconds,
        "final_loss": float(np.mean(losses[-20:])),
        "test_accuracy": accuracy(model, data.x_test, data.y_test, config.eval_batch),
        "params": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
    }


def load_cifar_split(config: Config, seed: int, device: str):
    if config.cifar_source == "digits":
        images = load_digits_rgb()
    else:
        images = load_images(ResNetConfig(source="jpeg"), "cifar10")
    # val_size 0: the whole training set, standardised with its own statistics
    return standardised_split(
        images.x_train,
        images.y_train,
        images.x_test,
        images.y_test,
        0,
        seed,
        device,
        num_classes=images.num_classes,
        source=images.source,
    )


# ---- Fig. 7 read-outs -------------------------------------------------------------------------
def attention_distances(model: VisionTransformer, x: torch.Tensor, batch: int) -> np.ndarray:
    """(layers, heads) mean attention distance in pixels, averaged over the images ``x``."""
    model.eval()
    totals = None
    for i in range(0, len(x), batch):
        maps = model.attention_maps(x[i : i + batch])
        d = torch.stack(
            [mean_attention_distance(w, model.grid, model.patch_size) for w in maps]
        ) * len(maps[0])
        totals = d if totals is None else totals + d
    model.train()
    return (totals / len(x)).cpu().numpy()


def position_structure(model: VisionTransformer) -> tuple[np.ndarray, float]:
    """The position embeddings' cosine similarity matrix and Spearman's ρ between similarity
    and the distance of the two patches (over distinct pairs)."""
    sim = cosine_similarity_matrix(model.position_embeddings().double()).cpu().numpy()
    dist = patch_distances(model.grid, 1).numpy()
    upper = np.triu_indices(len(sim), k=1)
    return sim, float(spearmanr(sim[upper], dist[upper]).statistic)


# ---- the run ------------------------------------------------------------------------------
def run(config: Config, run: Run) -> dict[str, float]:
    # MNIST data and model
    if config.mnist_source == "digits":
        raw = load_digits_uint8()
        val = min(config.mnist_val, 200)
    else:
        raw = load_mnist("mnist")
        val = config.mnist_val
    mnist = standardised_split(*raw, val, run.seed, run.device, num_classes=10)
    side = mnist.x_train.shape[-1]
    torch.manual_seed(sub_seed(run.seed, 0))
    vit = VisionTransformer(
        side,
        config.mnist_patch,
        1,
        10,
        config.mnist_width,
        config.mnist_depth,
        config.mnist_heads,
    ).to(run.device)
    per_epoch = len(mnist.x_train) // config.batch_size
    optimizer, schedule = make_optimizer(
        vit, config, per_epoch * config.mnist_epochs, config.mnist_learning_rate
    )
    gen = torch.Generator().manual_seed(sub_seed(run.seed, 1))
    history: list[dict[str, float]] = []
    results: dict[str, Any] = {}
    params: dict[str, Any] = {}
    state = {
        "mnist_vit": vit,
        "optimizer": optimizer,
        "schedule": schedule,
        "generator": gen,
        "history": history,
        "results": results,
        "params": params,
    }
    jobs = sweep_plan(config)
    n_mnist = config.mnist_epochs
    run.print(
        f"MNIST: ViT of {sum(p.numel() for p in vit.parameters()):,} parameters on "
        f"{len(mnist.x_train):,} images; then {len(jobs)} CIFAR-10 trainings"
    )
    cifar = None
    order = None
    budget = 0.0
    for i in run.loop(n_mnist + len(jobs), state, desc="epoch/training"):
        if i < n_mnist:  # one MNIST epoch
            start = time.perf_counter()
            losses = []
            for b in batch_indices(len(mnist.x_train), config.batch_size, gen, drop_last=True):
                xb = shift(mnist.x_train[b.to(run.device)], config.mnist_shift, gen)
                losses.append(
                    train_step(vit, optimizer, schedule, xb, mnist.y_train[b.to(run.device)])
                )
            entry = {
                "epoch": i + 1,
                "train_loss": float(np.mean(losses)),
                "val_accuracy": accuracy(vit, mnist.x_val, mnist.y_val, config.eval_batch),
                "seconds": time.perf_counter() - start,
            }
            history.append(entry)
            run.log(**entry)
            run.print(f"MNIST epoch {i + 1}: {entry}")
            continue
        if cifar is None:
            cifar, order, budget = prepare_sweep(config, run)
        job = jobs[i - n_mnist]
        out = train_sweep_job(
            config, job, cifar, order, budget, sub_seed(run.seed, 100 + i), run.device
        )
        name = f"{job.model}_{job.size}"
        params[name] = out.pop("params")
        results[name] = out
        run.log(job=name, **out)
        run.print(f"{name}: {out}")

    mnist_test = accuracy(vit, mnist.x_test, mnist.y_test, config.eval_batch)
    if cifar is None:  # resumed after the last training
        cifar, order, budget = prepare_sweep(config, run)
    sizes = list(config.sweep_sizes)
    vit_acc = [results[f"vit_{n}"]["test_accuracy"] for n in sizes]
    cnn_acc = [results[f"resnet_{n}"]["test_accuracy"] for n in sizes]
    gaps = [c - v for c, v in zip(cnn_acc, vit_acc, strict=True)]

    big = build_cifar_model(config, "vit", cifar.x_train.shape[-1], cifar.num_classes)
    big.load_state_dict(params[f"vit_{sizes[-1]}"])
    big = big.to(run.device)
    shown = cifar.x_test[: config.attention_images]
    distances = attention_distances(big, shown, config.eval_batch)
    mnist_distances = attention_distances(
        vit, mnist.x_test[: config.attention_images], config.eval_batch
    )
    sim, rho = position_structure(big)
    layer_mean = distances.mean(axis=1)

    metrics = {
        "mnist_test_accuracy": mnist_test,
        "mnist_val_accuracy": history[-1]["val_accuracy"],
        **{f"vit_accuracy_{n}": a for n, a in zip(sizes, vit_acc, strict=True)},
        **{f"resnet_accuracy_{n}": a for n, a in zip(sizes, cnn_acc, strict=True)},
        "gap_smallest": gaps[0],
        "gap_largest": gaps[-1],
        "gap_largest_minus_smallest": gaps[-1] - gaps[0],
        "position_similarity_distance_spearman": rho,
        "attention_distance_first_layer": float(layer_mean[0]),
        "attention_distance_last_layer": float(layer_mean[-1]),
        "attention_distance_last_minus_first": float(layer_mean[-1] - layer_mean[0]),
        "attention_distance_first_layer_spread": float(np.ptp(distances[0])),
        "budget_flops": budget,
    }
    run.set_params({"mnist_vit": vit.state_dict(), **params})
    run.write_json(
        "trainings.json",
        {
            "mnist": history,
            "cifar": results,
            "attention_distance_px": distances.tolist(),
            "mnist_attention_distance_px": mnist_distances.tolist(),
            "data_source": cifar.source,
        },
    )
    run.save_figure(mnist_figure(history, mnist_test, config), "mnist_curves")
    run.save_figure(sweep_figure(sizes, vit_acc, cnn_acc, results, config), "data_size_sweep")
    run.save_figure(
        distance_figure(distances, mnist_distances, big, config, side), "attention_distance"
    )
    run.save_figure(position_figure(sim, big.grid, rho), "position_similarity")
    return metrics


def prepare_sweep(config: Config, run: Run):
    """The CIFAR-10 split, the order its nested subsets are taken in, and the FLOP budget."""
    cifar = load_cifar_split(config, run.seed, run.device)
    order = torch.randperm(len(cifar.x_train), generator=torch.Generator().manual_seed(run.seed))
    if config.sweep_sizes[-1] > len(order):
        raise PracticumError(
            f"sweep size {config.sweep_sizes[-1]} exceeds the {len(order)} training images"
        )
    vit = build_cifar_model(config, "vit", cifar.x_train.shape[-1], cifar.num_classes)
    xb, yb = cifar.x_train[: config.batch_size], cifar.y_train[: config.batch_size]
    per_image = training_step_flops(vit.to(run.device), xb, yb) / len(xb)
    run.print(
        f"CIFAR-10 ({cifar.source}): budget {config.budget_images:,} ViT images = "
        f"{config.budget_images * per_image:.3g} FLOPs per training"
    )
    return cifar, order, config.budget_images * per_image


# ---- figures -------------------------------------------------------------------------------
def mnist_figure(history: list[dict], test: float, config: Config):
    fig, axes = figure(2, size=(4.8, 3.6))
    ax_loss, ax_acc = axes[0]
    epochs = [h["epoch"] for h in history]
    ax_loss.plot(epochs, [h["train_loss"] for h in history], "o-", color="C0")
    ax_loss.set(xlabel="epoch", ylabel="training cross-entropy (augmented)", yscale="log")
    ax_loss.set_title("MNIST ViT: training loss")
    ax_acc.plot(
        epochs, [100 * h["val_accuracy"] for h in history], "o-", color="C3", label="validation"
    )
    ax_acc.axhline(100 * test, color="k", ls="--", lw=1, label=f"test, final: {100 * test:.2f}%")
    ax_acc.axhline(98.5, color="grey", ls=":", lw=1, label="target 98.5%")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)")
    ax_acc.set_title(
        f"{config.mnist_patch}x{config.mnist_patch} patches, width {config.mnist_width}, "
        f"{config.mnist_depth} layers"
    )
    ax_acc.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def sweep_figure(sizes, vit_acc, cnn_acc, results, config: Config):
    """Accuracy against training-set size at equal training FLOPs (cf. Figs. 3-4)."""
    fig, axes = figure(2, size=(4.8, 3.6))
    ax, ax_gap = axes[0]
    ax.plot(sizes, [100 * a for a in cnn_acc], "s-", color="C0", label="ResNet (GroupNorm)")
    ax.plot(sizes, [100 * a for a in vit_acc], "o-", color="C3", label="ViT")
    for n, v in zip(sizes, vit_acc, strict=True):
        r = results[f"vit_{n}"]
        ax.annotate(f"{r['epochs']:.0f} ep", (n, 100 * v), textcoords="offset points",
                    xytext=(0, -12), ha="center", fontsize=7, color="C3")  # fmt: skip
    ax.set(xscale="log", xlabel="CIFAR-10 training images", ylabel="test accuracy (%)")
    ax.margins(y=0.15)  # room for the epoch labels under the ViT points
    ax.set_title(f"equal training FLOPs ({config.budget_images:,} ViT images)")
    ax.legend(fontsize=8, loc="upper left")
    gaps = [100 * (c - v) for c, v in zip(cnn_acc, vit_acc, strict=True)]
    ax_gap.plot(sizes, gaps, "d-", color="k")
    ax_gap.axhline(0, color="grey", lw=0.8)
    ax_gap.margins(y=0.15)  # room for the wall-clock labels
    secs = [
        f"{results[f'vit_{n}']['train_seconds']:.0f}/{results[f'resnet_{n}']['train_seconds']:.0f} s"
        for n in sizes
    ]
    for i, (n, g, s) in enumerate(zip(sizes, gaps, secs, strict=True)):
        last = i == len(sizes) - 1  # above and beside each point, inside the axes
        ax_gap.annotate(s, (n, g), textcoords="offset points", xytext=(-6 if last else 6, 6),
                        ha="right" if last else "left", fontsize=7)  # fmt: skip
    ax_gap.set(xscale="log", xlabel="CIFAR-10 training images", ylabel="ResNet − ViT (points)")
    ax_gap.set_title("the convolution's lead (wall-clock ViT/ResNet)")
    fig.tight_layout()
    return fig


def distance_figure(distances, mnist_distances, model, config: Config, mnist_side: int):
    """Mean attention distance per head against layer (Fig. 7, right)."""
    fig, axes = figure(2, size=(4.6, 3.6))
    mnist_grid = mnist_side // config.mnist_patch
    panels = (
        (axes[0][0], distances, "CIFAR-10", model.grid, model.patch_size),
        (axes[0][1], mnist_distances, "MNIST", mnist_grid, config.mnist_patch),
    )
    for ax, d, name, grid, patch in panels:
        layers, heads = d.shape
        for h in range(heads):
            ax.scatter(np.arange(1, layers + 1), d[:, h], s=18, label=f"head {h + 1}")
        ax.plot(np.arange(1, layers + 1), d.mean(axis=1), "k--", lw=1, label="mean of heads")
        # uniform attention over every patch: the distance of a fully global head
        uniform = float(patch_distances(grid, patch).mean())
        ax.axhline(uniform, color="grey", ls=":", lw=1, label="uniform attention")
        ax.set(xlabel="layer", ylabel="mean attention distance (pixels)", ylim=(0, 1.25 * uniform))
        ax.set_xticks(np.arange(1, layers + 1))
        ax.set_title(f"{name} ViT ({grid}x{grid} patches of {patch} px)", fontsize=9)
    axes[0][0].legend(fontsize=7, loc="lower right", ncol=2)
    fig.tight_layout()
    return fig


def position_figure(sim: np.ndarray, grid: int, rho: float):
    """Each position's embedding against all others' (Fig. 7, centre)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(grid, grid, figsize=(0.7 * grid + 1.2, 0.7 * grid + 0.6))
    axes = np.atleast_2d(axes)
    image = None
    for r in range(grid):
        for c in range(grid):
            ax = axes[r, c]
            image = ax.imshow(
                sim[r * grid + c].reshape(grid, grid), vmin=-1, vmax=1, cmap="viridis"
            )
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(str(r + 1), fontsize=7)
            if r == grid - 1:
                ax.set_xlabel(str(c + 1), fontsize=7)
    fig.suptitle(f"position-embedding cosine similarity (Spearman vs distance {rho:.2f})",
                 fontsize=9)  # fmt: skip
    fig.subplots_adjust(right=0.86, top=0.92, wspace=0.08, hspace=0.08)
    bar = fig.add_axes((0.89, 0.15, 0.02, 0.7))
    fig.colorbar(image, cax=bar)
    return fig


def footprint(config: Config) -> int:
    """The CIFAR-10 images as float32 (60,000 x 3 x 32 x 32) and MNIST's, twice (uint8 and
    standardised copies), plus a ViT batch's attention and activations."""
    data = 60_000 * 3 * 32 * 32 * 5 + 70_000 * 28 * 28 * 5
    tokens = (32 // config.cifar_patch) ** 2 + 1
    acts = config.batch_size * tokens * (config.cifar_width * 16 + tokens * config.cifar_heads)
    return int(data + acts * 4 * config.cifar_depth * 3)


QUICK: dict[str, Any] = {
    "mnist_source": "digits",
    "mnist_patch": 4,  # a 2x2 grid of 8x8 digits
    "mnist_width": 32,
    "mnist_depth": 2,
    "mnist_epochs": 15,
    "mnist_shift": 1,
    "cifar_source": "digits",
    "cifar_patch": 4,
    "cifar_width": 32,
    "cifar_depth": 2,
    "resnet_depths": (8, 16),
    "resnet_groups": 4,
    "sweep_sizes": (100, 1000),
    "budget_images": 8000,
    "batch_size": 32,
    "crop_padding": 1,
    "flip": False,
    "learning_rate": 3e-3,
    "mnist_learning_rate": 3e-3,
    "attention_images": 200,
}

LAB = Lab(
    name="vit",
    title="Vision Transformer: patches as words, and the inductive bias it lacks",
    source="Dosovitskiy et al. 2020 (arXiv 2010.11929, ICLR 2021), Sec. 4.3, Figs. 3-4 and 7 "
    "(centre, right)",
    courses=("ece472",),
    config=Config,
    run=run,
    footprint=footprint,
    quick=QUICK,
    targets=[
        Target(
            "mnist_test_accuracy",
            ">=",
            0.985,
            "practicum (ours): a 4-layer ViT of 7x7 patches on MNIST (the paper's smallest "
            "benchmark is CIFAR-10)",
            paper="not reported; ViT-H/14 fine-tuned on CIFAR-10: 99.50% (Table 2)",
        ),
        Target(
            "gap_smallest",
            ">=",
            0.0,
            "Dosovitskiy et al. 2020 Sec. 4.3, Figs. 3-4: at the smallest training set the "
            "ResNet beats the ViT of equal training cost (ResNet − ViT test accuracy)",
            paper="BiT ResNets beat ViT-B/32 on 9M JFT images (Fig. 4) and ViT-L on ImageNet "
            "(Fig. 3)",
        ),
        Target(
            "gap_largest_minus_smallest",
            "<=",
            0.0,
            "Dosovitskiy et al. 2020 Sec. 4.3, Figs. 3-4: the ResNet's lead shrinks as the "
            "data grow (gap at the largest size minus gap at the smallest)",
            paper="ViT overtakes the ResNets at 90M+ JFT images (Fig. 4) and on JFT-300M (Fig. 3)",
        ),
        Target(
            "position_similarity_distance_spearman",
            "<=",
            -0.5,
            "Dosovitskiy et al. 2020 Fig. 7 (centre): closer patches have more similar position "
            "embeddings (Spearman ρ of cosine similarity against patch distance)",
            paper="row-column structure and similarity falling with distance (Fig. 7, centre)",
        ),
        Target(
            "attention_distance_last_minus_first",
            ">=",
            0.0,
            "Dosovitskiy et al. 2020 Fig. 7 (right): attention distance increases with "
            "network depth (mean over heads, last layer minus first)",
            paper="ViT-L/16: from ~10-120 px in layer 1 to ~100-120 px in the last layers",
        ),
    ],
    quick_targets=[
        Target("mnist_test_accuracy", ">=", 0.85, "quick mode: 8x8 digits"),
        Target("resnet_accuracy_1000", ">=", 0.7, "quick mode: the ResNet on 8x8 digits"),
        Target("vit_accuracy_1000", ">=", 0.4, "quick mode: the ViT on 8x8 digits"),
        Target("gap_smallest", ">=", 0.0, "quick mode: the ResNet leads on 100 digits"),
    ],
    summary="a ViT on MNIST; ViT against a ResNet at equal training FLOPs across CIFAR-10 sizes; "
    "attention distance and position embeddings",
    time_full="27 min",  # the record: 27.1 min on one shared thread (load 2-5 on 2 cores)
    time_quick="30 s",
)
