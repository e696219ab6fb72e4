"""Label noise as in Nakkiran et al. 2019 (Sec. 3): a fixed fraction of the training labels,
each replaced by a class drawn uniformly from the *other* classes, so that exactly that
fraction of the training set is wrong. The test labels are never touched."""

from __future__ import annotations

import numpy as np
import torch


def corrupt_labels(
    labels: torch.Tensor, fraction: float, num_classes: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """A copy of ``labels`` with ``round(fraction · n)`` of them, chosen at random, moved to a
    uniformly random different class; and the boolean mask of the corrupted ones."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    if num_classes < 2:
        raise ValueError(f"label noise needs at least two classes, got {num_classes}")
    rng = np.random.default_rng(seed)
    n = len(labels)
    chosen = rng.permutation(n)[: round(fraction * n)]
    # An offset in 1..C-1 added modulo C is uniform over the C-1 wrong classes.
    offsets = rng.integers(1, num_classes, size=len(chosen))
    noisy = labels.clone()
    index = torch.as_tensor(chosen, dtype=torch.long)
    noisy[index] = (labels[index] + torch.as_tensor(offsets, dtype=labels.dtype)) % num_classes
    mask = torch.zeros(n, dtype=torch.bool)
    mask[index] = True
    return noisy, mask
