"""Image datasets as uint8 tensors: MNIST, Fashion-MNIST, 8x8 digits, CIFAR-10/100, image folders.

Each loader verifies its raw files (:func:`practicum.data.store.fetch`), decodes them once,
and keeps the decoded arrays as an ``.npz`` file in the cache, named after the checksums of
its sources, so a second load takes a fraction of a second and a changed source is decoded
again. Raw files are verified on every load, so a corrupted file stops a lab before any
training starts.
"""

from __future__ import annotations

import codecs
import gzip
import io
import pickle
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from practicum.data.store import DataFile, cached_arrays, fetch
from practicum.errors import PracticumError

# ---- the files ----------------------------------------------------------------------

_MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"  # the official files' mirror
_FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_IDX_NAMES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
_IDX_SHA256 = {
    "mnist": (
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    ),
    "fashion-mnist": (
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    ),
}
_IDX_URLS = {"mnist": _MNIST_URL, "fashion-mnist": _FASHION_URL}

#: The four idx files of each dataset, in the order train images, train labels, test
#: images, test labels.
IDX_FILES: dict[str, tuple[DataFile, ...]] = {
    name: tuple(
        DataFile(f"{name}/{fname}", _IDX_URLS[name] + fname, sha)
        for fname, sha in zip(_IDX_NAMES, shas, strict=True)
    )
    for name, shas in _IDX_SHA256.items()
}

CIFAR_ARCHIVES: dict[str, DataFile] = {
    "cifar10": DataFile(
        "cifar10/cifar-10-python.tar.gz",
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
    ),
    "cifar100": DataFile(
        "cifar100/cifar-100-python.tar.gz",
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7",
    ),
}
#: CIFAR-10 as a JPEG image-folder tree (quality ~75; not the official bytes, no public URL).
CIFAR10_JPEG = DataFile(
    "cifar10-jpeg/cifar10-jpeg.tar.gz",
    "",
    "0bfcb68717a0ecb0d51ed61034906a773d48d424d94b766a46d7d1c55702a4d9",
)

MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip


@dataclass(frozen=True)
class ImageData:
    """A labelled image dataset: uint8 images (N, H, W, C), int64 labels, class names."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: tuple[str, ...]
    source: str  # what the numbers were computed on, for summaries

    @property
    def num_classes(self) -> int:
        return len(self.classes)


# ---- idx (MNIST, Fashion-MNIST) --------------------------------------------------------

_IDX_DTYPES = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def parse_idx(data: bytes) -> np.ndarray:
    """Decode the idx format: 2 zero bytes, a type code, the number of dimensions, then
    each dimension as a big-endian uint32, then the values in C order."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise PracticumError("not an idx file: the first two bytes must be zero")
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        raise PracticumError(f"not an idx file: unknown type code 0x{code:02x}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise PracticumError("idx file truncated inside its header")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise PracticumError(f"idx file has {len(data)} bytes, its header promises {expected}")
    values = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="))  # native byte order, and a writable copy


def read_idx(path: Path) -> np.ndarray:
    raw = path.read_bytes()
    return parse_idx(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)


def load_mnist(
    name: str = "mnist",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x_train uint8 (60000, 28, 28), y_train int64, x_test uint8 (10000, 28, 28), y_test).

    ``name`` is ``"mnist"`` or ``"fashion-mnist"``. The test set is for the final report
    only: take a validation split from the training set with :func:`train_val_split`.
    """
    if name not in IDX_FILES:
        raise PracticumError(f"unknown idx dataset {name!r} (choose mnist or fashion-mnist)")
    paths = [fetch(f) for f in IDX_FILES[name]]  # verified on every load

    def build() -> dict[str, np.ndarray]:
        xtr, ytr, xte, yte = (read_idx(p) for p in paths)
        if xtr.shape[0] != ytr.shape[0] or xte.shape[0] != yte.shape[0]:
            raise PracticumError(f"{name}: image and label counts differ")
        return {"x_train": xtr, "y_train": ytr, "x_test": xte, "y_test": yte}

    arrays = cached_arrays(name, [f.sha256 for f in IDX_FILES[name]], build)
    return (
        torch.from_numpy(arrays["x_train"]),
        torch.from_numpy(arrays["y_train"].astype(np.int64)),
        torch.from_numpy(arrays["x_test"]),
        torch.from_numpy(arrays["y_test"].astype(np.int64)),
    )


def load_digits_uint8() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """scikit-learn's 1,797 8x8 digits as uint8 (0..255), in :func:`load_mnist`'s order:
    the first 1,397 for training, the last 400 for testing (a fixed split, whatever the seed).

    The labs' quick modes train on these: they ship with scikit-learn, so no download.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.from_numpy((digits.images * 255.0 / 16.0).round().astype(np.uint8))
    y = torch.from_numpy(digits.target.astype(np.int64))
    return x[:1397], y[:1397], x[1397:], y[1397:]


def load_digits_rgb() -> ImageData:
    """:func:`load_digits_uint8` as colour images (N, 8, 8, 3), the grey value in each
    channel: a tiny stand-in for CIFAR in quick modes."""
    x_train, y_train, x_test, y_test = load_digits_uint8()

    def rgb(x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(-1).expand(-1, -1, -1, 3).contiguous()

    return ImageData(
        rgb(x_train), y_train, rgb(x_test), y_test, MNIST_CLASSES, "scikit-learn 8x8 digits"
    )


# ---- archives --------------------------------------------------------------------------


@contextmanager
def extracted(archive: Path) -> Iterator[Path]:
    """Extract a tar archive into a temporary folder (deleted afterwards).

    ``filter="data"`` refuses absolute paths, ``..``, links out of the folder and device
    files, so a hostile archive cannot write outside the folder.
    """
    with tempfile.TemporaryDirectory(prefix="practicum-") as tmp:
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise PracticumError(f"cannot extract {archive}: {exc}") from None
        yield Path(tmp)


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild NumPy arrays and nothing else.

    A pickle can name any importable callable (``os.system``...) and have it called while
    loading; ``find_class`` is where those names are resolved, so refusing every name but
    the few an ndarray needs makes loading a CIFAR batch safe.
    """

    @staticmethod
    def _allowed() -> dict[tuple[str, str], object]:
        try:
            from numpy._core import multiarray  # NumPy >= 2
        except ImportError:  # pragma: no cover - NumPy 1.x
            from numpy.core import multiarray  # type: ignore[no-redef]
        reconstruct = multiarray._reconstruct
        return {
            ("numpy.core.multiarray", "_reconstruct"): reconstruct,  # how NumPy 1 names it
            ("numpy._core.multiarray", "_reconstruct"): reconstruct,  # how NumPy 2 names it
            ("numpy", "ndarray"): np.ndarray,
            ("numpy", "dtype"): np.dtype,
            # Python 3 writes bytes into a protocol-2 pickle as encode(text, "latin1"):
            # a pure function from str to bytes, so harmless.
            ("_codecs", "encode"): codecs.encode,
        }

    def find_class(self, module: str, name: str) -> object:
        allowed = self._allowed()
        if (module, name) not in allowed:
            raise PracticumError(
                f"refusing to unpickle {module}.{name}: only NumPy arrays are allowed "
                "in a dataset file (pickles can run code)"
            )
        return allowed[(module, name)]


def safe_unpickle(data: bytes) -> object:
    """Load a pickle that may only contain plain containers and NumPy arrays."""
    try:
        # CIFAR's pickles come from Python 2; encoding="bytes" keeps its str keys as bytes.
        return _ArrayUnpickler(io.BytesIO(data), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise PracticumError(f"cannot read a pickled batch: {exc}") from None


def _str_keys(d: object) -> dict[str, object]:
    if not isinstance(d, dict):
        raise PracticumError("a CIFAR batch must be a dict")
    return {(k.decode() if isinstance(k, bytes) else str(k)): v for k, v in d.items()}


def _cifar_batch(path: Path, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    batch = _str_keys(safe_unpickle(path.read_bytes()))
    data = np.asarray(batch["data"], dtype=np.uint8)
    labels = np.asarray(batch[label_key], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(labels) != len(data):
        raise PracticumError(f"{path.name}: not a CIFAR batch (data shape {data.shape})")
    # Each row holds the red plane, then green, then blue, each 32x32 in row order.
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy(), labels


def read_cifar_archive(archive: Path, name: str) -> dict[str, np.ndarray | list[str]]:
    """Decode an official CIFAR python archive (``cifar10`` or ``cifar100``, fine labels)."""
    with extracted(archive) as root:
        if name == "cifar10":
            base, label_key = root / "cifar-10-batches-py", "labels"
            train_files = [base / f"data_batch_{i}" for i in range(1, 6)]
            test_file, meta_file = base / "test_batch", base / "batches.meta"
            names_key = "label_names"
        elif name == "cifar100":
            base, label_key = root / "cifar-100-python", "fine_labels"
            train_files = [base / "train"]
            test_file, meta_file = base / "test", base / "meta"
            names_key = "fine_label_names"
        else:
            raise PracticumError(f"unknown CIFAR dataset {name!r} (cifar10 or cifar100)")
        missing = [p.name for p in [*train_files, test_file, meta_file] if not p.is_file()]
        if missing:
            raise PracticumError(f"{archive} is not the {name} python archive: no {missing[0]}")
        parts = [_cifar_batch(p, label_key) for p in train_files]
        x_test, y_test = _cifar_batch(test_file, label_key)
        meta = _str_keys(safe_unpickle(meta_file.read_bytes()))
    classes = [c.decode() if isinstance(c, bytes) else str(c) for c in meta[names_key]]
    return {
        "x_train": np.concatenate([x for x, _ in parts]),
        "y_train": np.concatenate([y for _, y in parts]),
        "x_test": x_test,
        "y_test": y_test,
        "classes": np.array(classes),
    }


def _as_image_data(arrays: dict[str, np.ndarray], source: str) -> ImageData:
    return ImageData(
        x_train=torch.from_numpy(np.ascontiguousarray(arrays["x_train"])),
        y_train=torch.from_numpy(arrays["y_train"].astype(np.int64)),
        x_test=torch.from_numpy(np.ascontiguousarray(arrays["x_test"])),
        y_test=torch.from_numpy(arrays["y_test"].astype(np.int64)),
        classes=tuple(str(c) for c in arrays["classes"]),
        source=source,
    )


def load_cifar(name: str = "cifar10", archive: str | Path | None = None) -> ImageData:
    """CIFAR-10 or CIFAR-100 from the official python archive.

    With ``archive`` the file at that path is read as is (your own copy, or a test
    fixture); otherwise the verified archive from the store.
    """
    if name not in CIFAR_ARCHIVES:
        raise PracticumError(f"unknown CIFAR dataset {name!r} (cifar10 or cifar100)")
    if archive is not None:
        path = Path(archive)
        if not path.is_file():
            raise PracticumError(f"no such archive: {path}")
        source = f"{name} archive {path.name}"
    else:
        path = fetch(CIFAR_ARCHIVES[name])
        source = f"{name} official python archive"
    digest = _file_sha256(path) if archive is not None else CIFAR_ARCHIVES[name].sha256
    arrays = cached_arrays(name, [digest], lambda: read_cifar_archive(path, name))
    return _as_image_data(arrays, source)


def load_cifar10_jpeg() -> ImageData:
    """CIFAR-10 from the JPEG image-folder copy (not the official bytes)."""
    path = fetch(CIFAR10_JPEG)
    arrays = cached_arrays("cifar10-jpeg", [CIFAR10_JPEG.sha256], lambda: read_image_folder(path))
    return _as_image_data(arrays, "cifar10 JPEG image-folder copy (quality ~75)")


def _file_sha256(path: Path) -> str:
    from practicum.data.store import sha256_of

    return sha256_of(path)


# ---- image folders ---------------------------------------------------------------------

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}


def _find_root(folder: Path) -> Path:
    """The folder holding ``train/`` and ``test/``: ``folder`` itself or its only child."""
    if (folder / "train").is_dir():
        return folder
    children = [p for p in folder.iterdir() if p.is_dir()]
    if len(children) == 1 and (children[0] / "train").is_dir():
        return children[0]
    raise PracticumError(f"{folder} has no train/<class>/ folders")


def _read_split(split: Path, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    images, labels = [], []
    for label, cls in enumerate(classes):
        files = sorted(p for p in (split / cls).iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
        for p in files:
            with Image.open(p) as img:
                images.append(np.asarray(img.convert("RGB") if img.mode != "L" else img))
            labels.append(label)
    if not images:
        raise PracticumError(f"{split} holds no images")
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise PracticumError(f"{split}: images differ in size ({sorted(shapes)[:3]}...)")
    x = np.stack(images)
    return (x[..., None] if x.ndim == 3 else x), np.array(labels, dtype=np.int64)


def read_image_folder(path: Path) -> dict[str, np.ndarray]:
    """Decode ``train/<class>/*`` and ``test/<class>/*`` from a folder or a tar(.gz) of one."""
    path = Path(path)
    if path.is_file():
        with extracted(path) as tmp:
            return read_image_folder(tmp)
    root = _find_root(path)
    classes = sorted(p.name for p in (root / "train").iterdir() if p.is_dir())
    test_dir = root / "test"
    test_classes = (
        sorted(p.name for p in test_dir.iterdir() if p.is_dir()) if test_dir.is_dir() else []
    )
    if test_classes != classes:
        raise PracticumError(f"{root}: test/ must hold the same class folders as train/")
    x_train, y_train = _read_split(root / "train", classes)
    x_test, y_test = _read_split(root / "test", classes)
    return {
        "x_train": x_train,
        "y_train": y_train,
        "x_test": x_test,
        "y_test": y_test,
        "classes": np.array(classes),
    }


def load_image_folder(path: str | Path) -> ImageData:
    """Your own images: ``train/<class>/*.png|jpg`` and ``test/<class>/...``, as a folder or
    a ``.tar.gz`` of one. Class indices follow the sorted folder names."""
    path = Path(path)
    if not path.exists():
        raise PracticumError(f"no such image folder or archive: {path}")
    if path.is_file():  # an archive: cache its decoded arrays under its checksum
        arrays = cached_arrays("folder", [_file_sha256(path)], lambda: read_image_folder(path))
    else:  # a folder may change at any time: decode it every time
        arrays = read_image_folder(path)
    return _as_image_data(arrays, f"image folder {path.name}")
