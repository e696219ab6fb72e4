"""The tricks of the trade, each one small function: label smoothing, mixup, learning-rate
warm-up, gradient clipping by the global norm, early stopping, an ensemble's averaged
probabilities, and the paired t-test that says whether a trick's gain over seeds is real.

* **Label smoothing** (Szegedy et al. 2016, Sec. 7): the target is (1 − ε) one-hot + ε/K
  uniform, so the loss is (1 − ε) · CE(y) + ε · mean_k(−log p_k); torch's
  ``cross_entropy(label_smoothing=ε)`` computes the same.
* **Mixup** (Zhang et al. 2018): x̃ = λ x_i + (1 − λ) x_j and ỹ = λ y_i + (1 − λ) y_j, λ ~
  Beta(α, α), j a random permutation of the batch; the cross-entropy is linear in its target,
  so CE(ỹ) = λ CE(y_i) + (1 − λ) CE(y_j).
* **Warm-up** (Goyal et al. 2017, Sec. 2.2): the rate rises linearly over the first steps, here
  multiplying whatever schedule follows.
* **Clipping** (Pascanu et al. 2013): when ‖g‖ > c over all parameters together, g ← g · c/‖g‖.
* **Early stopping**: keep the weights of the best validation score; stop after ``patience``
  epochs without improvement.
* **Ensembles**: the mean of the members' softmax probabilities.
* **Paired t-test**: trainings of one seed share initial weights and batch order, so the
  difference of two rows per seed has less noise than either; its mean over seeds over its
  standard error is t with n − 1 degrees of freedom (equal to ``scipy.stats.ttest_rel``).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats
from torch import nn


# ---- losses ----------------------------------------------------------------------------------
def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The mean over the batch of −Σ_k q_k log softmax(z)_k for soft targets q (rows sum to 1)."""
    return -(targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


def smoothed_targets(
    labels: torch.Tensor, num_classes: int, smoothing: float, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """(1 − ε) · one-hot(labels) + ε / K: label smoothing's target distribution."""
    if not 0.0 <= smoothing <= 1.0:
        raise ValueError(f"smoothing must lie in [0, 1], got {smoothing}")
    one_hot = F.one_hot(labels, num_classes).to(dtype)
    return (1.0 - smoothing) * one_hot + smoothing / num_classes


def label_smoothing_loss(
    logits: torch.Tensor, labels: torch.Tensor, smoothing: float
) -> torch.Tensor:
    """Cross-entropy against :func:`smoothed_targets`."""
    targets = smoothed_targets(labels, logits.shape[1], smoothing, logits.dtype)
    return soft_cross_entropy(logits, targets)


# ---- mixup -----------------------------------------------------------------------------------
@dataclass
class Mixed:
    """A mixed batch: inputs, soft targets, the weight λ of the original order and the partner
    of each example."""

    x: torch.Tensor
    targets: torch.Tensor
    lam: float
    partner: torch.Tensor


def mixup(
    x: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    alpha: float,
    generator: torch.Generator,
) -> Mixed:
    """Mix each example with a partner drawn by one random permutation of the batch, with one
    λ ~ Beta(α, α) for the whole batch (as Zhang et al.'s code does). λ and the permutation are
    drawn on the CPU from ``generator`` (λ by NumPy's Beta sampler, seeded from it)."""
    if alpha <= 0:
        raise ValueError(f"mixup's alpha must be positive, got {alpha}")
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    lam = float(np.random.default_rng(seed).beta(alpha, alpha))
    partner = torch.randperm(len(x), generator=generator).to(x.device)
    one_hot = F.one_hot(labels, num_classes).to(x.dtype)
    return Mixed(
        lam * x + (1.0 - lam) * x[partner],
        lam * one_hot + (1.0 - lam) * one_hot[partner],
        lam,
        partner,
    )


# ---- learning rate ---------------------------------------------------------------------------
def warmup_multiplier(step: int, warmup_steps: int) -> float:
    """Linear warm-up: (step + 1) / warmup_steps for the first ``warmup_steps`` steps (so the
    first step already moves), then 1. No warm-up when ``warmup_steps`` is 0."""
    if step < 0 or warmup_steps < 0:
        raise ValueError(f"need step >= 0 and warmup_steps >= 0, got {step}, {warmup_steps}")
    return 1.0 if step >= warmup_steps else (step + 1) / warmup_steps


# ---- gradient clipping -----------------------------------------------------------------------
def clip_global_norm_(parameters: Iterable[nn.Parameter], max_norm: float) -> float:
    """Scale every gradient by min(1, max_norm / ‖g‖), ‖g‖ the 2-norm of all gradients
    together; returns ‖g‖ before clipping."""
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return 0.0
    norm = float(torch.sqrt(sum((g.detach().double() ** 2).sum() for g in grads)))
    if norm > max_norm:
        scale = max_norm / norm
        for g in grads:
            g.mul_(scale)
    return norm


# ---- early stopping --------------------------------------------------------------------------
class EarlyStopping:
    """Watch a validation score (higher is better) once per epoch; keep a copy of the weights
    at the best one, and say stop after ``patience`` epochs without a strict improvement."""

    def __init__(self, patience: int) -> None:
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience}")
        self.patience = patience
        self.best = -math.inf
        self.best_epoch = -1
        self.stopped_epoch: int | None = None  # the epoch after which it said stop
        self.state: dict[str, torch.Tensor] | None = None

    def update(self, epoch: int, score: float, model: nn.Module) -> bool:
        """Record ``score`` of ``epoch``; True once training should stop (and from then on)."""
        if self.stopped_epoch is not None:
            return True
        if score > self.best:
            self.best, self.best_epoch = score, epoch
            self.state = copy.deepcopy({k: v.detach() for k, v in model.state_dict().items()})
        elif epoch - self.best_epoch >= self.patience:
            self.stopped_epoch = epoch
            return True
        return False


# ---- ensembles -------------------------------------------------------------------------------
def ensemble_probabilities(logits: Sequence[torch.Tensor]) -> torch.Tensor:
    """The mean over members of softmax(logits): (members of (N, K)) -> (N, K)."""
    if not logits:
        raise ValueError("an ensemble needs at least one member")
    return torch.stack([F.softmax(z.double(), dim=1) for z in logits]).mean(0).float()


# ---- significance ----------------------------------------------------------------------------
@dataclass(frozen=True)
class PairedTest:
    """The paired comparison of a row with the baseline over n seeds (differences b − a)."""

    n: int
    mean: float  # mean of the per-seed differences
    std: float  # their sample standard deviation (n − 1)
    se: float  # std / √n
    t: float  # mean / se (±inf when every difference is the same nonzero number)
    p: float  # two-sided, n − 1 degrees of freedom (1 when every difference is 0)
    ci_low: float  # the 95% confidence interval of the mean difference
    ci_high: float

    def significant(self, level: float = 0.05) -> bool:
        return self.p <= level


def paired_t_test(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> PairedTest:
    """Student's paired t-test of ``b`` against ``a`` (one pair per seed)."""
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    n = len(d)
    if n < 2 or len(a) != len(b):
        raise ValueError(
            f"a paired test needs two equally long samples of >= 2, got {len(a)}, {len(b)}"
        )
    mean, std = float(d.mean()), float(d.std(ddof=1))
    se = std / math.sqrt(n)
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * se
    if se == 0.0:
        t = 0.0 if mean == 0.0 else math.copysign(math.inf, mean)
        p = 1.0 if mean == 0.0 else 0.0
    else:
        t = mean / se
        p = float(2.0 * stats.t.sf(abs(t), n - 1))
    return PairedTest(n, mean, std, se, t, p, mean - half, mean + half)
