"""Fast batching for small images: whole datasets in memory, augmentation on whole batches.

Small images are cheap to hold (all of CIFAR-10 as float16 is 370 MB, MNIST as float32
190 MB), so instead of a DataLoader that builds a batch one sample at a time in Python,
we index a tensor with a shuffled index batch and augment the whole batch at once with
tensor operations. Every random draw comes from a ``torch.Generator`` on the CPU, so the
same seed gives the same batches on any device.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from practicum.errors import PracticumError

if TYPE_CHECKING:
    from practicum.data.vision import ImageData


def to_float_images(
    x: torch.Tensor,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """uint8 images (N, H, W) or (N, H, W, C) -> float (N, C, H, W), scaled to [0, 1] and
    then standardised per channel with ``mean``/``std`` (computed from ``x`` if None)."""
    if x.dtype != torch.uint8:
        raise TypeError(f"expected uint8 images, got {x.dtype}")
    if x.ndim == 3:
        x = x.unsqueeze(-1)
    if x.ndim != 4:
        raise ValueError(f"expected images of shape (N, H, W[, C]), got {tuple(x.shape)}")
    out = x.permute(0, 3, 1, 2).to(torch.float32).div_(255.0)
    mean_t = out.mean(dim=(0, 2, 3)) if mean is None else torch.tensor(mean, dtype=torch.float32)
    std_t = out.std(dim=(0, 2, 3)) if std is None else torch.tensor(std, dtype=torch.float32)
    out = (out - mean_t.view(1, -1, 1, 1)) / std_t.view(1, -1, 1, 1)
    return out.to(dtype).contiguous()


def channel_stats(x: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 images (N, H, W[, C]) scaled to [0, 1]."""
    x = x.unsqueeze(-1) if x.ndim == 3 else x
    xf = x.to(torch.float32).div_(255.0)
    return xf.mean(dim=(0, 1, 2)).tolist(), xf.std(dim=(0, 1, 2)).tolist()


def batch_indices(
    n: int,
    batch_size: int,
    generator: torch.Generator | None = None,
    shuffle: bool = True,
    drop_last: bool = False,
) -> Iterator[torch.Tensor]:
    """Index batches covering ``range(n)`` once: a fresh permutation if ``shuffle``.

    The permutation is one ``torch.randperm(n, generator=generator)`` per call (one per
    epoch), cut into consecutive batches; with ``drop_last`` the final short batch is left
    out, so every batch has ``batch_size`` indices and ``n % batch_size`` indices sit out.
    """
    if batch_size < 1:
        raise PracticumError(f"batch_size must be >= 1, got {batch_size}")
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        yield order[start : start + batch_size]


def train_val_split(
    n: int, val_size: int, seed: int, labels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, validation) index arrays splitting ``range(n)``, seeded.

    With ``labels`` the split is stratified: each class gets its share of ``val_size``
    (largest remainders break ties), so the validation set has the training set's class
    mix. The test set is never split: choices are made on validation accuracy only.
    """
    if not 0 <= val_size <= n:
        raise PracticumError(f"val_size must be in [0, {n}], got {val_size}")
    rng = np.random.default_rng(seed)
    if labels is None:
        perm = rng.permutation(n)
        val = perm[:val_size]
    else:
        labels = np.asarray(labels)
        if labels.shape != (n,):
            raise ValueError(f"labels must have shape ({n},), got {labels.shape}")
        classes, counts = np.unique(labels, return_counts=True)
        share = counts * val_size / n
        take = np.floor(share).astype(int)
        extra = val_size - take.sum()
        take[np.argsort(-(share - take), kind="stable")[:extra]] += 1
        per_class = [
            rng.permutation(np.flatnonzero(labels == c))[:k]
            for c, k in zip(classes, take, strict=True)
        ]
        val = np.concatenate(per_class)
    mask = np.zeros(n, dtype=bool)
    mask[val] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


@dataclass
class ImageSplit:
    """Train, validation and test images of a run: float (N, C, H, W), standardised per channel
    with the training part's statistics, on the run's device."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int = 0
    source: str = ""


def standardised_split(
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
    val_size: int,
    seed: int,
    device: str | torch.device = "cpu",
    *,
    stratify: bool = True,
    train_subset: int = 0,
    memory_format: torch.memory_format = torch.contiguous_format,
    num_classes: int = 0,
    source: str = "",
) -> ImageSplit:
    """Split ``val_size`` images off uint8 training images (stratified by label unless told
    otherwise; :func:`train_val_split`), keep a seeded random ``train_subset`` of the rest
    (0: all of it; the files are often sorted by class, hence random), and standardise every
    channel of all three parts with the statistics of the training part alone."""
    labels = y_train.numpy() if stratify else None
    train_idx, val_idx = train_val_split(len(x_train), val_size, seed, labels)
    if 0 < train_subset < len(train_idx):
        pick = np.random.default_rng(seed).permutation(len(train_idx))[:train_subset]
        train_idx = np.sort(train_idx[pick])
    mean, std = channel_stats(x_train[train_idx])

    def prep(x: torch.Tensor) -> torch.Tensor:
        return to_float_images(x, mean, std).to(device).contiguous(memory_format=memory_format)

    return ImageSplit(
        prep(x_train[train_idx]),
        y_train[train_idx].to(device),
        prep(x_train[val_idx]),
        y_train[val_idx].to(device),
        prep(x_test),
        y_test.to(device),
        num_classes,
        source,
    )


def split_image_data(
    images: ImageData, val_size: int, seed: int, device: str | torch.device = "cpu", **options: Any
) -> ImageSplit:
    """:func:`standardised_split` of a loaded dataset, carrying its class count and source;
    ``options`` as there (``train_subset``, ``stratify``, ``memory_format``)."""
    return standardised_split(
        images.x_train,
        images.y_train,
        images.x_test,
        images.y_test,
        val_size,
        seed,
        device,
        num_classes=images.num_classes,
        source=images.source,
        **options,
    )


def downsample(split: ImageSplit, side: int) -> ImageSplit:
    """Average-pool every part of ``split`` to ``side`` × ``side`` (its side must be a multiple);
    after standardising, since a mean of standardised pixels is the standardised mean. The
    split itself when it is already that small. 16×16 CIFAR images make a CPU lab 4× faster."""
    factor = split.x_train.shape[-1] // side
    if factor * side != split.x_train.shape[-1]:
        raise ValueError(f"the images' side {split.x_train.shape[-1]} is not a multiple of {side}")
    if factor == 1:
        return split

    def pool(x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, factor).contiguous() if len(x) else x[..., :side, :side]

    return replace(
        split, x_train=pool(split.x_train), x_val=pool(split.x_val), x_test=pool(split.x_test)
    )


# ---- augmentation of whole batches (N, C, H, W) ------------------------------------------


def random_crop(x: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Pad each image by ``padding`` zeros (after standardising, zero is the mean colour)
    and cut a random window of the original size: a random translation by up to
    ``padding`` pixels each way."""
    if padding == 0:
        return x
    n, c, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator).to(x.device)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator).to(x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]  # (N,1,H,1)
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]  # (N,1,1,W)
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    chan = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, chan, rows, cols]


def random_flip(x: torch.Tensor, generator: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """Mirror each image left-right with probability ``p``."""
    flip = torch.rand(x.shape[0], generator=generator) < p
    return torch.where(flip.to(x.device)[:, None, None, None], x.flip(-1), x)


def cutout(x: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """Set a ``size`` x ``size`` square at a random centre of each image to zero (DeVries and
    Taylor 2017); squares near the border are clipped, as in the paper."""
    if size == 0:
        return x
    n, _, h, w = x.shape
    cy = torch.randint(0, h, (n,), generator=generator).to(x.device)
    cx = torch.randint(0, w, (n,), generator=generator).to(x.device)
    top, left = cy - size // 2, cx - size // 2
    r = torch.arange(h, device=x.device)
    c = torch.arange(w, device=x.device)
    in_rows = (r[None, :] >= top[:, None]) & (r[None, :] < top[:, None] + size)  # (N,H)
    in_cols = (c[None, :] >= left[:, None]) & (c[None, :] < left[:, None] + size)  # (N,W)
    hole = in_rows[:, :, None] & in_cols[:, None, :]
    return x.masked_fill(hole[:, None], 0.0)


def augment(
    x: torch.Tensor,
    generator: torch.Generator,
    crop_padding: int = 0,
    flip: bool = False,
    cutout_size: int = 0,
) -> torch.Tensor:
    """Random crop with padding, then horizontal flip, then cutout, on a whole batch."""
    x = random_crop(x, crop_padding, generator)
    if flip:
        x = random_flip(x, generator)
    return cutout(x, cutout_size, generator)
