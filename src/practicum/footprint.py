"""Rough memory estimates of a run, and the check that refuses one this machine cannot hold.

A lab whose sizes multiply (widths × depth, batch × image size) declares
``Lab.footprint(config) -> bytes``; :func:`practicum.lab.make_config` compares that estimate
with the memory the kernel says is available and refuses a run that cannot fit, in one line,
before anything is written. The estimates only have to be right to within a small factor:
they are there to stop a width of 10⁶ from being killed by the kernel without a message, not
to plan a run. ``PRACTICUM_ALLOW_LARGE=1`` skips the check (a bigger machine, swap, or an
estimate that is too cautious).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from practicum.errors import PracticumError

ALLOW_LARGE = "PRACTICUM_ALLOW_LARGE"
FLOAT_BYTES = 4  # float32 everywhere the labs train
MNIST_VALUES = 70_000 * 28 * 28  # MNIST's pixels, held as floats for a whole run


def available_memory(meminfo: str | Path = "/proc/meminfo") -> int | None:
    """Bytes the kernel can give a new process without swapping (``MemAvailable``), or None
    where that is unknown (not Linux)."""
    try:
        text = Path(meminfo).read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024  # the kernel writes kB
    return None


def mlp_parameters(sizes: Sequence[int]) -> int:
    """Weights and biases of fully connected layers ``sizes[0] -> sizes[1] -> ...``."""
    return sum((a + 1) * b for a, b in zip(sizes, sizes[1:], strict=False))


def training_bytes(parameters: int, activations: int, data: int = 0) -> int:
    """Peak bytes of training in float32: each parameter four times (value, gradient and
    Adam's two moments), each activation twice (kept for backward, and its gradient), plus
    ``data`` values held for the whole run (images, coordinates, a replay buffer)."""
    return FLOAT_BYTES * (4 * parameters + 2 * activations + data)


def encoder_decoder_bytes(
    inputs: int, hidden: Sequence[int], code: int, rows: int, networks: int = 1
) -> int:
    """``networks`` pairs of an MLP encoder ``inputs -> hidden -> code`` and its mirrored
    decoder, trained on ``rows`` rows at a time, with MNIST in memory."""
    sizes = [inputs, *hidden, code]
    pair = training_bytes(2 * mlp_parameters(sizes), 2 * rows * sum(sizes))
    return networks * pair + training_bytes(0, 0, data=MNIST_VALUES)


def conv_stack_bytes(
    side: int,
    in_channels: int,
    depths: Sequence[int],
    batch: int,
    *,
    pools: Sequence[bool] = (),
    before_pool: int = 3,
    after_pool: int = 1,
    extra_convs: int = 0,
    data: int = 0,
) -> int:
    """Stages of 3x3 convolutions with ``depths[i]`` channels on a ``side``² map that halves
    in each stage (or where ``pools`` says). A stage keeps ``before_pool`` maps for backward
    at its input's size (convolution, normalisation, activation) and ``after_pool`` at the
    pooled size; ``extra_convs`` more convolutions of ``depth`` channels (residual blocks)."""
    parameters, activations, previous = 0, 0, in_channels
    for i, depth in enumerate(depths):
        parameters += 9 * depth * (previous + extra_convs * depth)
        pooled = max(1, side // 2) if i >= len(pools) or pools[i] else side
        activations += batch * depth * (before_pool * side * side + after_pool * pooled * pooled)
        side, previous = pooled, depth
    return training_bytes(parameters, activations, data)


def size_text(n: float) -> str:
    """``3.2 GB``: bytes in decimal units, as the kernel's free memory is usually quoted."""
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def allowed_large() -> bool:
    return os.environ.get(ALLOW_LARGE, "").strip().lower() in ("1", "true", "yes", "on")


def check_fits(lab: str, estimate: int, available: int | None) -> None:
    """PracticumError, one line, when ``estimate`` bytes exceed what is ``available``."""
    if available is None or estimate <= available or allowed_large():
        return
    raise PracticumError(
        f"lab {lab}: this config needs about {size_text(estimate)} of memory and "
        f"{size_text(available)} is available; choose smaller sizes, or set "
        f"{ALLOW_LARGE}=1 to run it anyway"
    )
