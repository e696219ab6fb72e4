"""Floating-point operations of one training step, counted by torch's FlopCounterMode.

A count of work, unlike a clock, is the same on every machine and every run, so two models
can be given "equal training time" as equal training FLOPs and keep same-seed-same-bits.
FlopCounterMode counts the matrix products and convolutions (2 per multiply-add) of the
forward and the backward pass; elementwise work (norms, activations, softmax) is not counted.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode


def training_step_flops(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    """FLOPs of one cross-entropy forward and backward pass of ``model`` on the batch (x, y).

    Runs on a copy, so the model's parameters, gradients and buffers are left as they were;
    the count depends on shapes only, not on the values."""
    probe = copy.deepcopy(model)
    probe.train()
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(probe(x), y).backward()
    return int(counter.get_total_flops())
