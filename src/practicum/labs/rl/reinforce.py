"""REINFORCE with a learned state-value baseline on CartPole-v1.

The policy gradient ∇J(θ) = E[Σ_t ∇ log π_θ(a_t|s_t) (G_t − b(s_t))] is estimated from whole
episodes: G_t is the discounted return-to-go, b(s) = V_φ(s) a learned baseline that lowers the
variance without adding bias, and the advantages G_t − V(s_t) are normalised per batch.
Training stops once the greedy policy averages >= 475 on 100 validation episodes; the
reported score comes from 100 separate test episodes.

Resuming: a checkpoint after every batch holds both networks, their optimisers, the action
sampler's generator, the environments' states and the curves, so ``--resume`` continues
bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

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
from practicum.rl.report import SolveCheck, final_report
from practicum.rl.returns import normalize_advantages, returns_to_go
from practicum.run import Run


# ---- config ------------------------------------------------------------------------------
@dataclass
class Config:
    total_steps: int = bounded(300_000, "[1, 1e8]")  # budget of environment steps for training
    episodes_per_batch: int = bounded(
        8, "[1, 10000]"
    )  # episodes per gradient step (played in lockstep)
    gamma: float = bounded(0.99, "[0, 1]")
    hidden_layers: int = bounded(1, "[0, 64]")
    width: int = bounded(64, "[1, 65536]")
    activation: str = "tanh"
    policy_lr: float = bounded(3e-3, "(0, 10]")
    value_lr: float = bounded(1e-2, "(0, 10]")
    entropy_coef: float = bounded(
        0.0, "[0, 100]"
    )  # bonus for the policy's entropy (0 = plain REINFORCE)
    normalize_advantages: bool = True
    max_grad_norm: float = bounded(1.0, "(0, 1e6]")
    check_gate: float = bounded(
        400.0, "[0, 500]"
    )  # validate once the last 20 training episodes average this
    check_episodes: int = bounded(100, "[1, 10000]")  # greedy validation episodes per check
    eval_episodes: int = bounded(100, "[1, 10000]")  # greedy test episodes for the reported score

    def validate(self) -> None:
        PolicySpec(OBS_DIM, NUM_ACTIONS, self.hidden_layers, self.width, self.activation)


EPISODE_STEPS = 500  # CartPole-v1's time limit: the longest episode


def footprint(config: Config) -> int:
    """The policy and value networks, trained on a batch of whole episodes at once."""
    widths = [config.width] * config.hidden_layers
    parameters = mlp_parameters([OBS_DIM, *widths, NUM_ACTIONS]) + mlp_parameters(
        [OBS_DIM, *widths, 1]
    )
    activations = 2 * config.episodes_per_batch * EPISODE_STEPS * sum(widths)
    return training_bytes(parameters, activations)


# ---- rollouts ------------------------------------------------------------------------------
def play_episodes(
    policy: torch.nn.Module, envs: list, gen: torch.Generator, device: str
) -> list[dict[str, np.ndarray]]:
    """One episode per environment, in lockstep, actions sampled from π(·|s)."""
    obs = np.stack([env.reset()[0] for env in envs]).astype(np.float32)
    active = np.ones(len(envs), dtype=bool)
    traces: list[dict[str, list]] = [{"obs": [], "actions": [], "rewards": []} for _ in envs]
    while active.any():
        with torch.no_grad():
            logits = policy(torch.as_tensor(obs, device=device))
            actions = torch.multinomial(logits.softmax(1).cpu(), 1, generator=gen).squeeze(1)
        for i in np.flatnonzero(active):
            a = int(actions[i])
            next_obs, reward, terminated, truncated, _ = envs[i].step(a)
            traces[i]["obs"].append(obs[i].copy())
            traces[i]["actions"].append(a)
            traces[i]["rewards"].append(float(reward))
            obs[i] = next_obs
            if terminated or truncated:
                active[i] = False
    return [{k: np.asarray(v) for k, v in t.items()} for t in traces]


# ---- loss ----------------------------------------------------------------------------------
def reinforce_losses(
    policy: torch.nn.Module,
    value: torch.nn.Module,
    episodes: list[dict[str, np.ndarray]],
    config: Config,
    device: str,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(policy loss, value loss, entropy) of one batch of complete episodes."""
    obs = torch.as_tensor(np.concatenate([e["obs"] for e in episodes]), device=device)
    actions = torch.as_tensor(np.concatenate([e["actions"] for e in episodes]), device=device)
    returns = np.concatenate([returns_to_go(e["rewards"], config.gamma) for e in episodes])
    returns_t = torch.as_tensor(returns, dtype=torch.float32, device=device)

    values = value(obs).squeeze(1)
    advantages = returns - values.detach().cpu().numpy()  # the baseline is not differentiated
    if config.normalize_advantages:
        advantages = normalize_advantages(advantages)
    adv_t = torch.as_tensor(advantages, dtype=torch.float32, device=device)

    log_probs = F.log_softmax(policy(obs), dim=1)
    chosen = log_probs.gather(1, actions.unsqueeze(1)).squeeze(1)
    entropy = -(log_probs.exp() * log_probs).sum(1).mean()
    policy_loss = -(chosen * adv_t).mean() - config.entropy_coef * entropy
    value_loss = F.mse_loss(values, returns_t)
    return policy_loss, value_loss, entropy


# ---- training ------------------------------------------------------------------------------
def run(config: Config, run: Run) -> dict[str, float]:
    with torch_threads(1):
        return train(config, run)


def train(config: Config, run: Run) -> dict[str, float]:
    device = run.device
    torch.manual_seed(run.seed)
    gen = torch.Generator().manual_seed(run.seed)  # action sampling
    spec = PolicySpec(OBS_DIM, NUM_ACTIONS, config.hidden_layers, config.width, config.activation)
    policy = build_policy(spec).to(device)
    policy.layers[-1].reset_parameters(gain=0.01)  # start near uniform: explore evenly
    value = build_policy(PolicySpec(OBS_DIM, 1, config.hidden_layers, config.width, "tanh"))
    value = value.to(device)
    policy_opt = torch.optim.Adam(policy.parameters(), lr=config.policy_lr, fused=True)
    value_opt = torch.optim.Adam(value.parameters(), lr=config.value_lr, fused=True)

    # One environment per lockstep slot, each seeded once from the run seed.
    envs = [make_env(seed=run.seed * 1000 + i) for i in range(config.episodes_per_batch)]
    check = SolveCheck(run.seed, episodes=config.check_episodes)
    ep_steps: list[int] = []  # env steps at the end of each training episode
    ep_returns: list[float] = []
    # A checkpoint after every batch: the environments are between episodes then, and their
    # generators (in CartPoleStates) fix the next start states.
    state = {
        "policy": policy,
        "value": value,
        "policy_opt": policy_opt,
        "value_opt": value_opt,
        "gen": gen,
        "envs": CartPoleStates(envs),
        "check": check,
        "ep_steps": ep_steps,
        "ep_returns": ep_returns,
    }
    # The loop ends when solved or when the step budget is spent; every episode lasts at
    # least one step, so the budget is spent after at most this many batches.
    max_batches = math.ceil(config.total_steps / config.episodes_per_batch)
    for batch in run.loop(max_batches, state, desc="reinforce batches"):
        episodes = play_episodes(policy, envs, gen, device)
        env_steps = ep_steps[-1] if ep_steps else 0  # the count so far, kept in the curve
        for e in episodes:
            env_steps += len(e["rewards"])
            ep_steps.append(env_steps)
            ep_returns.append(float(e["rewards"].sum()))

        policy_loss, value_loss, entropy = reinforce_losses(policy, value, episodes, config, device)
        policy_opt.zero_grad()
        policy_loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), config.max_grad_norm)
        policy_opt.step()
        value_opt.zero_grad()
        value_loss.backward()
        value_opt.step()

        recent = float(np.mean(ep_returns[-20:]))
        run.log(
            batch=batch,
            env_steps=env_steps,
            mean_return=float(np.mean([e["rewards"].sum() for e in episodes])),
            recent_return=recent,
            policy_loss=float(policy_loss.detach()),
            value_loss=float(value_loss.detach()),
            entropy=float(entropy.detach()),
        )
        if recent >= config.check_gate and check(policy, env_steps, device):
            run.print(f"solved after {env_steps} env steps ({batch + 1} batches)")
            break
        if env_steps >= config.total_steps:
            break
    for env in envs:
        env.close()
    env_steps = ep_steps[-1]

    # ---- evaluation and plots ----------------------------------------------------------------
    metrics = final_report(
        run,
        policy,
        spec,
        check,
        env_steps,
        len(ep_returns),
        "REINFORCE: greedy test episode",
        eval_episodes=config.eval_episodes,
    )
    metrics["final_train_return"] = float(smooth(ep_returns, 20)[-1])
    run.save_figure(
        learning_curve_figure(
            ep_steps,
            ep_returns,
            "REINFORCE with a value baseline on CartPole-v1",
            solved_step=check.solved_at_step,
        ),
        "learning_curve",
    )
    run.set_params({"policy": policy, "value": value})
    return metrics


LAB = Lab(
    name="reinforce",
    title="REINFORCE with a learned baseline on CartPole-v1",
    source="DTU 02456 week 8 (policy gradient); Williams 1992; Sutton & Barto ch. 13.4",
    courses=("dtu02456",),
    config=Config,
    run=run,
    footprint=footprint,
    quick={"total_steps": 4000},
    targets=[Target("eval_mean_return", ">=", SOLVED_RETURN, "CartPole-v1 reward_threshold")],
    # Quick mode trains for a few thousand steps only: it must clearly beat a random policy.
    quick_targets=[Target("return_vs_random", ">=", 1.5, "quick mode: beats random play")],
    summary="Policy gradient with returns-to-go and a value baseline solves CartPole",
    time_full="10 s",
    time_quick="5 s",
)
