"""Log-mel features: the scale's inverse, the filterbank's partition of unity, a tone's band."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from practicum.mel import frames_of, hz_to_mel, log_mel, mel_filterbank, mel_to_hz


@settings(max_examples=50, deadline=None)
@given(f=st.floats(0, 20_000))
def test_mel_scale_inverts(f):
    assert float(mel_to_hz(hz_to_mel(f))) == pytest.approx(f, abs=1e-6)


def test_mel_scale_anchor():
    assert float(hz_to_mel(1000.0)) == pytest.approx(1000.0, abs=0.1)  # 1 kHz is ~1000 mel
    assert float(hz_to_mel(0.0)) == 0.0


def test_filterbank_triangles_partition_unity_between_first_and_last_centres():
    bank = mel_filterbank(20, 512, 8000)
    assert bank.shape == (20, 257) and bank.min() >= 0 and bank.max() <= 1
    centres = mel_to_hz(torch.linspace(0, float(hz_to_mel(4000.0)), 22))[1:-1]
    bins = torch.linspace(0, 4000, 257, dtype=torch.float64)
    inside = (bins >= centres[0]) & (bins <= centres[-1])
    torch.testing.assert_close(
        bank[:, inside].sum(0), torch.ones(int(inside.sum()), dtype=torch.float64)
    )
    # each triangle peaks at its own centre and only its neighbours overlap it
    peaks = bins[bank.argmax(1)]
    assert torch.all(torch.diff(peaks) > 0)
    overlap = (bank[:, None, :] * bank[None, :, :]).sum(-1) > 0
    k = torch.arange(20)
    assert torch.equal(overlap, (k[:, None] - k[None, :]).abs() <= 1)


def test_a_tone_lights_its_band():
    rate = 8000
    t = torch.arange(rate, dtype=torch.float64) / rate
    tone = torch.sin(2 * math.pi * 1000 * t)
    feats = log_mel(tone, rate, n_mels=40)
    assert feats.shape == (frames_of(rate, rate), 40)
    band = int(feats[10:-10].mean(0).argmax())
    centres = mel_to_hz(torch.linspace(0, float(hz_to_mel(4000.0)), 42))[1:-1]
    assert abs(float(centres[band]) - 1000) < float(centres[band + 1] - centres[band])
    # 20 dB louder is log(100) more in every band (the log of the power)
    louder = log_mel(10 * tone, rate, n_mels=40)
    torch.testing.assert_close(
        louder[10:-10, band], feats[10:-10, band] + math.log(100), atol=1e-6, rtol=0
    )


def test_batches_keep_their_shape():
    x = torch.randn(3, 2, 4000, dtype=torch.float64)
    out = log_mel(x, 8000, n_mels=24)
    assert out.shape == (3, 2, frames_of(4000, 8000), 24)
    torch.testing.assert_close(out[1, 0], log_mel(x[1, 0], 8000, n_mels=24))


def test_bad_band_edges_are_refused():
    with pytest.raises(ValueError, match="f_max <= rate / 2"):
        mel_filterbank(10, 256, 8000, f_max=6000)
