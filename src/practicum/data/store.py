"""Where dataset files come from: a local folder, the cache, or a verified download.

Every file the project reads is a :class:`DataFile`: a path relative to a dataset root
(laid out as in ``../shared/datasets``, e.g. ``mnist/train-images-idx3-ubyte.gz``), the
canonical URL it is published at, and its SHA-256. :func:`fetch` looks in this order:

1. ``$PRACTICUM_DATA/<relpath>`` (a folder of raw files you already have),
2. the cache, ``$XDG_CACHE_HOME/practicum/<relpath>`` (default ``~/.cache/practicum``),
3. a download from the URL into the cache, hashed while it streams and moved into place
   with an atomic rename only once its checksum matches.

A file whose checksum does not match is never used: the error names it, both checksums
and what to do. Every fetch hashes the file again (SHA-256 runs at over 500 MB/s here, so
the 60 MB of MNIST cost ~0.1 s): a memo keyed on size and mtime would save little and could
be fooled by an edit that keeps both.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from practicum.errors import PracticumError
from practicum.io import atomic_write

_CHUNK = 1 << 20


@dataclass(frozen=True)
class DataFile:
    """One raw dataset file: where it lives under a data root, where to get it, its SHA-256."""

    relpath: str  # e.g. "mnist/train-images-idx3-ubyte.gz"
    url: str  # canonical download URL ("" if it cannot be downloaded)
    sha256: str

    @property
    def name(self) -> str:
        return Path(self.relpath).name


def data_dir() -> Path | None:
    """``$PRACTICUM_DATA`` as a path, or None if it is not set."""
    value = os.environ.get("PRACTICUM_DATA", "").strip()
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/practicum``, or ``~/.cache/practicum``."""
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    root = Path(base).expanduser() if base else Path.home() / ".cache"
    return root / "practicum"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def verify(path: Path, f: DataFile) -> Path:
    """Return ``path`` if its SHA-256 is ``f.sha256``; otherwise raise PracticumError."""
    actual = sha256_of(path)
    if actual != f.sha256:
        raise PracticumError(
            f"checksum mismatch for {path}: expected sha256 {f.sha256}, got {actual}; "
            f"the file is corrupt or not the published {f.relpath}: delete it and download "
            f"it again{f' from {f.url}' if f.url else ''}"
        )
    return path


def find_local(f: DataFile) -> Path | None:
    """Where ``f`` would be found without downloading (not yet verified), or None."""
    root = data_dir()
    for path in ([root / f.relpath] if root is not None else []) + [cache_dir() / f.relpath]:
        if path.is_file():
            return path
    return None


def fetch(f: DataFile, progress: bool = True) -> Path:
    """The verified local path of ``f``: from ``$PRACTICUM_DATA``, the cache, or a download."""
    root = data_dir()
    if root is not None and (root / f.relpath).is_file():
        return verify(root / f.relpath, f)
    cached = cache_dir() / f.relpath
    if cached.is_file():
        return verify(cached, f)
    return _download(f, cached, progress)


def _missing_message(f: DataFile, cached: Path, reason: str) -> str:
    root = data_dir()
    where = f"$PRACTICUM_DATA/{f.relpath} (PRACTICUM_DATA={root})" if root else cached
    hint = "" if root else f" or set PRACTICUM_DATA to a folder holding {f.relpath}"
    source = f" (published at {f.url})" if f.url else ""
    return f"dataset file {f.relpath}{source} is not available: {reason}; put it at {where}{hint}"


def _download(f: DataFile, dest: Path, progress: bool) -> Path:
    if not f.url:
        raise PracticumError(_missing_message(f, dest, "it has no download URL"))
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    h = hashlib.sha256()
    try:
        request = urllib.request.Request(f.url, headers={"User-Agent": "practicum"})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=30) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            bar = None
            if progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=total, unit="B", unit_scale=True, desc=f.name, leave=False)
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                h.update(chunk)
                if bar is not None:
                    bar.update(len(chunk))
            if bar is not None:
                bar.close()
            out.flush()
            os.fsync(out.fileno())
        actual = h.hexdigest()
        if actual != f.sha256:
            raise PracticumError(
                f"checksum mismatch for {f.relpath} downloaded from {f.url}: expected sha256 "
                f"{f.sha256}, got {actual}; the download was discarded: try again, or fetch "
                f"the file by hand and put it at {dest}"
            )
        os.replace(tmp, dest)  # only a verified file ever appears under its real name
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise PracticumError(_missing_message(f, dest, f"download failed ({reason})")) from None
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def cached_arrays(
    key: str, source_hashes: list[str], build: Callable[[], dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """``build()`` once; later calls read ``<cache>/decoded/<key>-<hash>.npz`` instead. The
    hash is of ``source_hashes`` (the checksums of the raw files, or of a generator's recipe
    and parameters), so a change of source means a new entry, never a stale one."""
    digest = hashlib.sha256("".join(source_hashes).encode()).hexdigest()[:16]
    path = cache_dir() / "decoded" / f"{key}-{digest}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as npz:
                return {k: npz[k] for k in npz.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError):
            pass  # a damaged cache entry is rebuilt from the verified sources
    arrays = build()
    with contextlib.suppress(OSError):  # a read-only cache only means decoding again
        atomic_write(path, lambda f: np.savez(f, **arrays))
    return arrays
