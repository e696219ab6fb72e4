"""Knowledge distillation (Hinton, Vinyals & Dean 2015, "Distilling the Knowledge in a Neural
Network", Sec. 2).

A teacher's logits v give soft targets p_i = exp(v_i / T) / Σ_j exp(v_j / T) at a temperature
T; the student's logits z give q_i at the same T. The soft objective is the cross-entropy
H(p, q) = −Σ p_i log q_i, whose gradient with respect to z_i is (q_i − p_i) / T (Eq. 2), so its
magnitude falls as 1/T² at high temperature: the paper multiplies it by T² so that the soft and
hard terms keep their relative weight when T changes. We write the soft term as the KL
divergence KL(p ‖ q) = H(p, q) − H(p): the same gradient, and zero when the student matches.

At high T, for logits of zero mean, (q_i − p_i) / T ≈ (z_i − v_i) / (N T²) (Sec. 2.1):
distillation becomes matching the logits by their squared error.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def soft_targets(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """The softmax of ``logits / temperature`` over the last dimension: a distribution that
    is the plain softmax at T = 1 and tends to the uniform one as T → ∞."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    return F.softmax(logits / temperature, dim=-1)


def soft_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float
) -> torch.Tensor:
    """T² · KL(p_T ‖ q_T), averaged over the batch: the paper's soft-target objective with its
    gradient scaled back up by T² (the teacher's logits are treated as constants)."""
    log_q = F.log_softmax(student_logits / temperature, dim=-1)
    log_p = F.log_softmax(teacher_logits.detach() / temperature, dim=-1)
    kl = (log_p.exp() * (log_p - log_q)).sum(dim=-1).mean()
    return temperature**2 * kl


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor,
    temperature: float,
    alpha: float,
) -> torch.Tensor:
    """α · T² · KL(p_T ‖ q_T) + (1 − α) · CE(labels, q_1): the soft targets at temperature T
    and the hard labels at T = 1 (the paper's "second objective", which it weights
    "considerably lower"); α = 1 is distillation from soft targets alone, α = 0 plain training."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    hard = F.cross_entropy(student_logits, labels)
    if alpha == 0.0:
        return hard
    return alpha * soft_loss(student_logits, teacher_logits, temperature) + (1.0 - alpha) * hard
