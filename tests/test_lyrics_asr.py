"""The sung-lyrics corpus and the CTC recogniser: splits that never leak, the toy voices, the
features' gain invariance, padding invariance of the model, and overfitting one batch."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from practicum import ctc
from practicum.data.lyrics import (
    TOY_ALPHABET,
    Recipe,
    _load,
    _save,
    build,
    sung_lines,
    toy_lines,
    toy_speaker,
    toy_utterance,
)
from practicum.errors import PracticumError
from practicum.labs.sequence.lyrics_asr import (
    SYMBOLS,
    Config,
    Recogniser,
    ctc_loss,
    decode,
    encode,
    features,
    learning_rate,
    normalise,
    pad,
    with_music,
)

RATE = 8000


def toy_recipe(**changes) -> Recipe:
    base = Recipe(
        spoken_train=("toy:0", "toy:1"),
        spoken_test=("toy:2",),
        sung_train=("toy-sung:0",),
        sung_test=("toy-sung:3",),
        spoken_per_voice=3,
        sung_per_voice=2,
        test_lines=3,
        music_tracks=2,
        music_seconds=1.0,
        snr_db=(0.0, 10.0),
        rate=RATE,
        seed=1,
    )
    return dataclasses.replace(base, **changes)


def test_splits_never_share_lines_and_test_conditions_are_paired():
    lines = toy_lines(100, seed=0)
    corpus = build(toy_recipe(), lines)
    c = corpus.clips
    train = set(c["spoken_train"].texts) | set(c["sung_train"].texts)
    assert not train & set(c["spoken_test"].texts)
    assert c["spoken_test"].texts == c["sung_test"].texts  # the same lines in every condition
    assert len(c["spoken_train"]) == 6 and len(c["sung_train"]) == 2 and len(c["spoken_test"]) == 3
    assert set(c["spoken_test"].voices) == {"toy:2"} and set(c["sung_test"].voices) == {
        "toy-sung:3"
    }
    assert len(corpus.music_test) == 3 and np.all(
        (corpus.test_snr_db >= 0) & (corpus.test_snr_db <= 10)
    )
    again = build(toy_recipe(), lines)
    for split in c:
        for a, b in zip(c[split].audio, again.clips[split].audio, strict=True):
            np.testing.assert_array_equal(a, b)


def test_the_cache_file_round_trips(tmp_path):
    corpus = build(toy_recipe(), toy_lines(100, seed=0))
    _save(tmp_path / "c.npz", corpus)
    back = _load(tmp_path / "c.npz")
    for split, clips in corpus.clips.items():
        assert back.clips[split].texts == clips.texts and back.clips[split].voices == clips.voices
        for a, b in zip(clips.audio, back.clips[split].audio, strict=True):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.stack(back.music_test), np.stack(corpus.music_test))
    np.testing.assert_array_equal(back.test_snr_db, corpus.test_snr_db)


def test_recipes_that_leak_or_cannot_sing_are_refused():
    with pytest.raises(PracticumError, match="never be heard in training"):
        toy_recipe(spoken_test=("toy:1",)).validate()
    with pytest.raises(PracticumError, match="does not sing"):
        toy_recipe(sung_test=("festival:cmu_us_slt_arctic_hts",)).validate()
    with pytest.raises(PracticumError, match="needs 1,005 lines"):
        build(toy_recipe(spoken_per_voice=500), toy_lines(100, seed=0))


def test_lyric_lines_are_transcripts():
    text = "ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east.\n\nJULIET:\nAy me!"
    assert sung_lines(text) == [
        "but soft what light through yonder window breaks",
        "it is the east",
    ]


def test_toy_voices_speak_short_and_sing_long():
    text = "abc defg"
    spoken = toy_utterance(text, toy_speaker(0), sung=False, seed=3, rate=RATE)
    sung = toy_utterance(text, toy_speaker(0), sung=True, seed=3, rate=RATE)
    # spoken letters 60-100 ms plus one 40-90 ms pause; sung letters 150-300 ms
    assert 7 * 0.06 + 0.04 <= len(spoken) / RATE <= 7 * 0.1 + 0.09
    assert 7 * 0.15 <= len(sung) / RATE <= 7 * 0.3
    np.testing.assert_array_equal(spoken, toy_utterance(text, toy_speaker(0), False, 3, RATE))
    assert set(toy_lines(50, 0)[0]) <= set(TOY_ALPHABET + " ")


def test_symbols_round_trip_and_decoded_text_is_normalised():
    text = "the quick brown fox"
    assert decode(encode(text)) == text and SYMBOLS[0] == "_"
    assert normalise("  the  quick ") == "the quick"


def test_features_ignore_the_input_level():
    rng = np.random.default_rng(0)
    x = rng.normal(size=RATE)
    config = Config(n_mels=24)
    torch.testing.assert_close(features(3.0 * x, config), features(x, config), atol=1e-4, rtol=0)


def test_music_is_mixed_within_the_snr_range():
    rng = np.random.default_rng(0)
    x = rng.normal(size=4000)
    music = [rng.normal(size=3000)]
    config = Config(snr_low=2.0, snr_high=4.0)
    mixed = with_music(x, music, rng, config)
    snr = 10 * np.log10(np.mean(x**2) / np.mean((mixed - x) ** 2))
    assert 2.0 - 1e-9 <= snr <= 4.0 + 1e-9


def test_output_lengths_match_the_strided_convolution():
    model = Recogniser(Config(n_mels=8, channels=4, hidden=4, layers=1))
    for t in range(1, 40):
        out = model.front(torch.zeros(1, 8, t), torch.tensor([t]))
        assert out.shape[-1] == int(model.output_lengths(torch.tensor([t])))


def test_padding_does_not_change_an_utterance_s_output():
    torch.manual_seed(0)
    model = Recogniser(Config(n_mels=8, channels=6, hidden=5, layers=2, dropout=0.0)).eval()
    feats = [torch.randn(t, 8) for t in (17, 9, 30)]
    x, lengths = pad(feats)
    batched, out_lengths = model(x, lengths)
    for i, f in enumerate(feats):
        alone, n = model(f[None], torch.tensor([len(f)]))
        # the convolution sees zeros past the end either way; the GRU must not see the padding
        torch.testing.assert_close(
            batched[i, : int(out_lengths[i])], alone[0, : int(n)], atol=1e-5, rtol=0
        )


def test_learning_rate_warms_up_then_decays_to_its_end():
    config = Config(steps=200, lr_end=0.1)
    values = [learning_rate(s, config) for s in range(200)]
    assert values[0] == pytest.approx(0.1) and values[9] == pytest.approx(1.0)  # 10 warm-up steps
    assert all(a >= b for a, b in zip(values[9:], values[10:], strict=False))
    assert values[-1] == pytest.approx(0.1, abs=1e-3)


def test_the_recogniser_overfits_one_batch_of_toy_speech():
    """Four toy utterances learned to a greedy transcript without an error: the loss, the
    lengths and the decoding line up."""
    torch.manual_seed(0)
    config = Config(n_mels=16, channels=32, hidden=32, layers=1, dropout=0.0)
    texts = ["abc de", "hgf", "bad cafe", "gh ha"]
    audio = [
        toy_utterance(t, toy_speaker(0), False, k, RATE).astype(np.float64)
        for k, t in enumerate(texts)
    ]
    x, lengths = pad([features(a, config) for a in audio])
    targets = torch.tensor([s for t in texts for s in encode(t)])
    target_lengths = torch.tensor([len(t) for t in texts])
    model = Recogniser(config)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(300):
        loss = ctc_loss(model, x, lengths, targets, target_lengths)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    log_probs, out_lengths = model(x, lengths)
    decoded = [
        normalise(decode(ctc.greedy_decode(lp[: int(n)].detach().numpy())))
        for lp, n in zip(log_probs, out_lengths, strict=True)
    ]
    assert decoded == texts, (decoded, float(loss))
