"""Model-wise double descent (Nakkiran, Kaplun, Bansal, Yang, Barak & Sutskever 2019).

Claim ("Deep Double Descent: Where Bigger Models and More Data Hurt", Fig. 1 and Sec. 5): as a
network grows, its test error first falls, then *rises* to a peak where the model is just large
enough to fit its training set — the *interpolation threshold* — and then falls again, often
below the first minimum. The peak is strongest with label noise (their Fig. 1: ResNet18s of
width 1-64 on CIFAR-10 with 15% noisy labels, Adam for 4,000 epochs) and shrinks or vanishes
without it (Fig. 5). The same shape, exactly computable, is the test error of minimum-norm
random-features regression against the number of features N, with its peak at N = n
(Belkin, Hsu, Ma & Mandal 2019; Nakkiran et al. Sec. 2).

Part 1, the fast version (:mod:`practicum.random_features`): scikit-learn's 8×8 digits, a
random ``rf_train`` of them to fit, the rest to test; ``N`` ReLU random features of the
centred pixels, the minimum-norm least-squares fit to the one-hot labels (no ridge, no early
stopping: the interpolating solution itself), N swept from ``n/10`` to ``16 n``; with
``noise`` of the training labels corrupted (:mod:`practicum.data.label_noise`) and without;
averaged over ``rf_draws`` draws of the features.

Part 2, the network (the paper's Sec. 3 "standard CNN"): four 3×3 convolutions of widths
k, 2k, 4k, 8k, each followed by batch norm, a ReLU and a 2×2 max-pool, then a linear layer
(:class:`practicum.nn.conv.Classifier`), for widths k = 1 … 16. Scaled to the CPU: a random
``cnn_train`` of the CIFAR-10 training images, downsampled to 16×16, ``noise`` of their labels
corrupted; no augmentation, no weight decay (regularisation hides the peak: the paper's
Sec. 6); Adam at a constant rate for ``epochs`` epochs, long enough for the large models to fit
every noisy label; the same again with clean labels. Test error on the CIFAR-10 test images.

Measurements: train and test error against the size, in the paper's Fig. 1 form; the
interpolation threshold (the smallest size whose training error on the noisy labels is at most
``interpolated``); the *peak*: the size whose test error stands highest above the best of the
smaller sizes and the best of the larger ones at once (its *prominence*, the lower of the two
heights). The targets read the curve averaged over ``seeds``.

Resuming: every training is one iteration of ``run.loop``, seeded from the run's seed and its
own index, so a resumed run ends with the same bits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib import colormaps
from matplotlib.ticker import NullFormatter

from practicum.data.batching import batch_indices, channel_stats, to_float_images
from practicum.data.label_noise import corrupt_labels
from practicum.data.vision import load_cifar10_jpeg, load_digits_rgb, load_digits_uint8
from practicum.errors import PracticumError
from practicum.footprint import training_bytes
from practicum.lab import Lab, Target, bounded
from practicum.nn.conv import Classifier, count_parameters
from practicum.plotting import figure
from practicum.random_features import draw_features, min_norm_fit, relu_features
from practicum.recipes.image_classifier import predict
from practicum.repro import sub_seed
from practicum.run import Run

NOISES = ("noisy", "clean")
COLOURS = {"noisy": "C3", "clean": "C0"}


# ---- config --------------------------------------------------------------------------------
@dataclass
class Config:
    noise: float = bounded(0.2, "(0, 1)")  # fraction of training labels corrupted (paper: 10-20%)
    # Part 1: random features on the 8×8 digits
    rf_train: int = bounded(300, "[10, 1500]")  # n; the rest of the 1,797 digits are the test set
    rf_ratios: tuple[float, ...] = bounded(
        (0.1, 0.25, 0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 4.0, 8.0, 16.0), "(0, 1000]"
    )  # N / n
    rf_draws: int = bounded(5, "[1, 1000]")  # feature draws averaged at each N
    # Part 2: the standard CNN
    data: Literal["cifar10", "digits"] = "cifar10"  # digits: the 8×8 digits as RGB, quick runs
    cnn_train: int = bounded(4000, "[10, 50000]")  # training images
    resolution: int = bounded(16, "[16, 32]")  # images average-pooled to this side (16 or 32)
    # k: a calibration sweep (one seed, 4,000 images, 120 epochs) fitted the noisy labels from
    # k = 5 on (train error ≤ 1%) and had its lowest test errors at k = 3 and k ≥ 8; k = 1 only
    # underfits, k = 12 costs 2 minutes and changes no measure.
    widths: tuple[int, ...] = bounded((2, 3, 4, 5, 6, 8, 16), "[1, 256]")
    epochs: int = bounded(120, "[1, 100000]")
    batch_size: int = bounded(128, "[1, 8192]")
    learning_rate: float = bounded(1e-3, "(0, 1]")  # Adam, constant (the paper: 1e-4, 4k epochs)
    seeds: int = bounded(2, "[1, 100]")  # repeats of each sweep: own subset, noise, init, order
    interpolated: float = bounded(0.01, "[0, 1]")  # training error that counts as fitted
    eval_batch: int = bounded(2000, "[1, 100000]")

    def validate(self) -> None:
        for name in ("rf_ratios", "widths"):
            values = getattr(self, name)
            if len(values) < 3 or list(values) != sorted(set(values)):
                raise PracticumError(f"{name} needs at least three increasing values")
        if self.resolution not in (16, 32):
            raise PracticumError(f"resolution must be 16 or 32, got {self.resolution}")


def footprint(config: Config) -> int:
    """The widest network's parameters and a batch's activations at full resolution, with the
    training images as floats."""
    k, side = max(config.widths), config.resolution
    params = 9 * (3 * k + 2 * k * k + 8 * k * k + 32 * k * k) + 80 * k
    per_image = 4 * k * side * side  # the first stage dominates: conv, BN and ReLU outputs
    return training_bytes(params, config.batch_size * per_image, config.cnn_train * 3 * side**2)


# ---- measures of a curve -------------------------------------------------------------------
def prominence(errors: list[float], i: int) -> float:
    """How far ``errors[i]`` stands above the best model on each side of it: the lower of
    errors[i] − min(errors[:i]) and errors[i] − min(errors[i+1:]); −inf at either end."""
    if i <= 0 or i >= len(errors) - 1:
        return -float("inf")
    return min(errors[i] - min(errors[:i]), errors[i] - min(errors[i + 1 :]))


def peak(errors: list[float]) -> tuple[int, float]:
    """The index of the most prominent interior point of a test-error curve and its
    prominence (negative when the curve has no bump at all, e.g. when it falls monotonically)."""
    heights = [prominence(errors, i) for i in range(len(errors))]
    best = int(np.argmax(heights))
    return best, heights[best]


def threshold(train_errors: list[float], level: float) -> int:
    """The index of the smallest model whose training error is at most ``level``; the number
    of models when none fits."""
    for i, error in enumerate(train_errors):
        if error <= level:
            return i
    return len(train_errors)


# ---- part 1: random features ---------------------------------------------------------------
def digits_regression(config: Config, seed: int) -> dict[str, torch.Tensor]:
    """The 1,797 digits as centred vectors (pixels / 16 minus the training mean, then one
    global scale so the inputs have unit variance), a random ``rf_train`` to fit."""
    x_tr, y_tr, x_te, y_te = load_digits_uint8()
    x = torch.cat([x_tr, x_te]).reshape(-1, 64).double() / 16
    y = torch.cat([y_tr, y_te]).long()
    order = torch.as_tensor(np.random.default_rng(seed).permutation(len(y)))
    train, test = order[: config.rf_train], order[config.rf_train :]
    # One scale for all pixels: a per-pixel std would blow up the always-blank border pixels.
    mean, scale = x[train].mean(dim=0), x[train].std()
    x = (x - mean) / scale
    return {"x_train": x[train], "y_train": y[train], "x_test": x[test], "y_test": y[test]}


def random_features_curve(config: Config, seed: int, noisy: bool) -> dict[str, list[float]]:
    """Train and test error (and test squared error) of the minimum-norm fit at each N,
    averaged over ``rf_draws`` draws of the features."""
    data = digits_regression(config, seed)
    labels = data["y_train"]
    if noisy:
        labels, _ = corrupt_labels(labels, config.noise, 10, seed)
    targets = F.one_hot(labels, 10).double()
    test_targets = F.one_hot(data["y_test"], 10).double()
    n = config.rf_train
    out: dict[str, list[float]] = {
        "features": [],
        "train_error": [],
        "test_error": [],
        "test_mse": [],
    }
    for ratio in config.rf_ratios:
        n_features = max(1, round(ratio * n))
        train_err, test_err, mse = [], [], []
        for draw in range(config.rf_draws):
            gen = torch.Generator().manual_seed(sub_seed(seed, draw))
            weights, bias = draw_features(n_features, 64, gen)
            features = relu_features(data["x_train"], weights, bias)
            coef = min_norm_fit(features, targets)
            fit = features @ coef
            pred = relu_features(data["x_test"], weights, bias) @ coef
            train_err.append(float((fit.argmax(1) != labels).double().mean()))
            test_err.append(float((pred.argmax(1) != data["y_test"]).double().mean()))
            mse.append(float((pred - test_targets).pow(2).sum(1).mean()))
        out["features"].append(n_features)
        out["train_error"].append(float(np.mean(train_err)))
        out["test_error"].append(float(np.mean(test_err)))
        out["test_mse"].append(float(np.mean(mse)))
    return out


# ---- part 2: the standard CNN --------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    width: int
    noisy: bool
    repeat: int

    @property
    def key(self) -> str:
        return f"k{self.width}_{'noisy' if self.noisy else 'clean'}_s{self.repeat}"


def plan(config: Config) -> list[Job]:
    return [
        Job(k, noisy, r)
        for r in range(config.seeds)
        for noisy in (True, False)
        for k in config.widths
    ]


def stream_seed(run_seed: int, *parts: int) -> int:
    return sub_seed(run_seed, *parts)


def load_images(config: Config, repeat: int, run_seed: int, device: str) -> dict[str, torch.Tensor]:
    """A random ``cnn_train`` of the training images and the whole test set, float, average-
    pooled to ``resolution``, standardised per channel with the subset's statistics; the
    noisy labels of the subset beside the true ones (the same for every width)."""
    images = load_cifar10_jpeg() if config.data == "cifar10" else load_digits_rgb()
    x_tr, y_tr, x_te, y_te = images.x_train, images.y_train, images.x_test, images.y_test
    seed = stream_seed(run_seed, repeat, 0)
    if config.cnn_train > len(y_tr):
        raise PracticumError(f"cnn_train must be at most the {len(y_tr)} training images")
    pick = torch.as_tensor(
        np.sort(np.random.default_rng(seed).permutation(len(y_tr))[: config.cnn_train])
    )
    x_tr, y_tr = x_tr[pick], y_tr[pick]
    mean, std = channel_stats(x_tr)

    def prep(x: torch.Tensor) -> torch.Tensor:
        x = to_float_images(x, mean, std)
        side = x.shape[-1]
        if side > config.resolution:
            x = F.avg_pool2d(x, side // config.resolution)
        elif side < config.resolution:  # the 8×8 digits: nearest-neighbour upsampling
            x = F.interpolate(x, size=config.resolution, mode="nearest")
        return x.contiguous().to(device)

    noisy, mask = corrupt_labels(y_tr, config.noise, images.num_classes, seed)
    return {
        "x_train": prep(x_tr),
        "y_train": y_tr.to(device),
        "y_noisy": noisy.to(device),
        "noisy_mask": mask,
        "x_test": prep(x_te),
        "y_test": y_te.to(device),
    }


def build(width: int, seed: int, device: str) -> Classifier:
    """Nakkiran et al.'s standard CNN of width k: [conv 3×3, BN, ReLU, max-pool 2] with k, 2k,
    4k, 8k channels, then a linear layer (our 16×16 input is 1×1 after four pools)."""
    torch.manual_seed(seed)
    model = Classifier(3, (width, 2 * width, 4 * width, 8 * width), (3, 3, 3, 3), 10, norm="batch")
    return model.to(device)


@torch.no_grad()
def error(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int) -> float:
    """The fraction of ``x`` misclassified, in eval mode (an exact count over ``len(y)``)."""
    return int((predict(model, x, batch) != y).sum()) / len(y)


def train(
    config: Config, job: Job, data: dict[str, torch.Tensor], run: Run
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Adam at a constant rate for ``epochs`` epochs on the (noisy or clean) labels, the
    train and test error measured on a log-spaced set of epochs."""
    labels = data["y_noisy"] if job.noisy else data["y_train"]
    model = build(job.width, stream_seed(run.seed, job.repeat, 1, job.width), run.device)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    order = torch.Generator().manual_seed(stream_seed(run.seed, job.repeat, 2, job.width))
    checkpoints = sorted({max(1, config.epochs >> s) for s in range(6)})
    curve: dict[str, list[float]] = {"epoch": [], "train_error": [], "test_error": []}
    for epoch in range(1, config.epochs + 1):
        for index in batch_indices(len(labels), config.batch_size, order):
            index = index.to(run.device)
            loss = F.cross_entropy(model(data["x_train"][index]), labels[index])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        if epoch in checkpoints:
            curve["epoch"].append(epoch)
            curve["train_error"].append(error(model, data["x_train"], labels, config.eval_batch))
            curve["test_error"].append(
                error(model, data["x_test"], data["y_test"], config.eval_batch)
            )
    result: dict[str, Any] = {
        "width": job.width,
        "parameters": count_parameters(model),
        "train_error": curve["train_error"][-1],
        "test_error": curve["test_error"][-1],
        "curve": curve,
    }
    if job.noisy:  # how much of the noise it fitted: the corrupted labels it reproduces
        mask = data["noisy_mask"].to(run.device)
        result["noise_fitted"] = 1 - error(
            model, data["x_train"][mask], labels[mask], config.eval_batch
        )
    return result, {k: t.detach().cpu().clone() for k, t in model.state_dict().items()}


# ---- the run -------------------------------------------------------------------------------
def curve_metrics(
    prefix: str, train_errors: list[float], test_errors: list[float], sizes: list[int], level: float
) -> dict[str, float]:
    """The peak, its prominence and the interpolation threshold of one curve."""
    i, height = peak(test_errors)
    t = threshold(train_errors, level)
    out = {
        f"{prefix}_peak_prominence": height,
        f"{prefix}_peak_size": float(sizes[i]),
        f"{prefix}_peak_test_error": test_errors[i],
        # t = len(sizes) when no size fits: the threshold lies beyond the largest
        f"{prefix}_peak_minus_threshold_steps": float(i - t),
        f"{prefix}_best_test_error": min(test_errors),
        f"{prefix}_largest_test_error": test_errors[-1],
    }
    if t < len(sizes):
        out[f"{prefix}_threshold_size"] = float(sizes[t])
    return out


def run(config: Config, run: Run) -> dict[str, float]:
    metrics: dict[str, float] = {}

    # Part 1: random features, minutes to compute by hand, a second here
    rf = {name: random_features_curve(config, run.seed, name == "noisy") for name in NOISES}
    for name in NOISES:
        c = rf[name]
        metrics.update(
            curve_metrics(f"rf_{name}", c["train_error"], c["test_error"], c["features"], 1e-9)
        )
        metrics[f"rf_{name}_peak_over_n"] = metrics[f"rf_{name}_peak_size"] / config.rf_train
    metrics["rf_noisy_minus_clean_prominence"] = (
        metrics["rf_noisy_peak_prominence"] - metrics["rf_clean_peak_prominence"]
    )
    run.write_json("random_features.json", rf)
    run.print(
        "random features: peak at N = {:g} (n = {}), prominence {:.3f} noisy, {:.3f} clean".format(
            metrics["rf_noisy_peak_size"],
            config.rf_train,
            metrics["rf_noisy_peak_prominence"],
            metrics["rf_clean_peak_prominence"],
        )
    )

    # Part 2: the width sweep of the standard CNN, with and without label noise
    jobs = plan(config)
    results: dict[str, dict[str, Any]] = {}
    params: dict[str, dict[str, torch.Tensor]] = {}
    state = {"results": results, "params": params}
    data: dict[str, torch.Tensor] = {}
    loaded = -1
    for i in run.loop(len(jobs), state, desc="trainings"):
        job = jobs[i]
        if loaded != job.repeat:
            data, loaded = load_images(config, job.repeat, run.seed, run.device), job.repeat
        start = run.elapsed()
        result, params[job.key] = train(config, job, data, run)
        results[job.key] = result
        line = {k: v for k, v in result.items() if not isinstance(v, dict)}
        run.log(training=job.key, seconds=run.elapsed() - start, **line)
        run.print(
            f"{job.key}: train error {result['train_error']:.3f}, "
            f"test error {result['test_error']:.3f}"
        )
    run.write_json("trainings.json", results)

    widths = list(config.widths)
    curves: dict[str, dict[str, list[float]]] = {}
    for name in NOISES:
        per_seed = [
            [results[Job(k, name == "noisy", r).key] for k in widths] for r in range(config.seeds)
        ]
        train_errors = np.mean([[x["train_error"] for x in s] for s in per_seed], axis=0).tolist()
        test_errors = np.mean([[x["test_error"] for x in s] for s in per_seed], axis=0).tolist()
        curves[name] = {"train_error": train_errors, "test_error": test_errors}
        metrics.update(
            curve_metrics(f"cnn_{name}", train_errors, test_errors, widths, config.interpolated)
        )
        spread = [peak([x["test_error"] for x in s])[1] for s in per_seed]
        metrics[f"cnn_{name}_peak_prominence_seed_min"] = float(np.min(spread))
        metrics[f"cnn_{name}_peak_prominence_seed_max"] = float(np.max(spread))
    metrics["cnn_noisy_minus_clean_prominence"] = (
        metrics["cnn_noisy_peak_prominence"] - metrics["cnn_clean_peak_prominence"]
    )
    metrics["cnn_noisy_peak_distance_to_threshold"] = abs(
        metrics["cnn_noisy_peak_minus_threshold_steps"]
    )
    metrics["cnn_largest_parameters"] = float(results[jobs[len(widths) - 1].key]["parameters"])

    run.save_figure(random_features_figure(rf, config), "random_features")
    run.save_figure(cnn_figure(curves, results, config), "cnn_width")
    run.save_figure(epochs_figure(results, config), "cnn_epochs")
    run.set_params(params)
    return metrics


# ---- plots ---------------------------------------------------------------------------------
def random_features_figure(rf: dict[str, dict[str, list[float]]], config: Config):
    """Test error and test squared error against N / n, with and without label noise."""
    fig, axes = figure(ncols=2, size=(4.8, 3.6))
    axes = np.asarray(axes).reshape(-1)
    for name in NOISES:
        c = rf[name]
        ratio = np.asarray(c["features"]) / config.rf_train
        label = f"{config.noise:.0%} label noise" if name == "noisy" else "clean labels"
        axes[0].plot(ratio, c["test_error"], "o-", color=COLOURS[name], label=f"test, {label}")
        axes[0].plot(
            ratio, c["train_error"], "--", color=COLOURS[name], lw=1, label=f"train, {label}"
        )
        axes[1].plot(ratio, c["test_mse"], "o-", color=COLOURS[name], label=label)
    ticks = [r for r in (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 64.0) if r in config.rf_ratios]
    for ax in axes:
        ax.axvline(1.0, color="k", ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_xticks(ticks, [f"{r:g}" for r in ticks])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("features N / training examples n")
    axes[0].set(
        ylabel="classification error",
        ylim=(0, 1),
        title=f"random ReLU features, 8×8 digits, n = {config.rf_train}",
    )
    axes[1].set(ylabel="test squared error", yscale="log", title="minimum-norm fit")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def cnn_figure(curves: dict[str, dict[str, list[float]]], results: dict[str, Any], config: Config):
    """The paper's Fig. 1 (left): train and test error against the width k."""
    fig, ax = figure(size=(6.4, 4.4))
    widths = list(config.widths)
    for name in NOISES:
        c = curves[name]
        label = f"{config.noise:.0%} label noise" if name == "noisy" else "clean labels"
        ax.plot(widths, c["test_error"], "o-", color=COLOURS[name], label=f"test, {label}")
        ax.plot(
            widths,
            c["train_error"],
            "s--",
            color=COLOURS[name],
            ms=3,
            lw=1,
            label=f"train, {label}",
        )
        for r in range(config.seeds if config.seeds > 1 else 0):
            ax.plot(
                widths,
                [results[Job(k, name == "noisy", r).key]["test_error"] for k in widths],
                "-",
                color=COLOURS[name],
                lw=0.5,
                alpha=0.5,
            )
    i, _ = peak(curves["noisy"]["test_error"])
    ax.axvline(widths[i], color="C3", ls=":", lw=1)
    ax.set(
        xscale="log",
        xlabel="width k (channels k, 2k, 4k, 8k)",
        ylabel="error",
        ylim=(0, 1),
        title=f"standard CNN, {config.cnn_train} CIFAR-10 images at {config.resolution}×"
        f"{config.resolution}, {config.epochs} epochs",
    )
    ax.set_xticks(widths, [str(k) for k in widths])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.legend(fontsize=8)
    return fig


def epochs_figure(results: dict[str, Any], config: Config):
    """Test error against width at each measured epoch, noisy labels (the paper's Fig. 1,
    right: the peak moves to larger models as training goes on)."""
    fig, ax = figure(size=(6.4, 4.4))
    widths = list(config.widths)
    epochs = results[Job(widths[0], True, 0).key]["curve"]["epoch"]
    cmap = colormaps["viridis"]
    for j, epoch in enumerate(epochs):
        errors = [
            np.mean(
                [
                    results[Job(k, True, r).key]["curve"]["test_error"][j]
                    for r in range(config.seeds)
                ]
            )
            for k in widths
        ]
        ax.plot(
            widths,
            errors,
            "o-",
            ms=3,
            color=cmap(j / max(1, len(epochs) - 1)),
            label=f"epoch {epoch}",
        )
    ax.set(
        xscale="log",
        xlabel="width k",
        ylabel="test error",
        title=f"{config.noise:.0%} label noise: test error by training time",
    )
    ax.set_xticks(widths, [str(k) for k in widths])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.legend(fontsize=8)
    return fig


LAB = Lab(
    name="double-descent",
    title="Deep double descent: the test error peaks where the model just fits",
    source="Nakkiran et al. 2019 (arXiv 1912.02292; ICLR 2020), Fig. 1 and Sec. 5; "
    "Belkin et al. 2019 (PNAS), random-features double descent",
    courses=("ece472",),
    config=Config,
    run=run,
    footprint=footprint,
    quick={
        "rf_train": 100,
        "rf_ratios": (0.25, 0.5, 0.9, 1.0, 1.1, 2.0, 8.0),
        "rf_draws": 2,
        "data": "digits",
        "cnn_train": 600,
        "widths": (1, 2, 4),
        "epochs": 8,
        "seeds": 1,
    },
    targets=[
        Target(
            "cnn_noisy_peak_prominence",
            ">=",
            0.03,
            "Nakkiran et al. 2019 Fig. 1: the noisy-label test error at the peak width stands at "
            "least 3 points above both a smaller and a larger model (mean over seeds)",
            paper="ResNet18, 15% noise: a peak near width 10-16 between two descents",
        ),
        Target(
            "cnn_noisy_peak_distance_to_threshold",
            "<=",
            1,
            "Nakkiran et al. 2019 Sec. 5: the peak sits at the interpolation threshold (within "
            "one width of the smallest model fitting the noisy training set)",
            paper="the peak where train error first reaches ~0",
        ),
        Target(
            "cnn_noisy_minus_clean_prominence",
            ">=",
            0.0,
            "Nakkiran et al. 2019 Fig. 5: the peak is smaller without label noise",
            paper="0% noise: a much weaker peak",
        ),
        Target(
            "rf_noisy_peak_prominence",
            ">=",
            0.03,
            "Belkin et al. 2019: random-features test error peaks at N ≈ n, ≥ 3 points above "
            "both sides",
            paper="a peak at N = n",
        ),
        Target(
            "rf_noisy_minus_clean_prominence",
            ">=",
            0.0,
            "random features: the peak is smaller without label noise",
        ),
    ],
    quick_targets=[
        Target("rf_noisy_peak_prominence", ">=", 0.03, "quick mode: random features peak"),
        Target("rf_noisy_peak_over_n", "<=", 1.5, "quick mode: the peak at N ≈ n"),
        Target("rf_noisy_peak_over_n", ">=", 0.7, "quick mode: the peak at N ≈ n"),
    ],
    summary="test error against model size peaks at the interpolation threshold, then falls "
    "again; stronger with label noise",
    time_full="40 min",
    time_quick="15 s",
)
