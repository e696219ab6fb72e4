"""practicum.separation against its definitions: the low-rank deep clustering loss equals the
naive N × N form, the whitened k-means objective equals its closed form and is invariant to
linear maps, the STFT inverts, SI-SDR has its known values, PIT picks the best order, k-means
finds separated clusters; the two-speaker corpus keeps its levels and its open condition; a
few real utterances of espeak-ng and flite."""

from __future__ import annotations

import math
import shutil
from itertools import permutations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from practicum import separation as sep
from practicum.data import two_speaker
from practicum.data.speech import RATE, Voice, standin_utterance, standin_voices, synthesise
from practicum.errors import PracticumError


def random_problem(seed: int, b: int = 2, t: int = 7, f: int = 5, d: int = 4, c: int = 2):
    g = torch.Generator().manual_seed(seed)
    v = torch.nn.functional.normalize(
        torch.randn(b, t * f, d, generator=g, dtype=torch.float64), dim=-1
    )
    labels = torch.randint(c, (b, t * f), generator=g)
    y = torch.nn.functional.one_hot(labels, c).double()
    w = (torch.rand(b, t, f, generator=g) > 0.3).double()
    return v, y, w


# ---- the deep clustering loss ----------------------------------------------------------------
@given(st.integers(0, 10_000), st.integers(2, 8), st.integers(2, 3), st.booleans())
@settings(max_examples=40, deadline=None)
def test_low_rank_loss_equals_the_naive_affinity_form(
    seed: int, d: int, c: int, weighted: bool
) -> None:
    v, y, w = random_problem(seed, d=d, c=c)
    weights = w if weighted else None
    fast = sep.deep_clustering_loss(v, y, weights)
    naive = sep.deep_clustering_loss_naive(v, y, weights)
    torch.testing.assert_close(fast, naive, rtol=1e-10, atol=1e-12)


def test_deep_clustering_loss_is_zero_at_the_ideal_embedding_and_two_pq_when_collapsed() -> None:
    _, y, w = random_problem(3, d=2, c=2)
    assert float(sep.deep_clustering_loss(y.clone(), y, w)) == pytest.approx(0.0, abs=1e-12)
    # every bin on one direction: the pairs of different sources (share 2pq) each cost 1
    collapsed = torch.zeros_like(y)
    collapsed[..., 0] = 1
    loss = sep.deep_clustering_loss(collapsed, y, None)
    p = y[..., 0].mean(-1)
    torch.testing.assert_close(loss, (2 * p * (1 - p)).mean())


def test_silent_bins_do_not_enter_the_loss() -> None:
    v, y, w = random_problem(5)
    scrambled = v.clone()
    off = w.reshape(v.shape[0], -1) == 0
    scrambled[off] = -scrambled[off]  # change only the weighted-out bins' embeddings
    torch.testing.assert_close(
        sep.deep_clustering_loss(v, y, w), sep.deep_clustering_loss(scrambled, y, w)
    )


# ---- the whitened k-means objective (Wang et al. 2018) -----------------------------------------
@given(st.integers(0, 10_000), st.integers(2, 6))
@settings(max_examples=30, deadline=None)
def test_dcw_equals_the_whitened_kmeans_error_and_is_invariant_to_linear_maps(
    seed: int, d: int
) -> None:
    v, y, _ = random_problem(seed, b=1, t=9, f=6, d=d)
    loss = sep.whitened_kmeans_loss(v, y, ridge=0.0)
    # closed form: the whitened embeddings U = V(VᵀV)^-½ minus their projection on span(Y)
    u = sep.whiten(v[0])
    projection = y[0] @ torch.linalg.solve(y[0].T @ y[0], y[0].T)
    error = (u - projection @ u).square().sum()
    torch.testing.assert_close(loss, error, rtol=1e-8, atol=1e-10)
    g = torch.Generator().manual_seed(seed + 1)
    a = torch.randn(d, d, generator=g, dtype=torch.float64) + 3 * torch.eye(d, dtype=torch.float64)
    torch.testing.assert_close(
        sep.whitened_kmeans_loss(v @ a, y, ridge=0.0), loss, rtol=1e-7, atol=1e-9
    )


def test_dcw_reaches_its_least_value_d_minus_c_at_the_ideal_partition() -> None:
    _, y, _ = random_problem(2, b=1, d=3, c=2)
    g = torch.Generator().manual_seed(0)
    extra = torch.randn(1, y.shape[1], 2, generator=g, dtype=torch.float64)
    v = torch.cat([y, extra], dim=-1)  # two directions in span(Y), two outside: D = 4
    assert float(sep.whitened_kmeans_loss(v, y, ridge=0.0)) == pytest.approx(4 - 2, abs=1e-9)


# ---- the STFT, masks and targets -----------------------------------------------------------
@given(st.integers(0, 1000), st.sampled_from([(256, 64), (64, 16), (32, 8)]), st.integers(300, 900))
@settings(max_examples=20, deadline=None)
def test_stft_with_all_ones_mask_gives_back_the_signal(
    seed: int, fft_hop: tuple[int, int], n: int
) -> None:
    n_fft, hop = fft_hop
    x = torch.randn(2, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    spec = sep.stft(x, n_fft, hop)
    assert spec.shape == (2, n // hop + 1, n_fft // 2 + 1)
    torch.testing.assert_close(sep.istft(spec, n_fft, hop, n), x, rtol=1e-9, atol=1e-9)


def test_oracle_masks_sum_to_one_and_the_ibm_picks_the_loudest() -> None:
    g = torch.Generator().manual_seed(1)
    s = torch.complex(torch.randn(3, 6, 5, generator=g), torch.randn(3, 6, 5, generator=g))
    ibm, irm = sep.ideal_binary_mask(s), sep.ideal_ratio_mask(s)
    torch.testing.assert_close(ibm.sum(0), torch.ones(6, 5))
    torch.testing.assert_close(irm.sum(0), torch.ones(6, 5))
    assert torch.equal(ibm.argmax(0), s.abs().argmax(0))


def test_phase_sensitive_target_is_the_projection_truncated_to_the_mixture() -> None:
    g = torch.Generator().manual_seed(2)
    s = torch.complex(torch.randn(2, 4, 3, generator=g, dtype=torch.float64),
                      torch.randn(2, 4, 3, generator=g, dtype=torch.float64))  # fmt: skip
    x = s.sum(0)
    target = sep.phase_sensitive_target(s, x)
    projection = (s * x.conj()).real / x.abs()  # the component of S_c along X's phase
    torch.testing.assert_close(target, projection.clamp_min(0).minimum(x.abs()))
    # in phase with the mixture and quieter than it: the target is the source's magnitude
    aligned = torch.stack([0.3 * x, 0.7 * x])
    torch.testing.assert_close(sep.phase_sensitive_target(aligned, x), aligned.abs())


def test_pit_loss_takes_the_best_order() -> None:
    g = torch.Generator().manual_seed(3)
    mag = torch.rand(1, 5, 4, generator=g) + 0.1
    masks = torch.rand(1, 2, 5, 4, generator=g).softmax(1)
    targets = masks.flip(1) * mag.unsqueeze(1)  # the right answer in the other order
    assert float(sep.pit_l1_loss(masks, mag, targets)) == pytest.approx(0.0, abs=1e-7)
    est = masks * mag.unsqueeze(1)
    other = torch.rand(1, 2, 5, 4, generator=g)
    expected = min(
        float((est[:, list(o)] - other).abs().sum()) for o in permutations(range(2))
    ) / float(mag.sum())
    assert float(sep.pit_l1_loss(masks, mag, other)) == pytest.approx(expected, rel=1e-6)


def test_active_bins_keep_what_is_within_the_threshold() -> None:
    spec = torch.tensor([[1.0, 0.1, 0.011, 0.009]], dtype=torch.complex64)  # 0, -20, -39, -41 dB
    assert sep.active_bins(spec, 40.0).tolist() == [[1.0, 1.0, 1.0, 0.0]]


def test_magnitude_weights_are_proportional_to_the_mixture_with_mean_one() -> None:
    g = torch.Generator().manual_seed(6)
    x = torch.complex(torch.randn(2, 8, 5, generator=g, dtype=torch.float64),
                      torch.randn(2, 8, 5, generator=g, dtype=torch.float64))  # fmt: skip
    active = (torch.rand(2, 8, 5, generator=g) > 0.4).double()
    w = sep.magnitude_weights(x, active)
    assert torch.all(w[active == 0] == 0)
    for b in range(2):
        on = active[b] > 0
        torch.testing.assert_close(w[b][on].mean(), torch.tensor(1.0, dtype=torch.float64))
        ratio = w[b][on] / x[b].abs()[on]
        torch.testing.assert_close(ratio, ratio[0].expand_as(ratio))


# ---- k-means -------------------------------------------------------------------------------
def test_kmeans_recovers_separated_clusters_deterministically() -> None:
    g = torch.Generator().manual_seed(4)
    centres = torch.tensor([[5.0, 0.0], [-5.0, 0.0], [0.0, 5.0]])
    truth = torch.randint(3, (300,), generator=g)
    x = centres[truth] + 0.3 * torch.randn(300, 2, generator=g)
    labels, found = sep.kmeans(x, 3, torch.Generator().manual_seed(0))
    again, _ = sep.kmeans(x, 3, torch.Generator().manual_seed(0))
    assert torch.equal(labels, again)
    # the same partition up to renaming
    pairs = {(int(a), int(b)) for a, b in zip(labels, truth, strict=True)}
    assert len(pairs) == 3
    torch.testing.assert_close(
        found[found[:, 0].argsort()], centres[centres[:, 0].argsort()], atol=0.1, rtol=0
    )


# ---- SI-SDR --------------------------------------------------------------------------------
def test_si_sdr_known_values() -> None:
    rng = np.random.default_rng(0)
    s = rng.standard_normal(4000)
    s -= s.mean()
    assert sep.si_sdr(s, s) == math.inf
    assert sep.si_sdr(3.7 * s, s) > 250  # a scaled copy: only rounding is left
    # noise orthogonal to s at a tenth of its power: exactly 10 dB, whatever the scale
    n = rng.standard_normal(4000)
    n -= n.mean()
    n -= (n @ s) / (s @ s) * s
    n *= np.sqrt(0.1 * (s @ s) / (n @ n))
    assert sep.si_sdr(0.5 * (s + n), s) == pytest.approx(10.0, abs=1e-9)
    # the mixture of two orthogonal equal-power sources: 0 dB against either
    assert sep.si_sdr(s + n / np.sqrt(0.1), s) == pytest.approx(0.0, abs=1e-9)


def test_si_sdr_improvement_takes_the_best_source_order() -> None:
    rng = np.random.default_rng(1)
    refs = rng.standard_normal((2, 2000))
    mix = refs.sum(0)
    est = refs[::-1] + 0.01 * rng.standard_normal((2, 2000))
    assert sep.best_order(est, refs) == (1, 0)
    gain = sep.si_sdr_improvement(est, refs, mix)
    assert np.all(gain > 30)


# ---- the corpus ----------------------------------------------------------------------------
@given(st.floats(0, 5), st.integers(500, 3000), st.integers(500, 3000))
@settings(max_examples=25, deadline=None)
def test_mix_sets_the_level_difference_and_cuts_to_the_shorter(
    level: float, na: int, nb: int
) -> None:
    rng = np.random.default_rng(na * nb)
    pair = two_speaker.mix(rng.standard_normal(na), 0.1 * rng.standard_normal(nb), level, 2500)
    assert pair.shape == (2, min(na, nb, 2500))
    power = (pair.astype(np.float64) ** 2).mean(axis=1)
    assert 10 * np.log10(power[0] / power[1]) == pytest.approx(level, abs=1e-3)
    assert np.abs(pair.sum(0)).max() == pytest.approx(0.9, rel=1e-5)


def tiny_recipe(**kw) -> two_speaker.Recipe:
    base = dict(
        train_voices=tuple(f"standin:{i}" for i in range(4)),
        test_voices=("standin:4", "standin:5"),
        utterances_per_voice=3,
        val_utterances_per_voice=1,
        test_utterances_per_voice=2,
        mixtures=(6, 2, 3),
        max_seconds=1.0,
        max_level_db=5.0,
        seed=0,
    )
    base.update(kw)
    return two_speaker.Recipe(**base)


LINES = [f"word{i} alpha beta gamma delta epsilon" for i in range(40)]


def test_corpus_keeps_the_open_condition_and_levels_and_is_cached() -> None:
    data, key = two_speaker.corpus(tiny_recipe(), LINES)
    assert [len(data[s]) for s in two_speaker.SPLITS] == [6, 2, 3]
    for split, m in data.items():
        assert all(a != b for a, b in m.speakers)
        assert np.all((m.level_db >= 0) & (m.level_db <= 5))
        expected = (
            ["standin:4", "standin:5"] if split == "test" else [f"standin:{i}" for i in range(4)]
        )
        assert m.voices == expected
    again, key2 = two_speaker.corpus(tiny_recipe(), LINES)
    assert key2 == key
    for s in two_speaker.SPLITS:
        for a, b in zip(data[s].sources, again[s].sources, strict=True):
            np.testing.assert_array_equal(a, b)
    assert two_speaker.corpus(tiny_recipe(seed=1), LINES)[1] != key


def test_a_test_voice_heard_in_training_is_refused() -> None:
    with pytest.raises(PracticumError, match="never be heard"):
        two_speaker.corpus(tiny_recipe(test_voices=("standin:1", "standin:5")), LINES)


def test_spoken_lines_drop_speaker_names_and_join_short_lines() -> None:
    text = "First Citizen:\nBefore we proceed any further,\nhear me speak.\n\nAll:\nSpeak, speak."
    assert two_speaker.spoken_lines(text) == ["Before we proceed any further, hear me speak."]


def test_standin_voices_differ_in_pitch() -> None:
    (f_low, _), (f_high, _) = sorted(standin_voices(2, 7))
    x = standin_utterance("aa bb", (f_low, 1.0), 0)
    assert x.ndim == 1 and 0.1 * RATE < len(x) < 2 * RATE and np.abs(x).max() == pytest.approx(0.5)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_espeak_voices_speak_at_8_khz_and_differ() -> None:
    a = synthesise(Voice("espeak-ng", "en-us+m3"), "Now is the winter of our discontent", 160, 50)
    b = synthesise(Voice("espeak-ng", "en-gb+f2"), "Now is the winter of our discontent", 160, 50)
    for x in (a, b):
        assert 1.0 * RATE < len(x) < 5 * RATE and np.abs(x).max() > 0.05
    # different speakers: their long-term spectra differ
    spec = [
        np.abs(np.fft.rfft(x[: len(x) // 256 * 256].reshape(-1, 256), axis=1)).mean(0)
        for x in (a, b)
    ]
    assert np.corrcoef(np.log(spec[0] + 1e-6), np.log(spec[1] + 1e-6))[0, 1] < 0.99


@pytest.mark.skipif(shutil.which("flite") is None, reason="flite is not installed")
def test_flite_speaks_at_8_khz() -> None:
    x = synthesise(Voice("flite", "slt"), "Made glorious summer by this sun of York", 170, 50)
    assert 1.0 * RATE < len(x) < 5 * RATE and np.abs(x).max() > 0.05


def test_an_unknown_engine_is_one_clear_error() -> None:
    with pytest.raises(PracticumError, match="unknown speech engine"):
        synthesise(Voice("say", "alex"), "hello", 160, 50)
