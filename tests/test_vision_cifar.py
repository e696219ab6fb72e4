"""CIFAR-100 end to end on a generated archive in the official format, and CIFAR-10 quick."""

from __future__ import annotations

import io
import json
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from practicum.data import load_cifar
from practicum.launch import run_lab


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("PRACTICUM_DATA", str(tmp_path / "no-data"))


def make_cifar100_archive(
    path: Path, n_train: int = 200, n_test: int = 100, used_classes: int = 100
) -> Path:
    """A tiny archive in the official CIFAR-100 python format (pickles of dicts with bytes
    keys, rows of 1024 red, 1024 green, 1024 blue values). It is learnable: each class is
    a distinct mean colour plus noise; images use the first ``used_classes`` labels."""
    rng = np.random.default_rng(0)
    colours = rng.integers(30, 226, (100, 3))

    def batch(n: int) -> dict[bytes, object]:
        labels = rng.integers(0, used_classes, n)
        images = colours[labels][:, :, None, None] + rng.normal(0, 12, (n, 3, 32, 32))
        data = np.clip(images, 0, 255).astype(np.uint8).reshape(n, 3072)
        return {
            b"filenames": [f"img_{i}.png".encode() for i in range(n)],
            b"batch_label": b"generated",
            b"fine_labels": labels.tolist(),
            b"coarse_labels": (labels // 5).tolist(),
            b"data": data,
        }

    meta = {
        b"fine_label_names": [f"class{i:02d}".encode() for i in range(100)],
        b"coarse_label_names": [f"super{i:02d}".encode() for i in range(20)],
    }
    with tarfile.open(path, "w:gz") as tar:
        for name, obj in (("train", batch(n_train)), ("test", batch(n_test)), ("meta", meta)):
            raw = pickle.dumps(obj, protocol=2)
            info = tarfile.TarInfo(f"cifar-100-python/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return path


def test_cifar100_archive_layout(tmp_path: Path) -> None:
    archive = make_cifar100_archive(tmp_path / "cifar-100-python.tar.gz", 30, 10)
    data = load_cifar("cifar100", archive=archive)
    assert data.x_train.shape == (30, 32, 32, 3) and data.x_train.dtype == torch.uint8
    assert data.x_test.shape == (10, 32, 32, 3) and data.num_classes == 100
    with tarfile.open(archive) as tar:
        raw = tar.extractfile("cifar-100-python/train").read()  # type: ignore[union-attr]
    batch = pickle.loads(raw)
    # Row layout: 1024 red values, then green, then blue, each in row-major order.
    row = batch[b"data"][3]
    assert data.x_train[3, 0, 5, 0] == row[5] and data.x_train[3, 2, 1, 2] == row[2048 + 65]
    assert data.y_train.tolist() == batch[b"fine_labels"]


def test_cifar100_lab_end_to_end_on_generated_archive(tmp_path: Path) -> None:
    archive = make_cifar100_archive(tmp_path / "cifar-100-python.tar.gz", 320, 100, 10)
    summary, run_dir = run_lab(
        "cifar100-resnet",
        out=tmp_path / "run",
        quiet=True,
        overrides={
            "archive": str(archive),
            "layer_depths": "8,16",
            "pool": "false,true",  # the defaults' layout: a full-resolution first stage
            "num_groups": "4",
            "epochs": "3",
            "batch_size": "32",
            "learning_rate": "0.05",
            "val_size": "100",
        },
    )
    metrics = summary["metrics"]
    assert metrics["test_top5_accuracy"] >= 0.7  # chance is 0.5 with 10 classes used
    assert metrics["official_data"] == 0.0
    log = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert "archive" in log[0]["data_source"]
    assert (run_dir / "plots" / "curves.png").is_file()
    assert summary["targets"][0]["metric"] == "test_top5_accuracy"
