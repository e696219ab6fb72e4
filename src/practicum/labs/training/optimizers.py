"""optimizers — SGD, momentum, Nesterov, AdaGrad, RMSProp, Adam and AdamW, written out in NumPy:
equal to torch.optim step for step, their paths across three classic surfaces, and how much
each one's result depends on its learning rate.

Course: OVGU Introduction to Deep Learning, "Optimization Techniques"; Goodfellow, Bengio &
Courville 2016, Deep Learning, ch. 8.3-8.5.

Optimisers (:mod:`practicum.autodiff.optim`, torch's formulas and defaults): SGD; SGD with
momentum μ = 0.9 (heavy ball); Nesterov momentum 0.9; AdaGrad (ε 1e-10); RMSProp (α 0.99,
ε 1e-8); Adam (β 0.9, 0.999, ε 1e-8); AdamW (the same, with decoupled decay λ = 0.01).

1. Equality. An MLP (784-256-256-10, ReLU) in :mod:`practicum.autodiff` and its torch twin start
   from the same weights in float64 and see the same ``equality_steps`` minibatches of
   Fashion-MNIST; after every step of ours and of ``torch.optim``'s, the largest parameter gap
   relative to the largest parameter (:mod:`practicum.twins`). Target: ≤ 1e-6 for every optimiser
   and step; a wrong formula gives a gap of the order of a step (≈ the learning rate).
2. Surfaces (:mod:`practicum.surfaces`). Rosenbrock from (−1.2, 1) and Beale from (1, 1.5):
   ``surface_steps`` steps of each optimiser at each rate of ``surface_log10_lrs``; the path of
   the rate that ends nearest the minimum is drawn. The saddle (x² − y²)/2 from (1, 10⁻³): every
   optimiser at the same rate ``saddle_lr``, counting the steps until |y| ≥ 1. Gradient descent
   multiplies y by (1 + η) per step: ⌈ln 1000 / ln(1 + η)⌉ steps, 695 at η = 0.01 (target: the
   engine's path takes exactly that many). Adam's step is about η in every coordinate whatever the
   gradient's size (Kingma & Ba 2015, Sec. 2.1: "the effective magnitude of the steps ... is
   invariant to the scale of the gradient", |Δ| ≲ α), so it leaves the saddle within about 1/η
   steps (target: steps · η ≤ 1).
3. Sensitivity. One real problem: the same MLP (float32) on a seeded ``train_size`` of the
   Fashion-MNIST training images, ``epochs`` epochs of minibatches of ``batch_size`` at a
   constant rate; each optimiser at every rate of ``log10_lrs`` (half-decade steps), every cell
   from the same initial weights and batch order (common random numbers: cells differ by the
   optimiser and the rate alone). The result of a cell is its final loss on the whole training
   set (and its test accuracy, for the table); a cell whose loss stops being finite diverged.
   Each optimiser's best rate is the vertex of a parabola through the log losses at its best
   grid rate and its two neighbours (in log10 η). Target: at rates well below the edge of
   stability, heavy-ball momentum μ at rate η trains like plain SGD at η/(1 − μ) (Goodfellow et
   al. 2016, Sec. 8.3.2, eq. 8.17: the "terminal velocity" η‖g‖/(1 − μ); "α = 0.9 corresponds to
   multiplying the maximum speed by 10 relative to the gradient descent algorithm"), so the
   momentum curve of final loss against log10 η is SGD's shifted left by log10(1/(1 − μ)) = 1
   decade: the shift that best aligns them (:func:`aligning_shift`, least squares over the
   momentum rates at least ``slow_regime_decades`` below its best) lies in [0.9, 1.1]. The best
   rates themselves differ by less: near the edge the analogy breaks (docs/labs/optimizers.md).
   The width of each optimiser's good range — the decades of rate whose final loss is
   within ``good_factor`` of its best — is the sensitivity the figure shows and the table lists.

Resuming: each training of the sweep is one iteration of ``run.loop``; equality and the surfaces
(under a minute) are recomputed, from the same seeds, on a resumed run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from practicum import autodiff as ad
from practicum.autodiff.nn import MLP
from practicum.data.batching import standardised_split
from practicum.data.vision import load_digits_uint8, load_mnist
from practicum.errors import PracticumError
from practicum.footprint import MNIST_VALUES, mlp_parameters, training_bytes
from practicum.lab import Lab, Target, bounded
from practicum.plotting import figure
from practicum.repro import sub_seed
from practicum.run import Run
from practicum.surfaces import SURFACES, Path, path, saddle_escape_steps_gd
from practicum.twins import OPTIMIZERS, step_for_step

NAMES = tuple(OPTIMIZERS)  # sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw
# The rate of each optimiser in the equality check: a typical one (any rate checks the formula).
EQUALITY_LRS = {
    "sgd": 0.1,
    "momentum": 0.01,
    "nesterov": 0.01,
    "adagrad": 0.01,
    "rmsprop": 1e-3,
    "adam": 1e-3,
    "adamw": 1e-3,
}


# ---- config --------------------------------------------------------------------------------
@dataclass
class Config:
    data: Literal["fashion-mnist", "digits"] = "fashion-mnist"  # digits: scikit-learn's 8×8
    train_size: int = bounded(20000, "[10, 60000]")  # the sensitivity sweep's training images
    val_size: int = bounded(5000, "[1, 30000]")  # held out of the training set, unused here
    hidden: tuple[int, ...] = bounded((256, 256), "[1, 4096]")  # the MLP's hidden widths
    # 1. equality with torch.optim (float64)
    equality_steps: int = bounded(100, "[1, 100000]")
    equality_batch: int = bounded(64, "[1, 4096]")
    # 2. surfaces
    surface_steps: int = bounded(2000, "[1, 1000000]")  # per path on Rosenbrock and Beale
    surface_log10_lrs: tuple[float, ...] = bounded(
        (-4.0, -3.5, -3.0, -2.5, -2.0, -1.5, -1.0, -0.5, 0.0), "[-8, 2]"
    )
    saddle_lr: float = bounded(0.01, "(0, 0.5]")  # one rate for every optimiser on the saddle
    saddle_steps: int = bounded(5000, "[1, 1000000]")  # at most; AdaGrad is the slowest
    # 3. sensitivity: final training loss against the learning rate
    epochs: int = bounded(10, "[1, 1000]")
    batch_size: int = bounded(128, "[1, 4096]")
    log10_lrs: tuple[float, ...] = bounded(
        (-4.5, -4.0, -3.5, -3.0, -2.5, -2.0, -1.5, -1.0, -0.5, 0.0, 0.5), "[-8, 2]"
    )
    good_factor: float = bounded(2.0, "(1, 100]")  # "good": final loss within this × the best
    slow_regime_decades: float = bounded(1.0, "[0, 10]")  # below the best rate: the slow regime
    eval_batch: int = bounded(5000, "[1, 100000]")

    def validate(self) -> None:
        for name in ("surface_log10_lrs", "log10_lrs"):
            values = getattr(self, name)
            if len(values) < 3 or list(values) != sorted(set(values)):
                raise PracticumError(f"{name} must hold at least three increasing values")


def footprint(config: Config) -> int:
    pixels = 784 if config.data == "fashion-mnist" else 64
    params = mlp_parameters([pixels, *config.hidden, 10])
    activations = max(config.batch_size, config.eval_batch) * sum(config.hidden)
    data = MNIST_VALUES if config.data == "fashion-mnist" else 1797 * 64
    # float64 twins (ours and torch's) for equality; float32 afterwards
    return 4 * training_bytes(params, activations, data)


# ---- data ----------------------------------------------------------------------------------
@dataclass
class Arrays:
    x_train: np.ndarray  # (n, pixels) float64, standardised with the training part's statistics
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load(config: Config, seed: int) -> Arrays:
    """A seeded random ``train_size`` of the training images (``val_size`` others split off
    first, as every lab's validation part; unused here), the test set; flattened."""
    fashion = config.data == "fashion-mnist"
    arrays = load_mnist("fashion-mnist") if fashion else load_digits_uint8()
    n = len(arrays[1])
    if config.val_size + min(config.train_size, 1) > n - 1:
        raise PracticumError(f"val_size must leave training images of the {n}")
    split = standardised_split(*arrays, config.val_size, seed, train_subset=config.train_size)

    def flat(x: Any) -> np.ndarray:
        return x.reshape(len(x), -1).numpy().astype(np.float64)

    return Arrays(
        flat(split.x_train), split.y_train.numpy(), flat(split.x_test), split.y_test.numpy()
    )


def epoch_batches(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch of minibatch indices: a permutation cut into full batches (the rest dropped,
    so every step averages the same number of losses)."""
    order = rng.permutation(n)
    return [order[i : i + batch_size] for i in range(0, n - batch_size + 1, batch_size)]


# ---- 1. equality with torch.optim ------------------------------------------------------------
def equality(config: Config, data: Arrays, seed: int, device: str) -> dict[str, np.ndarray]:
    """The parameter gap after every step, ours against torch.optim, per optimiser."""
    rng = np.random.default_rng(sub_seed(seed, 1))
    batches = [
        rng.choice(len(data.y_train), size=config.equality_batch, replace=False)
        for _ in range(config.equality_steps)
    ]
    sizes = [data.x_train.shape[1], *config.hidden, 10]
    gaps: dict[str, np.ndarray] = {}
    for name in NAMES:
        model = MLP(sizes, np.random.default_rng(sub_seed(seed, 2)), dtype=np.float64)
        result = step_for_step(
            OPTIMIZERS[name], model, data.x_train, data.y_train, batches, EQUALITY_LRS[name], device
        )
        gaps[name] = result.gaps
    return gaps


# ---- 2. surfaces ---------------------------------------------------------------------------
def best_path(config: Config, surface_name: str, name: str) -> tuple[float, Path]:
    """The path at the grid rate that ends nearest the minimum (ties: the smaller rate)."""
    surface = SURFACES[surface_name]
    best: tuple[float, float, Path] | None = None
    for log_lr in config.surface_log10_lrs:
        lr = 10.0**log_lr
        trail = path(
            surface, lambda ps, lr=lr: OPTIMIZERS[name].make(ps, lr), config.surface_steps, 1e6
        )
        end = trail.points[-1]
        distance = trail.distance_to(surface.minimum) if np.all(np.isfinite(end)) else math.inf
        if best is None or distance < best[0]:
            best = (distance, lr, trail)
    assert best is not None
    return best[1], best[2]


def saddle_paths(config: Config) -> dict[str, Path]:
    surface = SURFACES["saddle"]
    return {
        name: path(
            surface,
            lambda ps, name=name: OPTIMIZERS[name].make(ps, config.saddle_lr),
            config.saddle_steps,
            stop_beyond=1.0,
        )
        for name in NAMES
    }


# ---- 3. sensitivity ------------------------------------------------------------------------
def mean_loss_and_accuracy(
    model: MLP, x: np.ndarray, y: np.ndarray, batch: int
) -> tuple[float, float]:
    total, correct = 0.0, 0
    with ad.no_grad():
        for i in range(0, len(y), batch):
            logits = model(ad.Tensor(x[i : i + batch]))
            total += ad.cross_entropy(logits, y[i : i + batch], reduction="sum").item()
            correct += int((logits.data.argmax(axis=1) == y[i : i + batch]).sum())
    return total / len(y), correct / len(y)


def train(config: Config, data: Arrays, name: str, lr: float, seed: int) -> dict[str, Any]:
    """One cell of the sweep: float32, the sweep's shared initial weights and batch order."""
    model = MLP(
        [data.x_train.shape[1], *config.hidden, 10],
        np.random.default_rng(sub_seed(seed, 3)),
        dtype=np.float32,
    )
    optimizer = OPTIMIZERS[name].make(model.parameters(), lr)
    x = data.x_train.astype(np.float32)
    rng = np.random.default_rng(sub_seed(seed, 4))  # the same batch order in every cell
    epoch_losses: list[float] = []
    diverged = False
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging cell overflows: recorded
        for _ in range(config.epochs):
            losses = []
            for batch in epoch_batches(len(x), config.batch_size, rng):
                optimizer.zero_grad()
                loss = ad.cross_entropy(model(ad.Tensor(x[batch])), data.y_train[batch])
                if not math.isfinite(loss.item()):
                    diverged = True
                    break
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
            if diverged:
                break
            epoch_losses.append(float(np.mean(losses)))
        if not diverged:
            train_loss, _ = mean_loss_and_accuracy(model, x, data.y_train, config.eval_batch)
            test_loss, test_acc = mean_loss_and_accuracy(
                model, data.x_test.astype(np.float32), data.y_test, config.eval_batch
            )
            diverged = not math.isfinite(train_loss)
    if diverged:
        train_loss = test_loss = math.inf
        test_acc = 0.1  # a guess over 10 classes
    return {
        "optimizer": name,
        "lr": lr,
        "train_loss": train_loss,
        "test_loss": test_loss,
        "test_accuracy": test_acc,
        "diverged": diverged,
        "epoch_losses": epoch_losses,
    }


def best_log10_lr(log_lrs: np.ndarray, losses: np.ndarray) -> float:
    """The vertex of the parabola through the log losses at the best grid rate and its two
    neighbours (in log10 η); the grid rate itself at an edge, beside a diverged cell, or when
    the three points are not convex."""
    i = int(np.argmin(losses))
    if i == 0 or i == len(losses) - 1 or not np.all(np.isfinite(losses[i - 1 : i + 2])):
        return float(log_lrs[i])
    xs, ys = log_lrs[i - 1 : i + 2], np.log(losses[i - 1 : i + 2])
    a, b, _ = np.polyfit(xs, ys, 2)
    if a <= 0:
        return float(log_lrs[i])
    return float(np.clip(-b / (2 * a), xs[0], xs[-1]))


def aligning_shift(
    log_lrs: np.ndarray,
    reference: np.ndarray,
    shifted: np.ndarray,
    below: float,
    shifts: np.ndarray | None = None,
) -> float:
    """The shift s (decades) for which ``shifted``'s log loss at log10 η equals ``reference``'s
    at log10 η + s, in least squares over ``shifted``'s rates at least ``below`` decades under
    its best rate; ``reference`` is interpolated linearly in (log10 η, log loss) between its
    finite cells. NaN when fewer than two rates remain in the overlap for every shift."""
    shifts = np.arange(0.0, 3.0 + 1e-9, 0.005) if shifts is None else shifts
    finite = np.isfinite(reference)
    ref_x, ref_y = log_lrs[finite], np.log(reference[finite])
    best = log_lrs[int(np.argmin(shifted))]
    chosen = (log_lrs <= best - below) & np.isfinite(shifted)
    xs, ys = log_lrs[chosen], np.log(shifted[chosen])
    errors = []
    for s in shifts:
        inside = (xs + s >= ref_x.min()) & (xs + s <= ref_x.max())
        if inside.sum() < 2:
            errors.append(np.inf)
            continue
        diff = np.interp(xs[inside] + s, ref_x, ref_y) - ys[inside]
        errors.append(float(np.mean(diff**2)))
    errors_arr = np.array(errors)
    if not np.isfinite(errors_arr).any():
        return math.nan
    return float(shifts[int(np.argmin(errors_arr))])


def good_range_decades(log_lrs: np.ndarray, losses: np.ndarray, factor: float) -> float:
    """Decades of rate, on the grid, whose final loss is within ``factor`` × the best: the
    number of such cells times the grid step (the cells need not be contiguous, but are)."""
    step = float(np.median(np.diff(log_lrs)))
    return float(np.sum(losses <= factor * np.min(losses)) * step)


# ---- the lab -------------------------------------------------------------------------------
def run(config: Config, run: Run) -> dict[str, float]:
    data = load(config, run.seed)
    run.print(
        f"{config.data}: {len(data.y_train)} training images, {len(data.y_test)} test images, "
        f"MLP {[data.x_train.shape[1], *config.hidden, 10]}"
    )
    metrics: dict[str, float] = {}

    # 1. equality
    gaps = equality(config, data, run.seed, run.device)
    for name in NAMES:
        metrics[f"gap_{name}"] = float(gaps[name].max())
        run.print(
            f"{name:9s} {config.equality_steps} steps, largest gap to torch.optim "
            f"{gaps[name].max():.2e}"
        )
    metrics["max_rel_param_gap"] = max(metrics[f"gap_{n}"] for n in NAMES)

    # 2. surfaces
    paths: dict[str, dict[str, tuple[float, Path]]] = {}
    for surface_name in ("rosenbrock", "beale"):
        paths[surface_name] = {n: best_path(config, surface_name, n) for n in NAMES}
        for name, (lr, trail) in paths[surface_name].items():
            distance = trail.distance_to(SURFACES[surface_name].minimum)
            metrics[f"{surface_name}_distance_{name}"] = distance
            metrics[f"{surface_name}_lr_{name}"] = lr
    saddles = saddle_paths(config)
    for name, trail in saddles.items():
        steps = trail.first_step_beyond(1, 1.0)
        metrics[f"saddle_steps_{name}"] = float(steps) if steps else math.inf
    y0 = SURFACES["saddle"].start[1]
    closed_form = saddle_escape_steps_gd(y0, config.saddle_lr)
    metrics["saddle_steps_gd_closed_form"] = float(closed_form)
    metrics["sgd_saddle_steps_error"] = abs(metrics["saddle_steps_sgd"] - closed_form)
    metrics["adam_saddle_steps_times_lr"] = metrics["saddle_steps_adam"] * config.saddle_lr
    run.print(
        "saddle, steps to |y| ≥ 1 at η = "
        + f"{config.saddle_lr}: "
        + ", ".join(f"{n} {metrics[f'saddle_steps_{n}']:.0f}" for n in NAMES)
        + f" (gradient descent, closed form: {closed_form})"
    )

    # 3. sensitivity
    cells = [(name, 10.0**e) for name in NAMES for e in config.log10_lrs]
    results: list[dict[str, Any]] = []
    for i in run.loop(len(cells), {"results": results}, desc="trainings"):
        name, lr = cells[i]
        start = run.elapsed()
        result = train(config, data, name, lr, run.seed)
        results.append(result)
        line = {k: v for k, v in result.items() if k != "epoch_losses"}
        run.log(**line, seconds=run.elapsed() - start)
    log_lrs = np.array(config.log10_lrs)
    table: dict[str, dict[str, float]] = {}
    for name in NAMES:
        rows = [r for r in results if r["optimizer"] == name]
        losses = np.array([r["train_loss"] for r in rows])
        i = int(np.argmin(losses))
        table[name] = {
            "best_grid_lr": float(10.0 ** log_lrs[i]),
            "best_log10_lr": best_log10_lr(log_lrs, losses),
            "best_train_loss": float(losses[i]),
            "test_accuracy_at_best": float(rows[i]["test_accuracy"]),
            "best_test_accuracy": float(max(r["test_accuracy"] for r in rows)),
            "good_range_decades": good_range_decades(log_lrs, losses, config.good_factor),
            "diverged_cells": float(sum(r["diverged"] for r in rows)),
        }
        for key, value in table[name].items():
            metrics[f"{key}_{name}"] = value
    # momentum's curve against SGD's: shifted by log10 1/(1 − μ) in the slow regime
    losses_of = {
        n: np.array([r["train_loss"] for r in results if r["optimizer"] == n]) for n in NAMES
    }
    for name in ("momentum", "nesterov"):
        metrics[f"{name}_aligning_shift_decades"] = aligning_shift(
            log_lrs, losses_of["sgd"], losses_of[name], config.slow_regime_decades
        )
    metrics["momentum_best_lr_shift_decades"] = (
        table["sgd"]["best_log10_lr"] - table["momentum"]["best_log10_lr"]
    )
    run.write_json("sensitivity.json", {"cells": results, "table": table})
    run.print(sensitivity_table(table))

    plot_equality(gaps, run)
    plot_surfaces(paths, saddles, config, run)
    plot_sensitivity(results, table, metrics, config, run)
    run.set_params({"final_losses": np.array([r["train_loss"] for r in results])})
    return metrics


def sensitivity_table(table: dict[str, dict[str, float]]) -> str:
    lines = [
        "optimiser  best η (grid)  best η (fit)  final loss  test acc  good range (decades)",
    ]
    for name, row in table.items():
        lines.append(
            f"{name:9s}  {row['best_grid_lr']:12.3g}  {10 ** row['best_log10_lr']:12.3g}  "
            f"{row['best_train_loss']:10.4f}  {row['test_accuracy_at_best']:8.4f}  "
            f"{row['good_range_decades']:5.1f}"
        )
    return "\n".join(lines)


# ---- plots ---------------------------------------------------------------------------------
def plot_equality(gaps: dict[str, np.ndarray], run: Run) -> None:
    fig, ax = figure(size=(6.0, 4.0))
    for i, name in enumerate(NAMES):
        steps = np.arange(1, len(gaps[name]) + 1)
        ax.semilogy(
            steps, np.maximum(gaps[name], 1e-18), color=f"C{i}", label=OPTIMIZERS[name].label
        )
    ax.axhline(1e-6, color="k", ls="--", lw=1, label="target 1e-6")
    ax.set_xlabel("step")
    ax.set_ylabel("max |ours − torch.optim| / max |θ|")
    ax.set_title("float64, the same MLP and minibatches")
    ax.set_ylim(1e-17, 1e-4)
    ax.legend(fontsize=7, ncol=2, loc="upper left")
    run.save_figure(fig, "equality")


def plot_surfaces(
    paths: dict[str, dict[str, tuple[float, Path]]],
    saddles: dict[str, Path],
    config: Config,
    run: Run,
) -> None:
    fig, axes = figure(ncols=3, size=(5.0, 4.6), layout="constrained")
    for ax, surface_name in zip(axes[0], ("rosenbrock", "beale", "saddle"), strict=True):
        surface = SURFACES[surface_name]
        x0, x1, y0, y1 = surface.window
        gx, gy = np.meshgrid(np.linspace(x0, x1, 300), np.linspace(y0, y1, 300))
        values = surface.value(gx, gy)
        if surface_name == "saddle":
            ax.contour(gx, gy, values, levels=21, cmap="coolwarm", linewidths=0.6)
            trails = {n: (config.saddle_lr, t) for n, t in saddles.items()}
        else:
            levels = np.logspace(-1.5, np.log10(values.max()), 25)
            ax.contour(gx, gy, values + 1e-12, levels=levels, cmap="Greys", linewidths=0.5)
            ax.plot(*surface.minimum, "*", color="gold", ms=14, mec="k", zorder=5)
            trails = paths[surface_name]
        for i, name in enumerate(NAMES):
            lr, trail = trails[name]
            pts = trail.points
            keep = np.all(np.isfinite(pts), axis=1)
            ax.plot(
                pts[keep, 0],
                pts[keep, 1],
                color=f"C{i}",
                lw=1.2,
                label=f"{OPTIMIZERS[name].label} (η {lr:.2g})",
            )
        ax.plot(*surface.start, "o", color="k", ms=5)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        steps = config.surface_steps if surface_name != "saddle" else "until |y| ≥ 1"
        ax.set_title(
            f"{surface_name} ({steps} steps)"
            if surface_name != "saddle"
            else f"saddle (x² − y²)/2, η {config.saddle_lr}, {steps}"
        )
        ax.legend(fontsize=6, loc="upper left" if surface_name != "beale" else "lower right")
    run.save_figure(fig, "surfaces")


def plot_sensitivity(
    results: list[dict[str, Any]],
    table: dict[str, dict[str, float]],
    metrics: dict[str, float],
    config: Config,
    run: Run,
) -> None:
    fig, axes = figure(ncols=3, size=(5.0, 4.4), layout="constrained")
    ax_loss, ax_acc, ax_shift = axes[0]
    top = 5.0  # losses above (RMSProp's blow-ups reach 1e4) and diverged cells drawn here
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for i, name in enumerate(NAMES):
        rows = [r for r in results if r["optimizer"] == name]
        lrs = np.array([r["lr"] for r in rows])
        losses = np.array([r["train_loss"] for r in rows])
        curves[name] = (lrs, losses)
        accs = np.array([r["test_accuracy"] for r in rows])
        shown = np.isfinite(losses) & (losses <= top)
        style = {"color": f"C{i}", "ms": 3, "label": OPTIMIZERS[name].label}
        ax_loss.loglog(lrs[shown], losses[shown], "o-", **style)
        ax_loss.plot(lrs[~shown], np.full((~shown).sum(), top), "x", color=f"C{i}", ms=6)
        ax_loss.axvline(10 ** table[name]["best_log10_lr"], color=f"C{i}", lw=0.6, ls=":")
        ax_acc.semilogx(lrs, accs, "o-", **style)
    ax_loss.set_ylim(top=top * 1.3)
    ax_loss.set_xlabel("learning rate η")
    ax_loss.set_ylabel(f"training loss after {config.epochs} epochs")
    ax_loss.set_title(f"final loss (× at {top:g}: above or diverged; dotted: best η)", fontsize=9)
    ax_loss.legend(fontsize=7, loc="lower left")
    ax_acc.set_xlabel("learning rate η")
    ax_acc.set_ylabel("test accuracy")
    ax_acc.set_ylim(0, 1)
    ax_acc.set_title(f"{config.data}, {config.train_size} training images")
    # momentum μ at η plotted at η / (1 − μ): on SGD's curve wherever the analogy holds
    mu = OPTIMIZERS["momentum"].kwargs["momentum"]
    lrs, losses = curves["sgd"]
    finite = np.isfinite(losses)
    ax_shift.loglog(lrs[finite], losses[finite], "o-", color="C0", ms=4, label="SGD at η")
    for i, name in ((1, "momentum"), (2, "nesterov")):
        lrs, losses = curves[name]
        finite = np.isfinite(losses)
        shift = metrics[f"{name}_aligning_shift_decades"]
        ax_shift.loglog(
            lrs[finite] / (1 - mu),
            losses[finite],
            "s--",
            color=f"C{i}",
            ms=3,
            label=f"{OPTIMIZERS[name].label} at η, drawn at η/(1 − μ) (fitted shift {shift:.2f})",
        )
    ax_shift.set_ylim(top=top * 1.3)
    ax_shift.set_xlabel("SGD's rate η; momentum's η/(1 − μ)")
    ax_shift.set_ylabel("training loss")
    ax_shift.set_title("momentum 0.9 = SGD at 10× the rate, below the edge", fontsize=9)
    ax_shift.legend(fontsize=6)
    run.save_figure(fig, "sensitivity")


LAB = Lab(
    name="optimizers",
    title="Seven optimisers written out: equal to torch.optim, on three surfaces, and their "
    "sensitivity to the learning rate",
    source="OVGU 'Optimization Techniques'; Goodfellow, Bengio & Courville 2016, Sec. 8.3-8.5; "
    "Kingma & Ba 2015, Sec. 2.1",
    courses=("ovgu", "dtu02456"),
    config=Config,
    run=run,
    footprint=footprint,
    quick={
        "data": "digits",
        "train_size": 1000,
        "val_size": 200,
        "hidden": (32,),
        "equality_steps": 20,
        "equality_batch": 32,
        "surface_steps": 200,
        "surface_log10_lrs": (-3.0, -2.0, -1.0),
        "saddle_steps": 1000,
        "epochs": 3,
        "batch_size": 32,
        "log10_lrs": (-3.0, -2.0, -1.0, 0.0),
    },
    targets=[
        Target(
            "max_rel_param_gap",
            "<=",
            1e-6,
            "OVGU 'Optimization Techniques': each written-out optimiser equals torch.optim step "
            "for step (largest parameter gap over every step, relative to max |θ|, float64)",
        ),
        Target(
            "sgd_saddle_steps_error",
            "<=",
            0.0,
            "Goodfellow et al. 2016 Sec. 8.2.3: gradient descent leaves the saddle (x² − y²)/2 "
            "geometrically, in exactly ⌈ln(1/y₀)/ln(1 + η)⌉ steps",
        ),
        Target(
            "adam_saddle_steps_times_lr",
            "<=",
            1.0,
            "Kingma & Ba 2015 Sec. 2.1: Adam's step is about η whatever the gradient's scale, "
            "so it leaves the saddle within 1/η steps",
        ),
        Target(
            "momentum_aligning_shift_decades",
            ">=",
            0.9,
            "Goodfellow et al. 2016 Sec. 8.3.2 (eq. 8.17): momentum 0.9 multiplies the step by "
            "1/(1 − μ) = 10, so below the edge its loss-against-rate curve is SGD's shifted by "
            "one decade",
        ),
        Target(
            "momentum_aligning_shift_decades",
            "<=",
            1.1,
            "Goodfellow et al. 2016 Sec. 8.3.2 (eq. 8.17): a shift of log10 10 = 1 decade",
        ),
    ],
    quick_targets=[
        Target("max_rel_param_gap", "<=", 1e-6, "quick mode: equal to torch.optim"),
        Target("sgd_saddle_steps_error", "<=", 0.0, "quick mode: the closed form"),
        Target("adam_saddle_steps_times_lr", "<=", 1.0, "quick mode: Adam's trust region"),
        Target("best_test_accuracy_adam", ">=", 0.8, "quick mode: Adam trains on the digits"),
        Target("best_test_accuracy_sgd", ">=", 0.8, "quick mode: SGD trains on the digits"),
    ],
    summary="SGD to AdamW in NumPy equal torch.optim to 1e-15; paths on Rosenbrock, Beale and a "
    "saddle; final loss against learning rate for each on Fashion-MNIST",
    time_full="7 min",
    time_quick="3 s",
)
