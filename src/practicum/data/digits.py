"""Digit images as grey values in [0, 1] for the generative labs, and their binarisation.

``load_digit_images`` gives MNIST (28×28) or scikit-learn's 8×8 digits as float tensors
(N, 1, S, S) with a seeded validation split; ``binarise`` draws black-and-white pixels from the
grey values, as the Bernoulli likelihoods of the VAE labs need.

The classifier labs read the 8×8 digits differently (``practicum.data.vision.load_digits_uint8``:
uint8 pixels, a fixed first-1,397/last-400 split); the two are kept apart because each is the
data of its labs' results of record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from practicum.data.batching import train_val_split
from practicum.errors import PracticumError

DigitDataset = Literal["mnist", "digits"]

DIGITS_TEST_SIZE = 300  # 8×8 digits held out for testing, drawn once with a fixed seed
_DIGITS_TEST_SEED = 12345


@dataclass
class DigitImages:
    """Images as float tensors (N, 1, S, S) in [0, 1] with int64 labels."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    @property
    def image_size(self) -> int:
        return int(self.x_train.shape[-1])

    @property
    def num_pixels(self) -> int:
        return self.image_size**2

    def to(self, device: str) -> DigitImages:
        return DigitImages(*(t.to(device) for t in vars(self).values()))


def load_digit_images(dataset: DigitDataset, val_size: int, seed: int) -> DigitImages:
    """MNIST (60,000 train / 10,000 test, 28×28) or scikit-learn's 8×8 digits (1,797 images).

    A validation split of ``val_size`` images is taken from the training set (seeded with
    ``seed``); the test set is only for the final numbers. The 8×8 digits need no files (they
    ship with scikit-learn); their test set is the same 300 images whatever the seed.
    """
    if dataset == "mnist":
        from practicum.data.vision import load_mnist

        x_tr, y_tr, x_te, y_te = load_mnist("mnist")
        x_tr = x_tr.float().div(255).unsqueeze(1)
        x_te = x_te.float().div(255).unsqueeze(1)
    elif dataset == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        x = torch.tensor(digits.images, dtype=torch.float32).div(16).unsqueeze(1)
        y = torch.tensor(digits.target, dtype=torch.int64)
        order = np.random.default_rng(_DIGITS_TEST_SEED).permutation(len(y))
        test, rest = order[:DIGITS_TEST_SIZE], np.sort(order[DIGITS_TEST_SIZE:])
        x_tr, y_tr, x_te, y_te = x[rest], y[rest], x[test], y[test]
    else:
        raise PracticumError(f"unknown dataset {dataset!r} (choose mnist or digits)")
    if not 0 < val_size < len(y_tr):
        raise PracticumError(f"val_size must be in (0, {len(y_tr)}), got {val_size}")
    train_idx, val_idx = train_val_split(len(y_tr), val_size, seed)
    train_idx, val_idx = torch.from_numpy(train_idx), torch.from_numpy(val_idx)
    return DigitImages(x_tr[train_idx], y_tr[train_idx], x_tr[val_idx], y_tr[val_idx], x_te, y_te)


def binarise(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Black-and-white pixels: each is 1 with probability equal to its grey value in ``x``.

    The uniform numbers come from the CPU generator ``gen`` whatever the device of ``x``, so a
    seed gives the same pixels on every device. Drawing afresh every epoch is "dynamic
    binarisation", the usual protocol for Bernoulli likelihoods on MNIST.
    """
    return (torch.rand(x.shape, generator=gen, device="cpu").to(x.device) < x).float()
