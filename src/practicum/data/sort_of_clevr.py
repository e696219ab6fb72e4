"""Sort-of-CLEVR (Santoro et al. 2017, "A simple neural network module for relational
reasoning", Sec. 4): generated scenes of six coloured shapes and questions about them.

A scene has one object of each of six colours (red, green, blue, orange, grey, yellow), each
a circle or a square of half-width ``radius`` pixels centred at an integer pixel, no two
within ``2 * radius + 2`` pixels of each other in either direction (their bounding boxes do
not touch), on a white ``size`` × ``size`` RGB image. Santoro et al. draw 75 × 75 images with
objects of half-width 5; the size here is a parameter.

Every object is asked about with each of six question types, so an image carries 36
questions (Santoro et al.: 10 relational and 10 non-relational, drawn at random):

* non-relational: the object's ``shape``; its ``horizontal`` side (left if its centre's
  column is below ``size / 2``); its ``vertical`` side (top if its row is below ``size / 2``);
* relational: the shape of the ``nearest`` and of the ``farthest`` other object (Euclidean
  distance between centres); the ``count`` of objects with the subject's shape, itself
  included (1-6).

A question is a vector: one-hot colour of the subject (6) then one-hot type (6); Santoro et
al. encode the type as 2 + 3 bits (relational or not, then the subtype), which carries the
same information. Answers are indices into :data:`ANSWERS` (12 classes: two shapes, two
horizontal and two vertical sides, six counts; Santoro et al. fold the sides into yes/no).
Scenes whose nearest or farthest object is tied for some subject are redrawn, so every
answer is unique.

Generation is seeded and prefix-stable (the first k scenes of ``generate(n, seed)`` do not
depend on n), and cached as an ``.npz`` under ``$XDG_CACHE_HOME/practicum/decoded``, keyed
by the parameters and by the SHA-256 of this file: any change to the recipe regenerates.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from practicum.data.store import cached_arrays

COLOURS: tuple[str, ...] = ("red", "green", "blue", "orange", "grey", "yellow")
RGB: dict[str, tuple[int, int, int]] = {
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "blue": (0, 0, 255),
    "orange": (255, 156, 0),
    "grey": (128, 128, 128),
    "yellow": (255, 255, 0),
}
BACKGROUND = (255, 255, 255)
SHAPES: tuple[str, ...] = ("circle", "square")
QUESTION_TYPES: tuple[str, ...] = (
    "shape",
    "horizontal",
    "vertical",
    "nearest",
    "farthest",
    "count",
)
RELATIONAL: tuple[bool, ...] = (False, False, False, True, True, True)
ANSWERS: tuple[str, ...] = (
    *SHAPES,
    "left",
    "right",
    "top",
    "bottom",
    *(str(k) for k in range(1, len(COLOURS) + 1)),
)
QUESTION_SIZE = len(COLOURS) + len(QUESTION_TYPES)
_LEFT, _TOP, _ONE = ANSWERS.index("left"), ANSWERS.index("top"), ANSWERS.index("1")


@dataclass(frozen=True)
class Scenes:
    """``images`` (n, size, size, 3) uint8; ``centres`` (n, 6, 2) int64 (row, column) and
    ``shapes`` (n, 6) int64 (index into :data:`SHAPES`) of object k, whose colour is k."""

    images: np.ndarray
    centres: np.ndarray
    shapes: np.ndarray
    radius: int

    @property
    def size(self) -> int:
        return int(self.images.shape[1])

    def __len__(self) -> int:
        return int(self.images.shape[0])


@dataclass(frozen=True)
class Questions:
    """Parallel (m,) int64 arrays: the image each question is about, the subject's colour,
    the question type (index into :data:`QUESTION_TYPES`) and the answer (into ANSWERS)."""

    image: np.ndarray
    colour: np.ndarray
    kind: np.ndarray
    answer: np.ndarray

    def __len__(self) -> int:
        return int(self.image.shape[0])


def shape_mask(shape: str, radius: int) -> np.ndarray:
    """(2r+1, 2r+1) bool footprint: the full square, or the pixels within r + 1/2 of the
    centre (a disc that stays round at small radii and leaves the square's corners empty)."""
    d = np.arange(-radius, radius + 1)
    if shape == "square":
        return np.ones((d.size, d.size), dtype=bool)
    return d[:, None] ** 2 + d[None, :] ** 2 <= (radius + 0.5) ** 2


def _has_ties(centres: list[tuple[int, int]]) -> bool:
    """Whether some object's nearest or farthest other object is not unique."""
    for k, (r, c) in enumerate(centres):
        d2 = [(r - r2) ** 2 + (c - c2) ** 2 for j, (r2, c2) in enumerate(centres) if j != k]
        if d2.count(min(d2)) > 1 or d2.count(max(d2)) > 1:
            return True
    return False


def _place(rng: np.random.Generator, size: int, radius: int, objects: int) -> np.ndarray:
    """Centres placed one at a time, each candidate taken if clear of the ones before."""
    gap = 2 * radius + 2  # Chebyshev distance at which two bounding boxes do not touch
    while True:
        # Candidates in one draw (plain ints: a NumPy call per candidate is 10x slower); a
        # crowded start that uses them all up is abandoned rather than forced.
        candidates = rng.integers(radius, size - radius, size=(50 * objects, 2)).tolist()
        centres: list[tuple[int, int]] = []
        for r, c in candidates:
            if all(max(abs(r - r2), abs(c - c2)) >= gap for r2, c2 in centres):
                centres.append((r, c))
                if len(centres) == objects:
                    break
        if len(centres) == objects and not _has_ties(centres):
            return np.array(centres, dtype=np.int64)
        # start the scene over: too crowded, or a tie in some nearest/farthest question


def generate(n: int, seed: int, size: int = 32, radius: int = 3) -> Scenes:
    """``n`` scenes drawn from ``seed`` and rendered (not cached; see :func:`load`)."""
    if size < 4 * (2 * radius + 2):
        raise ValueError(f"a {size}-pixel image is too small for six objects of radius {radius}")
    rng = np.random.default_rng(seed)
    objects = len(COLOURS)
    centres = np.zeros((n, objects, 2), dtype=np.int64)
    shapes = np.zeros((n, objects), dtype=np.int64)
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    images[:] = BACKGROUND
    masks = [shape_mask(s, radius) for s in SHAPES]
    for i in range(n):
        shapes[i] = rng.integers(0, len(SHAPES), size=objects)
        centres[i] = _place(rng, size, radius, objects)
        for k, colour in enumerate(COLOURS):
            (r, c), mask = centres[i, k], masks[shapes[i, k]]
            patch = images[i, r - radius : r + radius + 1, c - radius : c + radius + 1]
            patch[mask] = RGB[colour]
    return Scenes(images, centres, shapes, radius)


def recipe_digest() -> str:
    """SHA-256 of this module's source: the cache key's part that changes with the recipe."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def load(n: int, seed: int, size: int = 32, radius: int = 3) -> Scenes:
    """:func:`generate`, read from the cache when these parameters and this recipe were
    generated before."""
    params = json.dumps({"n": n, "seed": seed, "size": size, "radius": radius}, sort_keys=True)

    def build() -> dict[str, np.ndarray]:
        s = generate(n, seed, size, radius)
        return {"images": s.images, "centres": s.centres, "shapes": s.shapes}

    arrays = cached_arrays("sort-of-clevr", [recipe_digest(), params], build)
    return Scenes(arrays["images"], arrays["centres"], arrays["shapes"], radius)


def answers(scenes: Scenes, image: np.ndarray, colour: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """The answer index of each question (image, subject colour, type), vectorised."""
    centres = scenes.centres[image].astype(np.float64)  # (m, 6, 2)
    shapes = scenes.shapes[image]  # (m, 6)
    rows = np.arange(len(image))
    subject = centres[rows, colour]  # (m, 2)
    d2 = ((centres - subject[:, None, :]) ** 2).sum(-1)
    d2_near = d2.copy()
    d2_near[rows, colour] = np.inf  # the subject is not its own nearest object
    d2_far = d2.copy()
    d2_far[rows, colour] = -np.inf
    own = shapes[rows, colour]
    half = scenes.size / 2
    by_kind = np.stack(
        [
            own,
            np.where(subject[:, 1] < half, _LEFT, _LEFT + 1),
            np.where(subject[:, 0] < half, _TOP, _TOP + 1),
            shapes[rows, d2_near.argmin(1)],
            shapes[rows, d2_far.argmax(1)],
            _ONE - 1 + (shapes == own[:, None]).sum(1),
        ]
    )
    return by_kind[kind, rows].astype(np.int64)


def all_questions(scenes: Scenes) -> Questions:
    """Every (colour, type) question about every image, image-major: 36 per image."""
    n, c, t = len(scenes), len(COLOURS), len(QUESTION_TYPES)
    image = np.repeat(np.arange(n), c * t)
    colour = np.tile(np.repeat(np.arange(c), t), n)
    kind = np.tile(np.arange(t), n * c)
    return Questions(image, colour, kind, answers(scenes, image, colour, kind))


def encode(colour: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """(m, 12) float32 question vectors: one-hot colour, then one-hot type."""
    out = np.zeros((len(colour), QUESTION_SIZE), dtype=np.float32)
    rows = np.arange(len(colour))
    out[rows, colour] = 1.0
    out[rows, len(COLOURS) + kind] = 1.0
    return out
