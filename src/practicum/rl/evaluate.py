"""Play many CartPole episodes in lockstep: one batched policy call per time step.

A policy here is a function from a batch of observations, shape (n, 4), to one action per
row, shape (n,). Row i always belongs to episode i, so a population of different policies
(as in ES) can be evaluated in the same loop as one greedy network.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from practicum.repro import sub_seed
from practicum.rl.env import make_env

if TYPE_CHECKING:  # torch is imported lazily: ES worker processes do not need it
    import torch

Policy = Callable[[np.ndarray], np.ndarray]


def rollout_returns(policy: Policy, seeds: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Run one episode per seed (``reset(seed=s)``) and return (returns, lengths).

    The policy sees the whole batch every step; rows of finished episodes keep their last
    observation and their actions are ignored.
    """
    envs = [make_env() for _ in seeds]
    try:
        obs = np.stack([env.reset(seed=int(s))[0] for env, s in zip(envs, seeds, strict=True)])
        returns = np.zeros(len(envs))
        lengths = np.zeros(len(envs), dtype=np.int64)
        active = np.ones(len(envs), dtype=bool)
        while active.any():
            actions = np.asarray(policy(obs.astype(np.float32)))
            for i in np.flatnonzero(active):
                next_obs, reward, terminated, truncated, _ = envs[i].step(int(actions[i]))
                obs[i] = next_obs
                returns[i] += reward
                lengths[i] += 1
                if terminated or truncated:
                    active[i] = False
    finally:
        for env in envs:
            env.close()
    return returns, lengths


# Evaluation episodes never reuse the training environment's seed: the validation set decides
# when to stop training, the test set gives the reported number (as with data splits).
VALIDATION = 1
TEST = 2


def eval_seed(run_seed: int, split: int) -> int:
    """The seed of a run's validation (``VALIDATION``) or test (``TEST``) episodes."""
    return sub_seed(run_seed, split)


def episode_seeds(seed: int, episodes: int) -> np.ndarray:
    """``episodes`` environment seeds drawn from ``seed`` (distinct runs get distinct sets)."""
    return np.random.default_rng(seed).integers(0, 2**31 - 1, size=episodes)


def evaluate_policy(policy: Policy, episodes: int, seed: int) -> np.ndarray:
    """Returns of ``episodes`` episodes whose start states are fixed by ``seed``."""
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    returns, _ = rollout_returns(policy, episode_seeds(seed, episodes).tolist())
    return returns


def greedy_policy(model: torch.nn.Module, device: str = "cpu") -> Policy:
    """Act with argmax of the network's outputs (logits or Q-values): no exploration."""
    import torch

    def act(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = model(torch.as_tensor(obs, dtype=torch.float32, device=device))
        return out.argmax(dim=1).cpu().numpy()

    return act


def random_policy(rng: np.random.Generator, num_actions: int = 2) -> Policy:
    """Uniformly random actions: the baseline every lab must beat."""

    def act(obs: np.ndarray) -> np.ndarray:
        return rng.integers(0, num_actions, size=len(obs))

    return act
