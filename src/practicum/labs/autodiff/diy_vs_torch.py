"""diy-vs-torch — the same network, weights and batches in practicum.autodiff and in PyTorch.

Course: DTU 02456 weeks 1–2 (check your own backprop against a framework).

Data:  MNIST training images (full) or scikit-learn's 8×8 digits (quick), standardised; the
       same minibatch indices feed both engines.
Model: MLP (ReLU) built in practicum.autodiff; its initial weights are copied into an
       equivalent torch.nn.Sequential.
Fit:   200 steps of Adam and, separately, 200 steps of SGD with momentum, in both engines.
Check: in float64 the two engines compute the same mathematics, so at every step the losses
       agree to 1e-5 relative and the final parameters to 1e-4 (absolute). The same runs in
       float32 are reported too: there the engines round differently (different summation
       orders in their matrix products), and the gap shows how far rounding alone drifts.

The NumPy engine runs on the CPU; the PyTorch twin runs on ``run.device``. The full run takes
about 40 s, so it keeps no checkpoints: an interrupted run is simply run again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from practicum import autodiff as ad
from practicum.autodiff.nn import MLP
from practicum.autodiff.optim import SGD, Adam
from practicum.errors import PracticumError
from practicum.footprint import mlp_parameters, training_bytes
from practicum.lab import Lab, Target, bounded
from practicum.plotting import figure
from practicum.run import Run
from practicum.twins import parameter_differences, torch_twin

OPTIMISERS = ("adam", "sgd")


@dataclass
class Config:
    dataset: str = "mnist"  # mnist | digits
    hidden_sizes: tuple[int, ...] = bounded((256, 256), "[1, 65536]")
    steps: int = bounded(200, "[1, 1e6]")
    batch_size: int = bounded(128, "[1, 65536]")
    adam_lr: float = bounded(1e-3, "(0, 10]")
    sgd_lr: float = bounded(0.05, "(0, 10]")
    sgd_momentum: float = bounded(0.9, "[0, 1)")

    def validate(self) -> None:
        if self.dataset not in ("mnist", "digits"):
            raise PracticumError(f"dataset must be mnist or digits, got {self.dataset!r}")


def footprint(config: Config) -> int:
    """Both engines train in float64 (twice float32's bytes) with their state kept for the
    comparison; the training images, and one batch of indices per step."""
    pixels = 784 if config.dataset == "mnist" else 64
    parameters = mlp_parameters([pixels, *config.hidden_sizes, 10])
    one = training_bytes(parameters, config.batch_size * sum(config.hidden_sizes))
    return 4 * one + training_bytes(
        0, 0, data=2 * (60_000 * pixels + config.steps * config.batch_size)
    )


def load_inputs(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """Training images flattened and standardised (float64), and their labels."""
    if dataset == "mnist":
        from practicum.data import load_mnist

        x, y, _, _ = (t.numpy() for t in load_mnist("mnist"))
        x = x.reshape(len(x), -1) / 255.0
    else:
        from sklearn.datasets import load_digits

        digits = load_digits()
        x, y = digits.data / 16.0, digits.target
    return (x - x.mean()) / x.std(), y.astype(np.int64)


def train_both(
    config: Config,
    optimiser: str,
    dtype: type,
    x: np.ndarray,
    y: np.ndarray,
    batches: list[np.ndarray],
    seed: int,
    device: str,
) -> dict[str, np.ndarray | float]:
    """Train twins from the same weights on the same batches; return losses and param gaps."""
    model = MLP([x.shape[1], *config.hidden_sizes, 10], np.random.default_rng(seed), dtype=dtype)
    twin = torch_twin(model, torch.float64 if dtype == np.float64 else torch.float32).to(device)
    if optimiser == "adam":
        opt = Adam(model.parameters(), lr=config.adam_lr)
        twin_opt: torch.optim.Optimizer = torch.optim.Adam(twin.parameters(), lr=config.adam_lr)
    else:
        opt = SGD(model.parameters(), lr=config.sgd_lr, momentum=config.sgd_momentum)
        twin_opt = torch.optim.SGD(
            twin.parameters(), lr=config.sgd_lr, momentum=config.sgd_momentum
        )
    x = x.astype(dtype)
    losses, twin_losses = [], []
    for batch in batches:
        opt.zero_grad()
        loss = ad.cross_entropy(model(ad.Tensor(x[batch])), y[batch])
        loss.backward()
        opt.step()
        losses.append(loss.item())

        twin_opt.zero_grad()
        twin_loss = torch.nn.functional.cross_entropy(
            twin(torch.from_numpy(x[batch]).to(device)), torch.from_numpy(y[batch]).to(device)
        )
        twin_loss.backward()
        twin_opt.step()
        twin_losses.append(twin_loss.item())

    max_abs, max_ref = parameter_differences(model, twin)
    ours_arr, theirs_arr = np.array(losses), np.array(twin_losses)
    return {
        "losses": ours_arr,
        "twin_losses": theirs_arr,
        "rel_loss_diff": np.abs(ours_arr - theirs_arr) / np.abs(theirs_arr),
        "max_param_diff": max_abs,
        "max_abs_param": max_ref,
        "params": model.state_dict(),
    }


def run(config: Config, run: Run) -> dict[str, float]:
    x, y = load_inputs(config.dataset)
    rng = np.random.default_rng(run.seed)
    batches = [
        rng.choice(len(y), size=config.batch_size, replace=False) for _ in range(config.steps)
    ]
    run.print(f"{config.dataset}: {config.steps} steps of {config.batch_size}, {x.shape[1]} inputs")

    results: dict[tuple[str, str], dict] = {}
    jobs = [(o, d) for d in ("float64", "float32") for o in OPTIMISERS]
    for optimiser, dtype_name in run.progress(jobs, total=len(jobs), desc="runs"):
        dtype = np.float64 if dtype_name == "float64" else np.float32
        res = train_both(config, optimiser, dtype, x, y, batches, run.seed, run.device)
        results[(optimiser, dtype_name)] = res
        for step, (a, b) in enumerate(zip(res["losses"], res["twin_losses"], strict=True)):
            run.log(optimiser=optimiser, dtype=dtype_name, step=step, loss_autodiff=a, loss_torch=b)
        run.print(
            f"{optimiser:4s} {dtype_name}: max relative loss gap "
            f"{res['rel_loss_diff'].max():.2e}, max final parameter gap {res['max_param_diff']:.2e}"
        )

    plot(results, config, run)
    run.set_params({f"{o}_{d}": r["params"] for (o, d), r in sorted(results.items())})
    metrics: dict[str, float] = {}
    for dtype_name in ("float64", "float32"):
        chosen = [results[(o, dtype_name)] for o in OPTIMISERS]
        suffix = "" if dtype_name == "float64" else "_float32"
        metrics[f"max_rel_loss_diff{suffix}"] = max(float(r["rel_loss_diff"].max()) for r in chosen)
        metrics[f"max_param_diff{suffix}"] = max(float(r["max_param_diff"]) for r in chosen)
    for optimiser in OPTIMISERS:
        metrics[f"final_loss_{optimiser}"] = float(results[(optimiser, "float64")]["losses"][-1])
    metrics["steps"] = config.steps
    return metrics


def plot(results: dict, config: Config, run: Run) -> None:
    fig, axes = figure(ncols=2, size=(5.4, 4.2), layout="constrained")
    ax_loss, ax_gap = axes[0]
    for i, optimiser in enumerate(OPTIMISERS):
        res = results[(optimiser, "float64")]
        steps = np.arange(1, len(res["losses"]) + 1)
        ax_loss.plot(
            steps,
            res["twin_losses"],
            color=f"C{i}",
            lw=3,
            alpha=0.35,
            label=f"{optimiser}: PyTorch",
        )
        ax_loss.plot(
            steps,
            res["losses"],
            color=f"C{i}",
            lw=1,
            ls="--",
            label=f"{optimiser}: practicum.autodiff",
        )
        for dtype_name, style in (("float64", "-"), ("float32", ":")):
            # The worst gap so far: a monotone curve that can be read against the target.
            gap = np.maximum.accumulate(results[(optimiser, dtype_name)]["rel_loss_diff"])
            ax_gap.plot(
                steps,
                np.maximum(gap, 1e-17),
                color=f"C{i}",
                ls=style,
                label=f"{optimiser}, {dtype_name}",
            )
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("training loss (float64, log scale)")
    ax_loss.set_title("Same weights, same batches")
    ax_loss.legend()
    ax_gap.axhline(1e-5, color="k", lw=1, label="target (1e-5)")
    ax_gap.set_yscale("log")
    ax_gap.set_ylim(1e-17, 1.0)
    ax_gap.set_xlabel("step")
    ax_gap.set_ylabel("worst relative gap so far")
    ax_gap.set_title("|loss_ours − loss_torch| / loss_torch")
    # Below the axes: the float32 and float64 curves are decades apart and leave no free corner.
    ax_gap.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=3, frameon=False)
    sizes = "-".join(map(str, config.hidden_sizes))
    name = {"mnist": "MNIST", "digits": "8×8 digits"}[config.dataset]
    fig.suptitle(f"diy-vs-torch: MLP (hidden {sizes}) on {name}, PyTorch vs practicum.autodiff")
    run.save_figure(fig, "agreement")


LAB = Lab(
    name="diy-vs-torch",
    title="Our NumPy engine and PyTorch, step by step on the same network and batches",
    source="DTU 02456 weeks 1-2 (check backprop against a framework)",
    courses=("dtu02456",),
    config=Config,
    quick={"dataset": "digits", "hidden_sizes": (64, 64), "batch_size": 64},
    targets=[
        Target("max_rel_loss_diff", "<=", 1e-5, "practicum (ours): losses agree at every step"),
        Target("max_param_diff", "<=", 1e-4, "practicum (ours): final parameters agree"),
    ],
    summary="Same MLP, weights and batches in practicum.autodiff and PyTorch: 200 steps agree.",
    time_full="32 s",  # on a shared machine (24 s with the machine to itself)
    time_quick="3 s",
    footprint=footprint,
    run=run,
)
