"""Speech from Debian's synthesisers, and a stand-in voice that needs none.

A :class:`Voice` is one synthetic speaker: an ``espeak-ng`` accent with one of its voice
variants (``en-us+m3``: the variant sets pitch, formant and breathiness, the accent sets the
pronunciation), or a ``flite`` voice (kal, awb, rms, slt). Each utterance is spoken at a rate and
(espeak-ng) a pitch drawn per utterance, so a speaker is not one fixed pitch. Everything is
returned at ``rate`` Hz (8 kHz: the wsj0-2mix rate), resampled with a polyphase filter.

:func:`standin_utterance` is a source-filter toy voice (harmonics of a gliding F0 shaped by
three formants that move from syllable to syllable, with noise bursts for consonants): quick runs
and tests use it on machines without the synthesisers; it is not speech.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import wave
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly

from practicum.errors import PracticumError

RATE = 8000


@dataclass(frozen=True)
class Voice:
    engine: str  # "espeak-ng" or "flite"
    name: str  # espeak-ng: "en-us+m3"; flite: "slt"

    @property
    def label(self) -> str:
        return f"{self.engine}:{self.name}"


def espeak_voices(
    variants: tuple[str, ...], accents: tuple[str, ...], first: int = 0
) -> tuple[str, ...]:
    """Voice labels "espeak-ng:<accent>+<variant>": variant i speaks with accent
    ``first + i`` (mod the accents), so many variants share a few accents evenly."""
    return tuple(
        f"espeak-ng:{accents[(first + i) % len(accents)]}+{v}" for i, v in enumerate(variants)
    )


def engines() -> dict[str, str | None]:
    """The version line of each synthesiser, or None where it is not installed."""
    found: dict[str, str | None] = {}
    for engine, flag in (("espeak-ng", "--version"), ("flite", "--version")):
        path = shutil.which(engine)
        if path is None:
            found[engine] = None
            continue
        out = subprocess.run([path, flag], capture_output=True, text=True, timeout=30)
        lines = [ln.strip() for ln in (out.stdout or out.stderr).splitlines() if ln.strip()]
        # espeak-ng prints its version on the first line, flite on its second
        line = next((ln for ln in lines if "version" in ln.lower()), " ".join(lines))
        found[engine] = line.split("Data at:")[0].strip()  # not the machine's data path
    return found


def require(voices: list[Voice]) -> dict[str, str]:
    """The versions of the engines ``voices`` need; one clear line if one is missing."""
    have = engines()
    needed = sorted({v.engine for v in voices})
    missing = [e for e in needed if have.get(e) is None]
    if missing:
        raise PracticumError(
            f"speech synthesiser {', '.join(missing)} not found: install the Debian packages "
            f"({' '.join(missing)}), or use the stand-in voices (--set voices=standin)"
        )
    return {e: str(have[e]) for e in needed}


def read_wav(data: bytes) -> tuple[np.ndarray, int]:
    """16-bit WAV bytes as float64 samples in [-1, 1) (channels averaged) and the rate."""
    with wave.open(io.BytesIO(data)) as w:
        if w.getsampwidth() != 2:
            raise PracticumError(f"synthesiser wrote {8 * w.getsampwidth()}-bit audio, not 16")
        frames = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        x = frames.reshape(-1, w.getnchannels()).mean(axis=1) / 32768.0
        return x.astype(np.float64), w.getframerate()


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Polyphase resampling by the exact ratio rate_out / rate_in (22050 → 8000 is 160 / 441)."""
    if rate_in == rate_out:
        return x
    ratio = Fraction(rate_out, rate_in)
    return resample_poly(x, ratio.numerator, ratio.denominator)


def synthesise(voice: Voice, text: str, words_per_minute: int, pitch: int, rate: int = RATE):
    """``text`` spoken by ``voice`` as float64 samples at ``rate`` Hz, leading and trailing
    silence trimmed. ``pitch`` (0-99, espeak-ng's -p; flite has none) and ``words_per_minute``
    vary each utterance."""
    if voice.engine == "espeak-ng":
        cmd = ["espeak-ng", "-v", voice.name, "-s", str(words_per_minute), "-p", str(pitch)]
        cmd += ["--stdout", text]
    elif voice.engine == "flite":
        stretch = f"{170 / words_per_minute:.3f}"  # flite's duration_stretch; 1 is its own pace
        cmd = ["flite", "-voice", voice.name, "--setf", f"duration_stretch={stretch}"]
        cmd += ["-t", text, "-o", "/dev/stdout"]
    else:
        raise PracticumError(f"unknown speech engine {voice.engine!r} (espeak-ng, flite)")
    out = subprocess.run(cmd, capture_output=True, timeout=60)
    if out.returncode != 0 or not out.stdout:
        message = out.stderr.decode(errors="replace").strip().splitlines()
        raise PracticumError(
            f"{voice.label} failed to speak {text[:40]!r}: {message[-1] if message else 'no audio'}"
        )
    x, rate_in = read_wav(out.stdout)
    return trim(resample(x, rate_in, rate))


def trim(x: np.ndarray, threshold_db: float = -40.0, frame: int = 80) -> np.ndarray:
    """Cut leading and trailing frames quieter than ``threshold_db`` below the loudest frame."""
    n = len(x) // frame
    if n == 0:
        return x
    energy = (x[: n * frame].reshape(n, frame) ** 2).mean(axis=1)
    loud = np.flatnonzero(energy > energy.max() * 10 ** (threshold_db / 10))
    return x[loud[0] * frame : (loud[-1] + 1) * frame]


# ---- the stand-in ----------------------------------------------------------------------------

# (F1, F2, F3) in Hz of a few vowels (Peterson & Barney 1952, men's averages)
VOWELS = np.array(
    [
        [730, 1090, 2440],
        [270, 2290, 3010],
        [300, 870, 2240],
        [530, 1840, 2480],
        [570, 840, 2410],
        [660, 1720, 2410],
        [490, 1350, 1690],
        [440, 1020, 2240],
    ],
    dtype=np.float64,
)


def standin_voices(count: int, seed: int) -> list[tuple[float, float]]:
    """``count`` toy speakers as (mean F0 in Hz, formant scale): F0 from 90 to 260 Hz."""
    rng = np.random.default_rng(seed)
    return [(float(rng.uniform(90, 260)), float(rng.uniform(0.85, 1.2))) for _ in range(count)]


def standin_utterance(
    text: str, speaker: tuple[float, float], seed: int, rate: int = RATE
) -> np.ndarray:
    """A toy utterance: one syllable per word of ``text`` (its vowel from the word's letters),
    harmonics of a slowly gliding F0 weighted by three formant resonances, a noise burst before
    each syllable, 10 ms ramps."""
    f0, scale = speaker
    rng = np.random.default_rng([seed, int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)])
    pieces = []
    for word in text.split()[:12] or ["a"]:
        vowel = VOWELS[sum(map(ord, word)) % len(VOWELS)] * scale
        n = int(rate * rng.uniform(0.12, 0.3))
        t = np.arange(n) / rate
        pitch = f0 * (1 + 0.08 * np.sin(2 * np.pi * rng.uniform(1, 3) * t + rng.uniform(0, 6)))
        phase = 2 * np.pi * np.cumsum(pitch) / rate
        voiced = np.zeros(n)
        for h in range(1, int(rate / 2 / (f0 * 1.1))):
            freq = h * pitch
            gain = sum(np.exp(-0.5 * ((freq - f) / (60 + 0.05 * f)) ** 2) for f in vowel) / np.sqrt(
                h
            )
            voiced += gain * np.sin(h * phase)
        ramp = np.minimum(1, np.minimum(np.arange(n), np.arange(n)[::-1]) / (0.01 * rate))
        burst = rng.normal(0, 0.15, int(rate * 0.03)) * np.hanning(int(rate * 0.03))
        pieces += [burst, voiced * ramp, np.zeros(int(rate * rng.uniform(0.02, 0.08)))]
    x = np.concatenate(pieces)
    return 0.5 * x / np.abs(x).max()
