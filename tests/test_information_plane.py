"""Information-plane lab: the binning and kernel-density estimators of I(X;T) and I(T;Y),
the 12-bit task's loader and stand-in, and the lab's quick run."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from practicum.data.information_bottleneck import VAR_U, all_patterns, load_var_u, standin_task
from practicum.errors import PracticumError
from practicum.information import (
    bin_codes,
    binned_information,
    compression,
    entropy_bits,
    kde_information,
    kde_input_information,
    log_spaced_epochs,
    width_codes,
)
from practicum.labs.papers.information_plane import BottleneckNet, layer_codes, split


def naive_information(codes: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """I(X;T) = H(T) and I(T;Y) = H(T) + H(Y) − H(T, Y) by counting in dictionaries."""

    def h(items: list) -> float:
        counts = Counter(items)
        n = len(items)
        return -sum(c / n * math.log2(c / n) for c in counts.values())

    rows = [tuple(int(v) for v in r) for r in codes]
    labels = [int(v) for v in y]
    return h(rows), h(rows) + h(labels) - h(list(zip(rows, labels, strict=True)))


def naive_kde(t: np.ndarray, var: float) -> float:
    n = len(t)
    total = 0.0
    for i in range(n):
        total += math.log(
            sum(math.exp(-float(((t[i] - t[j]) ** 2).sum()) / (2 * var)) for j in range(n)) / n
        )
    return -total / n / math.log(2)


def test_the_inputs_carry_twelve_bits() -> None:
    x = all_patterns()
    assert x.shape == (4096, 12) and len({tuple(r) for r in x}) == 4096
    y = standin_task(0).y
    ixt, ity = binned_information(x, y)
    assert ixt == pytest.approx(12.0, abs=1e-12)  # I(X;X) = H(X) = log2 4096
    assert ity == pytest.approx(entropy_bits(y), abs=1e-12)  # I(X;Y) = H(Y): Y is f(X)
    # The same through the binning of ±1 activity (each bit in an end bin).
    assert binned_information(bin_codes(2.0 * x - 1.0, -1, 1, 30), y)[0] == pytest.approx(12.0)


@given(
    st.integers(1, 300),
    st.integers(1, 4),
    st.integers(1, 6),
    st.integers(0, 2**32 - 1),
)
@settings(max_examples=60, deadline=None)
def test_binning_agrees_with_dictionary_counts(n: int, d: int, levels: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = rng.uniform(-1.2, 1.2, size=(n, d))
    y = rng.integers(0, 2, size=n)
    codes = bin_codes(t, -1.0, 1.0, levels)
    assert codes.min() >= 0 and codes.max() < levels
    got = binned_information(codes, y)
    want = naive_information(codes, y)
    assert got == pytest.approx(want, abs=1e-9)


@given(st.integers(2, 200), st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None)
def test_a_bijective_relabelling_of_the_bins_keeps_the_information(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 5, size=(n, 2))
    y = rng.integers(0, 3, size=n)
    relabel = rng.permutation(25)  # a bijection of the 25 joint bin values
    relabelled = relabel[codes[:, 0] * 5 + codes[:, 1]]
    assert binned_information(relabelled, y) == pytest.approx(
        binned_information(codes, y), abs=1e-12
    )


def test_a_layer_independent_of_the_label_knows_nothing_of_it() -> None:
    # T takes 4 values, each equally often in each class: exactly independent.
    codes = np.repeat(np.arange(4), 50)
    y = np.tile([0, 1], 100)
    ixt, ity = binned_information(codes, y)
    assert ixt == pytest.approx(2.0) and abs(ity) < 1e-12
    # A random T of few values against random labels: close to 0.
    rng = np.random.default_rng(0)
    _, ity = binned_information(rng.integers(0, 3, 20000), rng.integers(0, 2, 20000))
    assert 0 <= ity < 1e-3


def test_bins_follow_the_activation() -> None:
    assert bin_codes(np.array([[-1.0, -0.999, 0.0, 0.999, 1.0]]), -1, 1, 30).tolist() == [
        [0, 0, 15, 29, 29]
    ]
    assert bin_codes(np.zeros((3, 2)), 0.0, 0.0, 30).tolist() == [[0, 0]] * 3
    t = np.array([[0.0, 2.0], [4.0, 1.0]])
    # ReLU, the authors' bins: width 2/30 from 0, as many as needed (4.0 is bin 60)
    assert layer_codes("relu", t, False, 30, "width").tolist() == [[0, 30], [60, 15]]
    # ReLU over [0, max]: 30 bins of width 4/30, the top value in the last
    assert layer_codes("relu", t, False, 30, "max").tolist() == [[0, 15], [29, 7]]
    tanh = np.array([[-0.99, 0.5]])
    for scheme in ("width", "max"):  # tanh is binned over [−1, 1] either way
        assert layer_codes("tanh", tanh, False, 30, scheme).tolist() == [[0, 22]]
    assert layer_codes("tanh", np.array([[0.5]]), True, 30, "width").tolist() == [[7]]  # output


@given(st.integers(0, 1000), st.integers(1, 50))
def test_width_bins_are_range_bins_once_the_range_is_a_whole_number_of_widths(
    seed: int, k: int
) -> None:
    width = 2 / 30
    t = np.random.default_rng(seed).uniform(0, k * width * 0.999, size=(50, 3))
    assert np.array_equal(width_codes(t, width), bin_codes(t, 0.0, k * width, k))


def test_kde_bound_in_its_limits() -> None:
    far = np.array([[0.0, 0.0], [100.0, 0.0]])
    assert kde_input_information(far, 0.1) == pytest.approx(1.0, abs=1e-12)  # two far points
    assert kde_input_information(far, 1e12) == pytest.approx(0.0, abs=1e-8)  # σ² → ∞
    same = np.ones((7, 3))
    assert kde_input_information(same, 0.1) == pytest.approx(0.0, abs=1e-12)
    # Two points at distance d: log2 2 − log2(1 + exp(−d²/2σ²)) in closed form.
    d, var = 0.7, 0.1
    pair = np.array([[0.0], [d]])
    closed = 1.0 - math.log2(1.0 + math.exp(-(d**2) / (2 * var)))
    assert kde_input_information(pair, var) == pytest.approx(closed, abs=1e-12)
    # Far-apart clusters, one per label: I(T;Y) is the label's entropy, 1 bit.
    t = np.array([[0.0], [0.01], [50.0], [50.01]])
    ixt, ity = kde_information(t, np.array([0, 0, 1, 1]), 1.0)
    assert ity == pytest.approx(1.0, abs=1e-6) and ixt == pytest.approx(1.0, abs=1e-3)


@given(st.integers(1, 30), st.integers(1, 4), st.floats(0.01, 10.0), st.integers(0, 10_000))
@settings(max_examples=40, deadline=None)
def test_kde_bound_agrees_with_the_naive_double_sum(n: int, d: int, var: float, seed: int) -> None:
    t = np.random.default_rng(seed).normal(size=(n, d))
    got = kde_input_information(t, var, chunk=7)  # several chunks
    assert got == pytest.approx(naive_kde(t, var), abs=1e-9)
    assert -1e-12 <= got <= math.log2(n) + 1e-12


def test_compression_and_epochs() -> None:
    assert compression(np.array([1.0, 5.0, 3.0])) == 2.0
    assert compression(np.array([1.0, 2.0, 3.0])) == 0.0
    e = log_spaced_epochs(10_000, 40)
    assert e[0] == 0 and e[-1] == 10_000 and e == sorted(set(e))
    assert 30 <= len(e) <= 41


def test_split_and_network() -> None:
    tr, te = split(4096, 0.85, 3)
    assert len(tr) == 3482 and sorted(np.concatenate([tr, te]).tolist()) == list(range(4096))
    with pytest.raises(PracticumError, match="train_fraction"):
        split(10, 0.01, 0)
    net = BottleneckNet((10, 7, 5, 4, 3), "tanh")
    import torch

    layers = net.layers(torch.zeros(5, 12))
    assert [a.shape[1] for a in layers] == [10, 7, 5, 4, 3, 2]
    assert torch.allclose(layers[-1], torch.softmax(net(torch.zeros(5, 12)), 1))


def test_standin_has_the_papers_shape() -> None:
    task = standin_task(0)
    assert task.x.shape == (4096, 12) and task.y.shape == (4096,)
    assert task.y.mean() == 0.5
    assert np.array_equal(task.y, standin_task(0).y)
    assert not np.array_equal(task.y, standin_task(1).y)


def test_loader_refuses_a_bad_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / VAR_U.relpath
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"MATLAB 5.0 MAT-file, not really")
    monkeypatch.setenv("PRACTICUM_DATA", str(tmp_path))
    with pytest.raises(PracticumError) as info:
        load_var_u(progress=False)
    message = str(info.value)
    assert "checksum mismatch" in message and VAR_U.sha256 in message and "\n" not in message


def test_loader_reads_f_and_y_of_a_mat_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the real file's licence keeps it out of the tests: a file of the same layout, whose
    # checksum the loader is told, is read into the task (and a wrong shape is refused)
    from scipy.io import savemat

    from practicum.data import information_bottleneck as ib
    from practicum.data.store import DataFile, sha256_of

    task = standin_task(3)
    path = tmp_path / ib.VAR_U.relpath
    path.parent.mkdir(parents=True)
    savemat(str(path), {"F": task.x.astype(np.uint8), "y": task.y[None, :].astype(np.uint8)})
    monkeypatch.setenv("PRACTICUM_DATA", str(tmp_path))
    monkeypatch.setattr(ib, "VAR_U", DataFile(ib.VAR_U.relpath, "", sha256_of(path)))
    back = load_var_u(progress=False)
    assert np.array_equal(back.x, task.x) and np.array_equal(back.y, task.y)
    assert binned_information(back.x, back.y)[0] == pytest.approx(12.0)
    savemat(str(path), {"F": task.x[:100].astype(np.uint8), "y": task.y[None, :100]})
    monkeypatch.setattr(ib, "VAR_U", DataFile(ib.VAR_U.relpath, "", sha256_of(path)))
    with pytest.raises(PracticumError, match="expected F 4096"):
        load_var_u(progress=False)
