"""A seeded CartPole-v1, and a clear message when gymnasium is not installed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from practicum.errors import PracticumError

ENV_ID = "CartPole-v1"
SOLVED_RETURN = 475.0  # CartPole-v1's own reward_threshold in gymnasium's registry
OBS_DIM = 4
NUM_ACTIONS = 2


def _gym() -> Any:
    try:
        import gymnasium
    except ImportError:
        raise PracticumError(
            "the RL labs need gymnasium: pip install 'practicum[rl]' (CartPole needs no download)"
        ) from None
    return gymnasium


def make_env(seed: int | None = None, render_mode: str | None = None) -> Any:
    """A CartPole-v1 environment; with ``seed``, its first reset and action space are seeded.

    gymnasium seeds an environment's RNG on ``reset(seed=...)`` only; later resets without a
    seed continue that stream, so one seeded reset makes the whole episode sequence fixed.
    ``action_space.sample()`` has its own RNG, seeded here too.
    """
    env = _gym().make(ENV_ID, render_mode=render_mode)
    if seed is not None:
        env.reset(seed=seed)
        env.action_space.seed(seed)
    return env


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run a block with ``n`` torch threads, then restore the previous count.

    The RL networks are tiny (a few thousand weights, batches of 1 to 128): a second thread
    only adds synchronisation, and on shared cores a waiting OpenMP thread can turn a 40 µs
    forward pass into milliseconds. The thread count is part of determinism, so it is fixed.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
