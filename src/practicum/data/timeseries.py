"""Time-series classification archives: UCR (univariate) and UEA (multivariate) datasets in
the ``.ts`` format, z-normalised and zero-padded into arrays, and a generated stand-in.

The real files are the ones the ``aeon`` wheel bundles (``aeon/datasets/data/<name>/``:
ArrowHead, BasicMotions, GunPoint, ItalyPowerDemand, JapaneseVowels, OSULeaf, ... with
their published train/test splits). ``sktime`` bundles byte-identical copies, so either
package serves; every file is checked against the SHA-256 recorded here, so the data are
the same whichever package and version provided them. We read the files with our own small
parser (:func:`parse_ts`) instead of the package's loader: aeon's loader needs pandas and
numba, which these labs have no other use for.

Conventions (UCR): each series is z-normalised on its own (:func:`znormalise_series`);
series shorter than the longest are zero-padded at the end, with their true lengths kept.
"""

from __future__ import annotations

import importlib.metadata
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from practicum.data.store import sha256_of
from practicum.errors import PracticumError

# SHA-256 of each bundled file (aeon 1.6.0; sktime 1.2.0 ships the same bytes).
ARCHIVE_FILES: dict[str, dict[str, str]] = {
    "GunPoint": {
        "TRAIN": "f842401779fd9800d247d8b33121a1a4643710a19b24917dbdd9a060ca8630d5",
        "TEST": "79332750788a6227b325b96bd0d70130c8eb707b9731f8d7dec62b7a7d36017e",
    },
    "ItalyPowerDemand": {
        "TRAIN": "341269cb7e6cef96846b30e774580beec79addb93848ba360145219115a74b7c",
        "TEST": "26122451f87dd0387ef90b18bc8a86c041371b8a1c068004922b939971247144",
    },
    "ArrowHead": {
        "TRAIN": "a83c470aaf611a5f5284377cce27a5fc9f6292bc3d110257b0fd4905ced5ee72",
        "TEST": "5417dab42626d41df5e435bb22458c2df40dfad4bcd3b59559bbe72e20e84904",
    },
    "OSULeaf": {
        "TRAIN": "86b9d6e860414ffd26cebc62fff84ffb37fa588ef3e5bf79e4094a437c36ddfc",
        "TEST": "6c549dd354f9e42d5985fa5fab75321ca9acefc7873457e71467fc8a31f107ce",
    },
    "JapaneseVowels": {
        "TRAIN": "68a430eabd919cc77f40b1f5f3bc0dcafacc1486bca9260785aeb7d262cc78cd",
        "TEST": "b3d41d6a0ca3bcad3afb9ca7d4365382aa51341e2e58bae2a574babdda5b9462",
    },
    "BasicMotions": {
        "TRAIN": "8dc43cc6306cb679c888c01e26f91772ac4441a916da43bac8b79734a538b9d6",
        "TEST": "79213102bc6fca1a398ad98ce1185dff0208fa3d1465e687f48288946b0ff8dc",
    },
}
PROVIDERS = ("aeon", "sktime")  # packages that bundle the files, in the order we look
INSTALL_HINT = "pip install -e '.[timeseries]' (sktime; aeon bundles the same files)"


@dataclass(frozen=True)
class SeriesSet:
    """One split: ``x`` (n, channels, length) float32, zero past each series' end;
    ``lengths`` (n,) the true lengths; ``y`` (n,) int64 class indices into ``classes``."""

    x: np.ndarray
    lengths: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...]

    @property
    def channels(self) -> int:
        return int(self.x.shape[1])

    @property
    def length(self) -> int:
        return int(self.x.shape[2])

    def subset(self, index: np.ndarray) -> SeriesSet:
        return SeriesSet(self.x[index], self.lengths[index], self.y[index], self.classes)


@dataclass(frozen=True)
class Archive:
    """A dataset's published train and test splits, and where the files came from."""

    name: str
    train: SeriesSet
    test: SeriesSet
    source: str  # "aeon 1.6.0", "generated", ...


# ---- the .ts format -----------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedTs:
    """What a ``.ts`` file holds: its header (``@key value``, keys lower-cased), each case's
    series as a (channels, length) array, and each case's class label as written."""

    header: dict[str, str]
    series: list[np.ndarray]
    labels: list[str]

    @property
    def classes(self) -> tuple[str, ...]:
        """The class labels in the order the header declares them (``@classLabel true a b``),
        or sorted as they occur when it declares none."""
        declared = self.header.get("classlabel", "").split()
        if declared and declared[0].lower() == "true" and len(declared) > 1:
            return tuple(declared[1:])
        return tuple(sorted(set(self.labels)))


def parse_ts(text: str, where: str = "<text>") -> ParsedTs:
    """Parse the sktime/aeon ``.ts`` format (classification files, no time stamps).

    Lines starting with ``#`` are comments; ``@key value`` lines form the header up to
    ``@data``; each data line is one case: its channels separated by ``:``, each a
    comma-separated list of numbers (``?`` for a missing value, read as NaN), and the class
    label last. Channels of one case must have the same length; cases may differ.
    """
    header: dict[str, str] = {}
    series: list[np.ndarray] = []
    labels: list[str] = []
    in_data = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            if not line.startswith("@"):
                raise PracticumError(f"{where}:{number}: expected a @header line before @data")
            key, _, value = line[1:].partition(" ")
            if key.lower() == "data":
                in_data = True
            else:
                header[key.lower()] = value.strip()
            continue
        *channels, label = line.split(":")
        if not channels:
            raise PracticumError(f"{where}:{number}: a case needs values and a class label")
        try:
            rows = [
                [float("nan") if v == "?" else float(v) for v in c.split(",")] for c in channels
            ]
        except ValueError:
            raise PracticumError(f"{where}:{number}: a value is not a number") from None
        if len({len(r) for r in rows}) != 1:
            raise PracticumError(f"{where}:{number}: the channels of a case differ in length")
        series.append(np.asarray(rows, dtype=np.float64))
        labels.append(label.strip())
    if not in_data or not series:
        raise PracticumError(f"{where}: no @data section with cases")
    if len({s.shape[0] for s in series}) != 1:
        raise PracticumError(f"{where}: cases differ in their number of channels")
    if header.get("timestamps", "false").lower() == "true":
        raise PracticumError(f"{where}: files with time stamps are not supported")
    return ParsedTs(header, series, labels)


def pad_series(
    series: Sequence[np.ndarray], length: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Stack (channels, length_i) arrays into (n, channels, length) float32, zeros after each
    series' end (``length`` defaults to the longest), and return the lengths too."""
    lengths = np.array([s.shape[1] for s in series], dtype=np.int64)
    length = int(lengths.max()) if length is None else length
    if lengths.max() > length:
        raise ValueError(f"a series of length {lengths.max()} does not fit in {length}")
    out = np.zeros((len(series), series[0].shape[0], length), dtype=np.float32)
    for i, s in enumerate(series):
        out[i, :, : s.shape[1]] = s
    return out, lengths


def to_series_set(parsed: ParsedTs, classes: tuple[str, ...], length: int) -> SeriesSet:
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted(set(parsed.labels) - set(index))
    if unknown:
        raise PracticumError(f"class labels {unknown} are not among {list(classes)}")
    x, lengths = pad_series(parsed.series, length)
    y = np.array([index[label] for label in parsed.labels], dtype=np.int64)
    return SeriesSet(x, lengths, y, classes)


# ---- normalisation ------------------------------------------------------------------------


def valid_mask(lengths: np.ndarray, length: int) -> np.ndarray:
    """(n, 1, length) booleans: True where a position lies inside its series."""
    return (np.arange(length)[None, :] < np.asarray(lengths)[:, None])[:, None, :]


def znormalise_series(data: SeriesSet) -> SeriesSet:
    """Each series and channel to mean 0, standard deviation 1 over its own valid length
    (the UCR convention; a constant series is only centred); padding stays zero."""
    mask = valid_mask(data.lengths, data.length)
    n = data.lengths[:, None, None].astype(np.float64)
    x = data.x.astype(np.float64)
    mean = np.where(mask, x, 0.0).sum(axis=2, keepdims=True) / n
    centred = np.where(mask, x - mean, 0.0)
    std = np.sqrt((centred**2).sum(axis=2, keepdims=True) / n)
    out = centred / np.where(std > 0, std, 1.0)
    return SeriesSet(out.astype(np.float32), data.lengths, data.y, data.classes)


def channel_statistics(data: SeriesSet) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each channel over every valid position of a split."""
    mask = np.broadcast_to(valid_mask(data.lengths, data.length), data.x.shape)
    x = data.x.astype(np.float64)
    count = mask.sum(axis=(0, 2))
    mean = np.where(mask, x, 0.0).sum(axis=(0, 2)) / count
    var = (np.where(mask, x - mean[None, :, None], 0.0) ** 2).sum(axis=(0, 2)) / count
    return mean, np.sqrt(var)


def standardise_channels(data: SeriesSet, mean: np.ndarray, std: np.ndarray) -> SeriesSet:
    """Each channel shifted and scaled by given statistics (the training split's, so that
    amplitude differences between cases survive); padding stays zero."""
    mask = valid_mask(data.lengths, data.length)
    safe = np.where(std > 0, std, 1.0)
    out = (data.x - mean[None, :, None]) / safe[None, :, None]
    out = np.where(mask, out, 0.0).astype(np.float32)
    return SeriesSet(out, data.lengths, data.y, data.classes)


# ---- the bundled archives -----------------------------------------------------------------


def provider() -> tuple[str, str, Path]:
    """The installed package that bundles the archives: (name, version, its data folder)."""
    for name in PROVIDERS:
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        folder = Path(str(dist.locate_file(f"{name}/datasets/data")))
        if folder.is_dir():
            return name, dist.version, folder
    raise PracticumError(f"the UCR/UEA archives come bundled with aeon: {INSTALL_HINT}")


def archive_path(name: str, split: str) -> tuple[Path, str]:
    """The verified path of ``<name>_<split>.ts`` and the provider that holds it."""
    if name not in ARCHIVE_FILES:
        raise PracticumError(f"unknown archive {name!r}; known: {', '.join(ARCHIVE_FILES)}")
    package, version, folder = provider()
    path = folder / name / f"{name}_{split}.ts"
    if not path.is_file():
        raise PracticumError(f"{package} {version} has no {path.name}; {INSTALL_HINT}")
    digest = sha256_of(path)
    if digest != ARCHIVE_FILES[name][split]:
        raise PracticumError(
            f"{path} has SHA-256 {digest[:12]}..., expected {ARCHIVE_FILES[name][split][:12]}...: "
            f"reinstall {package}"
        )
    return path, f"{package} {version}"


def load_archive(name: str) -> Archive:
    """A bundled UCR/UEA dataset's published splits, zero-padded to the longest series of
    either split (not normalised: see :func:`znormalise_series`)."""
    parsed = {}
    source = ""
    for split in ("TRAIN", "TEST"):
        path, source = archive_path(name, split)
        parsed[split] = parse_ts(path.read_text(encoding="utf-8"), where=str(path))
    classes = parsed["TRAIN"].classes
    length = max(s.shape[1] for p in parsed.values() for s in p.series)
    train, test = (to_series_set(parsed[s], classes, length) for s in ("TRAIN", "TEST"))
    if train.channels != test.channels:
        raise PracticumError(f"{name}: train and test differ in their number of channels")
    return Archive(name, train, test, source)


# ---- a generated stand-in -----------------------------------------------------------------


def generated_archive(
    name: str,
    channels: int,
    length: int,
    n_train: int,
    n_test: int,
    seed: int,
    noise: float = 0.3,
    variable_length: bool = False,
) -> Archive:
    """Three classes of noisy shapes at a random phase (the same in every channel, each
    channel with its own noise): a sine, a square wave and a sawtooth of one frequency (the square and the sawtooth carry
    a sine's first harmonic too, so no single statistic separates them), for quick runs and
    tests. With ``variable_length`` the series are cut to lengths in [length/2, length]."""
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    y = np.arange(n) % 3
    rng.shuffle(y)
    t = np.arange(length) / length
    phase = rng.uniform(0, 1, size=(n, 1, 1))  # one phase per case, shared by its channels
    angle = 2 * math.pi * (3 * t[None, None, :] + phase)
    shapes = [np.sin(angle), np.sign(np.sin(angle)), 2 * ((angle / (2 * math.pi)) % 1) - 1]
    x = np.choose(y[:, None, None], shapes) + noise * rng.standard_normal((n, channels, length))
    lengths = np.full(n, length)
    if variable_length:
        lengths = rng.integers(length // 2, length + 1, size=n)
    series = [x[i, :, : lengths[i]] for i in range(n)]
    padded, lengths = pad_series(series, length)
    classes = ("sine", "square", "sawtooth")
    full = SeriesSet(padded, lengths, y.astype(np.int64), classes)
    train, test = full.subset(np.arange(n_train)), full.subset(np.arange(n_train, n))
    return Archive(name, train, test, "generated")
