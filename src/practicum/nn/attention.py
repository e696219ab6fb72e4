"""Scaled dot-product attention, multi-head attention, the pre-LN transformer block, and
positional encodings, for sequences shaped (batch, time, features).

Masks follow PyTorch's conventions: a *key-padding mask* is a boolean (batch, time_k) tensor
that is True where a key is padding and must be ignored; the *causal mask* lets the query at
position t attend only to keys at positions <= t.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from practicum.nn.basic import Linear


def causal_mask(time_q: int, time_k: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Boolean (time_q, time_k) mask, True where attention is *forbidden* (key after query).

    When there are more keys than queries (decoding with a cache), the queries are the last
    ``time_q`` positions, so query i sits at absolute position i + time_k - time_q.
    """
    offset = time_k - time_q
    q = torch.arange(time_q, device=device).unsqueeze(1)
    k = torch.arange(time_k, device=device).unsqueeze(0)
    return k > q + offset


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    dropout: float = 0.0,
    training: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(Q Kᵀ / √d + mask) V, written out.

    ``q``: (..., Tq, d), ``k``: (..., Tk, d), ``v``: (..., Tk, dv); ``mask`` is boolean and
    broadcastable to (..., Tq, Tk), True where a score must be ignored. Returns the output
    (..., Tq, dv) and the attention weights (..., Tq, Tk) (before dropout).
    """
    # Dividing by √d keeps the scores' variance near 1 for unit-variance q and k, so the
    # softmax does not saturate as the head width grows (Vaswani et al., 2017, §3.2.1).
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    attended = F.dropout(weights, p=dropout, training=training) if dropout > 0 else weights
    return attended @ v, weights


class MultiHeadAttention(nn.Module):
    """Multi-head attention (Vaswani et al., 2017) with separate Q, K, V and output maps.

    ``forward(query, key=None, value=None, *, causal=False, key_padding_mask=None,
    need_weights=False)``: with only ``query`` it is self-attention. Returns the output
    (batch, time_q, embed_dim) and, when ``need_weights``, the per-head weights
    (batch, num_heads, time_q, time_k); otherwise ``None`` in their place.
    """

    def __init__(
        self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True
    ) -> None:
        super().__init__()
        if num_heads < 1 or embed_dim % num_heads != 0:
            raise ValueError(
                f"embed_dim ({embed_dim}) must be a positive multiple of num_heads ({num_heads})"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout = dropout
        self.q_proj = Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = Linear(embed_dim, embed_dim, bias=bias)
        self.v_proj = Linear(embed_dim, embed_dim, bias=bias)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        # (B, T, E) -> (B, H, T, E/H): each head attends in its own subspace.
        b, t, _ = x.shape
        return x.view(b, t, self.num_heads, self.head_dim).transpose(1, 2)

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
        if query.ndim != 3 or key.ndim != 3 or value.ndim != 3:
            raise ValueError("MultiHeadAttention expects (batch, time, features) tensors")
        batch, time_q, _ = query.shape
        time_k = key.shape[1]

        mask = None
        if causal:
            mask = causal_mask(time_q, time_k, device=query.device)  # (Tq, Tk)
        if key_padding_mask is not None:
            if key_padding_mask.shape != (batch, time_k):
                raise ValueError(
                    f"key_padding_mask must have shape {(batch, time_k)}, "
                    f"got {tuple(key_padding_mask.shape)}"
                )
            pad = key_padding_mask.bool()[:, None, None, :]  # (B, 1, 1, Tk)
            mask = pad if mask is None else (mask | pad)

        q = self._split_heads(self.q_proj(query))
        k = self._split_heads(self.k_proj(key))
        v = self._split_heads(self.v_proj(value))
        out, weights = scaled_dot_product_attention(
            q, k, v, mask=mask, dropout=self.dropout, training=self.training
        )
        out = out.transpose(1, 2).reshape(batch, time_q, self.embed_dim)  # concatenate heads
        return self.out_proj(out), (weights if need_weights else None)

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}"


class TransformerBlock(nn.Module):
    """Pre-layer-norm transformer block (Xiong et al., 2020)::

        x = x + Dropout(Attention(LayerNorm(x)))
        x = x + Dropout(MLP(LayerNorm(x)))       MLP: Linear -> GELU -> Linear

    Normalising *before* each sublayer leaves an identity path from input to output, which
    is why pre-LN stacks train without a learning-rate warm-up as delicate as post-LN's.
    """

    def __init__(
        self, embed_dim: int, num_heads: int, mlp_ratio: int = 4, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(embed_dim)
        self.attn = MultiHeadAttention(embed_dim, num_heads, dropout=dropout)
        self.ln2 = nn.LayerNorm(embed_dim)
        hidden = mlp_ratio * embed_dim
        self.fc1 = Linear(embed_dim, hidden)
        self.fc2 = Linear(hidden, embed_dim)
        self.drop = nn.Dropout(dropout)

    def forward(
        self,
        x: torch.Tensor,
        *,
        causal: bool = False,
        key_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        attended, _ = self.attn(self.ln1(x), causal=causal, key_padding_mask=key_padding_mask)
        x = x + self.drop(attended)
        x = x + self.drop(self.fc2(F.gelu(self.fc1(self.ln2(x)))))
        return x


class SinusoidalPositionalEncoding(nn.Module):
    """Adds the fixed encoding PE[t, 2i] = sin(t / 10000^(2i/d)), PE[t, 2i+1] = cos(...).

    Each pair of features is a rotation at its own frequency, so PE[t + k] is a linear
    function of PE[t] for every offset k (Vaswani et al., 2017, §3.5). No parameters.
    """

    def __init__(self, embed_dim: int, max_len: int = 4096) -> None:
        super().__init__()
        if embed_dim % 2 != 0:
            raise ValueError(f"sinusoidal encoding needs an even embed_dim, got {embed_dim}")
        position = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)
        freq = torch.exp(-math.log(10000.0) * torch.arange(0, embed_dim, 2) / embed_dim)
        pe = torch.zeros(max_len, embed_dim, dtype=torch.float64)
        pe[:, 0::2] = torch.sin(position * freq)
        pe[:, 1::2] = torch.cos(position * freq)
        self.register_buffer("pe", pe.float(), persistent=False)
        self.max_len = max_len

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[1]
        if t > self.max_len:
            raise ValueError(f"sequence length {t} exceeds max_len {self.max_len}")
        return x + self.pe[:t]


class LearnedPositionalEncoding(nn.Module):
    """Adds a learned vector per position, initialised N(0, 0.02²) as in GPT-2."""

    def __init__(self, embed_dim: int, max_len: int) -> None:
        super().__init__()
        self.max_len = max_len
        self.weight = nn.Parameter(torch.randn(max_len, embed_dim) * 0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[1]
        if t > self.max_len:
            raise ValueError(f"sequence length {t} exceeds max_len {self.max_len}")
        return x + self.weight[:t]
