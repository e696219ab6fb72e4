"""LSTM-FCN / MLSTM-FCN: the squeeze-and-excitation gate, the circular-shift invariance of the
convolutional branch with global pooling, "same" padding as Keras, the dimension-shuffled
LSTM against its closed form, the .ts parser and the normalisations, and the lab's model
selection (cells chosen on validation only)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from practicum.data import timeseries as ts
from practicum.errors import PracticumError
from practicum.labs.papers import lstm_fcn as lab
from practicum.nn.timeseries import LSTMFCN, ConvBlock, ConvBranch, SqueezeExcite


def _double(module: torch.nn.Module) -> torch.nn.Module:
    torch.manual_seed(0)
    for p in module.parameters():  # random, not the initial zeros/ones of batch norm
        torch.nn.init.normal_(p, std=0.5)
    return module.double()


# ---- squeeze-and-excitation ---------------------------------------------------------------


def test_squeeze_excite_rescales_each_channel_by_a_gate_in_0_1():
    se = _double(SqueezeExcite(32, reduction=4))
    x = torch.randn(5, 32, 17, dtype=torch.float64)
    out = se(x)
    ratio = out / x
    gate = ratio[:, :, :1]
    assert torch.allclose(ratio, gate.expand_as(ratio))  # one factor per case and channel
    assert bool((gate > 0).all() and (gate < 1).all())
    # the naive form: mean over time, bottleneck, ReLU, expand, sigmoid
    s = x.mean(dim=2)
    hidden = torch.relu(s @ se.squeeze.weight.T + se.squeeze.bias)
    naive = torch.sigmoid(hidden @ se.excite.weight.T + se.excite.bias)
    assert torch.allclose(gate.squeeze(2), naive)
    assert se.squeeze.out_features == 8  # 32 // 4


# ---- convolutions ----------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(shift=st.integers(min_value=-40, max_value=40), train=st.booleans())
def test_circular_padding_makes_the_pooled_conv_branch_shift_invariant(shift, train):
    torch.manual_seed(1)
    branch = _double(
        ConvBranch(2, (8, 16, 8), (8, 5, 3), squeeze_excite=True, reduction=4, padding="circular")
    )
    branch.train(train)  # batch statistics are over batch and time: shift-invariant too
    x = torch.randn(4, 2, 23, dtype=torch.float64)
    shifted = torch.roll(x, shifts=shift, dims=2)
    assert torch.allclose(branch(shifted), branch(x), atol=1e-10)


def test_zero_padding_is_not_shift_invariant():
    """The property above is the padding's: with zeros at the ends a shift changes the
    features (so the invariance test can fail)."""
    branch = _double(ConvBranch(1, (8, 16, 8), (8, 5, 3), padding="zeros")).eval()
    x = torch.randn(3, 1, 23, dtype=torch.float64)
    assert not torch.allclose(branch(torch.roll(x, 5, dims=2)), branch(x), atol=1e-6)


def test_same_padding_is_keras_three_left_four_right_for_kernel_8():
    block = _double(ConvBlock(1, 4, 8)).eval()  # eval: batch norm is a fixed affine map
    with torch.no_grad():
        block.norm.bias.fill_(1e3)  # every output positive: the ReLU hides no change
    x = torch.randn(1, 1, 30, dtype=torch.float64)
    assert block(x).shape == (1, 4, 30)
    bumped = x.clone()
    bumped[0, 0, 10] += 1.0
    changed = (block(bumped) != block(x)).any(dim=1)[0].nonzero().flatten().tolist()
    # output t sees inputs t-3 .. t+4, so input 10 reaches outputs 6 .. 13
    assert changed == list(range(6, 14))


# ---- the dimension-shuffled LSTM ------------------------------------------------------------


def test_lstm_branch_sees_a_univariate_series_as_one_step_and_matches_the_closed_form():
    torch.manual_seed(2)
    model = _double(LSTMFCN(1, 12, 3, cells=5, dropout=0.8, filters=(4, 4), kernels=(3, 3)))
    model.eval()  # no dropout
    x = torch.randn(6, 1, 12, dtype=torch.float64)
    lstm = model.lstm
    # one step from zero state: gates = W x + b; c = σ(i)·tanh(g); h = σ(o)·tanh(c)
    z = x[:, 0, :] @ lstm.weight_ih_l0.T + lstm.bias_ih_l0 + lstm.bias_hh_l0
    i, _, g, o = z.chunk(4, dim=1)
    h = torch.sigmoid(o) * torch.tanh(torch.sigmoid(i) * torch.tanh(g))
    features = torch.cat([model.conv(x), h], dim=1)
    expected = features @ model.head.weight.T + model.head.bias
    assert torch.allclose(model(x), expected)


def test_lstm_branch_reads_channels_as_steps_and_fcn_has_none():
    model = LSTMFCN(3, 20, 4, cells=6, filters=(8, 8), kernels=(3, 3))
    assert model.lstm.input_size == 20 and model.head.in_features == 8 + 6
    fcn = LSTMFCN(3, 20, 4, cells=0, filters=(8, 8), kernels=(3, 3))
    assert fcn.lstm is None and fcn.head.in_features == 8
    assert model(torch.randn(2, 3, 20)).shape == (2, 4)
    mlstm = LSTMFCN(3, 20, 4, cells=6, squeeze_excite=True, filters=(32, 32, 32), kernels=(3, 3, 3))
    kinds = [type(m).__name__ for m in mlstm.conv.blocks]
    assert kinds == ["ConvBlock", "SqueezeExcite", "ConvBlock", "SqueezeExcite", "ConvBlock"]


# ---- the .ts format and normalisation ------------------------------------------------------

TS_TEXT = """# a comment
@problemName Tiny
@timeStamps false
@univariate false
@dimensions 2
@equalLength false
@classLabel true up down
@data
1,2,3,4:4,3,2,1:down
5,5,5:1,?,3:up
0,2:2,0:up
"""


def test_parse_ts_reads_channels_labels_and_the_declared_class_order():
    parsed = ts.parse_ts(TS_TEXT)
    assert parsed.header["problemname"] == "Tiny"
    assert parsed.classes == ("up", "down")
    assert parsed.labels == ["down", "up", "up"]
    assert [s.shape for s in parsed.series] == [(2, 4), (2, 3), (2, 2)]
    assert np.isnan(parsed.series[1][1, 1])
    data = ts.to_series_set(parsed, parsed.classes, 5)
    assert data.x.shape == (3, 2, 5) and data.x.dtype == np.float32
    assert data.lengths.tolist() == [4, 3, 2] and data.y.tolist() == [1, 0, 0]
    assert (data.x[2, :, 2:] == 0).all()  # padded with zeros after the end


@pytest.mark.parametrize(
    "text",
    ["1,2:up\n", "@data\n", "@data\n1,2:1,2,3:up\n", "@data\n1,a:up\n", "@data\n1:2:a\n3:b\n"],
)
def test_parse_ts_refuses_bad_files_in_one_line(text):
    with pytest.raises(PracticumError) as err:
        ts.parse_ts(text, where="bad.ts")
    assert "\n" not in str(err.value)


def test_znormalise_series_over_the_valid_length_only():
    rng = np.random.default_rng(0)
    series = [rng.normal(3, 2, size=(2, n)) for n in (9, 5, 7)] + [np.full((2, 4), 7.0)]
    x, lengths = ts.pad_series(series)
    data = ts.znormalise_series(ts.SeriesSet(x, lengths, np.zeros(4, np.int64), ("a",)))
    for i, n in enumerate(lengths[:3]):
        valid = data.x[i, :, :n].astype(np.float64)
        assert np.allclose(valid.mean(axis=1), 0, atol=1e-6)
        assert np.allclose(valid.std(axis=1), 1, atol=1e-5)
        assert (data.x[i, :, n:] == 0).all()
    assert (data.x[3] == 0).all()  # a constant series is only centred


def test_standardise_channels_with_training_statistics_keeps_amplitudes():
    rng = np.random.default_rng(1)
    series = [rng.normal(0, s, size=(3, 10)) + 5 for s in (1.0, 4.0)]
    x, lengths = ts.pad_series(series, 12)
    train = ts.SeriesSet(x, lengths, np.zeros(2, np.int64), ("a",))
    mean, std = ts.channel_statistics(train)
    out = ts.standardise_channels(train, mean, std)
    valid = out.x[:, :, :10].astype(np.float64)
    assert np.allclose(valid.mean(axis=(0, 2)), 0, atol=1e-6)
    assert np.allclose(valid.std(axis=(0, 2)), 1, atol=1e-5)
    assert valid[1].std() > 2 * valid[0].std()  # the louder case stays louder
    assert (out.x[:, :, 10:] == 0).all()


def test_generated_archive_is_seeded_balanced_and_padded():
    a = ts.generated_archive("W", 3, 40, 30, 12, seed=4, variable_length=True)
    b = ts.generated_archive("W", 3, 40, 30, 12, seed=4, variable_length=True)
    assert np.array_equal(a.train.x, b.train.x) and a.train.x.shape == (30, 3, 40)
    assert np.bincount(np.concatenate([a.train.y, a.test.y])).tolist() == [14, 14, 14]
    assert a.train.lengths.min() >= 20 and (a.train.x[a.train.lengths < 40][:, :, -1] == 0).all()


# ---- the bundled archives (need aeon or sktime) -----------------------------------------

HAVE_ARCHIVES = any(importlib.util.find_spec(p) is not None for p in ts.PROVIDERS)


@pytest.mark.skipif(
    not HAVE_ARCHIVES,
    reason="the UCR/UEA files come with sktime or aeon: pip install -e .[timeseries]",
)
def test_bundled_archives_load_with_their_published_shapes():
    gun = ts.load_archive("GunPoint")
    assert gun.train.x.shape == (50, 1, 150) and gun.test.x.shape == (150, 1, 150)
    assert gun.train.classes == ("1", "2") and gun.source.split()[0] in ts.PROVIDERS
    vowels = ts.load_archive("JapaneseVowels")
    assert vowels.train.x.shape == (270, 12, 29) and len(vowels.test.y) == 370
    assert vowels.train.lengths.min() == 7 and len(vowels.train.classes) == 9


@pytest.mark.skipif(
    not HAVE_ARCHIVES,
    reason="the UCR/UEA files come with sktime or aeon: pip install -e .[timeseries]",
)
def test_a_file_with_another_checksum_is_refused(monkeypatch):
    monkeypatch.setitem(ts.ARCHIVE_FILES, "GunPoint", {"TRAIN": "0" * 64, "TEST": "0" * 64})
    with pytest.raises(PracticumError, match="SHA-256"):
        ts.load_archive("GunPoint")


def test_no_provider_is_one_line_naming_the_install(monkeypatch):
    monkeypatch.setattr(ts, "PROVIDERS", ("no-such-package-here",))
    with pytest.raises(PracticumError, match=r"pip install -e '\.\[timeseries\]'"):
        ts.load_archive("GunPoint")


# ---- model selection in the lab -----------------------------------------------------------


def test_cells_are_chosen_by_validation_accuracy_then_loss_then_size():
    config = lab.Config(cells=(8, 64, 128))
    results = {
        "select": {
            "A/lstm-fcn": {"8": [0.9, 0.3, []], "64": [0.95, 0.4, []], "128": [0.95, 0.2, []]}
        }
    }
    assert lab.choose_cells(config, results, "A/lstm-fcn") == 128
    results["select"]["A/lstm-fcn"]["128"] = [0.95, 0.4, []]
    assert lab.choose_cells(config, results, "A/lstm-fcn") == 64  # a tie: fewer cells


def test_the_validation_split_is_stratified_and_never_the_test_split():
    archive = ts.generated_archive("W", 1, 16, 40, 10, seed=0)
    train_idx, val_idx = lab.validation_split(archive, lab.Config(), seed=0)
    assert len(val_idx) == 8 and not set(train_idx) & set(val_idx)
    assert sorted(set(train_idx) | set(val_idx)) == list(range(40))
    counts = np.bincount(archive.train.y[val_idx], minlength=3)
    assert counts.max() - counts.min() <= 1
    again = lab.validation_split(archive, lab.Config(), seed=0)
    assert np.array_equal(again[1], val_idx)  # the same for every model and cell count


def test_the_plan_selects_then_trains_each_lstm_model_and_the_fcn_once():
    config = lab.Config(data="generated", cells=(4, 8))
    sets = lab.load_sets(config, seed=0)
    jobs = lab.plan(config, sets)
    described = [(j.dataset, j.model, j.phase, j.cells) for j in jobs]
    assert described[:4] == [
        ("Waves", "fcn", "final", 0),
        ("Waves", "lstm-fcn", "select", 4),
        ("Waves", "lstm-fcn", "select", 8),
        ("Waves", "lstm-fcn", "final", 0),
    ]
    assert [j.model for j in jobs[4:] if j.phase == "final"] == ["fcn", "mlstm-fcn"]
    assert len({lab.job_seed(0, i) for i in range(len(jobs))}) == len(jobs)
    both = lab.plan(lab.Config(data="generated", cells=(4,), lstm_fcn_on_multivariate=True), sets)
    assert [(j.model, j.phase) for j in both[2:]] == [
        ("fcn", "final"),
        ("lstm-fcn", "final"),
        ("mlstm-fcn", "final"),
    ]  # one cell count: nothing to select


def test_small_training_sets_train_for_at_least_min_steps():
    config = lab.Config(epochs=80, select_epochs=40, min_steps=800, batch_size=16)
    final, select = lab.Job("A", "fcn", "final"), lab.Job("A", "lstm-fcn", "select", 8)
    assert lab.epochs_for(config, final, 200) == 80  # 13 batches: 1,040 steps already
    assert lab.epochs_for(config, final, 50) == 200  # 4 batches an epoch: 800 steps
    assert lab.epochs_for(config, select, 40) == 134  # 3 batches: >= 400 steps
