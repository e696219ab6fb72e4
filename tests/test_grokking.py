"""Grokking lab: the modular table and its splits, the Fourier basis of Z_p and the spectrum
of an embedding, and the lab's rank correlation."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from practicum.data.modular import modular_table, split_equations
from practicum.errors import PracticumError
from practicum.fourier import fourier_basis, frequency_norms, top_frequency_share
from practicum.labs.papers.grokking import Config, ModularMLP, plan, spearman


def test_table_holds_every_equation_once() -> None:
    t = modular_table(7, "add")
    assert len(t) == 49
    pairs = {(int(a), int(b)) for a, b in zip(t.a, t.b, strict=True)}
    assert len(pairs) == 49
    for a, b, c in zip(t.a.tolist(), t.b.tolist(), t.answer.tolist(), strict=True):
        assert c == (a + b) % 7
    s = modular_table(5, "subtract")
    assert all(
        c == (a - b) % 5
        for a, b, c in zip(s.a.tolist(), s.b.tolist(), s.answer.tolist(), strict=True)
    )


def test_bad_table_and_split_raise_one_clear_error() -> None:
    with pytest.raises(PracticumError, match="modulus"):
        modular_table(1)
    with pytest.raises(PracticumError, match="unknown operation"):
        modular_table(5, "divide")
    with pytest.raises(PracticumError, match="each side"):
        split_equations(10, 0.01, torch.Generator().manual_seed(0))


@given(st.integers(10, 400), st.floats(0.05, 0.95), st.floats(0.05, 0.95))
@settings(max_examples=40, deadline=None)
def test_splits_partition_and_nest(size: int, f1: float, f2: float) -> None:
    small, large = sorted((f1, f2))
    assume(round(small * size) > 0 and round(large * size) < size)
    tr_s, te_s = split_equations(size, small, torch.Generator().manual_seed(3))
    tr_l, _ = split_equations(size, large, torch.Generator().manual_seed(3))
    assert sorted(torch.cat([tr_s, te_s]).tolist()) == list(range(size))
    assert len(tr_s) == round(small * size)
    # The same generator state: the smaller training set is a prefix of the larger one.
    assert tr_l[: len(tr_s)].tolist() == tr_s.tolist()


@given(st.integers(1, 60))
@settings(max_examples=30, deadline=None)
def test_fourier_basis_is_orthonormal(p: int) -> None:
    b = fourier_basis(p)
    assert b.shape == (p, p)
    assert torch.allclose(b.T @ b, torch.eye(p, dtype=b.dtype), atol=1e-10)


@given(st.integers(2, 50), st.integers(1, 8), st.integers(0, 10_000))
@settings(max_examples=30, deadline=None)
def test_frequency_norms_obey_parseval_and_translation(p: int, d: int, seed: int) -> None:
    w = torch.randn(p, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    norms = frequency_norms(w)
    assert norms.shape == (p // 2 + 1,)
    assert math.isclose(float(norms.sum()), float(w.pow(2).sum()), rel_tol=1e-9)
    # Relabelling the residues a -> a + c rotates each cos/sin pair within its frequency.
    shifted = frequency_norms(torch.roll(w, shifts=seed % p, dims=0))
    assert torch.allclose(norms, shifted, atol=1e-9)


@pytest.mark.parametrize("p,k", [(97, 1), (97, 17), (97, 48), (12, 6), (12, 3)])
def test_a_pure_wave_has_one_frequency(p: int, k: int) -> None:
    a = torch.arange(p, dtype=torch.float64)
    w = torch.stack([torch.cos(2 * math.pi * k * a / p + phase) for phase in (0.0, 0.7, 2.0)], 1)
    share, keys = top_frequency_share(w, top=1)
    assert share == pytest.approx(1.0, abs=1e-9)
    assert keys == [k]
    # A constant column adds only to frequency 0, which never counts as a key frequency.
    share_c, _ = top_frequency_share(torch.cat([w, torch.ones(p, 1, dtype=w.dtype)], 1), top=1)
    assert share_c == pytest.approx(float(w.pow(2).sum()) / (float(w.pow(2).sum()) + p))


def test_spearman_matches_scipy_with_ties_and_infinity() -> None:
    x = [0.25, 0.3, 0.4, 0.5, 0.6, 0.7]
    y = [float("inf"), float("inf"), 4100.0, 2300.0, 2300.0, 900.0]
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)
    assert spearman(x, x) == pytest.approx(1.0)
    assert math.isnan(spearman(x, [1.0] * 6))


def test_plan_pairs_each_decayed_run_with_an_undecayed_twin() -> None:
    cfg = Config(seeds=2, sweep_fractions=(0.3, 0.5))
    jobs = plan(cfg)
    assert [j.name for j in jobs] == [
        "wd_seed0",
        "nowd_seed0",
        "wd_seed1",
        "nowd_seed1",
        "sweep_0.3",
        "sweep_0.5",
    ]
    wd, nowd = jobs[0], jobs[1]
    assert (wd.split_seed, wd.fraction) == (nowd.split_seed, nowd.fraction)
    assert (wd.weight_decay, nowd.weight_decay) == (cfg.weight_decay, 0.0)
    assert all(j.stop_when_generalised for j in jobs[4:])


def test_model_reads_the_operands_through_one_shared_embedding() -> None:
    torch.manual_seed(0)
    m = ModularMLP(7, 4, 8)
    a, b = torch.tensor([1, 2]), torch.tensor([2, 1])
    x = torch.cat([m.embed.weight[a], m.embed.weight[b]], 1)
    expected = m.out(torch.relu(m.hidden(x)))
    assert torch.allclose(m(a, b), expected)
