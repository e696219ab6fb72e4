"""A fixed-size replay buffer: uniform sampling, oldest transitions overwritten first."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Transitions(NamedTuple):
    """A batch of (s, a, r, s', terminated) as NumPy arrays with a leading batch axis."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray


class ReplayBuffer:
    """A ring buffer of transitions.

    Storage is preallocated NumPy arrays; ``add`` writes at ``position`` and advances it
    modulo ``capacity``, so once full the oldest transition is the next one replaced.
    ``sample`` draws indices uniformly with replacement from the filled part, using the
    generator given at construction (so sampling is reproducible from the run seed).

    ``terminated`` (the pole fell) is stored, not ``truncated`` (the 500-step time limit):
    a time limit is not a property of the state, so the Bellman target must still
    bootstrap from s' there.
    """

    def __init__(self, capacity: int, obs_dim: int, rng: np.random.Generator) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.rng = rng
        self.obs = np.zeros((capacity, obs_dim), np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), np.float32)
        self.actions = np.zeros(capacity, np.int64)
        self.rewards = np.zeros(capacity, np.float32)
        self.terminated = np.zeros(capacity, np.float32)
        self.position = 0  # where the next transition goes
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(
        self,
        obs: np.ndarray,
        action: int,
        reward: float,
        next_obs: np.ndarray,
        terminated: bool,
    ) -> None:
        i = self.position
        self.obs[i] = obs
        self.actions[i] = action
        self.rewards[i] = reward
        self.next_obs[i] = next_obs
        self.terminated[i] = float(terminated)
        self.position = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample_indices(self, batch_size: int) -> np.ndarray:
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        return self.rng.integers(0, self.size, size=batch_size)

    def sample(self, batch_size: int) -> Transitions:
        idx = self.sample_indices(batch_size)
        return Transitions(
            self.obs[idx],
            self.actions[idx],
            self.rewards[idx],
            self.next_obs[idx],
            self.terminated[idx],
        )
