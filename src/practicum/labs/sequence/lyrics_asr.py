"""Speech recognition for sung lyrics, solo and with background music: a CTC recogniser trained
on speech alone against the same recogniser trained with sung lines and music augmentation.

Claim (the introductory course's project; Graves et al. 2006 for CTC): a recogniser of read
speech transfers poorly to singing, whose pitch, durations and vowels follow the melody, and
worse still under music, which fills the voice's band; training on sung data with music mixed
in recovers much of that loss.

Data (:mod:`practicum.data.lyrics`): tiny-shakespeare's verse lines of 4 to 8 words, read by
Debian's synthesisers (espeak-ng accents × voice variants, flite) and sung by festival's singing
mode to seeded melodies (kal), at 8 kHz. Every test line is read by a voice never heard in
training and sung by a singer never heard in training (ked), and each gets a backing track never
used in training (:mod:`practicum.data.music`) at an SNR from 0 to 10 dB. So there are four
test conditions on the same lines: spoken, spoken + music, sung, sung + music.

Features (:mod:`practicum.mel`): 40 log-mel energies every 10 ms (25 ms windows), normalised
per utterance and band (mean and variance: a gain is a constant offset of a log, so this makes
the input level irrelevant), with SpecAugment-style frequency masks in training.

Model: two 1-D convolutions over time (the second with stride 2: 20 ms per output frame, still
at least two frames per letter of fast speech), a bidirectional GRU, a linear map to the blank,
the space and the 26 letters; CTC loss (``torch.nn.functional.ctc_loss``).

Trainings, same architecture, seed, steps and batch size:
* ``speech``: the spoken training lines only;
* ``sung``: the spoken and the sung training lines, with music mixed into a fraction of each
  batch at an SNR drawn from the test range (the music is other tracks than the test's).

Evaluation: greedy decoding and prefix beam search (:mod:`practicum.ctc`); character and word
error rates pooled over the test lines, by ours and by ``jiwer`` (the maintained library).

Resuming: the trainings are ``blocks`` iterations of ``run.loop`` each.
"""

from __future__ import annotations

import math
import wave
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from practicum import ctc
from practicum.data.lyrics import Clips, Corpus, Recipe, corpus, sung_lines, toy_lines
from practicum.data.music import mix_at_snr
from practicum.data.speech import espeak_voices
from practicum.data.text import load_tiny_shakespeare
from practicum.errors import PracticumError
from practicum.io import atomic_write
from practicum.lab import Extra, Lab, Target, bounded
from practicum.mel import log_mel
from practicum.plotting import figure, smooth
from practicum.repro import sub_seed
from practicum.run import Run

SYMBOLS = "_ abcdefghijklmnopqrstuvwxyz"  # index 0 is CTC's blank
MODELS = ("speech", "sung")
CONDITIONS = ("spoken", "spoken_music", "sung", "sung_music")

ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-029", "en-gb-x-rp")
TRAIN_VARIANTS = ("m1", "m2", "m4", "m5", "m6", "m7", "f1", "f3", "f4", "f5", "klatt", "klatt2",
                  "Alex", "Andy", "Gene", "Lee", "Mike", "adam", "anika", "david", "john", "max",
                  "paul", "rob", "steph")  # fmt: skip
TEST_VARIANTS = ("m3", "f2", "klatt3", "Annie", "boris", "edward", "linda", "norbert")


# ---- config --------------------------------------------------------------------------------
@dataclass
class Config:
    # "synth": espeak-ng, flite and festival (Debian); "toy": the toy language (quick)
    voices: Literal["synth", "toy"] = "synth"
    spoken_train: tuple[str, ...] = espeak_voices(TRAIN_VARIANTS, ACCENTS) + (
        "flite:kal",
        "flite:awb",
        "flite:rms",
    )
    spoken_test: tuple[str, ...] = espeak_voices(TEST_VARIANTS, ACCENTS, first=2) + ("flite:slt",)
    sung_train: tuple[str, ...] = ("festival:kal_diphone",)
    sung_test: tuple[str, ...] = ("festival:ked_diphone",)
    toy_speakers: int = bounded(6, "[3, 1000]")  # voices=toy: the last two are the test's
    spoken_per_voice: int = bounded(60, "[1, 100000]")  # 28 voices: 1,680 lines
    sung_per_voice: int = bounded(600, "[1, 100000]")
    test_lines: int = bounded(150, "[1, 100000]")
    music_tracks: int = bounded(40, "[1, 10000]")
    music_seconds: float = bounded(12.0, "(0, 600]")
    snr_low: float = bounded(0.0, "[-30, 60]")
    snr_high: float = bounded(10.0, "[-30, 60]")
    rate: int = bounded(8000, "[4000, 48000]")
    n_mels: int = bounded(40, "[8, 256]")
    freq_masks: int = bounded(2, "[0, 10]")  # SpecAugment: bands zeroed per training utterance
    freq_mask_width: int = bounded(6, "[0, 64]")
    channels: int = bounded(128, "[4, 2048]")
    hidden: int = bounded(128, "[4, 2048]")  # GRU units per direction
    layers: int = bounded(2, "[1, 8]")
    dropout: float = bounded(0.1, "[0, 1)")
    # per training; at 500 steps (a trial) the speech model read unseen voices at 42% CER
    steps: int = bounded(2000, "[1, 10000000]")
    blocks: int = bounded(10, "[1, 10000]")  # checkpoints per training
    batch_size: int = bounded(16, "[1, 1024]")
    lr: float = bounded(2e-3, "(0, 10]")  # Adam, cosine to lr_end · lr
    lr_end: float = bounded(0.05, "[0, 1]")
    clip: float = bounded(5.0, "(0, 1e6]")
    music_fraction: float = bounded(0.5, "[0, 1]")  # of the sung training's utterances
    beam: int = bounded(8, "[1, 256]")
    prune: float = bounded(8.0, "(0, 1e9]")  # nats below a frame's best: not tried
    listen: int = bounded(2, "[0, 50]")  # test lines written as WAV files per condition
    log_every: int = bounded(50, "[1, 1000000]")
    synth_workers: int = bounded(2, "[1, 64]")

    def validate(self) -> None:
        if self.snr_high < self.snr_low:
            raise PracticumError("snr_high must not be below snr_low")
        if self.steps < self.blocks:
            raise PracticumError("steps must be at least blocks")


def recipe_of(config: Config, seed: int) -> Recipe:
    if config.voices == "toy":
        n = config.toy_speakers
        spoken = tuple(f"toy:{i}" for i in range(n))
        sung = tuple(f"toy-sung:{i}" for i in range(n))
        split = (spoken[:-2], spoken[-2:], sung[:-2][:1], sung[-1:])
    else:
        split = (config.spoken_train, config.spoken_test, config.sung_train, config.sung_test)
    return Recipe(
        *split,
        spoken_per_voice=config.spoken_per_voice,
        sung_per_voice=config.sung_per_voice,
        test_lines=config.test_lines,
        music_tracks=config.music_tracks,
        music_seconds=config.music_seconds,
        snr_db=(config.snr_low, config.snr_high),
        rate=config.rate,
        seed=seed,
    )


def text_lines(config: Config, seed: int) -> list[str]:
    if config.voices == "toy":
        return toy_lines(20_000, seed)
    return sung_lines(load_tiny_shakespeare())


def encode(text: str) -> list[int]:
    return [SYMBOLS.index(c) for c in text]


def decode(labels: list[int]) -> str:
    return "".join(SYMBOLS[k] for k in labels)


# ---- features ------------------------------------------------------------------------------
def features(x: np.ndarray, config: Config) -> torch.Tensor:
    """(frames, n_mels) log-mel energies normalised per utterance and band."""
    f = log_mel(
        torch.from_numpy(np.asarray(x, dtype=np.float32)).double(), config.rate, config.n_mels
    )
    f = (f - f.mean(0)) / f.std(0).clamp_min(1e-3)
    return f.float()


def with_music(x: np.ndarray, music: list[np.ndarray], rng: np.random.Generator, config: Config):
    """``x`` over a random stretch of a random training track at an SNR from the test range."""
    track = music[int(rng.integers(len(music)))]
    start = int(rng.integers(len(track)))
    noise = np.roll(track, -start)  # a circular crop: any start, any length
    return mix_at_snr(x, noise, float(rng.uniform(config.snr_low, config.snr_high)))


# ---- model ---------------------------------------------------------------------------------
class Recogniser(nn.Module):
    """conv(5) → GELU → conv(5, stride 2) → GELU → BiGRU → linear to the symbols."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        c = config.channels
        self.conv1 = nn.Conv1d(config.n_mels, c, 5, padding=2)
        self.conv2 = nn.Conv1d(c, c, 5, stride=2, padding=2)
        self.rnn = nn.GRU(c, config.hidden, config.layers, batch_first=True, bidirectional=True,
                          dropout=config.dropout if config.layers > 1 else 0.0)  # fmt: skip
        self.drop = nn.Dropout(config.dropout)
        self.out = nn.Linear(2 * config.hidden, len(SYMBOLS))

    def front(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, n_mels, T) → (B, channels, T'). The first layer's outputs past each utterance's
        end are zeroed: GELU(bias) is not zero there, and the second convolution would carry
        it into the last frames, so an utterance's output would depend on its batch-mates."""
        h = nn.functional.gelu(self.conv1(x))
        valid = torch.arange(x.shape[-1], device=x.device)[None, :] < lengths[:, None]
        h = h * valid[:, None, :].to(h.dtype)
        return nn.functional.gelu(self.conv2(h))

    @staticmethod
    def output_lengths(lengths: torch.Tensor) -> torch.Tensor:
        return (lengths - 1) // 2 + 1  # the strided convolution: kernel 5, padding 2, stride 2

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, n_mels) padded features → (B, T', symbols) log probabilities, lengths T'."""
        h = self.front(x.transpose(1, 2), lengths).transpose(1, 2)
        out_lengths = self.output_lengths(lengths)
        packed = nn.utils.rnn.pack_padded_sequence(h, out_lengths.cpu(), batch_first=True,
                                                   enforce_sorted=False)  # fmt: skip
        h, _ = self.rnn(packed)
        h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True)
        return self.out(self.drop(h)).log_softmax(-1), out_lengths


def pad(feats: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(f) for f in feats])
    out = torch.zeros(len(feats), int(lengths.max()), feats[0].shape[1])
    for i, f in enumerate(feats):
        out[i, : len(f)] = f
    return out, lengths


def spec_augment(f: torch.Tensor, config: Config, rng: np.random.Generator) -> torch.Tensor:
    f = f.clone()
    for _ in range(config.freq_masks):
        width = int(rng.integers(0, config.freq_mask_width + 1))
        start = int(rng.integers(0, max(1, config.n_mels - width)))
        f[:, start : start + width] = 0.0
    return f


# ---- training ------------------------------------------------------------------------------
def training_pool(data: Corpus, model: str) -> Clips:
    spoken = data.clips["spoken_train"]
    if model == "speech":
        return spoken
    sung = data.clips["sung_train"]
    return Clips(spoken.audio + sung.audio, spoken.texts + sung.texts, spoken.voices + sung.voices)


def batch(pool: Clips, data: Corpus, model: str, config: Config, rng: np.random.Generator, device):
    picks = rng.integers(len(pool), size=config.batch_size)
    feats, targets = [], []
    for i in picks:
        x = pool.audio[int(i)].astype(np.float64)
        if model == "sung" and rng.random() < config.music_fraction:
            x = with_music(x, data.music_train, rng, config)
        feats.append(spec_augment(features(x, config), config, rng))
        targets.append(encode(pool.texts[int(i)]))
    x, lengths = pad(feats)
    flat = torch.tensor([s for t in targets for s in t], dtype=torch.long)
    target_lengths = torch.tensor([len(t) for t in targets])
    return x.to(device), lengths.to(device), flat.to(device), target_lengths.to(device)


def ctc_loss(model: Recogniser, x, lengths, targets, target_lengths) -> torch.Tensor:
    log_probs, out_lengths = model(x, lengths)
    return nn.functional.ctc_loss(log_probs.transpose(0, 1), targets, out_lengths, target_lengths,
                                  blank=0, reduction="mean", zero_infinity=True)  # fmt: skip


def learning_rate(step: int, config: Config) -> float:
    """Cosine from 1 to lr_end (fractions of lr) over the steps, after a 5% linear warm-up."""
    warm = max(1, config.steps // 20)
    if step < warm:
        return (step + 1) / warm
    progress = (step - warm) / max(1, config.steps - warm)
    return config.lr_end + (1 - config.lr_end) * 0.5 * (1 + math.cos(math.pi * progress))


# ---- evaluation ----------------------------------------------------------------------------
def test_audio(data: Corpus, condition: str) -> list[np.ndarray]:
    clips = data.clips["sung_test" if condition.startswith("sung") else "spoken_test"]
    if not condition.endswith("music"):
        return [a.astype(np.float64) for a in clips.audio]
    return [
        mix_at_snr(a.astype(np.float64), m.astype(np.float64), float(s))
        for a, m, s in zip(clips.audio, data.music_test, data.test_snr_db, strict=True)
    ]


@torch.no_grad()
def transcribe(
    model: Recogniser, audio: list[np.ndarray], config: Config, device
) -> dict[str, list[str]]:
    model.eval()
    greedy, beam = [], []
    for k in range(0, len(audio), 16):
        x, lengths = pad([features(a, config) for a in audio[k : k + 16]])
        log_probs, out_lengths = model(x.to(device), lengths.to(device))
        for lp, n in zip(log_probs.cpu().double().numpy(), out_lengths.tolist(), strict=True):
            greedy.append(decode(ctc.greedy_decode(lp[:n])))
            best = ctc.prefix_beam_search(lp[:n], beam=config.beam, prune=config.prune)[0][0]
            beam.append(decode(best))
    model.train()
    return {"greedy": greedy, "beam": beam}


def normalise(text: str) -> str:
    """A decoded string in the transcripts' form: single spaces, none at either end (CTC emits
    spaces freely, and a leading space is no word)."""
    return " ".join(text.split())


def scores(refs: list[str], hyps: list[str], jiwer: Any) -> dict[str, float]:
    # empty hypotheses are fine; jiwer refuses empty references, which lyric lines never are
    hyps = [normalise(h) for h in hyps]
    return {
        "cer": ctc.character_error_rate(refs, hyps),
        "wer": ctc.word_error_rate(refs, hyps),
        "jiwer_cer": float(jiwer.cer(refs, hyps)),
        "jiwer_wer": float(jiwer.wer(refs, hyps)),
    }


# ---- listening -----------------------------------------------------------------------------
def write_wav(path: Any, x: np.ndarray, rate: int) -> None:
    peak = max(float(np.abs(x).max()), 1e-9)
    pcm = (np.clip(x / peak * 0.9, -1, 1) * 32767).round().astype("<i2").tobytes()

    def write(f: Any) -> None:
        with wave.open(f, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(pcm)

    atomic_write(path, write)


# ---- the run -------------------------------------------------------------------------------
def run(config: Config, run: Run) -> dict[str, float]:
    jiwer = JIWER.load()["jiwer"]
    recipe = recipe_of(config, run.seed)
    data = corpus(
        recipe, text_lines(config, run.seed), workers=config.synth_workers, progress=run.progress
    )
    hours = {s: c.seconds / config.rate / 3600 for s, c in data.clips.items()}
    run.print("corpus " + data.key[:12] + ": " + ", ".join(
        f"{s} {len(c):,} ({hours[s]:.2f} h)" for s, c in data.clips.items()))  # fmt: skip
    run.write_json("corpus.json", {"key": data.key, "engines": data.engines, "hours": hours,
                                   "voices": {s: sorted(set(c.voices)) for s, c in data.clips.items()}})  # fmt: skip

    models = {}
    for k, name in enumerate(MODELS):
        torch.manual_seed(sub_seed(run.seed, k))
        models[name] = Recogniser(config).to(run.device)
    optimisers = {n: torch.optim.Adam(m.parameters(), lr=config.lr) for n, m in models.items()}
    schedules = {n: torch.optim.lr_scheduler.LambdaLR(o, lambda s: learning_rate(s, config))
                 for n, o in optimisers.items()}  # fmt: skip
    rngs = {n: np.random.default_rng(sub_seed(run.seed, 10 + k)) for k, n in enumerate(MODELS)}
    curves: dict[str, list[float]] = {n: [] for n in MODELS}
    state = {**{f"model_{n}": m for n, m in models.items()},
             **{f"opt_{n}": o for n, o in optimisers.items()},
             **{f"schedule_{n}": s for n, s in schedules.items()},
             **{f"rng_{n}": r for n, r in rngs.items()}, "curves": curves}  # fmt: skip
    per_block = -(-config.steps // config.blocks)
    for i in run.loop(len(MODELS) * config.blocks, state, desc="blocks"):
        name = MODELS[i // config.blocks]
        model, pool = models[name], training_pool(data, name)
        first = (i % config.blocks) * per_block
        for step in range(first, min(config.steps, first + per_block)):
            loss = ctc_loss(model, *batch(pool, data, name, config, rngs[name], run.device))
            optimisers[name].zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), config.clip)
            optimisers[name].step()
            schedules[name].step()
            curves[name].append(float(loss.detach()))
            if (step + 1) % config.log_every == 0:
                run.log(
                    model=name,
                    step=step + 1,
                    loss=float(np.mean(curves[name][-config.log_every :])),
                )

    refs = data.clips["spoken_test"].texts
    metrics: dict[str, float] = {f"{s}_hours": h for s, h in hours.items()}
    examples: dict[str, Any] = {}
    firsts: dict[str, np.ndarray] = {}  # each condition's first test line, for the figure
    jiwer_gap = 0.0
    for condition in CONDITIONS:
        audio = test_audio(data, condition)
        firsts[condition] = audio[0]
        for name, model in models.items():
            hyps = transcribe(model, audio, config, run.device)
            for decoder, texts in hyps.items():
                sc = scores(refs, texts, jiwer)
                for metric, value in sc.items():
                    metrics[f"{name}_{condition}_{decoder}_{metric}"] = value
                jiwer_gap = max(
                    jiwer_gap, abs(sc["cer"] - sc["jiwer_cer"]), abs(sc["wer"] - sc["jiwer_wer"])
                )
            examples[f"{name}_{condition}"] = hyps["beam"][:5]
        if config.listen:
            folder = run.dir / "audio"
            folder.mkdir(exist_ok=True)
            for j in range(min(config.listen, len(audio))):
                write_wav(folder / f"{j + 1:02d}-{condition}.wav", audio[j], config.rate)
    for condition in CONDITIONS[1:]:
        base = metrics[f"speech_{condition}_beam_cer"]
        metrics[f"{condition}_relative_cer_reduction"] = 1 - metrics[
            f"sung_{condition}_beam_cer"
        ] / max(base, 1e-12)
    metrics["jiwer_max_gap"] = jiwer_gap
    run.write_json("transcripts.json", {"references": refs[:5], "hypotheses": examples})
    run.save_figure(curves_figure(curves, config), "training")
    run.save_figure(conditions_figure(metrics), "conditions")
    run.save_figure(spectra_figure(firsts, refs[0], config), "spectrograms")
    run.set_params({f"{n}.{k}": p for n, m in models.items() for k, p in m.state_dict().items()})
    return metrics


# ---- plots ---------------------------------------------------------------------------------
def curves_figure(curves: dict[str, list[float]], config: Config):
    fig, ax = figure(size=(5.5, 3.6))
    for name, losses in curves.items():
        ax.plot(smooth(np.asarray(losses), min(config.log_every, len(losses))), label=name)
    ax.set(xlabel="step", ylabel="CTC loss per target symbol (smoothed)", yscale="log",
           title="training")  # fmt: skip
    ax.legend(["speech only", "with sung lines and music"])
    fig.tight_layout()
    return fig


def conditions_figure(metrics: dict[str, float]):
    fig, ax = figure(size=(6.4, 3.8))
    width = 0.38
    labels = ["spoken", "spoken\n+ music", "sung", "sung\n+ music"]
    for k, (name, legend) in enumerate(
        (("speech", "speech only"), ("sung", "with sung lines and music"))
    ):
        values = [100 * metrics[f"{name}_{c}_beam_cer"] for c in CONDITIONS]
        bars = ax.bar(np.arange(4) + (k - 0.5) * width, values, width, label=legend)
        ax.bar_label(bars, fmt="%.0f", fontsize=7)
    ax.axhline(15, color="0.4", ls=":", lw=0.8)
    ax.set_xticks(range(4), labels)
    ax.set(ylabel="character error rate (%), beam search",
           title="test lines: unseen voices, unseen singer, unseen music")  # fmt: skip
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def spectra_figure(firsts: dict[str, np.ndarray], text: str, config: Config):
    """The features of one test line in each condition."""
    rows = [(c, features(x, config)) for c, x in firsts.items()]
    fig, axes = figure(nrows=4, size=(7.0, 1.5))
    for ax, (title, f) in zip(np.asarray(axes).ravel(), rows, strict=True):
        ax.imshow(f.T.numpy(), origin="lower", aspect="auto", cmap="magma",
                  extent=(0, len(f) / 100, 0, config.n_mels))  # fmt: skip
        ax.set_title(f"{title}: '{text}'", fontsize=8)
        ax.set_ylabel("mel band", fontsize=7)
    np.asarray(axes).ravel()[-1].set_xlabel("seconds")
    fig.tight_layout()
    return fig


JIWER = Extra("audio", ("jiwer",), "the error rates' anchor")

QUICK = {
    "voices": "toy",
    "toy_speakers": 6,
    "spoken_per_voice": 60,
    "sung_per_voice": 120,
    "test_lines": 24,
    "music_tracks": 4,
    "music_seconds": 4.0,
    "n_mels": 16,
    "channels": 32,
    "hidden": 32,
    "layers": 1,
    "steps": 300,  # 240 steps of 8 left the toy at 57% CER (CTC's all-blank plateau is long)
    "blocks": 2,
    "batch_size": 6,
    "lr": 6e-3,
    "listen": 1,
    "log_every": 20,
}

LAB = Lab(
    name="lyrics-asr",
    title="A CTC recogniser of speech meets sung lyrics and music; sung data and music fix it",
    source="OVGU introductory course project (speech recognition for sung lyrics, solo and with "
    "background music); Graves et al. 2006 (ICML), 'Connectionist temporal classification'",
    courses=("ovgu",),
    config=Config,
    run=run,
    requires=(JIWER,),
    quick=QUICK,
    targets=[
        Target(
            "speech_spoken_beam_cer",
            "<=",
            0.15,
            "the course project: CER at most 15% on spoken test sentences by unseen voices",
        ),  # fmt: skip
        Target(
            "sung_relative_cer_reduction",
            ">=",
            0.30,
            "the course project: training with sung data cuts the sung solo CER by 30% relative",
        ),  # fmt: skip
        Target(
            "sung_music_relative_cer_reduction",
            ">=",
            0.30,
            "the course project: sung data and music augmentation cut the CER with music by 30% relative",
        ),  # fmt: skip
        Target("jiwer_max_gap", "<=", 1e-12, "our edit distance gives jiwer's CER and WER"),
    ],
    quick_targets=[
        Target(
            "speech_spoken_beam_cer", "<=", 0.5, "quick: the toy language, two unseen toy voices"
        ),
        Target("jiwer_max_gap", "<=", 1e-12, "our edit distance gives jiwer's CER and WER"),
    ],
    summary="log-mel, conv + BiGRU, CTC; greedy and beam search; CER and WER with jiwer",
    time_full="44 min",
    time_quick="30 s",
)
