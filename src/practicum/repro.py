"""Determinism: seed every random number generator and make kernels deterministic.

Two runs of a lab with the same seed, on the same machine and thread count, give
bit-identical metrics and parameters. ``seed_everything`` is called by the runner
before a lab starts; labs draw their own generators from the seed they are given.
"""

from __future__ import annotations

import hashlib
import os
import platform
import random
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch


def sub_seed(*parts: int) -> int:
    """A seed for one stream of a run (a repeat's initialisation, its batch order, one job),
    from the run's seed and the stream's coordinates: NumPy's SeedSequence hashes them, so
    neighbouring coordinates give unrelated streams, and a resumed run that skips some jobs
    still draws each job's numbers from the same seed. ``sub_seed(run_seed, repeat, what)``."""
    return int(np.random.SeedSequence(list(parts)).generate_state(1)[0])


def seed_everything(seed: int, deterministic: bool = True) -> dict[str, Any]:
    """Seed Python, NumPy and torch; turn on deterministic algorithms. Returns the settings."""
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 -- for third-party code that uses the global RNG
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic:
        # cuBLAS needs a fixed workspace to be deterministic; harmless on CPU.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=False)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    return {
        "seed": seed,
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "num_threads": torch.get_num_threads(),
    }


def _tensor_items(params: Any) -> Iterable[tuple[str, np.ndarray]]:
    """Yield (name, array) pairs from a module, a state dict, a mapping of arrays or a list."""
    if isinstance(params, torch.nn.Module):
        params = params.state_dict()
    if isinstance(params, Mapping):
        for name in sorted(params):
            value = params[name]
            if isinstance(value, torch.Tensor | np.ndarray) or hasattr(value, "data"):
                yield from ((f"{name}{sub}", arr) for sub, arr in _tensor_items_one(value))
            else:
                for sub, arr in _tensor_items(value):
                    yield f"{name}.{sub}", arr
    elif isinstance(params, list | tuple):
        for i, value in enumerate(params):
            for sub, arr in _tensor_items({str(i): value}):
                yield sub, arr
    else:
        yield from _tensor_items_one(params)


def _tensor_items_one(value: Any) -> Iterable[tuple[str, np.ndarray]]:
    if isinstance(value, torch.Tensor):
        yield "", value.detach().cpu().contiguous().numpy()
    elif isinstance(value, np.ndarray):
        yield "", np.ascontiguousarray(value)
    elif hasattr(value, "data") and isinstance(value.data, np.ndarray):
        yield "", np.ascontiguousarray(value.data)  # an autodiff Tensor
    else:
        raise TypeError(f"cannot hash parameters of type {type(value).__name__}")


def param_hash(params: Any) -> str:
    """SHA-256 over names, dtypes, shapes and bytes of all parameters (sorted by name).

    Accepts a ``torch.nn.Module``, a state dict, a mapping of NumPy arrays or autodiff
    tensors, or a list/mapping of those (several models in one lab).
    """
    h = hashlib.sha256()
    for name, arr in _tensor_items(params):
        h.update(name.encode())
        h.update(str(arr.dtype).encode())
        h.update(str(arr.shape).encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def git_commit(cwd: Path | None = None) -> str | None:
    """The current git commit of the project, or None outside a clone.

    ``+dirty`` is appended when tracked files differ from that commit (staged or not), so the
    commit alone would not reproduce the run. Untracked files (run folders, scratch notes) do
    not count: the code that ran is all tracked. ``practicum record`` refuses ``+dirty`` runs.
    """
    cwd = cwd or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def cpu_name() -> str:
    """The CPU model (``/proc/cpuinfo``'s model name): results are bit-identical per machine."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(device: str = "cpu") -> dict[str, Any]:
    """What a run needs to be reproduced: versions, commit, CPU, threads, device."""
    env: dict[str, Any] = {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "num_threads": torch.get_num_threads(),
        "device": device,
        "git_commit": git_commit(),
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        env["cuda"] = torch.version.cuda
        env["gpu"] = torch.cuda.get_device_name()
    return env
