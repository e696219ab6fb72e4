"""Time-series classifiers: the fully convolutional network (FCN, Wang et al. 2017), LSTM-FCN
(Karim et al. 2018) and MLSTM-FCN (Karim et al. 2019).

Input is (batch, channels, time). The convolutional branch is three blocks of convolution,
batch norm and ReLU (128, 256, 128 filters; kernels 8, 5, 3; "same" length), then global
average pooling over time. LSTM-FCN adds a recurrent branch on the *dimension-shuffled*
input: the LSTM reads the series as ``channels`` time steps of ``time`` variables (one step
for a univariate series), followed by heavy dropout; the two branches' features are
concatenated for a linear softmax layer. MLSTM-FCN adds squeeze-and-excitation after the
first two convolutional blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

Padding = Literal["zeros", "circular"]


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation (Hu et al. 2018) on (batch, channels, time): each channel is
    multiplied by a gate in (0, 1) computed from the channel means by a two-layer bottleneck
    ``channels -> channels // reduction -> channels`` (ReLU, then sigmoid)."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.squeeze = nn.Linear(channels, hidden)
        self.excite = nn.Linear(hidden, channels)

    def gates(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, channels) values in (0, 1)."""
        return torch.sigmoid(self.excite(F.relu(self.squeeze(x.mean(dim=2)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gates(x).unsqueeze(2)


class ConvBlock(nn.Module):
    """Convolution with "same" output length, batch norm, ReLU.

    The padding is Keras' "same": ``(k - 1) // 2`` on the left and the rest on the right
    (3 and 4 for k = 8), with zeros, or wrapped around (``circular``), under which the block
    commutes with a circular shift of time.
    """

    def __init__(self, inputs: int, outputs: int, kernel: int, padding: Padding = "zeros") -> None:
        super().__init__()
        self.left = (kernel - 1) // 2
        self.right = kernel - 1 - self.left
        self.mode = "circular" if padding == "circular" else "constant"
        self.conv = nn.Conv1d(inputs, outputs, kernel)
        self.norm = nn.BatchNorm1d(outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (self.left, self.right), mode=self.mode)
        return F.relu(self.norm(self.conv(x)))


class ConvBranch(nn.Module):
    """The FCN's three convolutional blocks, optionally with squeeze-and-excitation after
    every block but the last (MLSTM-FCN), and global average pooling over time:
    (batch, channels, time) -> (batch, filters[-1])."""

    def __init__(
        self,
        channels: int,
        filters: Sequence[int] = (128, 256, 128),
        kernels: Sequence[int] = (8, 5, 3),
        squeeze_excite: bool = False,
        reduction: int = 16,
        padding: Padding = "zeros",
    ) -> None:
        super().__init__()
        if len(filters) != len(kernels):
            raise ValueError(f"{len(filters)} filter counts for {len(kernels)} kernels")
        layers: list[nn.Module] = []
        inputs = channels
        for i, (width, kernel) in enumerate(zip(filters, kernels, strict=True)):
            layers.append(ConvBlock(inputs, width, kernel, padding))
            if squeeze_excite and i < len(filters) - 1:
                layers.append(SqueezeExcite(width, reduction))
            inputs = width
        self.blocks = nn.Sequential(*layers)
        self.features = inputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x).mean(dim=2)


class LSTMFCN(nn.Module):
    """FCN, LSTM-FCN or MLSTM-FCN, by its arguments.

    ``cells = 0`` leaves out the recurrent branch (the FCN baseline); ``squeeze_excite``
    makes the convolutional branch MLSTM-FCN's. The recurrent branch reads the dimension-
    shuffled input, (batch, time, channels) -> (batch, channels, time): ``channels`` steps of
    ``length`` variables; its last hidden state goes through dropout (rate ``dropout``).
    """

    def __init__(
        self,
        channels: int,
        length: int,
        classes: int,
        cells: int = 8,
        dropout: float = 0.8,
        squeeze_excite: bool = False,
        filters: Sequence[int] = (128, 256, 128),
        kernels: Sequence[int] = (8, 5, 3),
        reduction: int = 16,
        padding: Padding = "zeros",
    ) -> None:
        super().__init__()
        self.conv = ConvBranch(channels, filters, kernels, squeeze_excite, reduction, padding)
        self.lstm = nn.LSTM(length, cells, batch_first=True) if cells else None
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.conv.features + cells, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (batch, classes) for x (batch, channels, time); the softmax is in
        the loss (cross-entropy) and in :func:`torch.softmax` when probabilities are wanted."""
        features = [self.conv(x)]
        if self.lstm is not None:
            # x is already (batch, channels, time): as a batch-first sequence it is the
            # shuffled one, ``channels`` steps of ``time`` variables.
            _, (h, _) = self.lstm(x)
            features.append(self.dropout(h[-1]))
        return self.head(torch.cat(features, dim=1))
