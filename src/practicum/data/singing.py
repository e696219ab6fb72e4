"""Sung lyrics from festival's singing mode: a melody written for each line, a score in
festival's SINGING markup, and the voice singing it.

``text2wave -mode singing`` reads an XML score in which each word carries one pitch and one
duration per syllable::

    <SINGING BPM="100">
      <PITCH FREQ="220,247"><DURATION BEATS="1,1">hello</DURATION></PITCH>
    </SINGING>

Festival's own lexicon decides how many syllables a word has, and the mode "is not guaranteed
to work at all" when the counts disagree (singing-mode.scm), so :func:`syllable_counts` asks
festival itself, once for a whole vocabulary. Pitches are given in Hz (``FREQ``), not as note
names, because festival's note names are two octaves off scientific pitch (its A5 is 440 Hz).

Only festival's diphone voices sing (``kal_diphone`` and ``ked_diphone``, Debian's
festvox-kallpc16k and festvox-kdlpc16k); its HTS voices ignore the score and speak.

The melody (:func:`melody`) is a seeded walk on the major scale of a tonic: mostly steps, some
leaps, durations from half a beat to two beats, the line's last syllable held. It is a melody
in the sense the recogniser cares about: pitch and duration that follow the music, not the
words' prosody.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from practicum.data.music import MAJOR_SCALE, midi_frequency
from practicum.data.speech import read_wav, resample, trim
from practicum.errors import PracticumError

SINGING_VOICES = ("kal_diphone", "ked_diphone")
DURATIONS = (0.5, 1.0, 1.0, 1.0, 1.5, 2.0)  # beats, drawn uniformly (so one beat is the commonest)


def lyric_words(line: str) -> list[str]:
    """The words festival sings and the transcript holds: lower case, letters only (an
    apostrophe joins: "o'er" → "oer"), everything else a word boundary."""
    return re.findall(r"[a-z]+", line.lower().replace("'", ""))


def require_festival() -> str:
    """festival's version line; one clear line if it or its singing voices are missing."""
    if shutil.which("festival") is None or shutil.which("text2wave") is None:
        raise PracticumError(
            "festival not found: install the Debian packages festival, festvox-kallpc16k and "
            "festvox-kdlpc16k for the sung lyrics"
        )
    out = subprocess.run(["festival", "--version"], capture_output=True, text=True, timeout=30)
    return (out.stdout or out.stderr).strip().splitlines()[0]


def _festival(script: str, timeout: float = 300) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".scm", delete=False) as f:
        f.write(script)
        path = f.name
    try:
        out = subprocess.run(
            ["festival", "--batch", path], capture_output=True, text=True, timeout=timeout
        )
    finally:
        Path(path).unlink(missing_ok=True)
    if out.returncode != 0 or "SIOD ERROR" in out.stderr + out.stdout:
        message = (out.stderr + out.stdout).strip().splitlines()
        raise PracticumError(f"festival failed: {message[-1] if message else 'no output'}")
    return out.stdout


def syllable_counts(words: Sequence[str], voice: str = SINGING_VOICES[0]) -> dict[str, int]:
    """How many syllables festival's lexicon (and letter-to-sound rules, for unknown words)
    gives each word: one festival process for the whole list."""
    unique = sorted({w for w in words})
    if not unique:
        return {}
    bad = [w for w in unique if not re.fullmatch(r"[a-z]+", w)]
    if bad:
        raise ValueError(f"words must be lower-case letters (see lyric_words): {bad[:3]}")
    quoted = " ".join(f'"{w}"' for w in unique)
    script = (
        f"(voice_{voice})\n"
        '(mapcar (lambda (w) (format t "%s %d\\n" w '
        f"(length (car (cdr (cdr (lex.lookup w nil))))))) '({quoted}))\n"
    )
    counts = {}
    for line in _festival(script).splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in unique:
            counts[parts[0]] = max(1, int(parts[1]))
    missing = [w for w in unique if w not in counts]
    if missing:
        raise PracticumError(f"festival gave no syllable count for {missing[:3]}")
    return counts


@dataclass(frozen=True)
class Score:
    """A sung line: per word, the frequencies (Hz) and durations (beats) of its syllables."""

    words: tuple[str, ...]
    freqs: tuple[tuple[float, ...], ...]
    beats: tuple[tuple[float, ...], ...]
    bpm: float

    @property
    def seconds(self) -> float:
        return sum(sum(b) for b in self.beats) * 60.0 / self.bpm

    def xml(self) -> str:
        """The score in festival's SINGING markup."""
        lines = [
            '<?xml version="1.0"?>',
            '<!DOCTYPE SINGING PUBLIC "-//SINGING//DTD SINGING mark up//EN" "Singing.v0_1.dtd" []>',
            f'<SINGING BPM="{self.bpm:.2f}">',
        ]
        for word, freqs, beats in zip(self.words, self.freqs, self.beats, strict=True):
            f = ",".join(f"{x:.2f}" for x in freqs)
            b = ",".join(f"{x:g}" for x in beats)
            lines.append(
                f'<PITCH FREQ="{f}"><DURATION BEATS="{b}">{escape(word)}</DURATION></PITCH>'
            )
        lines.append("</SINGING>")
        return "\n".join(lines) + "\n"


def melody(
    words: Sequence[str],
    syllables: dict[str, int],
    seed: int,
    tonic: int = 57,
    bpm: float = 100.0,
    span: int = 9,
) -> Score:
    """A seeded tune for ``words``: one note per syllable, a walk on the major scale of MIDI
    ``tonic`` within ``span`` scale steps above it (steps of −2..2, a third of them leaps
    of up to 4), starting on the tonic and holding the last syllable for two beats."""
    if not words:
        raise ValueError("a melody needs at least one word")
    rng = np.random.default_rng(seed)
    total = sum(syllables[w] for w in words)
    position = 0  # scale steps above the tonic
    steps = []
    for k in range(total):
        if k:
            move = int(rng.integers(-4, 5)) if rng.random() < 1 / 3 else int(rng.integers(-2, 3))
            position = int(np.clip(position + move, 0, span))
        steps.append(position)
    durations = [float(rng.choice(DURATIONS)) for _ in range(total)]
    durations[-1] = 2.0
    freqs, beats, k = [], [], 0
    for w in words:
        n = syllables[w]
        notes = [tonic + 12 * (s // 7) + MAJOR_SCALE[s % 7] for s in steps[k : k + n]]
        freqs.append(tuple(midi_frequency(m) for m in notes))
        beats.append(tuple(durations[k : k + n]))
        k += n
    return Score(tuple(words), tuple(freqs), tuple(beats), float(bpm))


def sing(score: Score, voice: str, rate: int) -> np.ndarray:
    """``score`` sung by festival ``voice`` at ``rate`` Hz, silence trimmed."""
    if voice not in SINGING_VOICES:
        raise PracticumError(
            f"unknown singing voice {voice!r} (only {', '.join(SINGING_VOICES)} sing)"
        )
    with tempfile.TemporaryDirectory() as folder:
        xml, wav = Path(folder, "score.xml"), Path(folder, "sung.wav")
        xml.write_text(score.xml())
        cmd = [
            "text2wave",
            "-mode",
            "singing",
            "-eval",
            f"(voice_{voice})",
            str(xml),
            "-o",
            str(wav),
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if out.returncode != 0 or not wav.exists() or wav.stat().st_size <= 44:
            message = (out.stderr + out.stdout).strip().splitlines()
            raise PracticumError(
                f"festival could not sing {' '.join(score.words)[:40]!r}: "
                f"{message[-1] if message else 'no audio'}"
            )
        x, rate_in = read_wav(wav.read_bytes())
    return trim(resample(x, rate_in, rate))
