"""A fixed-size replay buffer: uniform sampling, oldest transitions overwritten first."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch


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

    ``state_dict()`` / ``load_state_dict()`` save and restore the filled part of the storage
    (as tensors), the write position and the sampling generator's state, so a buffer
    restored from a checkpoint samples the same batches as the one that was saved.
    """

    _FIELDS = ("obs", "actions", "rewards", "next_obs", "terminated")

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

    def state_dict(self) -> dict[str, Any]:
        filled = {
            name: torch.from_numpy(getattr(self, name)[: self.size].copy()) for name in self._FIELDS
        }
        return {
            **filled,
            "capacity": self.capacity,
            "position": self.position,
            "size": self.size,
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["capacity"] != self.capacity or state["obs"].shape[1:] != self.obs.shape[1:]:
            raise ValueError(
                f"a buffer of capacity {state['capacity']} and observations of shape "
                f"{tuple(state['obs'].shape[1:])} does not fit this one "
                f"({self.capacity}, {self.obs.shape[1:]})"
            )
        size = state["size"]
        for name in self._FIELDS:
            storage = getattr(self, name)
            storage[:size] = state[name].numpy()
            storage[size:] = 0  # as in a fresh buffer: slots past the filled part are zeros
        self.position = state["position"]
        self.size = size
        self.rng.bit_generator.state = state["rng"]
