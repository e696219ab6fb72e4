"""Step schedules of the learning rate and the batch size, their SGD noise scale, and epochs of
batches whose size changes between epochs (Smith, Kindermans, Ying & Le 2018, "Don't Decay the
Learning Rate, Increase the Batch Size", ICLR).

A step schedule starts at a learning rate ε₀ and a batch size B₀ and, at each milestone epoch,
divides the noise scale of SGD with momentum m (Smith & Le 2017; Smith et al. 2018, Sec. 3)

    g = ε N / (B (1 − m))        (N training examples)

by ``factor``, in one of three ways (their Sec. 5.1, Fig. 1):

* ``decay-lr`` — the learning rate falls by the factor, the batch stays B₀ (the usual schedule);
* ``grow-batch`` — the batch grows by the factor, the learning rate stays ε₀;
* ``hybrid`` — the batch grows at the first ``batch_steps`` milestones (the paper: one), then the
  learning rate falls: what one does when the hardware caps the batch.

All three follow the same g(epoch). An epoch at batch size B is ⌈N / B⌉ parameter updates
(:func:`even_batches`: every example once, batches within one of each other in size), so
growing the batch does the same epochs in fewer updates.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import torch

from practicum.errors import PracticumError

Mode = Literal["decay-lr", "grow-batch", "hybrid"]
MODES: tuple[Mode, ...] = ("decay-lr", "grow-batch", "hybrid")


def noise_scale(
    learning_rate: float, train_size: int, batch_size: int, momentum: float = 0.0
) -> float:
    """The noise scale g = ε N / (B (1 − m)) of SGD with momentum m (Smith et al. 2018, Sec. 3;
    the large-N form of ε (N / B − 1) / (1 − m))."""
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    return learning_rate * train_size / (batch_size * (1.0 - momentum))


@dataclass(frozen=True)
class StepSchedule:
    """The learning rate and batch size of every epoch (counted from 0) of a step schedule.

    ``milestones`` are the epochs at which a step takes effect: epoch e is in phase k, the
    number of milestones ≤ e. Each step divides the noise scale by ``factor``, by the batch
    (the first ``batch_steps`` steps) or by the learning rate (the rest); ``batch_steps`` is
    fixed by ``mode`` except for ``hybrid``, whose default, 1, is the paper's.
    """

    learning_rate: float
    batch_size: int
    milestones: tuple[int, ...]
    factor: float
    mode: Mode
    hybrid_batch_steps: int = 1

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise PracticumError(
                f"schedule mode must be one of {', '.join(MODES)}, got {self.mode!r}"
            )
        if self.learning_rate <= 0 or self.batch_size < 1 or self.factor < 1:
            raise PracticumError("a schedule needs learning_rate > 0, batch_size >= 1, factor >= 1")
        if any(b <= a for a, b in zip(self.milestones, self.milestones[1:], strict=False)) or (
            self.milestones and self.milestones[0] < 1
        ):
            raise PracticumError(
                f"milestones must be increasing epochs >= 1, got {self.milestones}"
            )
        if not 0 <= self.hybrid_batch_steps <= len(self.milestones):
            raise PracticumError(
                f"hybrid_batch_steps must be in [0, {len(self.milestones)}] (the milestones)"
            )

    @property
    def batch_steps(self) -> int:
        """How many of the steps grow the batch (the others decay the learning rate)."""
        if self.mode == "decay-lr":
            return 0
        if self.mode == "grow-batch":
            return len(self.milestones)
        return self.hybrid_batch_steps

    def phase(self, epoch: int) -> int:
        """The number of steps taken by the start of ``epoch``."""
        if epoch < 0:
            raise ValueError(f"epochs count from 0, got {epoch}")
        return sum(epoch >= m for m in self.milestones)

    def batch_size_at(self, epoch: int) -> int:
        """B₀ · factor^(batch steps taken), rounded to an integer."""
        return round(self.batch_size * self.factor ** min(self.phase(epoch), self.batch_steps))

    def learning_rate_at(self, epoch: int) -> float:
        """ε₀ / factor^(learning-rate steps taken)."""
        return self.learning_rate / self.factor ** max(0, self.phase(epoch) - self.batch_steps)

    def max_batch_size(self) -> int:
        return self.batch_size_at(self.milestones[-1] if self.milestones else 0)

    def noise_scale_at(self, epoch: int, train_size: int, momentum: float = 0.0) -> float:
        return noise_scale(
            self.learning_rate_at(epoch), train_size, self.batch_size_at(epoch), momentum
        )

    def updates_in_epoch(self, epoch: int, train_size: int) -> int:
        """⌈N / B⌉: :func:`even_batches` sees every example once in that many batches."""
        return math.ceil(train_size / self.batch_size_at(epoch))

    def total_updates(self, epochs: int, train_size: int) -> int:
        return sum(self.updates_in_epoch(e, train_size) for e in range(epochs))

    def phases(self, epochs: int) -> list[tuple[int, int, float, int]]:
        """(first epoch, last epoch + 1, learning rate, batch size) of each phase that starts
        within ``epochs``."""
        starts = [0, *(m for m in self.milestones if m < epochs)]
        ends = [*starts[1:], epochs]
        return [
            (a, b, self.learning_rate_at(a), self.batch_size_at(a))
            for a, b in zip(starts, ends, strict=True)
        ]


def even_batches(
    n: int, batch_size: int, generator: torch.Generator | None = None
) -> Iterator[torch.Tensor]:
    """One epoch of index batches: a fresh ``torch.randperm(n, generator=generator)`` cut into
    k = ⌈n / batch_size⌉ consecutive batches of ⌊n / k⌋ or ⌈n / k⌉ indices (the larger first).

    Every index appears once, whatever the batch size, and no batch is much smaller than
    the others, so every update of an epoch has the noise scale of its batch size
    (:func:`practicum.data.batching.batch_indices` leaves one short batch at the end instead).
    """
    if batch_size < 1:
        raise PracticumError(f"batch_size must be >= 1, got {batch_size}")
    order = torch.randperm(n, generator=generator)
    if n == 0:
        return
    k = math.ceil(n / batch_size)
    yield from torch.tensor_split(order, k)
