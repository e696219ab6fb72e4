"""Evaluate a population of MLP policies at once, in NumPy (used by evolution strategies).

Parameters are flat vectors laid out exactly like ``torch.nn.utils.parameters_to_vector``
of ``practicum.nn.MLP`` (per layer: weight of shape (out, in) row by row, then bias), so a
vector found here loads into the torch policy with ``vector_to_parameters``. This module
imports no torch, so worker processes start quickly.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor

import numpy as np

from practicum.rl.evaluate import rollout_returns

_ACTIVATIONS = {"tanh": np.tanh, "relu": lambda x: np.maximum(x, 0.0)}


def layer_sizes(obs_dim: int, num_actions: int, hidden_layers: int, width: int) -> list[int]:
    return [obs_dim] + [width] * hidden_layers + [num_actions]


def num_params(sizes: Sequence[int]) -> int:
    return sum(o * i + o for i, o in zip(sizes[:-1], sizes[1:], strict=True))


def population_actions(
    thetas: np.ndarray, obs: np.ndarray, sizes: Sequence[int], activation: str
) -> np.ndarray:
    """Greedy action of policy p on observation p, for every row p of ``thetas``."""
    act = _ACTIVATIONS[activation]
    h = obs.astype(np.float64)
    offset = 0
    n_layers = len(sizes) - 1
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        w = thetas[:, offset : offset + n_out * n_in].reshape(-1, n_out, n_in)
        offset += n_out * n_in
        b = thetas[:, offset : offset + n_out]
        offset += n_out
        h = np.einsum("pi,poi->po", h, w) + b  # row p uses only policy p's weights
        if k < n_layers - 1:
            h = act(h)
    return h.argmax(axis=1)


def population_returns(
    thetas: np.ndarray, seeds: Sequence[int], sizes: Sequence[int], activation: str
) -> tuple[np.ndarray, np.ndarray]:
    """One episode per policy, policy p on seed p: (returns, lengths)."""

    def policy(obs: np.ndarray) -> np.ndarray:
        return population_actions(thetas, obs, sizes, activation)

    return rollout_returns(policy, seeds)


def parallel_population_returns(
    pool: Executor | None,
    workers: int,
    thetas: np.ndarray,
    seeds: Sequence[int],
    sizes: Sequence[int],
    activation: str,
) -> tuple[np.ndarray, np.ndarray]:
    """``population_returns`` split into ``workers`` contiguous chunks.

    Each policy's episode depends only on its own parameters and seed, so the result is
    identical for any number of workers (and to ``pool=None``).
    """
    if pool is None or workers <= 1:
        return population_returns(thetas, seeds, sizes, activation)
    chunks = np.array_split(np.arange(len(seeds)), workers)
    futures = [
        pool.submit(population_returns, thetas[c], [seeds[i] for i in c], list(sizes), activation)
        for c in chunks
        if len(c)
    ]
    parts = [f.result() for f in futures]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
