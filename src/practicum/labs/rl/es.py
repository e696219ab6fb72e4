"""Evolution strategies (Salimans et al. 2017) on CartPole-v1.

No backpropagation: each generation perturbs the policy's parameters θ with antithetic
Gaussian noise ±σε_i, plays one episode with each perturbed policy (both members of a pair
on the same start state), replaces the returns by their centred ranks, and moves θ along
Σ_i (rank⁺_i − rank⁻_i) ε_i with Adam and weight decay. The policy is greedy (argmax of the
network's outputs), so every episode is a deterministic function of θ and the seed.
Training stops once θ's greedy policy averages >= 475 on 100 validation episodes.

Resuming: checkpoints hold θ, Adam's moments, the generator of noise and episode seeds, the
validation checks and the curves; ``--resume`` continues bit for bit with any ``workers``.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from practicum.errors import PracticumError
from practicum.footprint import mlp_parameters, training_bytes
from practicum.lab import Lab, Target, bounded
from practicum.parallel import worker_pool
from practicum.rl.env import NUM_ACTIONS, OBS_DIM, SOLVED_RETURN, torch_threads
from practicum.rl.es import antithetic_noise, es_gradient
from practicum.rl.plots import learning_curve_figure, smooth
from practicum.rl.policy_io import PolicySpec, build_policy
from practicum.rl.population import layer_sizes, num_params, parallel_population_returns
from practicum.rl.report import SolveCheck, final_report
from practicum.run import Run


# ---- config ------------------------------------------------------------------------------
@dataclass
class Config:
    generations: int = bounded(200, "[1, 1e6]")  # budget of ES updates
    num_pairs: int = bounded(
        32, "[1, 100000]"
    )  # antithetic pairs per generation (population = 2 × num_pairs)
    sigma: float = bounded(0.1, "(0, 100]")  # perturbation scale
    learning_rate: float = bounded(0.05, "(0, 10]")  # Adam step on θ
    weight_decay: float = bounded(0.005, "[0, 10]")  # L2 coefficient, as in Salimans et al. 2017
    rank_shaping: bool = True
    hidden_layers: int = bounded(1, "[0, 64]")
    width: int = bounded(16, "[1, 65536]")
    activation: str = "tanh"
    workers: int = bounded(
        1, "[1, 1024]"
    )  # processes evaluating the population; 1 = in this process (see lab note)
    check_gate: float = bounded(
        300.0, "[0, 500]"
    )  # validate once the population's mean return reaches this
    check_episodes: int = bounded(100, "[1, 10000]")
    eval_episodes: int = bounded(100, "[1, 10000]")

    def validate(self) -> None:
        if self.activation not in ("tanh", "relu"):
            raise PracticumError(f"activation must be tanh or relu, got {self.activation!r}")
        PolicySpec(OBS_DIM, NUM_ACTIONS, self.hidden_layers, self.width, self.activation)


def footprint(config: Config) -> int:
    """θ with Adam's moments, and one perturbation of θ per member of the population."""
    widths = [config.width] * config.hidden_layers
    parameters = mlp_parameters([OBS_DIM, *widths, NUM_ACTIONS])
    return training_bytes(parameters, 0, data=2 * config.num_pairs * parameters)


# ---- training ------------------------------------------------------------------------------
def run(config: Config, run: Run) -> dict[str, float]:
    # Workers import only NumPy and gymnasium (practicum.rl.population): no torch threads.
    with torch_threads(1), worker_pool(config.workers, threads=None) as pool:
        return train(config, run, pool)


def train(config: Config, run: Run, pool: ProcessPoolExecutor | None) -> dict[str, float]:
    torch.manual_seed(run.seed)
    rng = np.random.default_rng(run.seed)  # noise and episode seeds
    spec = PolicySpec(OBS_DIM, NUM_ACTIONS, config.hidden_layers, config.width, config.activation)
    model = build_policy(spec).to(run.device)  # holds θ for validation, saving and hashing
    sizes = layer_sizes(OBS_DIM, NUM_ACTIONS, config.hidden_layers, config.width)
    dim = num_params(sizes)
    # θ lives in float64 as a torch tensor so that torch's Adam can update it, on the CPU: the
    # population's episodes are played in NumPy (practicum.rl.population).
    with torch.no_grad():
        theta = torch.nn.utils.parameters_to_vector(model.parameters()).double().cpu()
    assert theta.numel() == dim, "population layout must match the torch MLP"
    theta.requires_grad_(True)  # a leaf the optimiser owns; its .grad is set by hand
    optimizer = torch.optim.Adam([theta], lr=config.learning_rate)

    check = SolveCheck(run.seed, episodes=config.check_episodes)
    gen_steps: list[int] = []  # env steps at the end of each generation
    gen_means: list[float] = []
    counts = {"episodes": 0}
    # The population's episodes depend only on θ and their seeds, never on the worker
    # processes, so the state below is all a resumed run needs, whatever the workers.
    state = {
        "theta": theta,
        "optimizer": optimizer,
        "rng": rng,
        "check": check,
        "gen_steps": gen_steps,
        "gen_means": gen_means,
        "counts": counts,
    }
    n = config.num_pairs
    every = max(1, config.generations // 20)  # a checkpoint every 5% of the generations
    for generation in run.loop(config.generations, state, desc="es generations", every=every):
        center = theta.detach().numpy()
        eps = antithetic_noise(rng, n, dim)
        thetas = np.concatenate([center + config.sigma * eps, center - config.sigma * eps])
        seeds = rng.integers(0, 2**31 - 1, size=n).tolist()
        returns, lengths = parallel_population_returns(
            pool, config.workers, thetas, seeds + seeds, sizes, config.activation
        )
        env_steps = (gen_steps[-1] if gen_steps else 0) + int(lengths.sum())
        counts["episodes"] += len(lengths)

        grad = es_gradient(eps, returns[:n], returns[n:], config.sigma, config.rank_shaping)
        # Adam minimises: hand it the negative ascent direction plus the L2 pull towards 0.
        theta.grad = torch.from_numpy(-grad) + config.weight_decay * theta.detach()
        optimizer.step()

        gen_steps.append(env_steps)
        gen_means.append(float(returns.mean()))
        run.log(
            generation=generation,
            env_steps=env_steps,
            mean_return=float(returns.mean()),
            max_return=float(returns.max()),
            grad_norm=float(np.linalg.norm(grad)),
            theta_norm=float(theta.detach().norm()),
        )
        if returns.mean() >= config.check_gate:
            load_theta(model, theta)
            if check(model, env_steps, run.device):
                run.print(f"solved after {env_steps} env steps ({generation + 1} generations)")
                break
    load_theta(model, theta)
    env_steps, episodes = gen_steps[-1], counts["episodes"]

    # ---- evaluation and plots ----------------------------------------------------------------
    metrics = final_report(
        run,
        model,
        spec,
        check,
        env_steps,
        episodes,
        "ES: greedy test episode",
        eval_episodes=config.eval_episodes,
    )
    metrics["final_train_return"] = float(smooth(gen_means, 5)[-1])
    metrics["generations"] = len(gen_means)
    run.save_figure(
        learning_curve_figure(
            gen_steps,
            gen_means,
            "Evolution strategies on CartPole-v1",
            window=5,
            solved_step=check.solved_at_step,
            label="population mean return per generation",
        ),
        "learning_curve",
    )
    run.set_params(model)
    return metrics


def load_theta(model: torch.nn.Module, theta: torch.Tensor) -> None:
    """Copy the float64 search point into the float32 torch policy, on the policy's device."""
    device = next(model.parameters()).device
    with torch.no_grad():
        torch.nn.utils.vector_to_parameters(theta.detach().float().to(device), model.parameters())


LAB = Lab(
    name="es",
    title="Evolution strategies on CartPole-v1",
    source="DTU 02456 week 8 (evolutionary strategies); Salimans et al. 2017",
    courses=("dtu02456",),
    config=Config,
    run=run,
    footprint=footprint,
    quick={"generations": 10, "num_pairs": 12},
    targets=[Target("eval_mean_return", ">=", SOLVED_RETURN, "CartPole-v1 reward_threshold")],
    # Quick mode plays a few thousand steps only: it must clearly beat a random policy.
    quick_targets=[Target("return_vs_random", ">=", 1.5, "quick mode: beats random play")],
    summary="Antithetic, rank-shaped evolution strategies solve CartPole without backprop",
    time_full="6 s",
    time_quick="4 s",
)
