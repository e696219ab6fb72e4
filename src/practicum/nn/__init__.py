"""Tested building blocks, each a ``torch.nn.Module`` with its own parameters."""

from practicum.nn.basic import MLP, BasisExpansion, Linear, l2_penalty

__all__ = ["MLP", "BasisExpansion", "Linear", "l2_penalty"]
