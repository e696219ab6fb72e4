"""A seeded CartPole-v1, and a clear message when gymnasium is not installed."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

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


class CartPoleStates:
    """The whole state of some CartPole-v1 environments, for a checkpoint (``run.loop``).

    ``state_dict()`` is plain data: per environment the physical state (x, ẋ, θ, θ̇) in
    float64, the steps since the pole fell, the time limit's step count, and the states of
    the generators that draw start states on ``reset()`` and ``action_space.sample()``.
    ``load_state_dict`` puts them into environments made by :func:`make_env`, which then
    continue exactly as the saved ones would have, mid-episode or at an episode's end.
    """

    def __init__(self, envs: Sequence[Any]) -> None:
        self.envs = list(envs)

    def state_dict(self) -> dict[str, Any]:
        out = []
        for env in self.envs:
            cart = env.unwrapped
            out.append(
                {
                    "physics": None if cart.state is None else [float(v) for v in cart.state],
                    "steps_beyond_terminated": cart.steps_beyond_terminated,
                    "elapsed_steps": _time_limit(env)._elapsed_steps,
                    "np_random": cart.np_random.bit_generator.state,
                    "action_space": env.action_space.np_random.bit_generator.state,
                }
            )
        return {"envs": out}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        saved = state["envs"]
        if len(saved) != len(self.envs):
            raise ValueError(f"state of {len(saved)} environments for {len(self.envs)}")
        for env, s in zip(self.envs, saved, strict=True):
            cart = env.unwrapped
            cart.state = None if s["physics"] is None else np.array(s["physics"], np.float64)
            cart.steps_beyond_terminated = s["steps_beyond_terminated"]
            _time_limit(env)._elapsed_steps = s["elapsed_steps"]
            cart.np_random.bit_generator.state = s["np_random"]
            env.action_space.np_random.bit_generator.state = s["action_space"]


def _time_limit(env: Any) -> Any:
    """The TimeLimit wrapper (500 steps for CartPole-v1) around ``env``."""
    from gymnasium.wrappers import TimeLimit

    while not isinstance(env, TimeLimit):
        env = env.env
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
