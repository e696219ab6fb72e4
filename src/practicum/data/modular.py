"""Modular-arithmetic tables: every equation ``a ∘ b = c (mod p)`` as a classification set.

Power et al. 2022 ("Grokking") train on a random fraction of the ``p²`` equations of one binary
operation and test on the rest; there is no other data, so a split is all a run needs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from practicum.errors import PracticumError

OPERATIONS: dict[str, Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]] = {
    "add": lambda a, b, p: (a + b) % p,
    "subtract": lambda a, b, p: (a - b) % p,
}


@dataclass(frozen=True)
class ModularTable:
    """All ``p²`` equations ``a ∘ b = answer (mod p)``, in row-major order of (a, b)."""

    modulus: int
    operation: str
    a: torch.Tensor  # (p²,) int64
    b: torch.Tensor
    answer: torch.Tensor

    def __len__(self) -> int:
        return len(self.answer)

    def to(self, device: str | torch.device) -> ModularTable:
        """The same table with its tensors on ``device``."""
        return ModularTable(
            self.modulus,
            self.operation,
            self.a.to(device),
            self.b.to(device),
            self.answer.to(device),
        )


def modular_table(modulus: int, operation: str = "add") -> ModularTable:
    """The full table of ``operation`` modulo ``modulus`` (a prime in the paper, any p ≥ 2 here)."""
    if modulus < 2:
        raise PracticumError(f"the modulus must be at least 2, got {modulus}")
    if operation not in OPERATIONS:
        raise PracticumError(f"unknown operation {operation!r}; known: {', '.join(OPERATIONS)}")
    a, b = torch.meshgrid(torch.arange(modulus), torch.arange(modulus), indexing="ij")
    a, b = a.flatten(), b.flatten()
    return ModularTable(modulus, operation, a, b, OPERATIONS[operation](a, b, modulus))


def split_equations(
    size: int, train_fraction: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random (train, test) indices: ``round(train_fraction · size)`` equations to train on,
    at least one on each side. Smaller fractions of the same generator state are prefixes of
    larger ones, so a data-fraction sweep nests its training sets."""
    n = round(train_fraction * size)
    if not 0 < n < size:
        raise PracticumError(
            f"train_fraction {train_fraction} leaves {n} of {size} equations to train on; "
            "need at least one on each side"
        )
    order = torch.randperm(size, generator=generator)
    return order[:n], order[n:]
