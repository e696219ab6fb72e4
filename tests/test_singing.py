"""Sung lyrics: the words, the melody's music theory, the score's markup, and festival singing
the pitches and durations it was given (a few seconds of real audio)."""

from __future__ import annotations

import math
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from practicum.data.music import MAJOR_SCALE
from practicum.data.singing import (
    SINGING_VOICES,
    Score,
    lyric_words,
    melody,
    sing,
    syllable_counts,
)
from practicum.errors import PracticumError

needs_festival = pytest.mark.skipif(
    shutil.which("text2wave") is None, reason="festival is not installed"
)


def test_lyric_words():
    assert lyric_words("O'er the ramparts, we WATCH'D!") == [
        "oer",
        "the",
        "ramparts",
        "we",
        "watchd",
    ]
    assert lyric_words("  --  ") == []


def test_melody_one_note_per_syllable_on_the_scale():
    words = ["now", "is", "the", "winter", "of", "our", "discontent"]
    syllables = {"now": 1, "is": 1, "the": 1, "winter": 2, "of": 1, "our": 1, "discontent": 3}
    score = melody(words, syllables, seed=4, tonic=57, bpm=90, span=9)
    assert [len(f) for f in score.freqs] == [syllables[w] for w in words]
    assert [len(b) for b in score.beats] == [syllables[w] for w in words]
    notes = [69 + 12 * math.log2(f / 440.0) for fs in score.freqs for f in fs]
    assert all(abs(m - round(m)) < 1e-9 for m in notes)  # equal-tempered pitches
    assert all((round(m) - 57) % 12 in MAJOR_SCALE for m in notes)  # in A major
    assert min(notes) >= 57 and max(notes) <= 57 + 12 + MAJOR_SCALE[2]  # 9 scale steps up
    assert round(notes[0]) == 57  # it starts on the tonic
    assert score.beats[-1][-1] == 2.0  # and holds the last syllable
    assert math.isclose(score.seconds, sum(map(sum, score.beats)) * 60 / 90)
    assert melody(words, syllables, seed=4, tonic=57, bpm=90) == score
    assert melody(words, syllables, seed=5, tonic=57, bpm=90) != score


def test_score_markup_parses_and_carries_every_syllable():
    score = Score(("hello", "world"), ((220.0, 246.94), (196.0,)), ((1.0, 0.5), (2.0,)), 120.0)
    root = ET.fromstring(score.xml().split("\n", 2)[2])  # after the declaration and DOCTYPE
    assert root.tag == "SINGING" and root.get("BPM") == "120.00"
    pitches = root.findall("PITCH")
    assert [p.find("DURATION").text for p in pitches] == ["hello", "world"]
    assert pitches[0].get("FREQ") == "220.00,246.94"
    assert pitches[0].find("DURATION").get("BEATS") == "1,0.5"


def test_melody_refuses_no_words():
    with pytest.raises(ValueError, match="at least one word"):
        melody([], {}, seed=0)


@needs_festival
def test_festival_counts_syllables():
    assert syllable_counts(["hello", "beautiful", "the", "hello"]) == {
        "hello": 2,
        "beautiful": 3,
        "the": 1,
    }
    with pytest.raises(ValueError, match="lower-case letters"):
        syllable_counts(["Hello"])


def f0(frame: np.ndarray, rate: int) -> float:
    """The fundamental by autocorrelation, searched between 80 and 500 Hz."""
    frame = frame - frame.mean()
    ac = np.correlate(frame, frame, "full")[len(frame) - 1 :]
    lo, hi = rate // 500, rate // 80
    return rate / (lo + int(np.argmax(ac[lo:hi])))


@needs_festival
@pytest.mark.parametrize("voice", SINGING_VOICES)
def test_festival_sings_the_score(voice):
    """Three one-second notes on "la": the sung pitch of each note's middle is its score
    frequency within a quarter tone, and the song lasts as long as the score."""
    rate = 16000
    targets = (220.0, 277.18, 329.63)  # A3, C#4, E4
    score = Score(("la", "la", "la"), tuple((f,) for f in targets), ((2.0,), (2.0,), (2.0,)), 120.0)
    x = sing(score, voice, rate)
    assert abs(len(x) / rate - score.seconds) < 0.25 * score.seconds
    note = len(x) / 3
    for k, target in enumerate(targets):
        middle = x[int((k + 0.3) * note) : int((k + 0.7) * note)]
        frames = [middle[i : i + 800] for i in range(0, len(middle) - 800, 800)]
        measured = float(np.median([f0(fr, rate) for fr in frames]))
        assert abs(12 * math.log2(measured / target)) < 0.5, (k, measured, target)


def test_unknown_singing_voices_are_refused():
    with pytest.raises(PracticumError, match="only kal_diphone, ked_diphone sing"):
        sing(Score(("la",), ((220.0,),), ((1.0,),), 100.0), "cmu_us_slt_arctic_hts", 8000)
