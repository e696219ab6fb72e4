"""Backing music, synthesised: chords, a bass line and drums in a seeded key, tempo and
progression; and mixing a voice over it at a chosen signal-to-noise ratio.

Sung-lyrics recognisers fail on music because it occupies the voice's own band with harmonic
(chords, bass) and broadband (drums) energy. That is the structure this reproduces, not
realism: every part is a few lines of additive synthesis, so a test can check it in closed
form (each note's fundamental is at its equal-tempered frequency, a drum hit lands on its
beat, the mix's SNR is what was asked).

- Pitch: MIDI note m sounds at 440 · 2^((m − 69)/12) Hz (A4 = 69).
- A chord is a triad on a degree of the major scale of the key (I, IV, V, vi, ...): three
  notes, each a stack of decaying harmonics under an attack–release envelope, one per bar.
- The bass plays the chord's root two octaves down on every beat; the drums play a kick (a
  pitch-swept sine) on beats 1 and 3, a snare (noise plus a tone) on 2 and 4 and a hi-hat
  (differenced noise: its energy is high in the band) on every half beat.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)  # semitones above the tonic
PROGRESSIONS = (  # scale degrees, 0-based: (0, 4, 5, 3) is I-V-vi-IV
    (0, 4, 5, 3),
    (0, 5, 3, 4),
    (0, 3, 4, 3),
    (5, 3, 0, 4),
    (0, 3, 0, 4),
)


def midi_frequency(note: float) -> float:
    """Equal temperament, A4 (MIDI 69) = 440 Hz."""
    return 440.0 * 2.0 ** ((note - 69.0) / 12.0)


def triad(tonic: int, degree: int) -> tuple[int, int, int]:
    """The MIDI notes of the diatonic triad on scale ``degree`` (0-based) of ``tonic``'s major
    scale: the degree, the third and the fifth above it within the scale."""
    notes = []
    for step in (0, 2, 4):
        k = degree + step
        notes.append(tonic + 12 * (k // 7) + MAJOR_SCALE[k % 7])
    return notes[0], notes[1], notes[2]


@dataclass(frozen=True)
class Arrangement:
    """What a seed chooses: the key's tonic (MIDI), beats per minute, the progression and how
    loud each part is (RMS relative to the chords)."""

    tonic: int
    bpm: float
    progression: tuple[int, ...]
    harmonics: int
    bass_level: float
    drum_level: float

    @property
    def beat_s(self) -> float:
        return 60.0 / self.bpm


def arrangement(seed: int) -> Arrangement:
    rng = np.random.default_rng(seed)
    return Arrangement(
        tonic=int(rng.integers(55, 67)),  # G3 .. F#4: chords in the voice's band on purpose
        bpm=float(rng.uniform(84, 140)),
        progression=PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))],
        harmonics=int(rng.integers(3, 7)),
        bass_level=float(rng.uniform(0.5, 1.0)),
        drum_level=float(rng.uniform(0.3, 0.8)),
    )


def _envelope(n: int, rate: int, attack_s: float, decay_s: float) -> np.ndarray:
    t = np.arange(n) / rate
    return np.minimum(t / attack_s, 1.0) * np.exp(-t / decay_s)


def tone(note: float, seconds: float, rate: int, harmonics: int, decay_s: float) -> np.ndarray:
    """One note: harmonics k = 1..``harmonics`` of its frequency at amplitude 1/k (below the
    Nyquist frequency only), under an attack of 10 ms and an exponential decay."""
    n = int(round(seconds * rate))
    t = np.arange(n) / rate
    f0 = midi_frequency(note)
    wave = np.zeros(n)
    for k in range(1, harmonics + 1):
        if k * f0 < rate / 2:
            wave += np.sin(2 * np.pi * k * f0 * t) / k
    return wave * _envelope(n, rate, 0.01, decay_s)


def _place(track: np.ndarray, sound: np.ndarray, start: int) -> None:
    end = min(len(track), start + len(sound))
    if start < end:
        track[start:end] += sound[: end - start]


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2))) if len(x) else 0.0


def _scaled(x: np.ndarray, level: float) -> np.ndarray:
    return x * (level / max(_rms(x), 1e-12))


def drum_hits(arr: Arrangement, seconds: float) -> dict[str, np.ndarray]:
    """The start time (s) of every kick, snare and hi-hat hit in ``seconds`` of music."""
    beats = np.arange(0.0, seconds, arr.beat_s)
    index = np.arange(len(beats))
    halves = np.arange(0.0, seconds, arr.beat_s / 2)
    return {"kick": beats[index % 2 == 0], "snare": beats[index % 2 == 1], "hat": halves}


def backing_track(seconds: float, rate: int, seed: int) -> tuple[np.ndarray, Arrangement]:
    """``seconds`` of music at ``rate`` Hz, unit RMS, and the arrangement that made it."""
    arr = arrangement(seed)
    rng = np.random.default_rng([seed, 1])
    n = int(round(seconds * rate))
    bar = 4 * arr.beat_s
    chords, bass, drums = np.zeros(n), np.zeros(n), np.zeros(n)
    for b, start in enumerate(np.arange(0.0, seconds, bar)):
        notes = triad(arr.tonic, arr.progression[b % len(arr.progression)])
        for note in notes:
            _place(chords, tone(note, bar, rate, arr.harmonics, bar), int(start * rate))
        for beat in range(4):
            at = int((start + beat * arr.beat_s) * rate)
            _place(bass, tone(notes[0] - 24, arr.beat_s, rate, 4, arr.beat_s / 3), at)
    hit = int(0.12 * rate)
    t = np.arange(hit) / rate
    kick = np.sin(2 * np.pi * (50 * t + 60 * (1 - np.exp(-t / 0.03)) * 0.03)) * np.exp(-t / 0.05)
    for name, times in drum_hits(arr, seconds).items():
        for start in times:
            noise = rng.normal(size=hit)
            if name == "kick":
                sound = kick
            elif name == "snare":
                sound = (0.6 * noise + 0.4 * np.sin(2 * np.pi * 190 * t)) * np.exp(-t / 0.04)
            else:
                sound = 0.3 * np.diff(noise, prepend=0.0) * np.exp(-t / 0.01)
            _place(drums, sound, int(start * rate))
    music = _scaled(chords, 1.0) + _scaled(bass, arr.bass_level) + _scaled(drums, arr.drum_level)
    return _scaled(music, 1.0), arr


def mix_at_snr(voice: np.ndarray, music: np.ndarray, snr_db: float) -> np.ndarray:
    """``voice`` plus ``music`` scaled so that 10·log10(P_voice / P_music) = ``snr_db``, with
    P the mean power over the voice's length (the music is looped or cut to it)."""
    if len(music) == 0 or _rms(music) == 0.0:
        raise ValueError("the music is silent: an SNR needs a noise with power")
    reps = -(-len(voice) // len(music))
    noise = np.tile(music, reps)[: len(voice)]
    gain = _rms(voice) / max(_rms(noise), 1e-12) * 10.0 ** (-snr_db / 20.0)
    return voice + gain * noise
