"""The Vision Transformer (Dosovitskiy et al. 2020, "An Image is Worth 16x16 Words") and the
two read-outs of its Figure 7: the mean attention distance of every head and the cosine
similarity of the learned position embeddings.

The image is cut into non-overlapping P x P patches; each flattened patch is mapped linearly
to ``embed_dim`` numbers (a convolution with kernel = stride = P computes exactly that map,
:func:`patchify` is the explicit unfold it is tested against). A learned class token is put
in front, a learned position embedding added to every token (Eq. 1), then pre-norm
:class:`~practicum.nn.attention.TransformerBlock`\\ s (Eqs. 2-3), a final LayerNorm and a
linear head on the class token alone (Eq. 4).
"""

from __future__ import annotations

import torch
from torch import nn

from practicum.nn.attention import LearnedPositionalEncoding, TransformerBlock
from practicum.nn.basic import Linear


def patchify(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Images (B, C, H, W) -> patches (B, N, C·P·P), row-major over the patch grid; each
    patch flattened channel-major (c, then row, then column), the order of a convolution's
    weight (D, C, P, P) flattened."""
    b, c, h, w = x.shape
    p = patch_size
    if h % p or w % p:
        raise ValueError(f"image side {h}x{w} is not a multiple of the patch size {p}")
    x = x.reshape(b, c, h // p, p, w // p, p)  # (B, C, gh, P, gw, P)
    return x.permute(0, 2, 4, 1, 3, 5).reshape(b, (h // p) * (w // p), c * p * p)


class PatchEmbedding(nn.Module):
    """E·x_p + b for every patch x_p (Eq. 1's linear projection), as a strided convolution."""

    def __init__(self, in_channels: int, patch_size: int, embed_dim: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_channels, embed_dim, patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)  # (B, D, gh, gw) -> (B, N, D)


class VisionTransformer(nn.Module):
    """ViT classifier: patches -> [class; patches] + positions -> blocks -> LN -> head(class).

    ``positions=False`` leaves out the position embedding (then the network sees the patches
    as a set: its output does not change when they are permuted).
    """

    def __init__(
        self,
        image_size: int,
        patch_size: int,
        in_channels: int,
        num_classes: int,
        embed_dim: int,
        depth: int,
        num_heads: int,
        mlp_ratio: int = 4,
        dropout: float = 0.0,
        positions: bool = True,
    ) -> None:
        super().__init__()
        if image_size % patch_size:
            raise ValueError(f"image_size {image_size} is not a multiple of patch {patch_size}")
        self.image_size = image_size
        self.patch_size = patch_size
        self.grid = image_size // patch_size
        self.num_patches = self.grid**2
        self.patch_embed = PatchEmbedding(in_channels, patch_size, embed_dim)
        # The class token's final state is the image representation (Eq. 4); zero-initialised
        # as in the authors' code, its position embedding breaks the symmetry.
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = (
            LearnedPositionalEncoding(embed_dim, self.num_patches + 1) if positions else None
        )
        self.blocks = nn.ModuleList(
            TransformerBlock(embed_dim, num_heads, mlp_ratio, dropout) for _ in range(depth)
        )
        self.norm = nn.LayerNorm(embed_dim)
        self.head = Linear(embed_dim, num_classes)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """z_0 = [x_class; x_p^1 E; ...; x_p^N E] + E_pos, shaped (B, N + 1, D)."""
        z = self.patch_embed(x)
        z = torch.cat([self.cls_token.expand(len(z), -1, -1), z], dim=1)
        return self.pos_embed(z) if self.pos_embed is not None else z

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.tokens(x)
        for block in self.blocks:
            z = block(z)
        return self.head(self.norm(z[:, 0]))

    @torch.no_grad()
    def attention_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every layer's attention weights (B, heads, N + 1, N + 1), token 0 the class token.

        Each block's attention is evaluated once more on the block's own normalised input,
        so the weights are exactly those its forward pass uses (dropout aside)."""
        maps = []
        z = self.tokens(x)
        for block in self.blocks:
            _, weights = block.attn(block.ln1(z), need_weights=True)
            maps.append(weights)
            z = block(z)
        return maps

    def position_embeddings(self) -> torch.Tensor:
        """The learned embeddings of the N patch positions (N, D), the class token's left out."""
        if self.pos_embed is None:
            raise ValueError("this ViT has no position embedding")
        return self.pos_embed.weight[1:].detach()


def patch_distances(grid: int, patch_size: int) -> torch.Tensor:
    """(N, N) Euclidean distances in pixels between the centres of a grid x grid of patches."""
    r, c = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij")
    centres = torch.stack([r.flatten(), c.flatten()], dim=1).double() * patch_size
    return torch.cdist(centres, centres)


def mean_attention_distance(weights: torch.Tensor, grid: int, patch_size: int) -> torch.Tensor:
    """The mean attention distance of each head (Dosovitskiy et al. Fig. 7, right), in pixels.

    ``weights``: (B, H, N + 1, N + 1) with token 0 the class token. For every patch query the
    distance to each patch key is weighted by its attention, then averaged over queries and
    images. The class token has no place in the image, so its row and column are dropped and
    each query's weights renormalised over the patches. Returns (H,).
    """
    n = grid * grid
    if weights.shape[-1] != n + 1 or weights.shape[-2] != n + 1:
        raise ValueError(f"expected {n + 1} tokens for a {grid}x{grid} grid, got {weights.shape}")
    w = weights[..., 1:, 1:].double()
    w = w / w.sum(dim=-1, keepdim=True)
    dist = patch_distances(grid, patch_size).to(w.device)
    per_query = (w * dist).sum(dim=-1)  # (B, H, N)
    return per_query.mean(dim=(0, 2))


def cosine_similarity_matrix(embeddings: torch.Tensor) -> torch.Tensor:
    """(N, N) cosine similarities between the rows of ``embeddings`` (N, D) (Fig. 7, left)."""
    unit = embeddings / embeddings.norm(dim=1, keepdim=True)
    return unit @ unit.T
