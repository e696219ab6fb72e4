"""Digit images for the generative labs: the split, dynamic binarisation, their minibatches."""

from __future__ import annotations

import pytest
import torch

from practicum.data import batch_indices
from practicum.data.digits import DIGITS_TEST_SIZE, binarise, load_digit_images
from practicum.errors import PracticumError

# ---- binarise --------------------------------------------------------------------------------


def test_binarise_is_zero_one_with_the_grey_value_as_mean() -> None:
    grey = torch.tensor([0.0, 0.1, 0.3, 0.5, 0.9, 1.0])
    x = grey.repeat(100_000, 1)  # 100,000 draws of each grey value
    b = binarise(x, torch.Generator().manual_seed(0))
    assert b.dtype == torch.float32 and b.shape == x.shape
    assert set(b.unique().tolist()) <= {0.0, 1.0}
    # Bernoulli(p) means have standard error sqrt(p(1-p)/n) <= 0.0016: 4 of them is 0.0064.
    torch.testing.assert_close(b.mean(0), grey, atol=0.0064, rtol=0)
    assert b[:, 0].sum() == 0 and b[:, -1].all()  # black stays black, white stays white


def test_binarise_is_seeded_and_fresh_on_each_call() -> None:
    x = torch.full((4, 1, 8, 8), 0.5)
    first = binarise(x, torch.Generator().manual_seed(3))
    assert torch.equal(first, binarise(x, torch.Generator().manual_seed(3)))
    g = torch.Generator().manual_seed(3)
    assert torch.equal(binarise(x, g), first)
    assert not torch.equal(binarise(x, g), first)  # the next epoch draws new pixels


def test_binarise_compares_each_pixel_with_one_uniform_number() -> None:
    # The definition: pixel i is 1 exactly when u_i < x_i for u ~ U[0, 1) from the generator.
    x = torch.rand(50, 64, generator=torch.Generator().manual_seed(1))
    u = torch.rand(x.shape, generator=torch.Generator().manual_seed(2))
    assert torch.equal(binarise(x, torch.Generator().manual_seed(2)), (u < x).float())


# ---- load_digit_images -----------------------------------------------------------------------


def test_digits_split_shapes_and_range() -> None:
    data = load_digit_images("digits", val_size=200, seed=0)
    assert data.image_size == 8 and data.num_pixels == 64
    assert data.x_val.shape == (200, 1, 8, 8)
    assert data.x_test.shape == (DIGITS_TEST_SIZE, 1, 8, 8)
    assert len(data.x_train) + 200 + DIGITS_TEST_SIZE == 1797
    for x, y in (
        (data.x_train, data.y_train),
        (data.x_val, data.y_val),
        (data.x_test, data.y_test),
    ):
        assert x.dtype == torch.float32 and y.dtype == torch.int64 and len(x) == len(y)
        assert x.min() >= 0 and x.max() <= 1
        assert set(y.unique().tolist()) == set(range(10))


def _rows(x: torch.Tensor) -> set[tuple[float, ...]]:
    return {tuple(r) for r in x.flatten(1).tolist()}


def test_digits_test_set_is_fixed_and_the_validation_split_is_seeded() -> None:
    a = load_digit_images("digits", val_size=200, seed=0)
    b = load_digit_images("digits", val_size=200, seed=1)
    assert torch.equal(a.x_test, b.x_test) and torch.equal(a.y_test, b.y_test)
    assert torch.equal(a.x_val, load_digit_images("digits", 200, seed=0).x_val)
    assert not torch.equal(a.x_val, b.x_val)
    # Whatever the seed, train and validation are the same images, split differently.
    assert torch.equal(
        torch.cat([a.x_train, a.x_val]).flatten(1).sum(0),
        torch.cat([b.x_train, b.x_val]).flatten(1).sum(0),
    )
    assert len(a.x_train) + len(a.x_val) == len(b.x_train) + len(b.x_val)
    # No test image is also a training or validation image (8×8 duplicates are rare: none).
    assert not _rows(a.x_test) & _rows(torch.cat([a.x_train, a.x_val]))


def test_digit_images_move_as_a_whole() -> None:
    data = load_digit_images("digits", val_size=100, seed=0)
    moved = data.to("cpu")
    for name, tensor in vars(moved).items():
        assert torch.equal(tensor, getattr(data, name))


@pytest.mark.parametrize(("dataset", "val_size"), [("cifar", 100), ("digits", 0), ("digits", 1497)])
def test_bad_dataset_or_val_size_raises(dataset: str, val_size: int) -> None:
    with pytest.raises(PracticumError):
        load_digit_images(dataset, val_size, seed=0)  # type: ignore[arg-type]


# ---- the minibatches the generative labs train on --------------------------------------------


@pytest.mark.parametrize(("n", "batch_size"), [(103, 10), (100, 10), (7, 8), (64, 1)])
def test_epoch_batches_are_one_permutation_without_its_short_tail(n: int, batch_size: int) -> None:
    batches = list(batch_indices(n, batch_size, torch.Generator().manual_seed(5), drop_last=True))
    assert all(len(b) == batch_size for b in batches)
    assert len(batches) == n // batch_size
    seen = torch.cat(batches) if batches else torch.empty(0, dtype=torch.int64)
    assert len(set(seen.tolist())) == len(seen)  # every index at most once an epoch
    # Exactly the first full batches of one randperm: the labs' results of record rest on it.
    order = torch.randperm(n, generator=torch.Generator().manual_seed(5))
    assert torch.equal(seen, order[: len(seen)])
