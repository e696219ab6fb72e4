"""Feature-wise linear modulation (Perez et al. 2018, "FiLM: Visual Reasoning with a General
Conditioning Layer", AAAI) and the CNN + MLP baseline it is compared with.

A FiLM layer scales and shifts each feature map by numbers computed from a conditioning
input: FiLM(x | q) = γ(q) · x + β(q), one (γ, β) pair per channel. The FiLM network of the
paper (its Fig. 3) is a convolutional stem, residual blocks

    [coordinate maps] → 1×1 conv → ReLU → (h) → 3×3 conv → batch norm without affine
    → FiLM(γ, β) → ReLU → + h

whose (γ, β) a "FiLM generator" computes from the question, and a classifier (1×1 conv,
ReLU, global pooling, MLP) that never sees the question itself. One change from the paper:
the stem's output is FiLM-modulated too, before the first block. Trained from scratch on a
small budget, the paper's layout sat for thousands of steps at a plateau where it answered
from the scene as a whole (left/right at chance); a FiLM directly on the stem's colour
features lets the question select its object's maps at once and left the plateau within
about 2,000 steps (docs/labs/film.md). Coordinate maps (two
channels holding each pixel's row and column in [-1, 1]) are concatenated to the input of
every block and of the classifier, as in the paper, so that a convolution knows where it is.

The baseline (CNN + MLP, Santoro et al. 2017) runs the same stem and blocks with a learned
but question-independent (γ, β) at the same places, i.e. ordinary batch norm with affine parameters,
pools the image features and concatenates the question to them for an MLP.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def film(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """γ · x + β per channel: x (batch, channels, H, W), γ and β (batch, channels)."""
    return x * gamma[:, :, None, None] + beta[:, :, None, None]


class FiLM(nn.Module):
    """The FiLM layer: no parameters of its own; γ and β come with the input."""

    def forward(self, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        return film(x, gamma, beta)


def coordinate_maps(x: torch.Tensor) -> torch.Tensor:
    """``x`` with two more channels: each pixel's row and column, linearly in [-1, 1]."""
    n, _, h, w = x.shape
    rows = torch.linspace(-1, 1, h, dtype=x.dtype, device=x.device).view(1, 1, h, 1)
    cols = torch.linspace(-1, 1, w, dtype=x.dtype, device=x.device).view(1, 1, 1, w)
    return torch.cat([x, rows.expand(n, 1, h, w), cols.expand(n, 1, h, w)], dim=1)


class FiLMBlock(nn.Module):
    """Perez et al.'s residual block; ``forward(x, gamma, beta)`` with (batch, channels)
    modulations. The batch norm has no affine parameters: FiLM is its affine map."""

    def __init__(self, channels: int, coords: bool = True) -> None:
        super().__init__()
        self.coords = coords
        self.conv1 = nn.Conv2d(channels + 2 * coords, channels, 1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.film = FiLM()

    def modulated(self, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor):
        """(h, FiLM output before the ReLU): what the block adds to and what it adds."""
        h = F.relu(self.conv1(coordinate_maps(x) if self.coords else x))
        return h, self.film(self.norm(self.conv2(h)), gamma, beta)

    def forward(self, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        h, z = self.modulated(x, gamma, beta)
        return F.relu(z) + h


class Stem(nn.Module):
    """Two 3×3 stride-2 convolutions with batch norm and ReLU: (3, S, S) → (C, S/4, S/4)."""

    def __init__(self, channels: int, in_channels: int = 3) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, stride=2, padding=1),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, stride=2, padding=1),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class PooledHead(nn.Module):
    """[coordinate maps] → 1×1 conv → ReLU → global max and mean pooling, concatenated:
    (batch, 2 · features). Max keeps "is it somewhere", the mean keeps "how many"."""

    def __init__(self, channels: int, features: int, coords: bool = True) -> None:
        super().__init__()
        self.coords = coords
        self.conv = nn.Conv2d(channels + 2 * coords, features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.conv(coordinate_maps(x) if self.coords else x))
        return torch.cat([h.amax(dim=(2, 3)), h.mean(dim=(2, 3))], dim=1)


def _mlp(inputs: int, hidden: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
        nn.Linear(hidden, outputs),
    )  # fmt: skip


class FiLMNet(nn.Module):
    """Stem, ``blocks`` FiLM blocks conditioned on the question through a linear FiLM
    generator, pooled classifier. The generator predicts γ as 1 + Δγ, so that at
    initialisation (Δγ, β small) every block starts close to plain batch norm."""

    def __init__(
        self,
        question_size: int,
        answers: int,
        channels: int = 64,
        blocks: int = 4,
        features: int = 128,
        hidden: int = 128,
        coords: bool = True,
    ) -> None:
        super().__init__()
        self.channels = channels
        self.stem = Stem(channels)
        self.stem_film = FiLM()
        self.blocks = nn.ModuleList(FiLMBlock(channels, coords) for _ in range(blocks))
        # one (γ, β) for the stem's output, then one per block
        self.generator = nn.Linear(question_size, 2 * (blocks + 1) * channels)
        self.head = PooledHead(channels, features, coords)
        self.classifier = _mlp(2 * features, hidden, answers)

    def modulations(self, question: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(γ, β), each (batch, 1 + blocks, channels): index 0 the stem's, i + 1 block i's."""
        layers = len(self.blocks) + 1
        out = self.generator(question).view(len(question), layers, 2, self.channels)
        return 1 + out[:, :, 0], out[:, :, 1]

    def forward(self, image: torch.Tensor, question: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.modulations(question)
        x = self.stem_film(self.stem(image), gamma[:, 0], beta[:, 0])
        for i, block in enumerate(self.blocks):
            x = block(x, gamma[:, i + 1], beta[:, i + 1])
        return self.classifier(self.head(x))


class CNNMLP(nn.Module):
    """The baseline: the same stem and blocks with a learned question-independent (γ, β) for
    the stem's output and per block, pooled image features concatenated with the question, an MLP."""

    def __init__(
        self,
        question_size: int,
        answers: int,
        channels: int = 64,
        blocks: int = 4,
        features: int = 128,
        hidden: int = 128,
        coords: bool = True,
    ) -> None:
        super().__init__()
        self.stem = Stem(channels)
        self.blocks = nn.ModuleList(FiLMBlock(channels, coords) for _ in range(blocks))
        # as FiLMNet's: index 0 for the stem's output, i + 1 for block i
        self.gamma = nn.Parameter(torch.ones(blocks + 1, channels))
        self.beta = nn.Parameter(torch.zeros(blocks + 1, channels))
        self.head = PooledHead(channels, features, coords)
        self.classifier = _mlp(2 * features + question_size, hidden, answers)

    def forward(self, image: torch.Tensor, question: torch.Tensor) -> torch.Tensor:
        x = self.stem(image)
        n = len(x)
        x = film(x, self.gamma[0].expand(n, -1), self.beta[0].expand(n, -1))
        for i, block in enumerate(self.blocks):
            x = block(x, self.gamma[i + 1].expand(n, -1), self.beta[i + 1].expand(n, -1))
        return self.classifier(torch.cat([self.head(x), question], dim=1))
