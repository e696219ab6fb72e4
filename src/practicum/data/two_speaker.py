"""A two-speaker mixture corpus in the manner of wsj0-2mix (Hershey et al. 2016), spoken by
synthesisers.

wsj0-2mix mixes two utterances of different speakers at a level difference drawn uniformly
from 0 to 5 dB, at 8 kHz, cut to the shorter one ("min"), with the test speakers never in
training (the open condition). Here the speakers are synthetic voices
(:mod:`practicum.data.speech`) reading lines of real English text, and the splits are:

* ``train``: mixtures of two different training voices;
* ``val``: mixtures of training voices speaking held-out lines (the closed condition);
* ``test``: mixtures of two different *test* voices, never heard in training.

Each utterance is scaled to unit RMS before mixing, so the drawn level difference is the
sources' power ratio. A :class:`Recipe` says everything that decides the corpus; its SHA-256
(with the synthesisers' versions and the text's hash) names the cache file, so a changed recipe
is built again and an unchanged one is read back (written atomically).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from practicum.data.speech import (
    RATE,
    Voice,
    require,
    standin_utterance,
    standin_voices,
    synthesise,
)
from practicum.data.store import cache_dir
from practicum.errors import PracticumError
from practicum.io import atomic_write

SPLITS = ("train", "val", "test")

# A progress bar: (iterable, total, desc) -> the same items (Run.progress fits).
Progress = Callable[..., Iterator[Any]]


def _no_progress(items: Iterable[Any], total: int | None = None, desc: str | None = None):
    return iter(items)


@dataclass(frozen=True)
class Recipe:
    train_voices: tuple[str, ...]  # "espeak-ng:en-us+m1", "flite:kal", or "standin:0"
    test_voices: tuple[str, ...]
    utterances_per_voice: int  # lines each training voice speaks (train split)
    val_utterances_per_voice: int  # more lines of each training voice (the val split)
    test_utterances_per_voice: int
    mixtures: tuple[int, int, int]  # train, val, test
    max_seconds: float  # mixtures longer than this are cut (wsj0-2mix: none)
    max_level_db: float  # the level difference is uniform in [0, max_level_db]
    seed: int

    def voices(self, split: str) -> list[Voice]:
        names = self.test_voices if split == "test" else self.train_voices
        return [Voice(*name.split(":", 1)) for name in names]


@dataclass
class Mixtures:
    """One split: the two scaled sources of every mixture (the mixture is their sum)."""

    sources: list[np.ndarray]  # (2, N_i) float32 each
    speakers: np.ndarray  # (M, 2) indices into ``voices``
    level_db: np.ndarray  # (M,) level of source 0 over source 1
    voices: list[str]
    texts: list[tuple[str, str]]

    def mixture(self, i: int) -> np.ndarray:
        return self.sources[i].sum(axis=0)

    def __len__(self) -> int:
        return len(self.sources)


def spoken_lines(text: str, min_words: int = 6, max_words: int = 16) -> list[str]:
    """Lines of a play as utterances: speakers' names ("First Citizen:") dropped, consecutive
    lines of a speech joined until ``min_words`` words, cut at ``max_words``."""
    out: list[str] = []
    for block in text.split("\n\n"):
        lines = [ln.strip() for ln in block.strip().splitlines() if ln.strip()]
        if lines and lines[0].endswith(":"):
            lines = lines[1:]
        current: list[str] = []
        for line in lines:
            current += line.split()
            if len(current) >= min_words:
                out.append(" ".join(current[:max_words]))
                current = []
    return out


def recipe_key(recipe: Recipe, lines: list[str], engines: dict[str, str]) -> str:
    blob = json.dumps(
        {
            "recipe": dataclasses.asdict(recipe),
            "lines": hashlib.sha256("\n".join(lines).encode()).hexdigest(),
            "engines": engines,
            "format": 1,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _speak(voice: Voice, text: str, rng_seed: int) -> np.ndarray:
    rng = np.random.default_rng(rng_seed)
    wpm = int(rng.integers(140, 191))
    if voice.engine == "standin":
        speaker = standin_voices(int(voice.name) + 1, 0)[int(voice.name)]
        return standin_utterance(text, speaker, rng_seed)
    return synthesise(voice, text, wpm, int(rng.integers(35, 66)))


def _utterances(
    voices: list[Voice],
    lines: list[str],
    per_voice: int,
    seed: int,
    workers: int,
    progress: Progress = _no_progress,
    desc: str = "speaking",
) -> list[list[tuple[str, np.ndarray]]]:
    """``per_voice`` lines spoken by each voice, each voice its own lines."""
    jobs = [
        (v, lines[(i * per_voice + k) % len(lines)], seed * 1_000_003 + i * 1009 + k)
        for i, v in enumerate(voices)
        for k in range(per_voice)
    ]
    with ThreadPoolExecutor(max(1, workers)) as pool:  # the synthesisers are subprocesses
        audio = list(progress(pool.map(lambda job: _speak(*job), jobs), total=len(jobs), desc=desc))
    spoken = [(text, x) for (_, text, _), x in zip(jobs, audio, strict=True)]
    # jobs run voice by voice, ``per_voice`` each: voice i's lines are the i-th run of them
    return [spoken[i * per_voice : (i + 1) * per_voice] for i in range(len(voices))]


def mix(a: np.ndarray, b: np.ndarray, level_db: float, max_samples: int) -> np.ndarray:
    """(2, N): a and b at unit RMS, a ``level_db`` louder than b, cut to the shorter and to
    ``max_samples``, then both scaled so the mixture's peak is 0.9."""
    n = min(len(a), len(b), max_samples)
    a, b = a[:n], b[:n]
    a = a / max(np.sqrt(np.mean(a**2)), 1e-12) * 10 ** (level_db / 40)
    b = b / max(np.sqrt(np.mean(b**2)), 1e-12) * 10 ** (-level_db / 40)
    pair = np.stack([a, b])
    return (pair * 0.9 / max(np.abs(pair.sum(axis=0)).max(), 1e-12)).astype(np.float32)


def _mixtures(
    spoken: list[list[tuple[str, np.ndarray]]],
    names: list[str],
    count: int,
    recipe: Recipe,
    rng: np.random.Generator,
) -> Mixtures:
    sources, speakers, levels, texts = [], [], [], []
    for _ in range(count):
        i, j = rng.choice(len(spoken), size=2, replace=False)  # two different voices
        (ta, a), (tb, b) = (
            spoken[i][rng.integers(len(spoken[i]))],
            spoken[j][rng.integers(len(spoken[j]))],
        )
        level = float(rng.uniform(0, recipe.max_level_db))
        sources.append(mix(a, b, level, int(recipe.max_seconds * RATE)))
        speakers.append((i, j))
        levels.append(level)
        texts.append((ta, tb))
    return Mixtures(sources, np.array(speakers), np.array(levels), names, texts)


def build(
    recipe: Recipe, lines: list[str], workers: int = 2, progress: Progress = _no_progress
) -> dict[str, Mixtures]:
    """Speak and mix every split (seconds with the stand-in, minutes with the synthesisers)."""
    rng = np.random.default_rng(recipe.seed)
    order = rng.permutation(len(lines))
    n_train = len(recipe.train_voices) * (
        recipe.utterances_per_voice + recipe.val_utterances_per_voice
    )
    n_test = len(recipe.test_voices) * recipe.test_utterances_per_voice
    if n_train + n_test > len(lines):
        raise PracticumError(
            f"the recipe needs {n_train + n_test:,} lines, the text has {len(lines):,}"
        )
    shuffled = [lines[k] for k in order]
    # Disjoint lines: training, the held-out lines of the training voices, then the test lines.
    n_fit = len(recipe.train_voices) * recipe.utterances_per_voice
    fit_lines, val_lines = shuffled[:n_fit], shuffled[n_fit:n_train]
    test_lines = shuffled[n_train : n_train + n_test]
    train_v, test_v = recipe.voices("train"), recipe.voices("test")
    seed = recipe.seed
    per_voice = {
        "train": (train_v, fit_lines, recipe.utterances_per_voice),
        "val": (train_v, val_lines, recipe.val_utterances_per_voice),
        "test": (test_v, test_lines, recipe.test_utterances_per_voice),
    }
    spoken = {
        split: _utterances(
            v, split_lines, n, seed + 1 + k, workers, progress, f"speaking ({split})"
        )
        for k, (split, (v, split_lines, n)) in enumerate(per_voice.items())
    }
    out = {}
    for k, split in enumerate(SPLITS):
        names = list(recipe.test_voices if split == "test" else recipe.train_voices)
        mix_rng = np.random.default_rng([recipe.seed, k])
        out[split] = _mixtures(spoken[split], names, recipe.mixtures[k], recipe, mix_rng)
    return out


def _save(path: Path, corpus: dict[str, Mixtures]) -> None:
    arrays: dict[str, np.ndarray] = {}
    meta = {}
    for split, m in corpus.items():
        lengths = np.array([s.shape[1] for s in m.sources])
        arrays[f"{split}_audio"] = np.concatenate([s for s in m.sources], axis=1)
        arrays[f"{split}_lengths"] = lengths
        arrays[f"{split}_speakers"] = m.speakers
        arrays[f"{split}_level_db"] = m.level_db
        meta[split] = {"voices": m.voices, "texts": m.texts}
    arrays["meta"] = np.array(json.dumps(meta))
    atomic_write(path, lambda f: np.savez(f, **arrays))


def _load(path: Path) -> dict[str, Mixtures]:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        out = {}
        for split in SPLITS:
            audio, lengths = z[f"{split}_audio"], z[f"{split}_lengths"]
            cuts = np.concatenate([[0], np.cumsum(lengths)])
            out[split] = Mixtures(
                [audio[:, a:b] for a, b in zip(cuts[:-1], cuts[1:], strict=True)],
                z[f"{split}_speakers"],
                z[f"{split}_level_db"],
                meta[split]["voices"],
                [tuple(t) for t in meta[split]["texts"]],
            )
    return out


def corpus(
    recipe: Recipe,
    lines: list[str],
    workers: int = 2,
    cache: bool = True,
    progress: Progress = _no_progress,
) -> tuple[dict[str, Mixtures], str]:
    """The corpus of ``recipe`` and its key: read from the cache, or built and cached."""
    voices = recipe.voices("train") + recipe.voices("test")
    real = [v for v in voices if v.engine != "standin"]
    engines = require(real) if real else {}
    overlap = set(recipe.train_voices) & set(recipe.test_voices)
    if overlap:
        raise PracticumError(f"test voices must never be heard in training: {sorted(overlap)}")
    key = recipe_key(recipe, lines, engines)
    path = cache_dir() / "two-speaker-mix" / f"{key[:24]}.npz"
    if cache and path.exists():
        return _load(path), key
    built = build(recipe, lines, workers, progress)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        _save(path, built)
    return built, key
