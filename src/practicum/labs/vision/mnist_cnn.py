"""MNIST with a small convolutional network (ECE472 assignment 3).

Methods: a 50,000 / 10,000 train/validation split of the 60,000 training images (seeded,
stratified); the test set is used once, at the end. The network is a
:class:`practicum.nn.Classifier`: three 3x3 convolution stages with batch normalisation,
ReLU and 2x2 max-pooling (28 -> 14 -> 7 -> 3), then dropout and a linear layer on the
flattened 3x3 map. Loss: cross-entropy plus an L2 penalty on the weights. Optimiser: Adam
with a one-cycle learning rate (cosine warm-up and decay). Augmentation: random
translations by up to 2 pixels, done on whole batches. ``--quick`` trains the same program
on scikit-learn's 8x8 digits.

The program, its config and this network are :mod:`practicum.recipes.image_classifier`'s
(mnist-tiny and fashion-mnist-cnn run it too); this file is the experiment.
"""

from __future__ import annotations

from practicum.lab import Lab, Target
from practicum.recipes.image_classifier import (
    QUICK,
    Config,
    footprint,
    run_classifier,
    sanity_problem,
)
from practicum.run import Run


def run(config: Config, run: Run) -> dict[str, float]:
    metrics, _ = run_classifier(config, run, "MNIST CNN")
    return metrics


LAB = Lab(
    name="mnist-cnn",
    title="MNIST digits with a small CNN: dropout, L2 penalty, held-out validation",
    source="ECE472 assignment 3",
    courses=("ece472",),
    config=Config,
    quick=QUICK,
    targets=[
        Target("test_accuracy", ">=", 0.955, "ECE472 assignment 3"),
        Target("test_accuracy", ">=", 0.993, "practicum (ours)"),
    ],
    quick_targets=[Target("test_accuracy", ">=", 0.90, "quick mode on 8x8 digits")],
    summary="a three-stage CNN with batch norm, dropout and L2 classifies MNIST; test set used once",
    time_full="17 min",  # 1 thread
    time_quick="5 s",
    footprint=footprint,
    sanity=sanity_problem,  # practicum debug's sanity checks
    run=run,
)
