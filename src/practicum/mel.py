"""Log-mel spectrograms: what a speech recogniser hears.

The mel scale (O'Shaughnessy's formula, as HTK writes it) is m = 2595 · log10(1 + f / 700):
about linear below 1 kHz and logarithmic above, like the ear's pitch resolution. A mel
filterbank is ``n_mels`` triangles whose corners are equally spaced in mel from ``f_min`` to
``f_max``; triangle k rises from corner k to 1 at corner k + 1 and falls to 0 at corner k + 2, so
between the first and last centres neighbouring triangles sum to exactly 1. The features are
the log of the power spectrum (a Hann-windowed STFT) weighted by each triangle.
"""

from __future__ import annotations

import math

import torch


def hz_to_mel(f: torch.Tensor | float) -> torch.Tensor:
    return 2595.0 * torch.log10(1.0 + torch.as_tensor(f, dtype=torch.float64) / 700.0)


def mel_to_hz(m: torch.Tensor | float) -> torch.Tensor:
    return 700.0 * (10.0 ** (torch.as_tensor(m, dtype=torch.float64) / 2595.0) - 1.0)


def mel_filterbank(
    n_mels: int, n_fft: int, rate: int, f_min: float = 0.0, f_max: float | None = None
) -> torch.Tensor:
    """(n_mels, n_fft // 2 + 1) triangular weights on the STFT's bin frequencies."""
    f_max = rate / 2 if f_max is None else f_max
    if not 0 <= f_min < f_max <= rate / 2:
        raise ValueError(f"need 0 <= f_min < f_max <= rate / 2, got {f_min}, {f_max}, {rate}")
    corners = mel_to_hz(
        torch.linspace(float(hz_to_mel(f_min)), float(hz_to_mel(f_max)), n_mels + 2)
    )
    bins = torch.linspace(0, rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    lo, mid, hi = corners[:-2, None], corners[1:-1, None], corners[2:, None]
    rising = (bins - lo) / (mid - lo)
    falling = (hi - bins) / (hi - mid)
    return torch.clamp(torch.minimum(rising, falling), min=0.0)


def log_mel(
    waves: torch.Tensor,
    rate: int,
    n_mels: int = 40,
    window_s: float = 0.025,
    hop_s: float = 0.010,
    floor: float = 1e-10,
) -> torch.Tensor:
    """(..., frames, n_mels) log mel energies of waveforms (..., samples): a Hann window of
    ``window_s`` every ``hop_s`` (the ASR convention, 25 ms every 10 ms), the FFT size the next
    power of two."""
    win = int(round(window_s * rate))
    hop = int(round(hop_s * rate))
    n_fft = 2 ** math.ceil(math.log2(win))
    flat = waves.reshape(-1, waves.shape[-1])
    window = torch.hann_window(win, periodic=True, dtype=flat.dtype, device=flat.device)
    spec = torch.stft(flat, n_fft, hop, win, window=window, center=True, return_complex=True)
    power = spec.abs() ** 2  # (B, F, T)
    bank = mel_filterbank(n_mels, n_fft, rate).to(power.dtype).to(power.device)
    mel = torch.einsum("mf,bft->btm", bank, power)
    return torch.log(mel + floor).reshape(*waves.shape[:-1], mel.shape[1], n_mels)


def frames_of(samples: int, rate: int, hop_s: float = 0.010) -> int:
    """How many frames :func:`log_mel` gives ``samples`` samples (a centred STFT)."""
    return samples // int(round(hop_s * rate)) + 1
