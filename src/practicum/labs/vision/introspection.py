"""Introspection and inception: what a trained image classifier looks at, and what it wants to see.

Data: MNIST and the CIFAR-10 JPEG copy, standardised per channel with the training split's
statistics (5,000 training images held out for validation); ``--quick`` uses scikit-learn's
8×8 digits.

Model: a small convolutional network per dataset, trained in the lab (a few minutes on one
core): stages of 3×3 convolution and ReLU, 2×2 max-pooling between stages, then a hidden
linear layer and the classifier. Adam with a cosine-decayed rate; CIFAR-10 with random
crops and flips. Its test accuracy is checked first: a map of an untrained network explains
nothing.

Attribution (:mod:`practicum.attribution`), for the true class of ``explain_images`` test
images drawn with a seed (the CIFAR-10 copy's test set is sorted by class): gradient saliency, SmoothGrad, integrated gradients from a
black image, Grad-CAM on the last convolution's ReLU, occlusion by black windows. Each is
compared with Captum's implementation on the same model and images (the maintained anchor).

Evaluation:
* completeness of integrated gradients: Σ attributions = f(x) − f(black), per image;
* the deletion metric (Petsiuk et al. 2018): pixels are blackened in the order of the map;
  the area under the class probability's curve, against the same for random orders;
* the sanity check of Adebayo et al. 2018: the weights re-initialised from the top layer
  down (cascading randomisation); the Spearman correlation of each method's |map| on the
  trained and on the fully randomised network. A method that passes explains the model;
  one whose map survives the randomisation draws the input;
* activation maximisation (:mod:`practicum.feature_vis`) of every class logit and of hidden
  channels, with and without the regularisers (jitter, blur, L2 decay, pixel range), and the
  share of high spatial frequencies in each; DeepDream-style amplification of real images.

Targets: the issue's (completeness within 1%, Captum to 1e-5, rank correlation below 0.5
after randomisation, deletion faster than random) on both datasets.

Resuming: every epoch of a network and every dataset's analysis is one iteration of
``run.loop``; each draws from its own seed, so a resumed run ends with the same bits.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from practicum import attribution as A
from practicum import feature_vis as V
from practicum.data.batching import (
    ImageSplit,
    batch_indices,
    random_crop,
    random_flip,
    split_image_data,
)
from practicum.data.vision import ImageData, load_cifar10_jpeg, load_digits_uint8, load_mnist
from practicum.errors import PracticumError
from practicum.lab import Extra, Lab, Target, bounded
from practicum.plotting import figure
from practicum.repro import sub_seed
from practicum.run import Run

METHODS = ("saliency", "smoothgrad", "integrated_gradients", "grad_cam", "occlusion")
LABELS = {
    "saliency": "saliency |∇f|",
    "smoothgrad": "SmoothGrad",
    "integrated_gradients": "integrated gradients",
    "grad_cam": "Grad-CAM",
    "occlusion": "occlusion",
}
DATASETS = ("mnist", "cifar10", "digits")
CIFAR_CLASSES = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


# ---- config --------------------------------------------------------------------------------
@dataclass
class Config:
    datasets: tuple[str, ...] = ("mnist", "cifar10")  # digits: scikit-learn's 8×8, for quick
    widths: tuple[int, ...] = bounded((32, 64, 128), "[1, 1024]")  # channels of each stage
    hidden: int = bounded(128, "[1, 4096]")  # the linear layer before the classifier
    mnist_epochs: int = bounded(3, "[1, 1000]")  # also the digits' epochs
    cifar_epochs: int = bounded(10, "[1, 1000]")
    batch_size: int = bounded(128, "[1, 4096]")
    lr: float = bounded(2e-3, "(0, 1]")  # Adam, cosine-decayed to 0 over the training
    val_size: int = bounded(5000, "[1, 100000]")
    explain_images: int = bounded(100, "[1, 10000]")  # a seeded sample of test images
    captum_images: int = bounded(16, "[1, 10000]")  # of those, compared with Captum
    ig_steps: int = bounded(128, "[2, 10000]")  # Gauss–Legendre nodes (64: 0.6% worst on MNIST)
    smoothgrad_samples: int = bounded(32, "[1, 10000]")
    smoothgrad_noise: float = bounded(0.15, "[0, 10]")  # σ as a fraction of the pixel range
    occlusion_window: int = bounded(4, "[1, 64]")
    occlusion_stride: int = bounded(2, "[1, 64]")
    deletion_steps: int = bounded(32, "[2, 10000]")
    random_orders: int = bounded(5, "[1, 1000]")  # random deletion orders per image
    am_steps: int = bounded(256, "[1, 100000]")  # activation maximisation
    am_lr: float = bounded(0.05, "(0, 10]")  # step length in units of the mean |gradient|
    am_jitter: int = bounded(2, "[0, 16]")  # pixels
    am_blur: float = bounded(0.5, "[0, 10]")  # σ of the blur, in pixels
    am_blur_every: int = bounded(4, "[1, 1000]")
    am_decay: float = bounded(1e-3, "[0, 10]")  # L2 on the image, relative to the objective
    am_units: int = bounded(8, "[0, 1024]")  # channels of the last convolution visualised
    dream_images: int = bounded(4, "[0, 1000]")
    dream_steps: int = bounded(40, "[1, 100000]")
    show_images: int = bounded(6, "[1, 100]")  # rows of the side-by-side figure

    def validate(self) -> None:
        unknown = set(self.datasets) - set(DATASETS)
        if unknown or not self.datasets or len(set(self.datasets)) != len(self.datasets):
            raise PracticumError(f"datasets must be distinct ones of {DATASETS}: {self.datasets}")
        if len(self.widths) < 2:
            raise PracticumError("widths needs at least two stages (one pooling)")
        if self.captum_images > self.explain_images or self.show_images > self.explain_images:
            raise PracticumError("captum_images and show_images must not exceed explain_images")


def footprint(config: Config) -> int:
    """The datasets as floats (CIFAR-10: 60,000 × 3 × 32 × 32 × 4 bytes), and a batch of
    integrated-gradients points through the widest layer."""
    data = sum({"mnist": 70_000 * 784, "cifar10": 60_000 * 3072, "digits": 1797 * 64}[d]
               for d in config.datasets)  # fmt: skip
    points = 16 * config.explain_images * config.widths[0] * 32 * 32 * 3
    return 4 * (data + points)


# ---- data ----------------------------------------------------------------------------------
def load(name: str, config: Config, seed: int, device: str) -> tuple[ImageSplit, list[str]]:
    images: ImageData
    if name == "mnist":
        x_tr, y_tr, x_te, y_te = load_mnist("mnist")
        classes = [str(c) for c in range(10)]
    elif name == "digits":
        x_tr, y_tr, x_te, y_te = load_digits_uint8()
        classes = [str(c) for c in range(10)]
    else:
        images = load_cifar10_jpeg()
        x_tr, y_tr, x_te, y_te = images.x_train, images.y_train, images.x_test, images.y_test
        classes = list(CIFAR_CLASSES)
    images = ImageData(x_tr, y_tr, x_te, y_te, tuple(classes), name)
    if not 0 < config.val_size < len(y_tr):
        raise PracticumError(f"val_size must be below the {len(y_tr)} training images")
    return split_image_data(images, config.val_size, seed, device), classes


def black(split: ImageSplit) -> torch.Tensor:
    """The standardised value of a black pixel per channel, (1, C, 1, 1): the baseline that
    integrated gradients, occlusion and deletion put in place of the image (0 before
    standardising; the training split's darkest value is exactly that for these data)."""
    return split.x_train.amin(dim=(0, 2, 3), keepdim=True)


def pixel_range(split: ImageSplit) -> tuple[torch.Tensor, torch.Tensor]:
    """The standardised values of black and of the brightest pixel per channel, each
    (1, C, 1, 1): the bounds of a visualised image and of the display's colour scale."""
    return black(split), split.x_train.amax(dim=(0, 2, 3), keepdim=True)


def noise_sigma(x: torch.Tensor, config: Config) -> float:
    """SmoothGrad's σ: ``smoothgrad_noise`` of the explained images' range of values."""
    return config.smoothgrad_noise * float(x.max() - x.min())


# ---- model ---------------------------------------------------------------------------------
class ConvNet(nn.Module):
    """Stages of conv 3×3 + ReLU, a 2×2 max-pool after every stage but the last; then a
    hidden layer and the classifier. ``cam`` is the last convolution's ReLU: Grad-CAM's
    layer, the network's last spatial map."""

    def __init__(self, channels: int, side: int, widths: tuple[int, ...], hidden: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = channels
        for i, w in enumerate(widths):
            layers += [nn.Conv2d(c, w, 3, padding=1), nn.ReLU()]
            if i < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
                side //= 2
            c = w
        self.features = nn.Sequential(*layers)
        self.cam = self.features[-1]
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(c * side * side, hidden), nn.ReLU(), nn.Linear(hidden, 10)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def weighted_layers(self) -> list[nn.Module]:
        """Convolutions and linear layers, input first (the cascade re-initialises from the end)."""
        return [m for m in self.modules() if isinstance(m, nn.Conv2d | nn.Linear)]


def build(split: ImageSplit, config: Config, seed: int, device: str) -> ConvNet:
    torch.manual_seed(seed)  # PyTorch's default initialisation draws from the global generator
    _, channels, side, _ = split.x_train.shape
    return ConvNet(channels, side, config.widths, config.hidden).to(device)


def epochs_of(name: str, config: Config) -> int:
    return config.cifar_epochs if name == "cifar10" else config.mnist_epochs


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 1000) -> float:
    model.eval()
    correct = sum(
        int((model(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum())
        for i in range(0, len(y), batch)
    )
    return correct / len(y)


def train_epoch(
    model: nn.Module,
    optimiser: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler,
    split: ImageSplit,
    config: Config,
    augment: bool,
    generator: torch.Generator,
) -> float:
    """One pass over the training images; the mean training loss."""
    model.train()
    losses = []
    for index in batch_indices(len(split.y_train), config.batch_size, generator, drop_last=True):
        index = index.to(split.x_train.device)
        x = split.x_train[index]
        if augment:  # CIFAR-10: translations by up to 4 pixels and mirror images
            x = random_flip(random_crop(x, 4, generator), generator)
        loss = F.cross_entropy(model(x), split.y_train[index])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(float(loss.detach()))
    return float(np.mean(losses))


# ---- attribution ---------------------------------------------------------------------------
def attribute(
    model: ConvNet, x: torch.Tensor, t: torch.Tensor, base: torch.Tensor, config: Config, seed: int
) -> dict[str, torch.Tensor]:
    """Every method's map for images ``x`` and classes ``t``: the input's shape, except
    Grad-CAM's, at the last convolution's resolution."""
    sigma = noise_sigma(x, config)
    generator = torch.Generator().manual_seed(seed)
    return {
        "saliency": A.saliency(model, x, t),
        "smoothgrad": A.smoothgrad(model, x, t, config.smoothgrad_samples, sigma, generator),
        "integrated_gradients": A.integrated_gradients(model, x, t, base, config.ig_steps),
        "grad_cam": A.grad_cam(model, model.cam, x, t),
        "occlusion": A.occlusion(
            model, x, t, config.occlusion_window, config.occlusion_stride, base
        ),
    }


def pixel_maps(maps: dict[str, torch.Tensor], side: int) -> dict[str, torch.Tensor]:
    """One score per pixel, (N, H·W), ordered for deletion: the gradient methods by
    magnitude (their sign says which way a pixel would push, not whether it is there), the
    others signed (positive: evidence for the class); Grad-CAM upsampled bilinearly."""
    return {
        "saliency": A.pixel_scores(maps["saliency"]),
        "smoothgrad": A.pixel_scores(maps["smoothgrad"].abs()),
        "integrated_gradients": A.pixel_scores(maps["integrated_gradients"]),
        "grad_cam": A.pixel_scores(A.upsample(maps["grad_cam"], (side, side))),
        "occlusion": A.pixel_scores(maps["occlusion"]),
    }


def captum_maps(
    model: ConvNet, x: torch.Tensor, t: torch.Tensor, base: torch.Tensor, config: Config, seed: int
) -> dict[str, torch.Tensor]:
    """The same five maps from Captum: SmoothGrad's noise from the global generator seeded as
    ours, Grad-CAM with the ReLU of the paper (Captum's default leaves it out)."""
    captum = CAPTUM.load()["captum.attr"]
    sigma = noise_sigma(x, config)
    base_full = base.expand_as(x).contiguous()
    w, s, c = config.occlusion_window, config.occlusion_stride, x.shape[1]
    # "Input Tensor 0 did not already require gradients": Captum's note, not ours to act on;
    # fork_rng: Captum's noise comes from the global generator, which stays as it was
    with warnings.catch_warnings(), torch.random.fork_rng():
        warnings.simplefilter("ignore", UserWarning)
        torch.manual_seed(seed)
        smooth = captum.NoiseTunnel(captum.Saliency(model)).attribute(
            x, nt_type="smoothgrad", nt_samples=config.smoothgrad_samples, stdevs=sigma,
            target=t, abs=False,
        )  # fmt: skip
        maps = {
            "saliency": captum.Saliency(model).attribute(x, target=t),
            "smoothgrad": smooth,
            "integrated_gradients": captum.IntegratedGradients(model).attribute(
                x, baselines=base_full, target=t, n_steps=config.ig_steps, method="gausslegendre"
            ),
            "grad_cam": captum.LayerGradCam(model, model.cam).attribute(
                x, target=t, relu_attributions=True
            ),
            "occlusion": captum.Occlusion(model).attribute(
                x, sliding_window_shapes=(c, w, w), strides=(c, s, s), baselines=base_full, target=t
            ),
        }
    return {k: v.detach() for k, v in maps.items()}


def cascade(model: ConvNet, seed: int) -> list[ConvNet]:
    """Adebayo et al.'s cascading randomisation: copies of the trained network with its
    last 1, 2, ..., all weighted layers re-initialised (PyTorch's default init, the one
    training started from, drawn from ``seed``)."""
    copies = []
    layers = len(model.weighted_layers())
    torch.manual_seed(seed)
    for k in range(1, layers + 1):
        randomised = copy.deepcopy(model)
        for layer in randomised.weighted_layers()[layers - k :]:
            layer.reset_parameters()
        copies.append(randomised.eval())
    return copies


# ---- feature visualisation -----------------------------------------------------------------
def visualise(
    model: ConvNet, split: ImageSplit, config: Config, seed: int, regularised: bool
) -> dict[str, torch.Tensor]:
    """Activation maximisation of every class logit and of the first ``am_units`` channels of
    the last convolution (before its ReLU), with the regularisers or with plain (normalised) ascent."""
    _, c, side, _ = split.x_train.shape
    low, high = pixel_range(split)
    shape = (10, c, side, side)
    options: dict[str, Any] = {}
    if regularised:
        options = {
            "jitter_pixels": config.am_jitter,
            "blur_sigma": config.am_blur,
            "blur_every": config.am_blur_every,
            "decay": config.am_decay,
            "bounds": (low, high),
        }
    out = {}
    classes = torch.arange(10, device=split.x_train.device)
    gen = torch.Generator().manual_seed(seed)
    out["classes"] = V.activation_maximisation(
        lambda x: A.target_score(model, x, classes), shape, config.am_steps, config.am_lr, gen,
        split.x_train.device, **options,
    )  # fmt: skip
    out["classes"] = torch.maximum(torch.minimum(out["classes"], high), low)
    if config.am_units:
        units = torch.arange(config.am_units, device=split.x_train.device)

        def unit(x: torch.Tensor) -> torch.Tensor:
            # the last convolution before its ReLU: after it, a channel that is off at the
            # faint noise of the start has no gradient and stays off
            return model.features[:-1](x)[torch.arange(len(x)), units].mean(dim=(1, 2))

        out["units"] = V.activation_maximisation(
            unit, (config.am_units, c, side, side), config.am_steps, config.am_lr, gen,
            split.x_train.device, **options,
        )  # fmt: skip
        out["units"] = torch.maximum(torch.minimum(out["units"], high), low)
    return out


# ---- one dataset's analysis ----------------------------------------------------------------
def analyse(
    name: str, model: ConvNet, split: ImageSplit, classes: list[str], config: Config, run: Run
) -> dict[str, Any]:
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)  # only the inputs need gradients from here on
    seed = sub_seed(run.seed, DATASETS.index(name), 2)
    n, side = config.explain_images, split.x_test.shape[-1]
    # a seeded sample of the test set: the CIFAR-10 copy's test images are sorted by class
    chosen = torch.randperm(len(split.y_test), generator=torch.Generator().manual_seed(seed))[:n]
    chosen = chosen.to(split.x_test.device)
    x, t = split.x_test[chosen], split.y_test[chosen]
    base = black(split)
    out: dict[str, Any] = {"test_accuracy": accuracy(model, split.x_test, split.y_test)}
    out["val_accuracy"] = accuracy(model, split.x_val, split.y_val)

    maps = attribute(model, x, t, base, config, seed)
    scores = pixel_maps(maps, side)

    # completeness of integrated gradients
    error = A.completeness_error(model, x, t, maps["integrated_gradients"], base)
    out["ig_completeness_error_max"] = float(error.max())
    out["ig_completeness_error_mean"] = float(error.mean())

    # the anchor
    m = config.captum_images
    ours = attribute(model, x[:m], t[:m], base, config, seed)
    theirs = captum_maps(model, x[:m], t[:m], base, config, seed)
    for method in METHODS:
        out[f"captum_max_abs_diff_{method}"] = float((ours[method] - theirs[method]).abs().max())
        out[f"captum_max_abs_{method}"] = float(theirs[method].abs().max())

    # deletion: the map's order against random orders
    curves = {meth: A.deletion_curve(model, x, t, scores[meth], config.deletion_steps, base)
              for meth in METHODS}  # fmt: skip
    gen = torch.Generator().manual_seed(seed + 1)
    random_curves = torch.stack([
        A.deletion_curve(model, x, t, torch.rand(n, side * side, generator=gen).to(x.device),
                         config.deletion_steps, base)
        for _ in range(config.random_orders)
    ]).mean(0)  # fmt: skip
    out["deletion_auc_random"] = float(A.area_under(random_curves).mean())
    for method in METHODS:
        out[f"deletion_auc_{method}"] = float(A.area_under(curves[method]).mean())
        out[f"deletion_ratio_{method}"] = out[f"deletion_auc_{method}"] / out["deletion_auc_random"]
    out["deletion_curves"] = {k: v.mean(0).tolist() for k, v in curves.items()}
    out["deletion_curves"]["random"] = random_curves.mean(0).tolist()

    # sanity check: cascading randomisation
    copies = cascade(model, sub_seed(run.seed, DATASETS.index(name), 3))
    out["cascade"] = {meth: [] for meth in METHODS}
    out["cascade_signed"] = {meth: [] for meth in METHODS}
    random_maps: dict[str, torch.Tensor] = {}
    for randomised in copies:
        other = pixel_maps(attribute(randomised, x, t, base, config, seed), side)
        for method in METHODS:
            out["cascade"][method].append(
                float(A.rank_correlation(scores[method].abs(), other[method].abs()).mean())
            )
            out["cascade_signed"][method].append(
                float(A.rank_correlation(scores[method], other[method]).mean())
            )
        random_maps = other
    for method in METHODS:
        out[f"sanity_rank_correlation_{method}"] = out["cascade"][method][-1]
        out[f"sanity_rank_correlation_signed_{method}"] = out["cascade_signed"][method][-1]

    # feature visualisation
    regular = visualise(model, split, config, seed + 2, regularised=True)
    plain = visualise(model, split, config, seed + 2, regularised=False)
    with torch.no_grad():
        probs = F.softmax(model(regular["classes"]), 1).diagonal()
        probs_plain = F.softmax(model(plain["classes"]), 1).diagonal()
    out["am_class_confidence"] = float(probs.mean())
    out["am_class_confidence_plain"] = float(probs_plain.mean())
    out["am_high_frequency_regularised"] = float(
        V.high_frequency_fraction(regular["classes"]).mean()
    )
    out["am_high_frequency_plain"] = float(V.high_frequency_fraction(plain["classes"]).mean())
    out["real_high_frequency"] = float(V.high_frequency_fraction(x).mean())
    dreams = None
    if config.dream_images:
        dream_in = x[: config.dream_images]
        dreams = V.deep_dream(
            lambda z: model.features[:4](z), dream_in, config.dream_steps, config.am_lr,
            torch.Generator().manual_seed(seed + 3), jitter_pixels=config.am_jitter,
            blur_sigma=config.am_blur, blur_every=config.am_blur_every,
            bounds=pixel_range(split),
        )  # fmt: skip
        with torch.no_grad():
            before = model.features[:4](dream_in).pow(2).mean()
            after = model.features[:4](dreams).pow(2).mean()
        out["dream_energy_gain"] = float(after / before)

    plot_maps(name, x, t, maps, random_maps, scores, classes, split, config, run)
    plot_deletion(name, out["deletion_curves"], run)
    plot_cascade(name, out["cascade"], out["cascade_signed"], run)
    plot_visualisations(name, regular, plain, dreams, x, classes, split, run)
    return out


# ---- figures -------------------------------------------------------------------------------
def to_rgb(x: torch.Tensor, split: ImageSplit) -> np.ndarray:
    """Standardised images back to [0, 1] for display, (N, H, W, C)."""
    low, high = pixel_range(split)
    return ((x - low) / (high - low)).clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()


def plot_maps(
    name: str,
    x: torch.Tensor,
    t: torch.Tensor,
    maps: dict[str, torch.Tensor],
    random_maps: dict[str, torch.Tensor],
    scores: dict[str, torch.Tensor],
    classes: list[str],
    split: ImageSplit,
    config: Config,
    run: Run,
) -> None:
    rows, side = config.show_images, x.shape[-1]
    images = to_rgb(x[:rows], split)
    fig, axes = figure(len(METHODS) + 1, 2 * rows, size=(1.5, 1.5))
    for r in range(rows):
        for half, source in ((0, scores), (1, random_maps)):
            row = 2 * r + half
            ax = axes[row, 0]
            ax.imshow(images[r].squeeze(-1) if images.shape[-1] == 1 else images[r],
                      cmap="gray")  # fmt: skip
            ax.set_ylabel(("trained" if half == 0 else "random") + f"\n{classes[int(t[r])]}",
                          fontsize=7)  # fmt: skip
            for j, method in enumerate(METHODS, start=1):
                m = source[method][r].view(side, side).abs().cpu().numpy()
                axes[row, j].imshow(m, cmap="magma")
                if row == 0:
                    axes[row, j].set_title(LABELS[method], fontsize=7)
            for ax in axes[row]:
                ax.set_xticks([])
                ax.set_yticks([])
    fig.suptitle(f"{name}: |attribution| of the true class, trained network and fully "
                 "randomised one", fontsize=8)  # fmt: skip
    run.save_figure(fig, f"{name}_maps")


def plot_deletion(name: str, curves: dict[str, list[float]], run: Run) -> None:
    fig, ax = figure()
    for method, curve in curves.items():
        fractions = np.linspace(0, 1, len(curve))
        style = {"color": "k", "linestyle": "--"} if method == "random" else {}
        ax.plot(fractions, curve, label=LABELS.get(method, "random order"), **style)
    ax.set_xlabel("fraction of pixels blackened")
    ax.set_ylabel("probability of the true class")
    ax.set_title(f"{name}: deletion (lower area = a map that finds the evidence)")
    ax.legend(fontsize=7)
    run.save_figure(fig, f"{name}_deletion")


def plot_cascade(
    name: str, absolute: dict[str, list[float]], signed: dict[str, list[float]], run: Run
) -> None:
    fig, axes = figure(2, 1)
    for ax, values, what in ((axes[0, 0], absolute, "|map|"), (axes[0, 1], signed, "signed map")):
        for method, rho in values.items():
            ax.plot(range(1, len(rho) + 1), rho, marker="o", label=LABELS[method])
        ax.axhline(0.5, color="k", linestyle=":", linewidth=1)
        ax.set_xticks(range(1, len(next(iter(values.values()))) + 1))
        ax.set_xlabel("layers re-initialised, from the top")
        ax.set_ylabel(f"Spearman ρ with the trained network ({what})")
        ax.set_ylim(-0.2, 1.05)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"{name}: cascading randomisation (Adebayo et al. 2018)")
    run.save_figure(fig, f"{name}_sanity")


def plot_visualisations(
    name: str,
    regular: dict[str, torch.Tensor],
    plain: dict[str, torch.Tensor],
    dreams: torch.Tensor | None,
    x: torch.Tensor,
    classes: list[str],
    split: ImageSplit,
    run: Run,
) -> None:
    rows = [("regularised", regular["classes"]), ("plain ascent", plain["classes"])]
    if "units" in regular:
        rows += [("units, regularised", regular["units"]), ("units, plain", plain["units"])]
    if dreams is not None:
        rows += [("real", x[: len(dreams)]), ("dreamed", dreams)]
    fig, axes = figure(10, len(rows), size=(1.2, 1.3))
    for r, (label, images) in enumerate(rows):
        shown = to_rgb(images, split)
        for j in range(10):
            ax = axes[r, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j < len(shown):
                ax.imshow(shown[j].squeeze(-1) if shown.shape[-1] == 1 else shown[j], cmap="gray")
            else:
                ax.axis("off")
            if r == 0:
                ax.set_title(classes[j], fontsize=7)
        axes[r, 0].set_ylabel(label, fontsize=7)
    fig.suptitle(f"{name}: activation maximisation of each class and of hidden channels; "
                 "DeepDream", fontsize=8)  # fmt: skip
    run.save_figure(fig, f"{name}_visualisation")


# ---- the run -------------------------------------------------------------------------------
def run(config: Config, run: Run) -> dict[str, float]:
    CAPTUM.load()
    splits: dict[str, tuple[ImageSplit, list[str]]] = {}
    models: dict[str, ConvNet] = {}
    optimisers: dict[str, torch.optim.Optimizer] = {}
    schedules: dict[str, Any] = {}
    generators: dict[str, torch.Generator] = {}
    for name in config.datasets:
        splits[name] = load(name, config, run.seed, run.device)
        split = splits[name][0]
        models[name] = build(split, config, sub_seed(run.seed, DATASETS.index(name), 0), run.device)
        optimisers[name] = torch.optim.Adam(models[name].parameters(), lr=config.lr)
        steps = epochs_of(name, config) * (len(split.y_train) // config.batch_size)
        schedules[name] = torch.optim.lr_scheduler.CosineAnnealingLR(optimisers[name], steps)
        generators[name] = torch.Generator().manual_seed(
            sub_seed(run.seed, DATASETS.index(name), 1)
        )
    jobs = [(n, e) for n in config.datasets for e in range(epochs_of(n, config))]
    jobs += [(n, -1) for n in config.datasets]  # -1: the analysis
    results: dict[str, Any] = {}
    state = {**{f"model_{n}": m for n, m in models.items()},
             **{f"optimiser_{n}": o for n, o in optimisers.items()},
             **{f"schedule_{n}": s for n, s in schedules.items()},
             **{f"generator_{n}": g for n, g in generators.items()}, "results": results}  # fmt: skip
    for i in run.loop(len(jobs), state, desc="job"):
        name, epoch = jobs[i]
        split, classes = splits[name]
        if epoch >= 0:
            loss = train_epoch(models[name], optimisers[name], schedules[name], split, config,
                               name == "cifar10", generators[name])  # fmt: skip
            val = accuracy(models[name], split.x_val, split.y_val)
            run.log(dataset=name, epoch=epoch + 1, train_loss=loss, val_accuracy=val)
            run.print(f"{name} epoch {epoch + 1}: loss {loss:.4f}, validation {val:.4f}")
        else:
            results[name] = analyse(name, models[name], split, classes, config, run)
    run.write_json("introspection.json", results)
    run.set_params({n: m.state_dict() for n, m in models.items()})
    metrics: dict[str, float] = {}
    for name, values in results.items():
        for key, value in values.items():
            if isinstance(value, int | float):
                metrics[f"{name}_{key}"] = float(value)
        metrics[f"{name}_captum_max_abs_diff"] = max(
            values[f"captum_max_abs_diff_{m}"] for m in METHODS
        )
        metrics[f"{name}_sanity_rank_correlation_max"] = max(
            values[f"sanity_rank_correlation_{m}"] for m in METHODS
        )
        metrics[f"{name}_deletion_ratio_max"] = max(values[f"deletion_ratio_{m}"] for m in METHODS)
        metrics[f"{name}_am_high_frequency_ratio"] = (
            values["am_high_frequency_regularised"] / values["am_high_frequency_plain"]
        )
    return metrics


CAPTUM = Extra("introspection", ("captum", "captum.attr"), "the anchor (Captum's attributions)")

ISSUE = "OVGU Introduction to Deep Learning, Introspection & Inception"


def targets_for(name: str, accuracy_floor: float) -> list[Target]:
    return [
        Target(
            f"{name}_test_accuracy", ">=", accuracy_floor, "practicum (ours): a trained network"
        ),
        Target(
            f"{name}_ig_completeness_error_max",
            "<=",
            0.01,
            f"{ISSUE}; Sundararajan et al. 2017, completeness (Sec. 3)",
        ),  # fmt: skip
        Target(f"{name}_captum_max_abs_diff", "<=", 1e-5, f"{ISSUE}: equal to Captum"),
        *[
            Target(
                f"{name}_sanity_rank_correlation_{m}",
                "<=",
                0.5,
                f"{ISSUE}; Adebayo et al. 2018, model randomisation (Fig. 2)",
            )
            for m in METHODS
        ],  # fmt: skip
        *[
            Target(
                f"{name}_deletion_ratio_{m}",
                "<=",
                1.0,
                f"{ISSUE}; Petsiuk et al. 2018, deletion below random order",
            )
            for m in METHODS
        ],  # fmt: skip
        Target(
            f"{name}_am_high_frequency_ratio",
            "<=",
            1.0,
            "practicum (ours): the regularisers remove high frequencies",
        ),  # fmt: skip
    ]


QUICK: dict[str, Any] = {
    "datasets": ("digits",),
    "widths": (8, 16),
    "hidden": 32,
    "mnist_epochs": 6,
    "batch_size": 32,
    "val_size": 200,
    "explain_images": 24,
    "captum_images": 4,
    "smoothgrad_samples": 8,
    "occlusion_window": 2,
    "deletion_steps": 16,
    "random_orders": 2,
    "am_steps": 64,
    "am_blur_every": 4,
    "am_units": 4,
    "dream_images": 2,
    "dream_steps": 10,
    "show_images": 3,
}

LAB = Lab(
    name="introspection",
    title="Introspection: saliency, SmoothGrad, integrated gradients, Grad-CAM, occlusion, "
    "activation maximisation and DeepDream, checked against Captum and the sanity checks",
    source="Simonyan et al. 2014; Smilkov et al. 2017; Sundararajan et al. 2017; Selvaraju et "
    "al. 2017; Zeiler & Fergus 2014; Adebayo et al. 2018 (Fig. 2); Petsiuk et al. 2018 "
    "(deletion); Yosinski et al. 2015",
    courses=("ovgu",),
    config=Config,
    quick=QUICK,
    targets=targets_for("mnist", 0.98) + targets_for("cifar10", 0.65),
    quick_targets=[
        Target("digits_test_accuracy", ">=", 0.8, "quick mode"),
        Target("digits_ig_completeness_error_max", "<=", 0.01, "quick mode"),
        Target("digits_captum_max_abs_diff", "<=", 1e-5, "quick mode"),
    ],
    summary="five attribution methods equal Captum's, pass completeness, deletion and the "
    "randomisation sanity check (or fail it, measured); class and unit visualisations",
    time_full="22.4 min",  # 1 thread
    time_quick="10 s",
    footprint=footprint,
    requires=(CAPTUM,),
    run=run,
)
