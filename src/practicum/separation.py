"""Single-channel source separation by time-frequency masking: the STFT, masks, the deep
clustering objectives, k-means, and the scale-invariant SDR.

Shapes: a batch of spectrograms is (B, T, F) -- frames by frequency bins -- and a batch of
embeddings is (B, T·F, D), one D-dimensional vector per time-frequency bin. Sources are the
last axis of a target: (B, T·F, C) one-hot assignments, (B, C, T, F) magnitudes.

Deep clustering (Hershey, Chen, Le Roux & Watanabe 2016) learns embeddings V whose affinity
VVᵀ matches the ideal one YYᵀ (Y the one-hot "which source dominates this bin"). The T·F × T·F
matrices never exist: ‖VVᵀ − YYᵀ‖²_F = ‖VᵀV‖² − 2‖VᵀY‖² + ‖YᵀY‖² costs O(T·F·D²).
Wang, Le Roux & Hershey 2018 ("Alternative objective functions for deep clustering") replace
it by the whitened k-means objective D − tr((VᵀV)⁻¹ VᵀY (YᵀY)⁻¹ YᵀV), which is invariant to
any invertible linear map of the embeddings, and add a mask-inference head trained with the
phase-sensitive approximation (chimera++).
"""

from __future__ import annotations

import math
from itertools import permutations

import numpy as np
import torch

# ---- the short-time Fourier transform ------------------------------------------------------


def stft_window(n_fft: int) -> torch.Tensor:
    """The square root of a periodic Hann window: applied at analysis and again at synthesis
    its square is a Hann window, whose shifts by n_fft / 4 sum to a constant, so masking with
    all ones gives back the signal."""
    return torch.hann_window(n_fft, periodic=True, dtype=torch.float64).sqrt()


def stft(x: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """Complex spectrogram (..., T, F) of waveforms (..., N), F = n_fft // 2 + 1."""
    window = stft_window(n_fft).to(device=x.device, dtype=x.dtype)
    flat = x.reshape(-1, x.shape[-1])
    spec = torch.stft(flat, n_fft, hop, window=window, center=True, return_complex=True)
    return spec.transpose(-1, -2).reshape(*x.shape[:-1], spec.shape[-1], spec.shape[-2])


def istft(spec: torch.Tensor, n_fft: int, hop: int, length: int) -> torch.Tensor:
    """Waveforms (..., length) of complex spectrograms (..., T, F); the inverse of :func:`stft`."""
    real = spec.real.dtype
    window = stft_window(n_fft).to(device=spec.device, dtype=real)
    flat = spec.reshape(-1, *spec.shape[-2:]).transpose(-1, -2)
    x = torch.istft(flat, n_fft, hop, window=window, center=True, length=length)
    return x.reshape(*spec.shape[:-2], length)


def log_magnitude(spec: torch.Tensor, floor: float = 1e-6) -> torch.Tensor:
    """log |X| with a floor, the network's input (Hershey et al.: log spectral magnitudes)."""
    return torch.log(spec.abs().clamp_min(floor))


def active_bins(mixture_spec: torch.Tensor, threshold_db: float = 40.0) -> torch.Tensor:
    """Weights (…, T, F) of 1 for bins within ``threshold_db`` of the utterance's loudest bin and
    0 for the rest: silent bins have no dominant source, so the paper leaves them out of the
    loss (its 40 dB) and out of clustering."""
    level = 20 * torch.log10(mixture_spec.abs().clamp_min(1e-12))
    top = level.flatten(-2).amax(-1)[..., None, None]
    return (level > top - threshold_db).to(mixture_spec.real.dtype)


def magnitude_weights(mixture_spec: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
    """Wang, Le Roux & Hershey 2018's magnitude weights: each counted bin weighs |X| over the
    utterance's mean |X| of counted bins (mean 1), so loud bins -- the ones that carry the
    separated signal's energy -- dominate the clustering loss and near-silent ones hardly
    count."""
    mags = mixture_spec.abs() * active
    mean = mags.flatten(-2).sum(-1) / active.flatten(-2).sum(-1).clamp_min(1)
    return mags / mean.clamp_min(1e-12)[..., None, None]


# ---- oracle masks and training targets -----------------------------------------------------


def ideal_binary_mask(source_specs: torch.Tensor) -> torch.Tensor:
    """(…, C, T, F) one where a source is the loudest in the bin (ties go to the first)."""
    # argmax along the last, contiguous axis: along axis -3 it took 36 ms a training batch
    winner = source_specs.abs().movedim(-3, -1).contiguous().argmax(dim=-1)
    return (
        torch.nn.functional.one_hot(winner, source_specs.shape[-3])
        .movedim(-1, -3)
        .to(source_specs.real.dtype)
    )


def ideal_ratio_mask(source_specs: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """(…, C, T, F) |S_c| / Σ_k |S_k|: the magnitude share of each source."""
    mags = source_specs.abs()
    return mags / mags.sum(dim=-3, keepdim=True).clamp_min(eps)


def phase_sensitive_target(
    source_specs: torch.Tensor, mixture_spec: torch.Tensor, gamma: float = 1.0
) -> torch.Tensor:
    """|S_c| cos(θ_X − θ_c) truncated to [0, γ|X|] (Erdogan et al. 2015; chimera++'s target):
    the magnitude whose use with the mixture's phase minimises the complex error."""
    x = mixture_spec.unsqueeze(-3)
    cosine = (source_specs * x.conj()).real / (source_specs.abs() * x.abs()).clamp_min(1e-12)
    target = source_specs.abs() * cosine
    return torch.minimum(target.clamp_min(0), gamma * x.abs())


def assignments(masks: torch.Tensor) -> torch.Tensor:
    """(…, C, T, F) masks as (…, T·F, C): Y of the deep clustering losses."""
    return masks.flatten(-2).transpose(-1, -2)


# ---- the deep clustering objectives --------------------------------------------------------


def _weighted(
    v: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    if weights is None:
        return v, y
    root = weights.reshape(*weights.shape[:-2], -1, 1).sqrt().to(v.dtype)
    return v * root, y * root


def deep_clustering_loss(
    v: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """‖W^½(VVᵀ − YYᵀ)W^½‖²_F in its low-rank form, per utterance divided by (Σw)², averaged.

    v: (B, N, D) embeddings, y: (B, N, C) one-hot, weights: (B, T, F) with T·F = N or None.
    Dividing by the squared number of counted bins makes utterances of any length weigh the
    same and the loss lie in [0, 2] for unit-norm embeddings (Hershey et al. leave it unnormalised).
    """
    v, y = _weighted(v, y.to(v.dtype), weights)
    vv = v.transpose(-1, -2) @ v
    vy = v.transpose(-1, -2) @ y
    yy = y.transpose(-1, -2) @ y
    loss = vv.square().sum((-1, -2)) - 2 * vy.square().sum((-1, -2)) + yy.square().sum((-1, -2))
    counted = (y.square().sum((-1, -2)) if weights is None else weights.flatten(-2).sum(-1)).to(
        v.dtype
    )
    return (loss / counted.clamp_min(1).square()).mean()


def deep_clustering_loss_naive(
    v: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """The same loss through the N × N affinity matrices (tests only: O(N²) memory)."""
    y = y.to(v.dtype)
    diff = v @ v.transpose(-1, -2) - y @ y.transpose(-1, -2)
    if weights is not None:
        w = weights.reshape(weights.shape[0], -1).to(v.dtype)
        diff = diff * w[:, :, None].sqrt() * w[:, None, :].sqrt()
        counted = w.sum(-1)
    else:
        counted = y.square().sum((-1, -2))
    return (diff.square().sum((-1, -2)) / counted.clamp_min(1).square()).mean()


def whitened_kmeans_loss(
    v: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None = None, ridge: float = 1e-6
) -> torch.Tensor:
    """Wang et al. 2018's DC-W: D − tr((VᵀV)⁻¹ VᵀY (YᵀY)⁻¹ YᵀV), averaged over utterances.

    It is ‖V(VᵀV)^-½ − Y(YᵀY)⁻¹YᵀV(VᵀV)^-½‖²_F: the k-means error of the whitened embeddings
    under the ideal partition. The whitened embeddings span D directions and the partition C,
    so its least value is D − C (D ≥ C), reached when C of those directions lie in span(Y).
    ``ridge`` (times the trace's mean) keeps VᵀV and YᵀY invertible when a source is absent
    from the counted bins of a chunk.
    """
    v, y = _weighted(v, y.to(v.dtype), weights)
    d, c = v.shape[-1], y.shape[-1]
    vv = v.transpose(-1, -2) @ v
    yy = y.transpose(-1, -2) @ y
    vy = v.transpose(-1, -2) @ y
    eye_d = torch.eye(d, dtype=v.dtype, device=v.device)
    eye_c = torch.eye(c, dtype=v.dtype, device=v.device)
    scale_v = vv.diagonal(dim1=-2, dim2=-1).mean(-1)[..., None, None].clamp_min(1e-12)
    scale_y = yy.diagonal(dim1=-2, dim2=-1).mean(-1)[..., None, None].clamp_min(1e-12)
    vv = vv + ridge * scale_v * eye_d
    yy = yy + ridge * scale_y * eye_c
    inner = torch.linalg.solve(vv, vy) @ torch.linalg.solve(yy, vy.transpose(-1, -2))
    return (d - inner.diagonal(dim1=-2, dim2=-1).sum(-1)).mean()


def whiten(v: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """V(VᵀV)^-½ over the counted bins (N, D): the space DC-W's k-means clusters in."""
    counted = v if weights is None else v[weights.reshape(-1) > 0]
    gram = counted.transpose(-1, -2) @ counted
    values, vectors = torch.linalg.eigh(gram.to(torch.float64))
    inv_root = vectors @ torch.diag(values.clamp_min(1e-12 * float(values.max())).rsqrt())
    return v @ (inv_root @ vectors.T).to(v.dtype)


def pit_l1_loss(
    masks: torch.Tensor, mixture_mag: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """Permutation-invariant L1 between masked mixtures and targets (chimera++'s mask loss):
    min over source orders of Σ_c |M̂_c ⊙ |X| − T_c|, divided by Σ|X|, averaged over the batch.

    masks, targets: (B, C, T, F); mixture_mag: (B, T, F)."""
    est = masks * mixture_mag.unsqueeze(1)
    c = masks.shape[1]
    per_order = torch.stack(
        [(est[:, list(order)] - targets).abs().sum((1, 2, 3)) for order in permutations(range(c))]
    )
    return (per_order.amin(0) / mixture_mag.sum((1, 2)).clamp_min(1e-12)).mean()


# ---- k-means -------------------------------------------------------------------------------


def kmeans(
    x: torch.Tensor, k: int, generator: torch.Generator, iterations: int = 30
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's algorithm from a k-means++ start: (labels (N,), centres (k, D)) of points (N, D).

    Deterministic given the generator; an empty cluster keeps its previous centre."""
    n = x.shape[0]
    first = int(torch.randint(n, (1,), generator=generator))
    centres = [x[first]]
    closest = (x - x[first]).square().sum(1)
    for _ in range(1, k):
        p = closest / closest.sum().clamp_min(1e-30)
        pick = int(torch.multinomial(p.cpu().double(), 1, generator=generator))
        centres.append(x[pick])
        closest = torch.minimum(closest, (x - x[pick]).square().sum(1))
    c = torch.stack(centres)
    labels = torch.cdist(x, c).argmin(1)
    for _ in range(iterations):
        counts = torch.bincount(labels, minlength=k).to(x.dtype)
        sums = torch.zeros_like(c).index_add_(0, labels, x)
        c = torch.where(counts[:, None] > 0, sums / counts.clamp_min(1)[:, None], c)
        new = torch.cdist(x, c).argmin(1)
        if torch.equal(new, labels):
            break
        labels = new
    return labels, c


# ---- the scale-invariant signal-to-distortion ratio ----------------------------------------


def si_sdr(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Le Roux, Wisdom, Erdogan & Hershey 2019, Eq. 4 (zero-mean signals): the estimate
    projected on the reference is the target αs, α = ⟨ŝ, s⟩ / ‖s‖², the rest is the distortion;
    10 log10 ‖αs‖² / ‖ŝ − αs‖². +inf for a scaled copy."""
    s = np.asarray(reference, np.float64) - np.mean(reference)
    e = np.asarray(estimate, np.float64) - np.mean(estimate)
    alpha = float(e @ s) / max(float(s @ s), 1e-30)
    target = alpha * s
    noise = float(np.sum((e - target) ** 2))
    if noise == 0.0:
        return math.inf
    return 10 * math.log10(max(float(target @ target), 1e-300) / noise)


def best_order(estimates: np.ndarray, references: np.ndarray) -> tuple[int, ...]:
    """The order of the estimates (C, N) that maximises the mean SI-SDR against the references."""
    c = len(references)
    scores = np.array([[si_sdr(estimates[i], references[j]) for j in range(c)] for i in range(c)])
    return max(permutations(range(c)), key=lambda o: sum(scores[o[j], j] for j in range(c)))


def si_sdr_improvement(
    estimates: np.ndarray, references: np.ndarray, mixture: np.ndarray
) -> np.ndarray:
    """Per source: SI-SDR of the best-ordered estimate minus SI-SDR of the mixture itself."""
    order = best_order(estimates, references)
    return np.array(
        [
            si_sdr(estimates[o], references[j]) - si_sdr(mixture, references[j])
            for j, o in enumerate(order)
        ]
    )
