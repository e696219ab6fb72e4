"""The data layer: the store's lookup order and checksums, idx and CIFAR parsing, the
restricted unpickler, image folders, splits, batching and augmentation."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import tarfile
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from practicum.data import (
    DataFile,
    augment,
    batch_indices,
    cutout,
    fetch,
    load_image_folder,
    load_mnist,
    parse_idx,
    random_crop,
    random_flip,
    store,
    train_val_split,
    vision,
)
from practicum.data.vision import safe_unpickle
from practicum.errors import PracticumError


@pytest.fixture
def roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """An empty $PRACTICUM_DATA and an empty cache, and no network."""
    data, cache = tmp_path / "data", tmp_path / "xdg"
    data.mkdir()
    monkeypatch.setenv("PRACTICUM_DATA", str(data))
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))

    def offline(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("no network in tests")

    monkeypatch.setattr(store.urllib.request, "urlopen", offline)
    return data, cache / "practicum"


def _datafile(relpath: str, content: bytes) -> DataFile:
    return DataFile(relpath, "https://example.org/" + relpath, hashlib.sha256(content).hexdigest())


def _put(root: Path, relpath: str, content: bytes) -> Path:
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


# ---- the store -------------------------------------------------------------------------


def test_lookup_order_data_dir_then_cache(roots: tuple[Path, Path]) -> None:
    data, cache = roots
    f = _datafile("toy/a.bin", b"hello")
    in_data, in_cache = _put(data, f.relpath, b"hello"), _put(cache, f.relpath, b"hello")
    assert fetch(f) == in_data
    in_data.unlink()
    assert fetch(f) == in_cache


class _Response(io.BytesIO):
    headers = {"Content-Length": "5"}


def test_download_lands_verified_in_cache(
    roots: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, cache = roots
    f = _datafile("toy/a.bin", b"hello")
    monkeypatch.setattr(store.urllib.request, "urlopen", lambda *a, **k: _Response(b"hello"))
    path = fetch(f, progress=False)
    assert path == cache / f.relpath and path.read_bytes() == b"hello"


def test_bad_download_is_discarded(
    roots: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, cache = roots
    f = _datafile("toy/a.bin", b"hello")
    monkeypatch.setattr(store.urllib.request, "urlopen", lambda *a, **k: _Response(b"hellO"))
    with pytest.raises(PracticumError, match="checksum mismatch"):
        fetch(f, progress=False)
    assert list((cache / "toy").iterdir()) == []  # no partial or unverified file is kept


def test_one_changed_byte_is_a_clear_error(roots: tuple[Path, Path]) -> None:
    data, _ = roots
    content = bytes(range(256)) * 10
    f = _datafile("toy/b.bin", content)
    corrupt = bytearray(content)
    corrupt[1000] ^= 1
    _put(data, f.relpath, bytes(corrupt))
    with pytest.raises(PracticumError) as err:
        fetch(f)
    message = str(err.value)
    assert "toy/b.bin" in message and f.sha256 in message
    assert hashlib.sha256(bytes(corrupt)).hexdigest() in message
    assert "\n" not in message and "download it again" in message


def test_absent_and_offline_names_file_and_place(roots: tuple[Path, Path]) -> None:
    data, _ = roots
    f = _datafile("toy/c.bin", b"x")
    with pytest.raises(PracticumError) as err:
        fetch(f)
    assert "toy/c.bin" in str(err.value) and str(data) in str(err.value)


def test_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert store.cache_dir() == tmp_path / "practicum"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert store.cache_dir() == Path.home() / ".cache" / "practicum"


# ---- idx -------------------------------------------------------------------------------


def idx_bytes(array: np.ndarray) -> bytes:
    codes = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D}
    dims = np.array(array.shape, dtype=">u4").tobytes()
    return bytes([0, 0, codes[array.dtype], array.ndim]) + dims + array.tobytes()


@given(
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    dtype=st.sampled_from([np.uint8, ">i4", ">f4"]),
)
@settings(max_examples=30, deadline=None)
def test_idx_round_trip(shape: list[int], dtype: str) -> None:
    array = (np.arange(np.prod(shape)) % 251).astype(dtype).reshape(shape)
    decoded = parse_idx(idx_bytes(array))
    assert decoded.shape == tuple(shape) and decoded.dtype.isnative
    np.testing.assert_array_equal(decoded, array)


def test_idx_rejects_bad_bytes() -> None:
    good = idx_bytes(np.zeros((2, 3), dtype=np.uint8))
    for bad in (b"\x01" + good[1:], good[:-1], good + b"\x00", good[:2] + b"\x07" + good[3:]):
        with pytest.raises(PracticumError):
            parse_idx(bad)


def _fake_mnist(data: Path, monkeypatch: pytest.MonkeyPatch) -> list[np.ndarray]:
    """Write four gzipped idx files under data/mnist and point the store at them."""
    rng = np.random.default_rng(0)
    arrays = [
        rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, 20).astype(np.uint8),
        rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, 6).astype(np.uint8),
    ]
    files = []
    for f, array in zip(vision.IDX_FILES["mnist"], arrays, strict=True):
        content = gzip.compress(idx_bytes(array), mtime=0)
        _put(data, f.relpath, content)
        files.append(_datafile(f.relpath, content))
    monkeypatch.setitem(vision.IDX_FILES, "mnist", tuple(files))
    return arrays


def test_load_mnist_decodes_once(roots: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    data, cache = roots
    arrays = _fake_mnist(data, monkeypatch)
    x_train, y_train, x_test, y_test = load_mnist("mnist")
    assert x_train.dtype == torch.uint8 and y_train.dtype == torch.int64
    assert x_train.shape == (20, 28, 28) and x_test.shape == (6, 28, 28)
    np.testing.assert_array_equal(x_train.numpy(), arrays[0])
    np.testing.assert_array_equal(y_test.numpy(), arrays[3])
    decoded = list((cache / "decoded").glob("mnist-*.npz"))
    assert len(decoded) == 1
    monkeypatch.setattr(vision, "read_idx", None)  # a reload must not decode again
    assert torch.equal(load_mnist("mnist")[0], x_train)


def test_load_mnist_corrupt_file_is_refused_even_with_a_decoded_cache(
    roots: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    data, _ = roots
    _fake_mnist(data, monkeypatch)
    load_mnist("mnist")  # fills the decoded cache
    path = data / vision.IDX_FILES["mnist"][0].relpath
    content = bytearray(path.read_bytes())
    content[-5] ^= 0xFF
    path.write_bytes(bytes(content))
    with pytest.raises(PracticumError, match="checksum mismatch"):
        load_mnist("mnist")


# ---- pickles and CIFAR -----------------------------------------------------------------


class _Evil:
    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.mkdir, (str(self.target),))


def test_restricted_unpickler_refuses_code(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    payload = pickle.dumps({b"data": _Evil(target)}, protocol=2)
    with pytest.raises(PracticumError, match="refusing to unpickle"):
        safe_unpickle(payload)
    assert not target.exists()


@pytest.mark.parametrize("protocol", [2, 4])
def test_restricted_unpickler_reads_arrays(protocol: int) -> None:
    batch = {b"data": np.arange(12, dtype=np.uint8).reshape(3, 4), b"labels": [1, 2, 3]}
    out = safe_unpickle(pickle.dumps(batch, protocol=protocol))
    np.testing.assert_array_equal(out[b"data"], batch[b"data"])
    assert out[b"labels"] == [1, 2, 3]


# ---- image folders ---------------------------------------------------------------------


def _image_tree(root: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(1)
    for split, n in (("train", 3), ("test", 2)):
        for cls in ("cat", "dog"):
            (root / split / cls).mkdir(parents=True)
            for i in range(n):
                pixels = rng.integers(0, 256, (8, 6, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / split / cls / f"{i}.png")


def test_image_folder_and_its_archive_agree(tmp_path: Path, roots: tuple[Path, Path]) -> None:
    _image_tree(tmp_path / "tree" / "mydata")
    from_folder = load_image_folder(tmp_path / "tree" / "mydata")
    assert from_folder.classes == ("cat", "dog")
    assert from_folder.x_train.shape == (6, 8, 6, 3)
    assert from_folder.y_train.tolist() == [0, 0, 0, 1, 1, 1]
    archive = tmp_path / "mydata.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "tree" / "mydata", arcname="mydata")
    from_archive = load_image_folder(archive)
    assert torch.equal(from_archive.x_train, from_folder.x_train)
    assert torch.equal(from_archive.y_test, from_folder.y_test)


def test_archive_escaping_its_folder_is_refused(tmp_path: Path, roots: tuple[Path, Path]) -> None:
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    with pytest.raises(PracticumError, match="cannot extract"):
        load_image_folder(archive)
    assert not (tmp_path / "escaped.txt").exists()


# ---- splits, batches, augmentation -------------------------------------------------------


def test_train_val_split_partitions_and_is_seeded() -> None:
    train, val = train_val_split(1000, 200, seed=3)
    assert len(val) == 200 and len(train) == 800
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(1000))
    assert np.array_equal(val, train_val_split(1000, 200, seed=3)[1])
    assert not np.array_equal(val, train_val_split(1000, 200, seed=4)[1])


def test_stratified_split_keeps_class_mix() -> None:
    labels = np.repeat(np.arange(4), [100, 200, 300, 400])
    _, val = train_val_split(1000, 100, seed=0, labels=labels)
    assert np.bincount(labels[val]).tolist() == [10, 20, 30, 40]


def test_batch_indices_cover_each_index_once() -> None:
    g = torch.Generator().manual_seed(0)
    batches = list(batch_indices(103, 10, g))
    assert [len(b) for b in batches] == [10] * 10 + [3]
    assert torch.equal(torch.cat(batches).sort().values, torch.arange(103))
    assert all(len(b) == 10 for b in batch_indices(103, 10, g, drop_last=True))


@given(padding=st.integers(0, 3), seed=st.integers(0, 1000))
@settings(max_examples=20, deadline=None)
def test_random_crop_is_a_translation(padding: int, seed: int) -> None:
    x = torch.randn(6, 2, 5, 7, generator=torch.Generator().manual_seed(seed))
    out = random_crop(x, padding, torch.Generator().manual_seed(seed))
    padded = torch.nn.functional.pad(x, (padding,) * 4)
    for i in range(len(x)):
        windows = [
            padded[i, :, dy : dy + 5, dx : dx + 7]
            for dy in range(2 * padding + 1)
            for dx in range(2 * padding + 1)
        ]
        assert any(torch.equal(out[i], w) for w in windows)


def test_random_flip_mirrors_about_half() -> None:
    x = torch.randn(400, 1, 3, 4)
    out = random_flip(x, torch.Generator().manual_seed(0))
    flipped = torch.tensor([torch.equal(o, xi.flip(-1)) for o, xi in zip(out, x, strict=True)])
    kept = torch.tensor([torch.equal(o, xi) for o, xi in zip(out, x, strict=True)])
    assert bool((flipped | kept).all()) and 150 < int(flipped.sum()) < 250


@given(size=st.integers(1, 6), seed=st.integers(0, 1000))
@settings(max_examples=20, deadline=None)
def test_cutout_zeroes_one_clipped_square(size: int, seed: int) -> None:
    x = torch.rand(5, 3, 8, 8) + 1.0  # no zeros before cutout
    out = cutout(x, size, torch.Generator().manual_seed(seed))
    for i in range(5):
        hole = (out[i] == 0).all(dim=0)
        assert torch.equal(out[i][:, ~hole], x[i][:, ~hole])  # untouched elsewhere
        rows, cols = hole.any(dim=1).nonzero(), hole.any(dim=0).nonzero()
        assert 1 <= len(rows) <= size and 1 <= len(cols) <= size
        assert int(hole.sum()) == len(rows) * len(cols)  # a rectangle
        assert len(rows) == rows.max() - rows.min() + 1  # contiguous rows


def test_augment_is_seeded() -> None:
    x = torch.randn(16, 3, 8, 8)
    a = augment(x, torch.Generator().manual_seed(5), crop_padding=2, flip=True, cutout_size=3)
    b = augment(x, torch.Generator().manual_seed(5), crop_padding=2, flip=True, cutout_size=3)
    c = augment(x, torch.Generator().manual_seed(6), crop_padding=2, flip=True, cutout_size=3)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_standardised_split_uses_the_training_part_statistics_only() -> None:
    from practicum.data.batching import channel_stats, standardised_split, train_val_split

    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (120, 6, 6, 3), generator=gen, dtype=torch.uint8)
    x[:, :, :, 1] //= 4  # channels with different statistics
    y = torch.arange(120) % 4
    x_test = torch.randint(0, 256, (30, 6, 6, 3), generator=gen, dtype=torch.uint8)
    split = standardised_split(x, y, x_test, y[:30], 24, seed=5, train_subset=50, num_classes=4)
    assert split.x_train.shape == (50, 3, 6, 6) and split.x_val.shape == (24, 3, 6, 6)
    # Standardised with the 50 kept training images: mean 0, std 1 per channel there...
    assert torch.allclose(split.x_train.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(split.x_train.std(dim=(0, 2, 3)), torch.ones(3), atol=1e-4)
    # ...and the validation and test images with those same statistics, recomputed naively.
    train_idx, val_idx = train_val_split(120, 24, 5, y.numpy())
    assert torch.bincount(y[val_idx], minlength=4).tolist() == [6, 6, 6, 6]  # stratified
    pick = np.sort(train_idx[np.random.default_rng(5).permutation(len(train_idx))[:50]])
    mean, std = channel_stats(x[pick])
    naive = x[val_idx].permute(0, 3, 1, 2).float() / 255 - torch.tensor(mean)[:, None, None]
    naive = naive / torch.tensor(std)[:, None, None]
    assert torch.allclose(split.x_val, naive, atol=1e-6)
    assert torch.equal(split.y_val, y[val_idx]) and split.num_classes == 4
    last = standardised_split(
        x, y, x_test, y[:30], 24, 5, memory_format=torch.channels_last, stratify=False
    )
    assert last.x_train.shape == (96, 3, 6, 6)  # train_subset 0: every image not in validation
    assert last.x_test.is_contiguous(memory_format=torch.channels_last)


def test_downsample_averages_blocks_and_keeps_an_already_small_split():
    from practicum.data.batching import ImageSplit, downsample

    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 2, 8, 8, generator=g)
    y = torch.zeros(3, dtype=torch.long)
    split = ImageSplit(x, y, x[:0], y[:0], x.clone(), y)
    small = downsample(split, 4)
    naive = x.reshape(3, 2, 4, 2, 4, 2).mean(dim=(3, 5))  # the mean of each 2×2 block
    assert torch.allclose(small.x_train, naive, atol=1e-6)
    assert small.x_val.shape == (0, 2, 4, 4) and small.x_test.shape == (3, 2, 4, 4)
    assert split.x_train.shape == (3, 2, 8, 8)  # the input is left as it was
    assert downsample(split, 8) is split
    with pytest.raises(ValueError):
        downsample(split, 3)


def test_split_image_data_is_the_standardised_split_of_the_dataset_with_its_labels():
    from practicum.data.batching import split_image_data, standardised_split
    from practicum.data.vision import load_digits_rgb

    images = load_digits_rgb()
    got = split_image_data(images, 100, 3, train_subset=500)
    want = standardised_split(
        images.x_train, images.y_train, images.x_test, images.y_test, 100, 3, train_subset=500
    )
    assert torch.equal(got.x_train, want.x_train) and torch.equal(got.y_val, want.y_val)
    assert (got.num_classes, got.source) == (images.num_classes, images.source)
