"""The Bellman targets of deep Q-learning, and the linear ε schedule."""

from __future__ import annotations

import torch


def q_learning_targets(
    rewards: torch.Tensor,
    terminated: torch.Tensor,
    gamma: float,
    next_q_target: torch.Tensor,
    next_q_online: torch.Tensor | None = None,
) -> torch.Tensor:
    """y = r + γ (1 − terminated) Q_target(s', a*), one per transition.

    ``next_q_target`` and ``next_q_online`` have shape (batch, actions): the target and the
    online network evaluated at s'. DQN takes a* = argmax_a Q_target(s', a), i.e. the max.
    Double DQN (van Hasselt et al. 2016) passes ``next_q_online`` and takes
    a* = argmax_a Q_online(s', a), evaluated by the target network: choosing and evaluating
    with different networks removes most of the max operator's upward bias.
    ``terminated`` (1.0 where the episode really ended) zeroes the bootstrap: there is no
    future after the pole has fallen. Returns a tensor with no gradient.
    """
    with torch.no_grad():
        if next_q_online is None:
            best_next = next_q_target.max(dim=1).values
        else:
            if next_q_online.shape != next_q_target.shape:
                raise ValueError(
                    f"online and target Q-values differ in shape: "
                    f"{tuple(next_q_online.shape)} vs {tuple(next_q_target.shape)}"
                )
            a_star = next_q_online.argmax(dim=1, keepdim=True)
            best_next = next_q_target.gather(1, a_star).squeeze(1)
        return rewards + gamma * (1.0 - terminated) * best_next


def linear_schedule(start: float, end: float, duration: int, t: int) -> float:
    """Go linearly from ``start`` at t = 0 to ``end`` at t = ``duration``, then stay there."""
    if duration <= 0:
        return end
    fraction = min(max(t / duration, 0.0), 1.0)
    return start + fraction * (end - start)
