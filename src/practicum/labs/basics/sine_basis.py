"""sine-basis — linear regression on learned Gaussian basis functions (ECE472 assignment 1).

Data:  x_i ~ U(0, 1), y_i = sin(2π x_i) + ε_i, ε_i ~ N(0, 0.1²), N = 50.
Model: ŷ(x) = Σ_j w_j φ_j(x) + b with φ_j(x) = exp(−(x − μ_j)² / σ_j²), and w, b, μ, σ all learned.
Loss:  ½ (y − ŷ)², averaged over a mini-batch.
Fit:   plain stochastic gradient descent; gradients by automatic differentiation.
Check: RMSE between the fitted curve and the noiseless sine on 1,000 grid points ≤ 0.10.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from practicum.errors import PracticumError
from practicum.footprint import training_bytes
from practicum.lab import Lab, Target, bounded
from practicum.nn import BasisExpansion, Linear
from practicum.plotting import figure
from practicum.run import Run


@dataclass
class Config:
    num_samples: int = bounded(50, "[1, 1e6]")  # N
    noise_std: float = bounded(0.1, "[0, 10]")  # σ of ε
    num_basis: int = bounded(6, "[1, 10000]")  # M
    steps: int = bounded(3000, "[1, 1e7]")
    batch_size: int = bounded(16, "[1, 1e6]")
    learning_rate: float = bounded(0.1, "(0, 100]")
    grid_points: int = bounded(1000, "[1, 1e7]")  # where the fitted curve is compared with the sine
    # steps; resume with `practicum run --resume RUN_DIR`
    checkpoint_every: int = bounded(1000, "[1, 1e7]")

    def validate(self) -> None:
        if self.batch_size > self.num_samples:  # batches are drawn without replacement
            raise PracticumError(
                f"batch_size ({self.batch_size}) must be <= num_samples ({self.num_samples})"
            )


def footprint(config: Config) -> int:
    """A batch and the comparison grid, each through M Gaussian bumps."""
    m = config.num_basis
    activations = (config.batch_size + config.grid_points) * m
    return training_bytes(3 * m + 1, activations, data=2 * config.num_samples)


# ---- data -----------------------------------------------------------------------------
def make_data(n: int, noise_std: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = rng.uniform(0.0, 1.0, size=n)
    y = np.sin(2 * math.pi * x) + rng.normal(0.0, noise_std, size=n)
    return x.astype(np.float32), y.astype(np.float32)


# ---- model ----------------------------------------------------------------------------
class BasisRegression(nn.Module):
    """ŷ = Linear(BasisExpansion(x)): weights w and bias b on M learned Gaussian bumps."""

    def __init__(self, num_basis: int) -> None:
        super().__init__()
        self.basis = BasisExpansion(num_basis)
        self.linear = Linear(num_basis, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.basis(x)).squeeze(-1)


# ---- run ------------------------------------------------------------------------------
def run(config: Config, run: Run) -> dict[str, float]:
    rng = np.random.default_rng(run.seed)
    x_np, y_np = make_data(config.num_samples, config.noise_std, rng)
    x, y = torch.from_numpy(x_np).to(run.device), torch.from_numpy(y_np).to(run.device)

    model = BasisRegression(config.num_basis).to(run.device)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.learning_rate)

    # The mini-batches are drawn from rng, so it is part of what a resumed run restores.
    state = {"model": model, "optimizer": optimizer, "rng": rng}
    for step in run.loop(config.steps, state, desc="sine", every=config.checkpoint_every):
        idx = torch.from_numpy(rng.choice(config.num_samples, config.batch_size, replace=False))
        idx = idx.to(run.device)
        loss = 0.5 * ((y[idx] - model(x[idx])) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 50 == 0 or step == config.steps - 1:
            with torch.no_grad():
                train_loss = 0.5 * ((y - model(x)) ** 2).mean().item()
            run.log(step=step, loss=train_loss)

    # ---- evaluation: compare with the noiseless function, not the noisy samples ----------
    grid = torch.linspace(0.0, 1.0, config.grid_points, device=run.device)
    with torch.no_grad():
        fitted = model(grid)
        train_rmse = ((y - model(x)) ** 2).mean().sqrt().item()
    truth = torch.sin(2 * math.pi * grid)
    rmse = ((fitted - truth) ** 2).mean().sqrt().item()

    plot_fit(x_np, y_np, grid.cpu().numpy(), truth.cpu().numpy(), fitted.cpu().numpy(), rmse, run)
    plot_basis(model, grid, run)
    run.set_params(model)
    return {"rmse_to_sine": rmse, "train_rmse": train_rmse, "steps": config.steps}


# ---- plots ----------------------------------------------------------------------------
def plot_fit(x, y, grid, truth, fitted, rmse, run: Run) -> None:
    fig, ax = figure()
    ax.plot(grid, truth, color="0.4", lw=2, ls="--", label="sin(2πx) (noiseless)")
    ax.plot(grid, fitted, color="C3", lw=2, label=f"fit (RMSE to sine {rmse:.3f})")
    ax.scatter(x, y, s=18, color="C0", zorder=3, label=f"data (N = {len(x)})")
    ax.set(title="Regression on learned Gaussian basis functions", xlabel="x", ylabel="y")
    ax.legend(loc="upper right")
    run.save_figure(fig, "fit")


def plot_basis(model: BasisRegression, grid: torch.Tensor, run: Run) -> None:
    fig, ax = figure()
    with torch.no_grad():
        phi = model.basis(grid).cpu().numpy()
        mu = model.basis.mu.cpu().numpy()
        sigma = model.basis.sigma.cpu().numpy()
    for j in range(phi.shape[1]):
        ax.plot(
            grid.cpu().numpy(), phi[:, j], lw=2, label=f"φ{j + 1}: μ={mu[j]:.2f}, σ={sigma[j]:.2f}"
        )
    ax.set(title="The learned basis functions", xlabel="x", ylabel="φ_j(x)", ylim=(-0.02, 1.05))
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
    run.save_figure(fig, "basis_functions")


LAB = Lab(
    name="sine-basis",
    title="Linear regression on learned Gaussian basis functions",
    source="ECE472 assignment 1",
    courses=("ece472",),
    config=Config,
    quick={"steps": 600},
    targets=[Target("rmse_to_sine", "<=", 0.10, "ECE472 assignment 1")],
    summary="SGD with autograd fits w, b, μ and σ of Gaussian bumps to 50 noisy sine samples",
    time_full="3 s",
    time_quick="1 s",
    footprint=footprint,
    run=run,
)
