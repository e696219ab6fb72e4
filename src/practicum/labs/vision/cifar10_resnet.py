"""CIFAR-10 with a small pre-activation residual network (ECE472 assignment 4).

Methods: 45,000 / 5,000 train/validation split of the training set (seeded, stratified);
the test set is evaluated once at the end. Network: a frozen first layer that whitens 2x2
patches (:class:`practicum.nn.PatchWhitening`, airbench's idea: 24 eigen-filters of the patch
covariance, both signs), then a :class:`practicum.nn.Classifier` of four stages of
64/128/256/512 channels (31 -> 15 -> 7 -> 3 pixels): each a 3x3 convolution, a 2x2 max-pool
(not in the first, full-resolution stage, like ResNet-9's prep layer), ``GroupNorm``, ReLU
and one pre-activation ``ResidualBlock`` (zero-initialised, so it starts as the identity);
then global average pooling and a linear layer. The convolutions before each GroupNorm use
weight standardisation (Qiao et al. 2019), which recovers part of what GroupNorm loses
against BatchNorm. 60 epochs. Training: SGD with Nesterov momentum, a one-cycle learning
rate (linear warm-up and decay), weight decay, label smoothing, and whole-batch
augmentation in torch (random crop with 4-pixel padding, horizontal flip, cutout).
Test-time augmentation: the logits of each image, its mirror image and both moved by +-1
pixel are averaged. Ideas from airbench (Keller Jordan 2024) and ResNet-9 (David Page
2018); ``ema_decay`` (evaluate a moving average of the weights) is an option that measured
no gain. The sweep behind the defaults is in docs/labs/cifar10-resnet.md.

Data: ``source="auto"`` reads the official python archive when it is present (in
``$PRACTICUM_DATA/cifar10/`` or the cache) and the JPEG image-folder copy otherwise;
``source="official"`` / ``"jpeg"`` choose; ``archive=PATH`` reads your own copy of the
official archive. The summary says which data it was computed on (``data_source`` in
metrics.jsonl). ``--quick`` trains a tiny network on scikit-learn's 8x8 digits. Under
``torchrun`` each process trains on its shard of every batch (DistributedDataParallel).

The program and its config (these defaults) are :mod:`practicum.recipes.cifar_resnet`'s,
shared with cifar100-resnet; this file is the experiment.
"""

from __future__ import annotations

from practicum.lab import Lab, Target
from practicum.recipes.cifar_resnet import QUICK, Config, footprint, run_resnet
from practicum.run import Run


def run(config: Config, run: Run) -> dict[str, float]:
    return run_resnet(config, run, "cifar10", "CIFAR-10 ResNet")


LAB = Lab(
    name="cifar10-resnet",
    title="CIFAR-10 with a small pre-activation ResNet, GroupNorm and batch augmentation",
    source="ECE472 assignment 4; ideas from airbench (Jordan 2024)",
    courses=("ece472",),
    config=Config,
    quick=QUICK,
    targets=[Target("test_accuracy", ">=", 0.92, "practicum (ours), on the JPEG copy")],
    quick_targets=[Target("test_accuracy", ">=", 0.85, "quick mode on 8x8 digits")],
    summary="a pre-activation ResNet: patch whitening, GroupNorm with weight standardisation, cutout, TTA",
    time_full="10 min on H100",  # shared by 3 runs (≈ 4 min alone); ≈ 9 h on 2 CPU threads
    time_quick="3 s",
    footprint=footprint,
    run=run,
)
