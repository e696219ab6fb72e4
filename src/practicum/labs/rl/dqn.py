"""Deep Q-learning (Mnih et al. 2015) on CartPole-v1, with Double DQN as an option.

A network Q_θ(s, ·) is regressed onto the Bellman target y = r + γ max_a' Q_θ⁻(s', a') with
the Huber loss, on minibatches drawn uniformly from a replay buffer of past transitions. The
target network θ⁻ is a delayed copy of θ (hard copies every few hundred steps, or Polyak
averaging with tau < 1), which keeps the regression target still while θ moves. Actions are
ε-greedy, with ε annealed linearly from 1 to a small floor. Training stops once the greedy
policy averages >= 475 on 100 validation episodes; the score comes from 100 test episodes.

Resuming: a checkpoint every 5% of the step budget holds the networks, the optimiser, the
replay buffer with its sampling generator (which also draws the exploration), the
environment mid-episode (physical state, time-limit count, generators), the current
observation and episode return, the probe states, the validation checks and the curves. The
step number fixes ε, so ``--resume`` continues the same trajectory bit for bit.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from practicum.errors import PracticumError
from practicum.footprint import mlp_parameters, training_bytes
from practicum.lab import Lab, Target, bounded
from practicum.rl.env import (
    NUM_ACTIONS,
    OBS_DIM,
    SOLVED_RETURN,
    CartPoleStates,
    make_env,
    torch_threads,
)
from practicum.rl.plots import learning_curve_figure, smooth
from practicum.rl.policy_io import PolicySpec, build_policy
from practicum.rl.replay import ReplayBuffer
from practicum.rl.report import SolveCheck, final_report
from practicum.rl.targets import linear_schedule, q_learning_targets
from practicum.run import Run


# ---- config ------------------------------------------------------------------------------
@dataclass
class Config:
    total_steps: int = bounded(150_000, "[1, 1e8]")  # budget of environment steps
    learning_rate: float = bounded(1e-3, "(0, 10]")
    buffer_size: int = bounded(50_000, "[1, 1e8]")
    batch_size: int = bounded(128, "[1, 65536]")
    gamma: float = bounded(0.99, "[0, 1)")
    hidden_layers: int = bounded(2, "[0, 64]")
    width: int = bounded(128, "[1, 65536]")
    activation: str = "relu"
    double_dqn: bool = True  # pick a* with the online net, evaluate it with the target net
    tau: float = bounded(
        0.005, "(0, 1]"
    )  # 1 = hard copy; < 1 = Polyak averaging θ⁻ ← τθ + (1 − τ)θ⁻
    target_update_every: int = bounded(
        1, "[1, 1e8]"
    )  # env steps between target updates (500 suits tau = 1)
    start_epsilon: float = bounded(1.0, "[0, 1]")
    end_epsilon: float = bounded(0.05, "[0, 1]")
    exploration_steps: int = bounded(
        10_000, "[0, 1e8]"
    )  # ε reaches end_epsilon after this many steps
    learning_starts: int = bounded(
        1_000, "[1, 1e8]"
    )  # random-ish steps collected before the first update
    train_every: int = bounded(1, "[1, 1e6]")  # env steps between training phases...
    gradient_steps: int = bounded(1, "[1, 1000]")  # ...of this many minibatch updates each
    huber_delta: float = bounded(1.0, "(0, 1e6]")
    max_grad_norm: float = bounded(10.0, "(0, 1e6]")
    q_probe_states: int = bounded(
        500, "[1, 1e6]"
    )  # fixed states whose Q-values are tracked (as in Mnih et al.)
    log_every: int = bounded(1_000, "[1, 1e8]")
    check_every: int = bounded(2_000, "[1, 1e8]")  # env steps between validation checks...
    check_gate: float = bounded(
        150.0, "[0, 500]"
    )  # ...made once the last 10 training episodes average this
    check_episodes: int = bounded(100, "[1, 10000]")
    eval_episodes: int = bounded(100, "[1, 10000]")

    def validate(self) -> None:
        if self.buffer_size < self.batch_size:
            raise PracticumError("need buffer_size >= batch_size")
        if self.end_epsilon > self.start_epsilon:
            raise PracticumError("need end_epsilon <= start_epsilon")
        if self.q_probe_states > self.learning_starts:
            raise PracticumError("need q_probe_states <= learning_starts")
        PolicySpec(OBS_DIM, NUM_ACTIONS, self.hidden_layers, self.width, self.activation)


def footprint(config: Config) -> int:
    """The online and target networks, a minibatch through both, and the replay buffer
    (observation, next observation, action, reward, done per transition)."""
    widths = [config.width] * config.hidden_layers
    parameters = 2 * mlp_parameters([OBS_DIM, *widths, NUM_ACTIONS])
    activations = 2 * config.batch_size * sum(widths)
    buffer = config.buffer_size * (2 * OBS_DIM + 3)
    return training_bytes(parameters, activations, data=buffer)


# ---- loss ----------------------------------------------------------------------------------
def td_loss(
    q_net: torch.nn.Module,
    target_net: torch.nn.Module,
    batch: tuple[torch.Tensor, ...],
    config: Config,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Huber loss between Q(s, a) and the (Double) DQN target; also returns mean Q(s, a)."""
    obs, actions, rewards, next_obs, terminated = batch
    with torch.no_grad():
        next_q_target = target_net(next_obs)
        next_q_online = q_net(next_obs) if config.double_dqn else None
        y = q_learning_targets(rewards, terminated, config.gamma, next_q_target, next_q_online)
    q_taken = q_net(obs).gather(1, actions.unsqueeze(1)).squeeze(1)
    return F.huber_loss(q_taken, y, delta=config.huber_delta), q_taken.detach().mean()


def update_target(q_net: torch.nn.Module, target_net: torch.nn.Module, tau: float) -> None:
    with torch.no_grad():
        for p, p_target in zip(q_net.parameters(), target_net.parameters(), strict=True):
            p_target.lerp_(p, tau)  # tau = 1 copies


# ---- training ------------------------------------------------------------------------------
def run(config: Config, run: Run) -> dict[str, float]:
    with torch_threads(1):
        return train(config, run)


def train(config: Config, run: Run) -> dict[str, float]:
    device = run.device
    torch.manual_seed(run.seed)
    rng = np.random.default_rng(run.seed)  # exploration and replay sampling
    spec = PolicySpec(OBS_DIM, NUM_ACTIONS, config.hidden_layers, config.width, config.activation)
    q_net = build_policy(spec).to(device)
    target_net = copy.deepcopy(q_net)
    optimizer = torch.optim.Adam(q_net.parameters(), lr=config.learning_rate, fused=True)
    buffer = ReplayBuffer(config.buffer_size, OBS_DIM, rng)  # NumPy storage, moved per batch

    env = make_env(seed=run.seed)
    obs = env.reset()[0]  # the current observation, updated in place (it is checkpointed)
    # Fixed probe states, gathered by the (mostly random) early policy at learning_starts.
    probe = torch.zeros(config.q_probe_states, OBS_DIM, device=device)
    check = SolveCheck(run.seed, episodes=config.check_episodes)
    ep_steps: list[int] = []
    ep_returns: list[float] = []
    q_log: list[tuple[int, float, float]] = []  # (step, mean max Q on probe states, batch Q)
    walk = {"env_steps": 0, "ep_return": 0.0, "last_loss": math.nan, "last_q": math.nan}
    # Everything the next step depends on; the buffer's state includes rng, which it shares
    # with exploration. The ε schedule's position is the step itself.
    state = {
        "q_net": q_net,
        "target_net": target_net,
        "optimizer": optimizer,
        "buffer": buffer,
        "env": CartPoleStates([env]),
        "obs": obs,
        "probe": probe,
        "check": check,
        "walk": walk,
        "ep_steps": ep_steps,
        "ep_returns": ep_returns,
        "q_log": q_log,
    }
    every = max(1, config.total_steps // 20)  # a checkpoint every 5% of the step budget
    for i in run.loop(config.total_steps, state, desc="dqn env steps", every=every):
        step = i + 1
        epsilon = linear_schedule(
            config.start_epsilon, config.end_epsilon, config.exploration_steps, step
        )
        if rng.random() < epsilon:
            action = int(rng.integers(NUM_ACTIONS))
        else:
            with torch.no_grad():
                action = int(q_net(torch.as_tensor(obs[None], device=device)).argmax())
        next_obs, reward, terminated, truncated, _ = env.step(action)
        buffer.add(obs, action, reward, next_obs, terminated)
        obs[:] = next_obs
        walk["ep_return"] += reward
        walk["env_steps"] = step
        if terminated or truncated:
            ep_steps.append(step)
            ep_returns.append(walk["ep_return"])
            walk["ep_return"] = 0.0
            obs[:] = env.reset()[0]

        if step == config.learning_starts:
            probe.copy_(torch.from_numpy(buffer.obs[: config.q_probe_states]))
        if step >= config.learning_starts and step % config.target_update_every == 0:
            update_target(q_net, target_net, config.tau)
        if step >= config.learning_starts and step % config.train_every == 0:
            for _ in range(config.gradient_steps):
                b = buffer.sample(config.batch_size)
                batch = (
                    torch.as_tensor(b.obs, device=device),
                    torch.as_tensor(b.actions, device=device),
                    torch.as_tensor(b.rewards, device=device),
                    torch.as_tensor(b.next_obs, device=device),
                    torch.as_tensor(b.terminated, device=device),
                )
                loss, q_mean = td_loss(q_net, target_net, batch, config)
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(q_net.parameters(), config.max_grad_norm)
                optimizer.step()
            walk["last_loss"], walk["last_q"] = float(loss.detach()), float(q_mean)

        if step % config.log_every == 0 and step >= config.learning_starts:
            with torch.no_grad():
                probe_q = float(q_net(probe).max(dim=1).values.mean())
            q_log.append((step, probe_q, walk["last_q"]))
            recent = float(np.mean(ep_returns[-10:])) if ep_returns else 0.0
            run.log(
                step=step,
                epsilon=epsilon,
                td_loss=walk["last_loss"],
                q_probe=probe_q,
                q_batch=walk["last_q"],
                recent_return=recent,
                episodes=len(ep_returns),
            )
        if (
            step % config.check_every == 0
            and ep_returns
            and np.mean(ep_returns[-10:]) >= config.check_gate
            and check(q_net, step, device)
        ):
            run.print(f"solved after {step} env steps")
            break
    env.close()
    env_steps = walk["env_steps"]

    # ---- evaluation and plots ----------------------------------------------------------------
    metrics = final_report(
        run,
        q_net,
        spec,
        check,
        env_steps,
        len(ep_returns),
        "DQN: greedy test episode",
        eval_episodes=config.eval_episodes,
    )
    metrics["final_train_return"] = float(smooth(ep_returns, 20)[-1]) if ep_returns else 0.0
    metrics["final_q_probe"] = q_log[-1][1] if q_log else float("nan")
    name = "Double DQN" if config.double_dqn else "DQN"
    run.save_figure(
        learning_curve_figure(
            ep_steps, ep_returns, f"{name} on CartPole-v1", solved_step=check.solved_at_step
        ),
        "learning_curve",
    )
    run.save_figure(q_value_figure(q_log, config.gamma, name), "q_values")
    run.set_params(q_net)
    return metrics


# ---- plots ---------------------------------------------------------------------------------
def q_value_figure(q_log: list[tuple[int, float, float]], gamma: float, name: str) -> plt.Figure:
    """Q estimates over training. With reward 1 per step, no Q can exceed Σ γ^t = 1/(1 − γ)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    if q_log:
        steps, probe, batch = (np.asarray(c) for c in zip(*q_log, strict=True))
        ax.plot(steps, probe, lw=2, label="mean max_a Q(s, a), fixed probe states")
        ax.plot(steps, batch, lw=1, alpha=0.7, label="mean Q(s, a), replay minibatch")
    ax.axhline(1 / (1 - gamma), color="gray", ls="--", lw=1, label="1/(1−γ): never-ending episode")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("Q-value estimate")
    ax.set_title(f"{name}: Q-value estimates during training")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    return fig


LAB = Lab(
    name="dqn",
    title="Deep Q-learning (Double DQN) on CartPole-v1",
    source="DTU 02456 week 8 (deep Q-learning); Mnih et al. 2015; van Hasselt et al. 2016",
    courses=("dtu02456",),
    config=Config,
    run=run,
    footprint=footprint,
    quick={
        "total_steps": 4_000,
        "exploration_steps": 2_000,
        "learning_starts": 500,
        "q_probe_states": 200,
        "log_every": 250,
        "train_every": 2,
        "batch_size": 64,
    },
    targets=[Target("eval_mean_return", ">=", SOLVED_RETURN, "CartPole-v1 reward_threshold")],
    # Quick mode trains for a few thousand steps only: it must clearly beat a random policy.
    quick_targets=[Target("return_vs_random", ">=", 1.5, "quick mode: beats random play")],
    summary="Replay buffer + target network + ε-greedy: Q-learning with a network solves CartPole",
    time_full="12 min",
    time_quick="6 s",
)
