"""Datasets: verified raw files (``store``), image loaders (``vision``), fast batching,
digit images as grey values for the generative labs (``digits``).

The two names most labs need::

    from practicum.data import load_mnist, train_val_split
    x_train, y_train, x_test, y_test = load_mnist("mnist")        # uint8 / int64 tensors
    train_idx, val_idx = train_val_split(60_000, 10_000, seed=0)  # sorted index arrays
"""

from practicum.data.batching import (
    ImageSplit,
    augment,
    batch_indices,
    channel_stats,
    cutout,
    random_crop,
    random_flip,
    split_image_data,
    standardised_split,
    to_float_images,
    train_val_split,
)
from practicum.data.digits import DigitImages, binarise, load_digit_images
from practicum.data.store import DataFile, cache_dir, fetch
from practicum.data.vision import (
    ImageData,
    load_cifar,
    load_cifar10_jpeg,
    load_image_folder,
    load_mnist,
    parse_idx,
)

__all__ = [
    "DataFile",
    "DigitImages",
    "ImageData",
    "augment",
    "batch_indices",
    "binarise",
    "cache_dir",
    "channel_stats",
    "cutout",
    "fetch",
    "load_cifar",
    "load_cifar10_jpeg",
    "load_digit_images",
    "load_image_folder",
    "load_mnist",
    "parse_idx",
    "random_crop",
    "random_flip",
    "to_float_images",
    "train_val_split",
    "split_image_data",
    "standardised_split",
    "ImageSplit",
]
