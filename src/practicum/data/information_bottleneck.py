"""The 12-bit task of Shwartz-Ziv & Tishby 2017 (``var_u.mat``), and a generated stand-in.

The authors' file (their IDNNs repository, ``data/var_u.mat``, MATLAB v5) holds ``F``, all
4,096 patterns of 12 binary inputs (uint8, 4096 × 12), and ``y``, one binary label for each
(uint8, 1 × 4096; 51.7 % ones). It is read from ``$PRACTICUM_DATA/information-bottleneck/``,
the cache, or downloaded from the authors' repository, and checked against its SHA-256
(:mod:`practicum.data.store`). Its licence does not allow us to redistribute it, so tests and
quick runs use :func:`standin_task`: the same 4,096 patterns, labelled by a fixed seeded rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from practicum.data.store import DataFile, fetch
from practicum.errors import PracticumError

VAR_U = DataFile(
    relpath="information-bottleneck/var_u.mat",
    url="https://github.com/ravidziv/IDNNs/raw/master/data/var_u.mat",
    sha256="0ba9551878a855396a8de0cbaae620788ede1e7b1eb2b8373bbe017d5ea02036",
)
BITS = 12


@dataclass(frozen=True)
class BitTask:
    """Inputs ``x`` (N, 12) float32 of 0/1, labels ``y`` (N,) int64 of 0/1, and the source."""

    x: np.ndarray
    y: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.y)


def load_var_u(progress: bool = True) -> BitTask:
    """The authors' 12-bit task, verified (a wrong or damaged file: PracticumError)."""
    path = fetch(VAR_U, progress=progress)
    from scipy.io import loadmat

    try:
        mat = loadmat(str(path))
        x = np.asarray(mat["F"])
        y = np.asarray(mat["y"]).reshape(-1)
    except Exception as exc:  # noqa: BLE001 -- any unreadable file is the user's to replace
        raise PracticumError(f"{path} is not a readable MATLAB file with F and y ({exc})") from None
    if x.shape != (2**BITS, BITS) or y.shape != (2**BITS,):
        raise PracticumError(f"{path}: expected F 4096 × 12 and y 4096, got {x.shape}, {y.shape}")
    return BitTask(x.astype(np.float32), y.astype(np.int64), "var_u.mat (Shwartz-Ziv & Tishby)")


def all_patterns(bits: int = BITS) -> np.ndarray:
    """Every pattern of ``bits`` binary inputs, in counting order (row k is k in binary,
    most significant bit first, as in ``var_u.mat``): (2^bits, bits) uint8."""
    k = np.arange(2**bits)[:, None]
    return ((k >> np.arange(bits - 1, -1, -1)) & 1).astype(np.uint8)


def standin_task(seed: int = 0, bits: int = BITS) -> BitTask:
    """A generated task of the same shape: every pattern of ``bits`` inputs, labelled 1 where
    a seeded random quadratic function of the ±1 inputs exceeds its median (half ones, a
    rule a small network can learn, like the paper's thresholded symmetric function)."""
    rng = np.random.default_rng(seed)
    x = all_patterns(bits).astype(np.float64)
    s = 2.0 * x - 1.0
    w = rng.normal(size=bits)
    q = rng.normal(size=(bits, bits)) / bits
    score = s @ w + np.einsum("ni,ij,nj->n", s, q, s)
    y = (score > np.median(score)).astype(np.int64)
    return BitTask(x.astype(np.float32), y, f"generated stand-in (seed {seed})")
