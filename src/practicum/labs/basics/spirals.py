"""spirals — binary classification of two interleaved spirals with an MLP (ECE472 assignment 2).

Data:  two Archimedean spirals, r = θ / θ_max, one rotated by π, θ drawn uniformly so points are
       spread evenly along the arms, plus isotropic Gaussian noise; Cartesian (x1, x2) inputs only.
Model: an MLP whose output is the logit of p(t = 1 | x).
Loss:  mean binary cross-entropy + λ Σ θ² (an L2 penalty on every parameter).
Fit:   Adam, full batch.
Check: 100% accuracy on the training set and ≥ 99% on a fresh sample from the same distribution.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.inspection import DecisionBoundaryDisplay

from practicum.errors import PracticumError
from practicum.footprint import mlp_parameters, training_bytes
from practicum.lab import Lab, Target, bounded
from practicum.nn import MLP, l2_penalty
from practicum.plotting import figure
from practicum.run import Run


@dataclass
class Config:
    points_per_spiral: int = bounded(500, "[2, 1e6]")
    test_points_per_spiral: int = bounded(2000, "[1, 1e7]")  # the fresh held-out sample
    turns: float = bounded(1.75, "(0, 100]")  # how far each arm winds (θ_max = 2π · turns)
    noise_std: float = bounded(0.02, "[0, 10]")
    num_hidden_layers: int = bounded(4, "[1, 256]")
    hidden_layer_width: int = bounded(64, "[1, 65536]")
    activation: str = "silu"  # relu | tanh | silu
    l2_lambda: float = bounded(1e-5, "[0, 10]")
    learning_rate: float = bounded(3e-3, "(0, 10]")
    steps: int = bounded(2000, "[1, 1e7]")
    # steps; resume with `practicum run --resume RUN_DIR`
    checkpoint_every: int = bounded(500, "[1, 1e7]")

    def validate(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise PracticumError(
                f"activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}"
            )


ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "silu": torch.nn.functional.silu}
GRID = 400  # the decision-boundary plot evaluates the network on GRID × GRID points


def footprint(config: Config) -> int:
    """Full-batch training on the training points; evaluating the test points and the plot's
    grid holds one layer at a time."""
    widths = [config.hidden_layer_width] * config.num_hidden_layers
    evaluated = max(2 * config.test_points_per_spiral, GRID**2) * config.hidden_layer_width
    activations = 2 * config.points_per_spiral * sum(widths) + evaluated
    return training_bytes(mlp_parameters([2, *widths, 1]), activations)


# ---- data -----------------------------------------------------------------------------
def make_spirals(
    n_per_spiral: int, turns: float, noise_std: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spirals; returns x of shape (2n, 2) and t in {0, 1} of shape (2n,)."""
    theta_max = 2 * math.pi * turns
    xs, ts = [], []
    for label in (0, 1):
        # θ = θ_max·√u puts points uniformly along the arc (arc length grows like θ²).
        theta = theta_max * np.sqrt(rng.uniform(0.02, 1.0, size=n_per_spiral))
        r = theta / theta_max
        angle = theta + math.pi * label
        points = np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1)
        xs.append(points + rng.normal(0.0, noise_std, size=points.shape))
        ts.append(np.full(n_per_spiral, label))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ts).astype(np.float32)


# ---- run ------------------------------------------------------------------------------
def run(config: Config, run: Run) -> dict[str, float]:
    rng = np.random.default_rng(run.seed)
    x_train, t_train = make_spirals(config.points_per_spiral, config.turns, config.noise_std, rng)
    x_test, t_test = make_spirals(
        config.test_points_per_spiral, config.turns, config.noise_std, rng
    )
    x, t = torch.from_numpy(x_train).to(run.device), torch.from_numpy(t_train).to(run.device)

    model = MLP(
        num_inputs=2,
        num_outputs=1,
        num_hidden_layers=config.num_hidden_layers,
        hidden_layer_width=config.hidden_layer_width,
        hidden_activation=ACTIVATIONS[config.activation],
    ).to(run.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)

    def logits(inputs: torch.Tensor, net: torch.nn.Module = model) -> torch.Tensor:
        return net(inputs).squeeze(-1)

    # Under torchrun each process takes its shard of the (full) batch; DDP averages gradients.
    trained = run.distribute(model)
    x_local, t_local = run.shard(x), run.shard(t)

    # Full-batch training draws no random numbers: the model and Adam's moments are the state.
    state = {"model": model, "optimizer": optimizer}
    for step in run.loop(config.steps, state, desc="spirals", every=config.checkpoint_every):
        bce = torch.nn.functional.binary_cross_entropy_with_logits(
            logits(x_local, trained), t_local
        )
        loss = bce + config.l2_lambda * l2_penalty(model)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 50 == 0 or step == config.steps - 1:
            run.log(step=step, loss=loss.item(), bce=bce.item())

    # ---- evaluation ------------------------------------------------------------------
    with torch.no_grad():
        train_acc = ((logits(x) > 0).float() == t).float().mean().item()
        xt = torch.from_numpy(x_test).to(run.device)
        tt = torch.from_numpy(t_test).to(run.device)
        test_acc = ((logits(xt) > 0).float() == tt).float().mean().item()
        final_bce = torch.nn.functional.binary_cross_entropy_with_logits(logits(x), t).item()

    plot_boundary(model, x_train, t_train, train_acc, test_acc, run)
    run.set_params(model)
    return {"train_accuracy": train_acc, "test_accuracy": test_acc, "train_bce": final_bce}


# ---- plot -----------------------------------------------------------------------------
def plot_boundary(model, x_train, t_train, train_acc, test_acc, run: Run) -> None:
    lim = np.abs(x_train).max() * 1.1
    xx0, xx1 = np.meshgrid(np.linspace(-lim, lim, GRID), np.linspace(-lim, lim, GRID))
    grid = torch.from_numpy(np.stack([xx0.ravel(), xx1.ravel()], 1).astype(np.float32))
    with torch.no_grad():
        p = torch.sigmoid(model(grid.to(run.device)).squeeze(-1)).cpu().numpy().reshape(xx0.shape)

    fig, ax = figure(size=(6.0, 5.6))
    kwargs = {"xx0": xx0, "xx1": xx1, "response": p, "xlabel": "x₁", "ylabel": "x₂"}
    if "n_classes" in inspect.signature(DecisionBoundaryDisplay).parameters:
        kwargs["n_classes"] = 2  # scikit-learn >= 1.7 asks for it
    display = DecisionBoundaryDisplay(**kwargs)
    display.plot(ax=ax, plot_method="contourf", cmap="RdBu_r", alpha=0.35, levels=20)
    ax.contour(xx0, xx1, p, levels=[0.5], colors="k", linewidths=1.5)
    for label, color in ((0, "C0"), (1, "C3")):
        sel = t_train == label
        ax.scatter(*x_train[sel].T, s=7, color=color, label=f"spiral t = {label}")
    ax.plot([], [], color="k", lw=1.5, label="p(t=1|x) = 0.5")
    ax.set_aspect("equal")
    ax.set_title(f"Two spirals: train acc {train_acc:.1%}, held-out acc {test_acc:.1%}")
    # Below the axes: the spirals fill the square, so any corner inside covers points.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=3, frameon=False)
    run.save_figure(fig, "decision_boundary")


LAB = Lab(
    name="spirals",
    title="Two interleaved spirals with a multilayer perceptron",
    source="ECE472 assignment 2",
    courses=("ece472",),
    config=Config,
    quick={"steps": 600, "points_per_spiral": 300, "test_points_per_spiral": 500},
    targets=[
        Target("train_accuracy", ">=", 1.0, "ECE472 assignment 2 (classify every example)"),
        Target("test_accuracy", ">=", 0.99, "practicum: fresh sample, same distribution"),
    ],
    quick_targets=[
        Target("train_accuracy", ">=", 0.97, "quick mode: fewer steps"),
        Target("test_accuracy", ">=", 0.95, "quick mode: fewer steps"),
    ],
    summary="an MLP on Cartesian inputs with an L2 penalty separates two interleaved spirals",
    time_full="25 s",  # on a shared machine (12 s with the machine to itself)
    time_quick="3 s",
    footprint=footprint,
    run=run,
)
