"""Planted bugs in :class:`practicum.nn.MultiHeadAttention`.

:class:`Hooked` is the reference's forward pass split at the places where the bugs go, so
that each planted bug overrides exactly one step.
"""

from __future__ import annotations

import math

import torch

from practicum.nn import MultiHeadAttention, causal_mask


class Hooked(MultiHeadAttention):
    """The reference, with its steps as methods (no bug)."""

    def causal(self, time_q: int, time_k: int, device: torch.device) -> torch.Tensor:
        return causal_mask(time_q, time_k, device=device)

    def padding(self, key_padding_mask: torch.Tensor) -> torch.Tensor:
        return key_padding_mask.bool()[:, None, None, :]  # (B, 1, 1, Tk)

    def split(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.view(b, t, self.num_heads, self.head_dim).transpose(1, 2)

    def merge(self, x: torch.Tensor) -> torch.Tensor:
        b, _, t, _ = x.shape
        return x.transpose(1, 2).reshape(b, t, self.embed_dim)

    def project_key(self, key: torch.Tensor) -> torch.Tensor:
        return self.k_proj(key)

    def softmax(self, scores: torch.Tensor) -> torch.Tensor:
        return torch.softmax(scores, dim=-1)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor | None = None,
        value: torch.Tensor | None = None,
        *,
        causal: bool = False,
        key_padding_mask: torch.Tensor | None = None,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        key = query if key is None else key
        value = key if value is None else value
        time_q, time_k = query.shape[1], key.shape[1]
        mask = self.causal(time_q, time_k, query.device) if causal else None
        if key_padding_mask is not None:
            pad = self.padding(key_padding_mask)
            mask = pad if mask is None else (mask | pad)
        q = self.split(self.q_proj(query))
        k = self.split(self.project_key(key))
        v = self.split(self.v_proj(value))
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)
        if mask is not None:
            scores = scores.masked_fill(mask, float("-inf"))
        weights = self.softmax(scores)
        out = self.out_proj(self.merge(weights @ v))
        return out, (weights if need_weights else None)


class SoftmaxOverQueries(Hooked):
    """The softmax is taken over the queries (dim=-2) instead of the keys."""

    def softmax(self, scores: torch.Tensor) -> torch.Tensor:
        return torch.softmax(scores, dim=-2)


class CausalMaskHidesSelf(Hooked):
    """The causal mask is off by one: it also forbids a position to see itself (k >= q)."""

    def causal(self, time_q: int, time_k: int, device: torch.device) -> torch.Tensor:
        return ~torch.ones(time_q, time_k, dtype=torch.bool, device=device).tril(-1)


class CausalMaskShowsNext(Hooked):
    """The causal mask is off by one: each position also sees the next one (k > q + 1)."""

    def causal(self, time_q: int, time_k: int, device: torch.device) -> torch.Tensor:
        return ~torch.ones(time_q, time_k, dtype=torch.bool, device=device).tril(1)


class HeadsWithoutTranspose(Hooked):
    """The heads are split with view(B, heads, T, d) and merged back without transposing."""

    def split(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.reshape(b, self.num_heads, t, self.head_dim)

    def merge(self, x: torch.Tensor) -> torch.Tensor:
        b, _, t, _ = x.shape
        return x.reshape(b, t, self.embed_dim)


class KeyPaddingIgnored(Hooked):
    """The key-padding mask is accepted and ignored."""

    def padding(self, key_padding_mask: torch.Tensor) -> torch.Tensor:
        b, t = key_padding_mask.shape
        return torch.zeros(b, 1, 1, t, dtype=torch.bool, device=key_padding_mask.device)


class PaddingMasksQueries(Hooked):
    """The key-padding mask is laid along the queries instead of the keys."""

    def padding(self, key_padding_mask: torch.Tensor) -> torch.Tensor:
        return key_padding_mask.bool()[:, None, :, None]  # (B, 1, Tq, 1): wrong axis


class KeyMapReused(Hooked):
    """The keys are projected with the query map; the key map is never used."""

    def project_key(self, key: torch.Tensor) -> torch.Tensor:
        return self.q_proj(key)
