"""Discounted returns-to-go and advantage normalisation for policy-gradient methods."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def returns_to_go(
    rewards: ArrayLike, gamma: float, episode_ends: ArrayLike | None = None
) -> np.ndarray:
    """G_t = r_t + γ r_{t+1} + γ² r_{t+2} + ... up to the end of t's episode.

    ``rewards`` may hold several episodes back to back; ``episode_ends[t]`` is true where an
    episode ends after step t (the sum restarts there). Without it, one episode is assumed.
    Computed right to left with G_t = r_t + γ G_{t+1}, which is O(T).
    """
    r = np.asarray(rewards, dtype=np.float64)
    if r.ndim != 1:
        raise ValueError(f"rewards must be 1-D, got shape {r.shape}")
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    ends = np.zeros(len(r), bool) if episode_ends is None else np.asarray(episode_ends, bool)
    if ends.shape != r.shape:
        raise ValueError(f"episode_ends has shape {ends.shape}, rewards {r.shape}")
    out = np.empty_like(r)
    running = 0.0
    for t in range(len(r) - 1, -1, -1):
        if ends[t]:
            running = 0.0  # nothing after the end of an episode counts
        running = r[t] + gamma * running
        out[t] = running
    return out


def normalize_advantages(advantages: ArrayLike, eps: float = 1e-8) -> np.ndarray:
    """(A − mean A) / (std A + eps): zero mean, unit spread, so the step size does not depend
    on the scale of the returns (which grows from ~20 to 500 over a CartPole run)."""
    a = np.asarray(advantages, dtype=np.float64)
    if a.size == 0:
        raise ValueError("normalize_advantages got an empty array")
    return (a - a.mean()) / (a.std() + eps)
