"""Atomic file writes: write to a temporary file in the same folder, then rename.

A reader never sees a half-written file, and an interrupted write leaves the old file
(or nothing) in place.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def atomic_write(path: str | Path, write: Callable[[Any], None], mode: str = "wb") -> Path:
    """Call ``write(file)`` on a temporary file next to ``path``, fsync it, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def _jsonable(value: Any) -> Any:
    """Plain JSON types: NumPy/torch scalars become Python numbers, NaN becomes None."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def to_json(value: Any) -> str:
    return json.dumps(_jsonable(value), indent=2, sort_keys=False, allow_nan=False) + "\n"


def atomic_write_json(path: str | Path, value: Any) -> Path:
    return atomic_write_text(path, to_json(value))


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def out_folder(out: str | Path, hint: str) -> tuple[Path, list[str] | None]:
    """Where an ``--out`` option points, checked before anything is written: ``(path, names)``
    of an existing folder's entries (sorted), or ``(path, None)`` when the folder does not exist
    yet and can be created. An empty name, a file, a folder that cannot be read or written and a
    place that cannot be created (under a file, /proc, a read-only disk) are one-line
    PracticumErrors; ``hint`` ends the empty-name message ("(default report/)")."""
    from practicum.errors import PracticumError

    if not str(out).strip():
        raise PracticumError(f"--out is empty; name a new or empty folder {hint}")
    path = Path(out)
    if path.exists():
        if not path.is_dir():
            raise PracticumError(f"--out {path} is a file; name a new or empty folder")
        try:
            entries = sorted(p.name for p in path.iterdir())
        except OSError as exc:
            raise PracticumError(f"--out {path} cannot be read: {exc.strerror}") from None
        if not os.access(path, os.W_OK | os.X_OK):
            raise PracticumError(f"--out {path} cannot be written: no permission")
        return path, entries
    top = path.absolute()  # the outermost folder that --out would create
    while not top.parent.exists():
        top = top.parent
    if not top.parent.is_dir():
        raise PracticumError(f"--out {path} cannot be created: {top.parent} is a file")
    try:  # only trying tells (/proc, a read-only disk, permissions); the probe leaves nothing
        top.mkdir()
        top.rmdir()
    except OSError as exc:
        raise PracticumError(f"--out {path} cannot be created: {exc.strerror}") from None
    return path, None
