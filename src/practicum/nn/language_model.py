"""Autoregressive language models over a stream of token ids, and how they are scored.

:class:`TransformerLM` is a small decoder-only transformer (the char-lm lab's, and the
tokenizers lab's at the character and at the BPE level). Training draws windows of the stream
at random offsets (:func:`random_windows`); evaluation tiles the held-out stream with windows
that start with no context (:func:`tiling_windows`) and sums the next-token negative
log-likelihood (:func:`total_nll`). Models with different tokenisations of the same text are
compared in bits per character (:func:`bits_per_character`), the one unit they share.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from practicum.nn.attention import LearnedPositionalEncoding, TransformerBlock
from practicum.nn.recurrent import clip_grad_norm


class TransformerLM(nn.Module):
    """Decoder-only transformer: embeddings + learned positions, pre-LN causal blocks, a final
    LayerNorm and a linear read-out to next-token logits."""

    def __init__(
        self, vocab: int, context: int, width: int, layers: int, heads: int, dropout: float
    ) -> None:
        super().__init__()
        self.context = context
        self.embed = nn.Embedding(vocab, width)
        nn.init.normal_(self.embed.weight, std=0.02)
        self.pos = LearnedPositionalEncoding(width, context)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(width, heads, dropout=dropout) for _ in range(layers)
        )
        # Residual branches add up over 2·layers sublayers; shrinking each branch's last map
        # keeps the residual stream's variance from growing with depth (GPT-2's scheme).
        with torch.no_grad():
            for block in self.blocks:
                block.attn.out_proj.weight.mul_(1 / math.sqrt(2 * layers))
                block.fc2.weight.mul_(1 / math.sqrt(2 * layers))
        self.ln = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        h = self.drop(self.pos(self.embed(idx)))
        for block in self.blocks:
            h = block(h, causal=True)
        return self.head(self.ln(h))

    @torch.no_grad()
    def generate(
        self, prompt: torch.Tensor, n: int, temperature: float, gen: torch.Generator
    ) -> list[int]:
        """``n`` ids sampled after ``prompt`` (1-D), each from softmax(logits / temperature)."""
        idx = prompt[None]
        for _ in range(n):
            logits = self(idx[:, -self.context :])[:, -1] / temperature
            nxt = torch.multinomial(torch.softmax(logits, -1), 1, generator=gen)
            idx = torch.cat([idx, nxt], dim=1)
        return idx[0, len(prompt) :].tolist()


def warmup_cosine(step: int, warmup: int, total: int, peak: float) -> float:
    """Learning rate at ``step``: linear warm-up over ``warmup`` steps to ``peak``, then a
    cosine decay to 10% of it at ``total`` steps."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def block_parameters(model: TransformerLM) -> int:
    """Parameters of the transformer blocks alone: what two models over different vocabularies
    can share exactly (embeddings, positions and the read-out grow with the vocabulary)."""
    return sum(p.numel() for p in model.blocks.parameters())


def random_windows(
    data: torch.Tensor, context: int, batch: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch`` windows at random offsets: inputs data[i:i+T], targets data[i+1:i+T+1]."""
    starts = torch.randint(0, len(data) - context - 1, (batch,), generator=gen)
    offsets = starts[:, None] + torch.arange(context + 1)
    chunk = data[offsets]
    return chunk[:, :-1], chunk[:, 1:]


def train_step(
    model: nn.Module,
    optimiser: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    grad_clip: float,
) -> float:
    """One step of next-token cross-entropy on windows ``x`` -> targets ``y`` (batch, time),
    the gradient's norm clipped to ``grad_clip``; returns the batch's loss."""
    loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    clip_grad_norm(model.parameters(), grad_clip)
    optimiser.step()
    return loss.item()


def tiling_windows(data: torch.Tensor, context: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Non-overlapping windows covering ``data`` (the tail that does not fill one is dropped)."""
    n = (len(data) - 1) // context
    x = data[: n * context].view(n, context)
    y = data[1 : n * context + 1].view(n, context)
    return x, y


@torch.no_grad()
def total_nll(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 64) -> float:
    """Summed next-token negative log-likelihood (nats) of targets ``y`` given inputs ``x``
    (windows as from :func:`tiling_windows`), in evaluation mode; the mode is put back."""
    was_training = model.training
    model.eval()
    total = 0.0
    for i in range(0, len(x), batch):
        logits = model(x[i : i + batch])
        total += float(
            F.cross_entropy(logits.flatten(0, 1), y[i : i + batch].flatten(), reduction="sum")
        )
    model.train(was_training)
    return total


def bits_per_character(nll_nats: float, characters: int) -> float:
    """A summed negative log-likelihood in nats over a text of ``characters`` characters, in
    bits per character: the unit in which models that cut the same text into different tokens
    (characters, BPE pieces) can be compared, since each pays for the whole text."""
    if characters <= 0:
        raise ValueError(
            f"bits per character needs a text of at least one character, got {characters}"
        )
    return nll_nats / math.log(2) / characters
