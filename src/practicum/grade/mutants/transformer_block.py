"""Planted bugs in :class:`practicum.nn.TransformerBlock`."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from practicum.grade.mutants.multi_head_attention import HeadsWithoutTranspose
from practicum.nn import TransformerBlock


class CausalIgnored(TransformerBlock):
    """causal=True is not passed on to the attention."""

    def forward(
        self,
        x: torch.Tensor,
        *,
        causal: bool = False,
        key_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return super().forward(x, key_padding_mask=key_padding_mask)


class PaddingIgnored(TransformerBlock):
    """The key-padding mask is not passed on to the attention."""

    def forward(
        self,
        x: torch.Tensor,
        *,
        causal: bool = False,
        key_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return super().forward(x, causal=causal)


class MissingSecondNorm(TransformerBlock):
    """The layer norm before the MLP is left out."""

    def __init__(self, embed_dim: int, num_heads: int, mlp_ratio: int = 4, dropout: float = 0.0):
        super().__init__(embed_dim, num_heads, mlp_ratio, dropout)
        self.ln2 = nn.Identity()


class NormOverSequence(TransformerBlock):
    """The first layer norm normalises over time and features: positions see later ones."""

    def forward(
        self,
        x: torch.Tensor,
        *,
        causal: bool = False,
        key_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        normed = F.layer_norm(x, x.shape[1:]) * self.ln1.weight + self.ln1.bias
        attended, _ = self.attn(normed, causal=causal, key_padding_mask=key_padding_mask)
        x = x + self.drop(attended)
        return x + self.drop(self.fc2(F.gelu(self.fc1(self.ln2(x)))))


class HeadsMixedUp(TransformerBlock):
    """Its attention splits the heads without transposing (see the attention's bug)."""

    def __init__(self, embed_dim: int, num_heads: int, mlp_ratio: int = 4, dropout: float = 0.0):
        super().__init__(embed_dim, num_heads, mlp_ratio, dropout)
        self.attn = HeadsWithoutTranspose(embed_dim, num_heads, dropout=dropout)
