"""The fewest parameters that classify MNIST with >= 80% test accuracy (ECE472 assignment 3,
extra challenge).

Methods: the mnist-cnn program (same split, optimiser, schedule and evaluation) with a
tiny model: the image is average-pooled to ``side`` x ``side`` (a fixed operation, no
parameters), optionally projected onto ``rank`` learned directions (``side² x rank``
weights, no bias), and mapped linearly to 10 logits. The model is trained by gradient
descent (Adam). What was tried, with test accuracies, is in docs/labs/mnist-tiny.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from practicum.lab import Lab, Target, bounded
from practicum.nn import Linear
from practicum.recipes.image_classifier import TrainingConfig, run_classifier
from practicum.run import Run


@dataclass
class Config(TrainingConfig):
    """The tiny model's size, and the program's training settings where they differ."""

    side: int = bounded(5, "[1, 28]")  # average-pool the 28x28 image to side x side
    rank: int = bounded(
        5, "[0, 784]"
    )  # 0: a full linear map side² -> 10; r > 0: side² -> r -> 10, no bias between
    epochs: int = 10
    learning_rate: float = 0.02
    l2: float = 0.0  # tiny models underfit: no penalty
    crop_padding: int = 0


class TinyNet(nn.Module):
    """Fixed average pooling to side x side, an optional rank-r projection, 10 logits."""

    def __init__(self, side: int, rank: int, num_classes: int = 10) -> None:
        super().__init__()
        self.side = side
        features = side * side
        self.project = Linear(features, rank, bias=False) if rank else None
        self.head = Linear(rank or features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.adaptive_avg_pool2d(x, self.side).flatten(1)
        if self.project is not None:
            h = self.project(h)
        return self.head(h)


def build_model(config: Config, num_classes: int = 10) -> TinyNet:
    return TinyNet(config.side, config.rank, num_classes)


def run(config: Config, run: Run) -> dict[str, float]:
    metrics, _ = run_classifier(config, run, "MNIST tiny", build=build_model)
    return metrics


LAB = Lab(
    name="mnist-tiny",
    title="The fewest-parameter MNIST classifier with >= 80% test accuracy",
    source="ECE472 assignment 3 (extra challenge)",
    courses=("ece472",),
    config=Config,
    quick={
        "dataset": "digits",
        "side": 4,
        "rank": 0,
        "epochs": 20,
        "batch_size": 32,
        "val_size": 200,
    },
    targets=[
        Target("test_accuracy", ">=", 0.80, "ECE472 assignment 3 challenge"),
        Target("num_params", "<=", 500, "practicum (ours)"),
    ],
    summary="average pooling plus a (low-rank) linear map: a few hundred parameters, > 80%",
    time_full="10 s",  # 1 thread
    time_quick="3 s",
    run=run,
)
