"""The backing-music synthesiser: pitches in closed form, the chords' spectrum, the drums on their
beats, seeding, and the mix's signal-to-noise ratio."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from practicum.data.music import (
    arrangement,
    backing_track,
    drum_hits,
    midi_frequency,
    mix_at_snr,
    tone,
    triad,
)

RATE = 16000


def test_equal_temperament():
    assert midi_frequency(69) == 440.0
    assert math.isclose(midi_frequency(81), 880.0)
    assert math.isclose(midi_frequency(60), 261.6255653, rel_tol=1e-9)
    # a semitone is the twelfth root of two
    assert math.isclose(midi_frequency(70) / midi_frequency(69), 2 ** (1 / 12))


def test_triads_are_the_diatonic_chords_of_the_major_key():
    assert triad(60, 0) == (60, 64, 67)  # C major: C E G
    assert triad(60, 3) == (65, 69, 72)  # IV, F major
    assert triad(60, 4) == (67, 71, 74)  # V, G major
    assert triad(60, 5) == (69, 72, 76)  # vi, A minor: minor third then major third
    assert triad(60, 6) == (71, 74, 77)  # vii°, diminished: two minor thirds


def test_a_tone_has_its_harmonics_at_one_over_k():
    x = tone(57, 1.0, RATE, harmonics=3, decay_s=1e9)  # A3 = 220 Hz, no decay
    spectrum = np.abs(np.fft.rfft(x))
    freqs = np.fft.rfftfreq(len(x), 1 / RATE)
    peaks = [spectrum[np.argmin(np.abs(freqs - k * 220.0))] for k in (1, 2, 3)]
    assert freqs[np.argmax(spectrum)] == pytest.approx(220.0, abs=1.0)
    assert peaks[1] / peaks[0] == pytest.approx(1 / 2, rel=0.05)
    assert peaks[2] / peaks[0] == pytest.approx(1 / 3, rel=0.05)
    # nothing above the third harmonic
    assert spectrum[freqs > 700].max() < 0.01 * peaks[0]


def test_harmonics_above_nyquist_are_left_out():
    x = tone(105, 0.5, 8000, harmonics=6, decay_s=1e9)  # 3520 Hz: only k = 1 fits under 4 kHz
    spectrum = np.abs(np.fft.rfft(x))
    freqs = np.fft.rfftfreq(len(x), 1 / 8000)
    assert freqs[np.argmax(spectrum)] == pytest.approx(3520.0, abs=2.0)
    mirror = spectrum[np.argmin(np.abs(freqs - (8000 - 2 * 3520.0)))]  # where k = 2 would alias
    assert mirror < 0.01 * spectrum.max()


def test_the_first_bar_sounds_its_chord():
    music, arr = backing_track(6.0, RATE, seed=3)
    bar = int(4 * arr.beat_s * RATE)
    spectrum = np.abs(np.fft.rfft(music[:bar]))
    freqs = np.fft.rfftfreq(bar, 1 / RATE)
    floor = np.median(spectrum[(freqs > 100) & (freqs < 2000)])
    for note in triad(arr.tonic, arr.progression[0]):
        near = np.abs(freqs - midi_frequency(note)) < 3
        assert spectrum[near].max() > 20 * floor, note


def test_drums_fall_on_their_beats():
    arr = arrangement(5)
    hits = drum_hits(arr, 8.0)
    beat = arr.beat_s
    np.testing.assert_allclose(np.diff(hits["kick"]), 2 * beat)
    np.testing.assert_allclose(hits["snare"] - hits["kick"][: len(hits["snare"])], beat)
    np.testing.assert_allclose(np.diff(hits["hat"]), beat / 2)
    # Above 6 kHz only the drums sound (the highest chord note, B5 = MIDI 83 at 988 Hz, has its
    # sixth and last harmonic at 5.93 kHz; the bass is two octaves lower): that
    # band's energy in the 10 ms after each hi-hat exceeds its energy between two hi-hats.
    music, _ = backing_track(8.0, RATE, seed=5)
    assert math.isclose(float(np.sqrt(np.mean(music**2))), 1.0, rel_tol=1e-9)
    spectrum = np.fft.rfft(music)
    spectrum[np.fft.rfftfreq(len(music), 1 / RATE) < 6000] = 0
    high = np.fft.irfft(spectrum, n=len(music)) ** 2
    window = int(0.01 * RATE)
    for t in hits["hat"][:-1]:
        at, between = int(t * RATE), int((t + beat / 4) * RATE)
        assert high[at : at + window].sum() > 10 * high[between : between + window].sum()


def test_seeded_and_varied():
    a, arr_a = backing_track(2.0, 8000, seed=1)
    b, _ = backing_track(2.0, 8000, seed=1)
    c, arr_c = backing_track(2.0, 8000, seed=2)
    np.testing.assert_array_equal(a, b)
    assert arr_a != arr_c and not np.allclose(a, c)


@settings(max_examples=30, deadline=None)
@given(snr=st.floats(-10, 30), seed=st.integers(0, 1000), voice_s=st.floats(0.5, 3.0))
def test_mix_has_the_snr_asked_for(snr, seed, voice_s):
    rng = np.random.default_rng(seed)
    voice = rng.normal(size=int(voice_s * 8000)) * rng.uniform(0.1, 3)
    music, _ = backing_track(1.0, 8000, seed)  # shorter than most voices: looped
    mixed = mix_at_snr(voice, music, snr)
    noise = mixed - voice
    measured = 10 * np.log10(np.mean(voice**2) / np.mean(noise**2))
    assert measured == pytest.approx(snr, abs=1e-9)
    assert len(mixed) == len(voice)


def test_silent_music_is_refused():
    with pytest.raises(ValueError, match="silent"):
        mix_at_snr(np.ones(10), np.zeros(10), 5.0)
