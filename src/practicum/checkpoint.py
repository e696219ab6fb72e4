"""Checkpoints that resume a run exactly: model, optimiser, scheduler, every RNG state, position.

A checkpoint is one ``torch.save`` file ``checkpoints/step-00000123.pt`` written atomically; the
newest two are kept. Loading uses ``weights_only=True``, so a checkpoint can never execute code:
everything in it is tensors and plain Python data (RNG states included, converted to lists).
A truncated or corrupt newest file is skipped (and reported) and the previous one is used.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from practicum.io import atomic_write

_NAME = re.compile(r"^step-(\d{8,})\.pt$")
PLAIN = (int, float, str, bool, list, tuple, dict, type(None))


def global_rng_state() -> dict[str, Any]:
    """Python's, NumPy's legacy and torch's global generator states, as plain data."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002
    return {
        "python": random.getstate(),
        "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_global_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))  # noqa: NPY002
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def state_of(obj: Any) -> Any:
    """The saveable state of a module, optimiser, scheduler, generator, array or plain value.

    NumPy arrays, also those inside an object's ``state_dict()`` or a plain list or dict
    (the NumPy engine's modules and optimisers), are stored as tensors: ``weights_only``
    loading accepts tensors, not pickled arrays. :func:`load_into` turns them back.
    """
    if isinstance(obj, np.random.Generator):
        return {"__numpy_generator__": obj.bit_generator.state}
    if isinstance(obj, torch.Generator):
        return {"__torch_generator__": obj.get_state()}
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().clone()
    if hasattr(obj, "state_dict"):
        return _encode(obj.state_dict())
    if isinstance(obj, (np.ndarray, *PLAIN)):
        return _encode(obj)
    raise TypeError(f"cannot checkpoint an object of type {type(obj).__name__}")


def load_into(obj: Any, state: Any) -> Any:
    """Put ``state`` back into ``obj`` in place where ``obj`` can hold it; returns the value.

    Immutable plain values (numbers, strings, tuples, None) cannot be changed in place:
    the caller takes the returned value.
    """
    if isinstance(obj, np.random.Generator):
        obj.bit_generator.state = state["__numpy_generator__"]
        return state
    if isinstance(obj, torch.Generator):
        obj.set_state(state["__torch_generator__"])
        return state
    if isinstance(obj, torch.Tensor):
        with torch.no_grad():
            obj.copy_(state)
        return state
    value = _decode(state)
    if isinstance(obj, np.ndarray):
        obj[...] = value
    elif hasattr(obj, "load_state_dict"):
        obj.load_state_dict(value)
    elif isinstance(obj, list):
        obj[:] = value
    elif isinstance(obj, dict):
        obj.clear()
        obj.update(value)
    elif not isinstance(obj, PLAIN):
        raise TypeError(f"cannot restore an object of type {type(obj).__name__}")
    return value


_ARRAY = "__numpy_array__"


def _encode(value: Any) -> Any:
    """``value`` with every NumPy array in it (in lists, tuples, dicts) stored as a tensor.

    Containers without arrays come back as the same objects, so a torch state dict keeps
    its type and metadata.
    """

    def leaf(v: Any) -> Any:
        if isinstance(v, np.ndarray):
            return {_ARRAY: torch.from_numpy(np.ascontiguousarray(v).copy())}
        return v

    return _rebuild(value, leaf)


def _decode(value: Any) -> Any:
    """The inverse of :func:`_encode`: the stored tensors become NumPy arrays again."""

    def leaf(v: Any) -> Any:
        if isinstance(v, dict) and set(v) == {_ARRAY}:
            return v[_ARRAY].numpy()
        return v

    return _rebuild(value, leaf)


def _rebuild(value: Any, leaf: Any) -> Any:
    """``value`` with ``leaf`` applied to it and, where it returns its argument unchanged,
    inside its dicts, lists and tuples; a container whose items all come back unchanged is
    returned itself, not a copy."""
    out = leaf(value)
    if out is not value:
        return out
    if isinstance(value, dict):
        items = {k: _rebuild(v, leaf) for k, v in value.items()}
        return value if all(items[k] is value[k] for k in value) else items
    if isinstance(value, list | tuple):
        rebuilt = [_rebuild(v, leaf) for v in value]
        if all(a is b for a, b in zip(rebuilt, value, strict=True)):
            return value
        return rebuilt if isinstance(value, list) else tuple(rebuilt)
    return value


def checkpoint_files(folder: Path) -> list[Path]:
    """Checkpoint files, oldest first."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if _NAME.match(p.name))


def save(folder: Path, step: int, payload: dict[str, Any], keep: int = 2) -> Path:
    path = folder / f"step-{step:08d}.pt"
    atomic_write(path, lambda f: torch.save(payload, f))
    for old in checkpoint_files(folder)[:-keep]:
        old.unlink(missing_ok=True)
    return path


@dataclass
class Latest:
    """What :func:`load_latest` found: the newest checkpoint that loads (``path`` and
    ``payload``, both None when none does) and the newer ones that did not, with why."""

    path: Path | None = None
    payload: dict[str, Any] | None = None
    unreadable: list[tuple[Path, str]] = field(default_factory=list)


def load_latest(folder: Path) -> Latest:
    """The newest checkpoint that loads; the newer, corrupt ones are listed, not raised."""
    latest = Latest()
    for path in reversed(checkpoint_files(folder)):
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
            if not isinstance(payload, dict) or "step" not in payload:
                raise ValueError("not a practicum checkpoint")
        except Exception as exc:  # a truncated zip, a bad pickle, ...: any failure means unusable
            latest.unreadable.append((path, type(exc).__name__))
            continue
        latest.path, latest.payload = path, payload
        break
    return latest
