"""Figures shared by the RL labs: the learning curve and a strip of rendered frames."""

from __future__ import annotations

import os
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from practicum.rl.env import SOLVED_RETURN, make_env
from practicum.rl.evaluate import Policy


def smooth(values: Sequence[float], window: int) -> np.ndarray:
    """Trailing moving average; the first points average over what is available."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return x
    window = max(1, int(window))
    csum = np.concatenate([[0.0], np.cumsum(x)])
    hi = np.arange(1, x.size + 1)
    lo = np.maximum(hi - window, 0)
    return (csum[hi] - csum[lo]) / (hi - lo)


def learning_curve_figure(
    steps: Sequence[int],
    returns: Sequence[float],
    title: str,
    window: int = 20,
    solved_step: int | None = None,
    label: str = "episode return",
) -> Figure:
    """Episodic return against environment steps, raw and smoothed, with the solved line."""
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, returns, color="tab:blue", alpha=0.25, lw=0.8, label=label)
    ax.plot(steps, smooth(returns, window), color="tab:blue", lw=2, label=f"mean of last {window}")
    ax.axhline(SOLVED_RETURN, color="tab:green", ls="--", lw=1, label=f"solved ({SOLVED_RETURN:g})")
    if solved_step is not None:
        ax.axvline(solved_step, color="tab:red", ls=":", lw=1.2, label="greedy policy solved")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("episodic return")
    ax.set_ylim(0, 520)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def render_frames(policy: Policy, seed: int, count: int = 6, every: int = 40) -> list[np.ndarray]:
    """``count`` RGB frames, one every ``every`` steps, of one episode played by ``policy``.

    Needs pygame (gymnasium's renderer). Returns an empty list if it is not installed, so
    the labs run without it.
    """
    # pygame's SDL would look for a display and a sound card; frames need neither.
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # no greeting on stdout
    try:
        import pygame  # noqa: F401
    except ImportError:
        return []
    env = make_env(render_mode="rgb_array")
    frames: list[np.ndarray] = []
    try:
        obs, _ = env.reset(seed=seed)
        for t in range(count * every):
            if t % every == 0:
                frames.append(env.render())
            action = int(policy(obs[None].astype(np.float32))[0])
            obs, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                break
    finally:
        env.close()
    return frames


def frame_strip_figure(frames: Sequence[np.ndarray], every: int, title: str) -> Figure:
    fig, axes = plt.subplots(1, len(frames), figsize=(2.2 * len(frames), 1.9))
    for i, (ax, frame) in enumerate(zip(np.atleast_1d(axes), frames, strict=True)):
        ax.imshow(frame[140:330])  # crop the empty sky and floor
        ax.set_title(f"step {i * every}", fontsize=9)
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    return fig
