"""A corpus for recognising sung lyrics: spoken sentences, sung lines and backing music, all
synthesised, with the test voices and the test music never used in training.

Splits (every line of text is in exactly one of train and test):

* ``spoken_train``: lines read by the training voices (espeak-ng accents × variants, flite);
* ``sung_train``: other lines sung by the training singer (festival's ``kal_diphone``), each to
  its own seeded melody, key and tempo (:mod:`practicum.data.singing`);
* ``spoken_test`` and ``sung_test``: the *same* test lines, read by voices never heard in
  training and sung by the other singer (``ked_diphone``), so the conditions are paired;
* ``music_train`` and ``music_test``: backing tracks (:mod:`practicum.data.music`) from
  disjoint seeds; each test line has its own test track and SNR (uniform in the recipe's range),
  the same for its spoken and its sung version.

Transcripts are :func:`practicum.data.singing.lyric_words` joined by single spaces: lower-case
letters and spaces, exactly what was said or sung.

Quick runs and tests use the **toy voices** instead, which need no synthesiser: a toy alphabet of
eight letters, each letter a vowel-like sound (one of Peterson & Barney's formant triples) at the
speaker's F0; spoken letters are short with a gliding pitch and pauses between words, sung
letters long, legato, on the notes of a melody. It is a recognisable language, not speech.

A :class:`Recipe` decides the corpus; its SHA-256 with the text's and the engines' versions names
the cache file (written atomically), as for :mod:`practicum.data.two_speaker`.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from practicum.data.music import MAJOR_SCALE, backing_track, midi_frequency
from practicum.data.singing import (
    SINGING_VOICES,
    lyric_words,
    melody,
    require_festival,
    sing,
    syllable_counts,
)
from practicum.data.speech import VOWELS, Voice, require, synthesise
from practicum.data.store import cache_dir
from practicum.data.two_speaker import Progress, _no_progress, recipe_key  # one hash, one bar
from practicum.errors import PracticumError
from practicum.io import atomic_write

TOY_ALPHABET = "abcdefgh"  # one letter per formant triple of practicum.data.speech.VOWELS
SPLITS = ("spoken_train", "sung_train", "spoken_test", "sung_test")


@dataclass(frozen=True)
class Recipe:
    """Everything that decides the corpus. Voices are "espeak-ng:en-us+m1", "flite:kal",
    "festival:kal_diphone", or "toy:3" / "toy-sung:3" (toy speaker 3)."""

    spoken_train: tuple[str, ...]
    spoken_test: tuple[str, ...]
    sung_train: tuple[str, ...]
    sung_test: tuple[str, ...]
    spoken_per_voice: int
    sung_per_voice: int
    test_lines: int
    music_tracks: int
    music_seconds: float
    snr_db: tuple[float, float]
    rate: int
    seed: int

    def validate(self) -> None:
        for kind, train, test in (
            ("spoken", self.spoken_train, self.spoken_test),
            ("sung", self.sung_train, self.sung_test),
        ):
            if set(train) & set(test):
                raise PracticumError(
                    f"{kind} test voices must never be heard in training: "
                    f"{sorted(set(train) & set(test))}"
                )
            if not train or not test:
                raise PracticumError(f"the recipe needs {kind} training and test voices")
        for v in self.sung_train + self.sung_test:
            engine, _, name = v.partition(":")
            if engine == "festival" and name not in SINGING_VOICES:
                raise PracticumError(f"{v} does not sing (festival's singers: {SINGING_VOICES})")

    @property
    def toy(self) -> bool:
        return all(v.startswith("toy") for v in self.spoken_train + self.sung_train)


@dataclass
class Clips:
    """Utterances (float32 at the recipe's rate), their transcripts and who produced them."""

    audio: list[np.ndarray]
    texts: list[str]
    voices: list[str]

    def __len__(self) -> int:
        return len(self.audio)

    @property
    def seconds(self) -> float:
        return float(sum(len(a) for a in self.audio))


@dataclass
class Corpus:
    clips: dict[str, Clips]
    music_train: list[np.ndarray]
    music_test: list[np.ndarray]  # one per test line
    test_snr_db: np.ndarray  # one per test line
    key: str = ""
    engines: dict[str, str] = field(default_factory=dict)


# ---- text ------------------------------------------------------------------------------------
def sung_lines(text: str, min_words: int = 4, max_words: int = 8) -> list[str]:
    """Lines of a play as lyrics: speakers' names dropped, each verse line of ``min_words`` to
    ``max_words`` words as a transcript (lower-case letters and single spaces), each once."""
    seen, out = set(), []
    for block in text.split("\n\n"):
        lines = [ln.strip() for ln in block.strip().splitlines() if ln.strip()]
        if lines and lines[0].endswith(":"):
            lines = lines[1:]
        for line in lines:
            words = lyric_words(line)
            if min_words <= len(words) <= max_words:
                transcript = " ".join(words)
                if transcript not in seen:
                    seen.add(transcript)
                    out.append(transcript)
    return out


def toy_lines(count: int, seed: int) -> list[str]:
    """Distinct lines of 2 to 4 words of 2 to 4 letters of :data:`TOY_ALPHABET`."""
    rng = np.random.default_rng(seed)
    letters = np.array(list(TOY_ALPHABET))
    out: dict[str, None] = {}
    while len(out) < count:
        words = [
            "".join(rng.choice(letters, rng.integers(2, 5))) for _ in range(rng.integers(2, 5))
        ]
        out[" ".join(words)] = None
    return list(out)


# ---- the toy voices --------------------------------------------------------------------------
def toy_speaker(index: int) -> tuple[float, float]:
    """Toy speaker ``index`` as (mean F0 in Hz, formant scale)."""
    rng = np.random.default_rng([index, 7])
    return float(rng.uniform(90, 240)), float(rng.uniform(0.92, 1.08))


def _vowel(freqs: np.ndarray, formants: np.ndarray, rate: int) -> np.ndarray:
    """Harmonics of the instantaneous pitch ``freqs`` (Hz per sample) shaped by three
    formant resonances."""
    phase = 2 * np.pi * np.cumsum(freqs) / rate
    out = np.zeros(len(freqs))
    f0 = float(np.mean(freqs))
    for h in range(1, int(rate / 2 / (1.15 * f0))):
        f = h * f0
        gain = sum(np.exp(-0.5 * ((f - fm) / (60 + 0.05 * fm)) ** 2) for fm in formants)
        out += gain / np.sqrt(h) * np.sin(h * phase)
    n = len(out)
    ramp = np.minimum(1, np.minimum(np.arange(n), np.arange(n)[::-1]) / (0.008 * rate))
    return out * ramp


def toy_utterance(text: str, speaker: tuple[float, float], sung: bool, seed: int, rate: int):
    """``text`` in the toy language: each letter a vowel sound. Spoken: 60-100 ms a letter,
    pitch gliding ±10% around the speaker's F0, 40-90 ms pauses between words. Sung: 150-300
    ms a letter on the notes of a melody around the speaker's F0 (the major scale), legato."""
    f0, scale = speaker
    rng = np.random.default_rng([seed, int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)])
    pieces = []
    step = 0
    for w, word in enumerate(text.split()):
        if w and not sung:
            pieces.append(np.zeros(int(rate * rng.uniform(0.04, 0.09))))
        for letter in word:
            formants = VOWELS[TOY_ALPHABET.index(letter)] * scale
            if sung:
                step = int(np.clip(step + rng.integers(-2, 3), -3, 7))
                note = 12 * np.log2(f0 / 440) + 69 + 12 * (step // 7) + MAJOR_SCALE[step % 7]
                n = int(rate * rng.uniform(0.15, 0.3))
                freqs = np.full(n, midi_frequency(float(note)))
            else:
                n = int(rate * rng.uniform(0.06, 0.1))
                glide = 1 + 0.1 * np.sin(2 * np.pi * rng.uniform(1, 3) * np.arange(n) / rate)
                freqs = f0 * glide
            pieces.append(_vowel(freqs, formants, rate))
    x = np.concatenate(pieces)
    return (0.5 * x / max(np.abs(x).max(), 1e-12)).astype(np.float32)


# ---- producing the clips ---------------------------------------------------------------------
def _produce(voice: str, text: str, seed: int, rate: int, syllables: dict[str, int]) -> np.ndarray:
    engine, _, name = voice.partition(":")
    rng = np.random.default_rng(seed)
    if engine in ("toy", "toy-sung"):
        return toy_utterance(text, toy_speaker(int(name)), engine == "toy-sung", seed, rate)
    if engine == "festival":
        words = text.split()
        score = melody(
            words,
            syllables,
            seed,
            tonic=int(rng.integers(45, 58)),  # A2 .. G#3: in the diphone voices' male range
            bpm=float(rng.uniform(110, 160)),  # brisk: a line lasts 3-4 s, not 6
        )
        return sing(score, name, rate).astype(np.float32)
    x = synthesise(
        Voice(engine, name), text, int(rng.integers(140, 191)), int(rng.integers(35, 66)), rate
    )
    return x.astype(np.float32)


def _clips(
    jobs: list[tuple[str, str, int]],
    rate: int,
    syllables: dict[str, int],
    workers: int,
    progress: Progress,
    desc: str,
) -> Clips:
    with ThreadPoolExecutor(max(1, workers)) as pool:  # the synthesisers are subprocesses
        audio = list(
            progress(
                pool.map(lambda j: _produce(j[0], j[1], j[2], rate, syllables), jobs),
                total=len(jobs),
                desc=desc,
            )
        )
    return Clips(audio, [j[1] for j in jobs], [j[0] for j in jobs])


def build(
    recipe: Recipe, lines: list[str], workers: int = 2, progress: Progress = _no_progress
) -> Corpus:
    recipe.validate()
    n_spoken = len(recipe.spoken_train) * recipe.spoken_per_voice
    n_sung = len(recipe.sung_train) * recipe.sung_per_voice
    needed = n_spoken + n_sung + recipe.test_lines
    if needed > len(lines):
        raise PracticumError(f"the recipe needs {needed:,} lines, the text has {len(lines):,}")
    rng = np.random.default_rng(recipe.seed)
    order = [lines[k] for k in rng.permutation(len(lines))]
    spoken_lines = order[:n_spoken]
    sung_lines_ = order[n_spoken : n_spoken + n_sung]
    test_lines = order[n_spoken + n_sung : needed]
    festival = [v for v in recipe.sung_train + recipe.sung_test if v.startswith("festival:")]
    words = [w for line in sung_lines_ + test_lines for w in line.split()]
    syllables = syllable_counts(words) if festival else {}
    base = recipe.seed * 1_000_003

    def jobs(voices: list[str], texts: list[str], offset: int) -> list[tuple[str, str, int]]:
        return [
            (v, t, base + offset + i) for i, (v, t) in enumerate(zip(voices, texts, strict=True))
        ]

    def each(voices: tuple[str, ...], per_voice: int) -> list[str]:
        return [v for v in voices for _ in range(per_voice)]

    def cycled(voices: tuple[str, ...], count: int) -> list[str]:
        return [voices[i % len(voices)] for i in range(count)]

    plan = {
        "spoken_train": (each(recipe.spoken_train, recipe.spoken_per_voice), spoken_lines, 0, "speaking (train)"),
        "sung_train": (each(recipe.sung_train, recipe.sung_per_voice), sung_lines_, 200_000, "singing (train)"),
        "spoken_test": (cycled(recipe.spoken_test, len(test_lines)), test_lines, 400_000, "speaking (test)"),
        "sung_test": (cycled(recipe.sung_test, len(test_lines)), test_lines, 600_000, "singing (test)"),
    }  # fmt: skip
    clips = {
        split: _clips(jobs(voices, texts, offset), recipe.rate, syllables, workers, progress, desc)
        for split, (voices, texts, offset, desc) in plan.items()
    }
    music_train = [
        backing_track(recipe.music_seconds, recipe.rate, recipe.seed * 7919 + k)[0].astype(
            np.float32
        )
        for k in range(recipe.music_tracks)
    ]
    music_test = [
        backing_track(recipe.music_seconds, recipe.rate, recipe.seed * 7919 + 500_000 + k)[0].astype(np.float32)
        for k in range(recipe.test_lines)
    ]  # fmt: skip
    snr = np.random.default_rng([recipe.seed, 3]).uniform(*recipe.snr_db, recipe.test_lines)
    return Corpus(clips, music_train, music_test, snr)


# ---- the cache -------------------------------------------------------------------------------
def _save(path: Path, corpus: Corpus) -> None:
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {}
    for split, c in corpus.clips.items():
        arrays[f"{split}_audio"] = np.concatenate(c.audio) if len(c) else np.zeros(0, np.float32)
        arrays[f"{split}_lengths"] = np.array([len(a) for a in c.audio], dtype=np.int64)
        meta[split] = {"texts": c.texts, "voices": c.voices}
    arrays["music_train"] = np.stack(corpus.music_train)
    arrays["music_test"] = np.stack(corpus.music_test)
    arrays["test_snr_db"] = corpus.test_snr_db
    arrays["meta"] = np.array(json.dumps(meta))
    atomic_write(path, lambda f: np.savez(f, **arrays))


def _load(path: Path) -> Corpus:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        clips = {}
        for split in SPLITS:
            audio, lengths = z[f"{split}_audio"], z[f"{split}_lengths"]
            cuts = np.concatenate([[0], np.cumsum(lengths)])
            clips[split] = Clips(
                [audio[a:b] for a, b in zip(cuts[:-1], cuts[1:], strict=True)],
                meta[split]["texts"],
                meta[split]["voices"],
            )
        return Corpus(clips, list(z["music_train"]), list(z["music_test"]), z["test_snr_db"])


def engines_of(recipe: Recipe) -> dict[str, str]:
    """The versions of the synthesisers the recipe needs (one clear line if one is missing)."""
    voices = recipe.spoken_train + recipe.spoken_test
    real = [Voice(*v.split(":", 1)) for v in voices if not v.startswith("toy")]
    found = require(real) if real else {}
    if any(v.startswith("festival:") for v in recipe.sung_train + recipe.sung_test):
        found["festival"] = require_festival()
    return found


def corpus(
    recipe: Recipe,
    lines: list[str],
    workers: int = 2,
    cache: bool = True,
    progress: Progress = _no_progress,
) -> Corpus:
    """The corpus of ``recipe``: read from the cache, or built (and cached unless it is toy)."""
    recipe.validate()
    engines = engines_of(recipe)
    key = recipe_key(recipe, lines, engines)
    path = cache_dir() / "sung-lyrics" / f"{key[:24]}.npz"
    if cache and not recipe.toy and path.exists():
        built = _load(path)
    else:
        built = build(recipe, lines, workers, progress)
        if cache and not recipe.toy:
            path.parent.mkdir(parents=True, exist_ok=True)
            _save(path, built)
    built.key, built.engines = key, engines
    return built
