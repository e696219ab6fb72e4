"""practicum.wordvec against Mikolov et al. 2013 and against gensim: subsampling and noise
distributions in closed form, the skip-gram pairs against a naive loop, one SGNS step against
autograd, a corpus of two topics learned, phrases and evaluations equal to gensim's; the
WordNet reader and the English corpus; the word2vec lab's quick mode."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from practicum.data.english import shakespeare_sentences, wordnet_sentences, words
from practicum.data.wordnet import parse_synset, wordnet_path
from practicum.errors import PracticumError
from practicum.labs.papers import word2vec as lab
from practicum.launch import run_lab
from practicum.wordvec import (
    Phrases,
    SkipGram,
    Vocabulary,
    analogy_accuracy,
    analogy_answer,
    keep_probability,
    nearest,
    noise_distribution,
    read_analogies,
    read_word_pairs,
    similarity_spearman,
    skipgram_pairs,
)
from practicum.wordvec.vocab import paper_keep_probability

gensim = pytest.importorskip("gensim")
from gensim.test.utils import datapath  # noqa: E402


# ---- subsampling and noise -----------------------------------------------------------------
@given(st.lists(st.integers(1, 10**6), min_size=1, max_size=50), st.sampled_from([1e-5, 1e-3, 0.1]))
def test_keep_probability_is_the_codes_form_capped_at_one(counts: list[int], t: float) -> None:
    c = np.array(counts, dtype=float)
    keep = keep_probability(c, t)
    f = c / c.sum()
    expected = np.minimum(1.0, np.sqrt(t / f) + t / f)  # (√(f/t) + 1)·t/f
    np.testing.assert_allclose(keep, expected, rtol=1e-12)
    # the paper's keep probability √(t/f) is never more generous than the code's
    assert np.all(paper_keep_probability(c, t) <= keep + 1e-15)
    # always kept below the golden-ratio point f < φ² t, subsampled above it
    assert np.all(keep[f < 2.6 * t] == 1.0)
    assert np.all(keep[f > 2.7 * t] < 1.0)
    assert np.all(keep_probability(c, 0.0) == 1.0)


def test_the_frequent_word_is_subsampled_to_the_expected_share() -> None:
    counts = np.array([900_000, 50_000, 50_000])
    keep = keep_probability(counts, 1e-3)
    rng = np.random.default_rng(0)
    kept = (rng.random(900_000) < keep[0]).mean()
    assert kept == pytest.approx(math.sqrt(1e-3 / 0.9) + 1e-3 / 0.9, abs=0.002)


@given(st.lists(st.integers(1, 10**6), min_size=2, max_size=50))
def test_noise_is_the_unigram_distribution_to_the_three_quarters(counts: list[int]) -> None:
    p = noise_distribution(np.array(counts))
    assert p.sum() == pytest.approx(1.0)
    ratio = p / np.array(counts, dtype=float) ** 0.75
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-9)
    # flatter than the unigram distribution: the rarest word gains share
    unigram = np.array(counts) / sum(counts)
    rare = int(np.argmin(counts))
    assert p[rare] >= unigram[rare] - 1e-15


def test_the_vocabulary_keeps_frequent_words_in_order_and_encoding_drops_the_rest() -> None:
    sentences = [["b", "a", "c"], ["a", "b", "a"], ["d", "b"]]
    vocab = Vocabulary.build(sentences, min_count=2)
    assert vocab.words == ("a", "b")  # a: 3, b: 3 — a tie, in alphabetical order
    assert vocab.counts.tolist() == [3, 3]
    assert [s.tolist() for s in vocab.encode(sentences)] == [[1, 0], [0, 1, 0], [1]]
    with pytest.raises(PracticumError):
        Vocabulary.build(sentences, min_count=10)


# ---- pairs ---------------------------------------------------------------------------------
def naive_pairs(sentences: list[np.ndarray], window: int, rng: np.random.Generator):
    tokens = [t for s in sentences for t in s]
    sentence = [k for k, s in enumerate(sentences) for _ in s]
    reach = rng.integers(1, window + 1, len(tokens))
    out = []
    for i in range(len(tokens)):
        for j in range(i - reach[i], i + reach[i] + 1):
            if j != i and 0 <= j < len(tokens) and sentence[j] == sentence[i]:
                out.append((tokens[i], tokens[j]))
    return out


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 20), min_size=0, max_size=12), min_size=1, max_size=6),
    st.integers(1, 5),
    st.integers(0, 1000),
)
def test_pairs_equal_the_naive_loop_in_order(sentences, window: int, seed: int) -> None:
    arrays = [np.array(s, dtype=np.int64) for s in sentences]
    centres, contexts = skipgram_pairs(arrays, window, np.random.default_rng(seed))
    expected = naive_pairs(arrays, window, np.random.default_rng(seed))
    assert list(zip(centres.tolist(), contexts.tolist(), strict=True)) == expected


def test_a_window_of_one_pairs_neighbours_within_a_sentence_only() -> None:
    c, x = skipgram_pairs([np.array([1, 2, 3]), np.array([4, 5])], 1, np.random.default_rng(0))
    assert list(zip(c.tolist(), x.tolist(), strict=True)) == [
        (1, 2),
        (2, 1),
        (2, 3),
        (3, 2),
        (4, 5),
        (5, 4),
    ]


# ---- one step ------------------------------------------------------------------------------
def test_a_step_ascends_the_sgns_objective_as_autograd_says_skipping_the_centre() -> None:
    g = torch.Generator().manual_seed(0)
    model = SkipGram(12, 6, seed=0)
    model.output = torch.randn(12, 6, generator=g) * 0.3  # a non-zero start: all terms live
    centres = torch.tensor([0, 1, 2, 2, 5])
    contexts = torch.tensor([3, 4, 4, 6, 7])
    negatives = torch.tensor([[8, 9, 0], [1, 10, 11], [2, 3, 3], [8, 8, 9], [11, 0, 1]])
    w_in = model.input.clone().double().requires_grad_(True)
    w_out = model.output.clone().double().requires_grad_(True)
    v = w_in[contexts]
    pos = torch.nn.functional.logsigmoid((w_out[centres] * v).sum(1))
    neg_scores = torch.einsum("bkd,bd->bk", w_out[negatives], v)
    live = (negatives != centres[:, None]).double()
    objective = pos.sum() + (torch.nn.functional.logsigmoid(-neg_scores) * live).sum()
    objective.backward()
    rate = 0.1
    loss = model.step(centres, contexts, negatives, rate)
    assert loss == pytest.approx(-objective.item(), rel=1e-5)
    torch.testing.assert_close(
        model.input.double(), (w_in + rate * w_in.grad).detach(), atol=1e-6, rtol=0
    )
    torch.testing.assert_close(
        model.output.double(), (w_out + rate * w_out.grad).detach(), atol=1e-6, rtol=0
    )


def test_two_topics_are_learned_apart() -> None:
    """Sentences draw words from one of two topics: after training, words of a topic are
    closer to each other than to the other topic's."""
    rng = np.random.default_rng(0)
    topic = [np.arange(0, 10), np.arange(10, 20)]
    sentences = [rng.choice(topic[k % 2], 12) for k in range(400)]
    counts = np.bincount(np.concatenate(sentences), minlength=20)
    model = SkipGram(20, 16, seed=0)
    log = model.train(
        sentences,
        counts,
        epochs=5,
        window=3,
        negative=5,
        sample=0.0,
        alpha=0.05,
        min_alpha=1e-4,
        batch=64,
        seed=0,
    )
    assert log.loss[-1] < log.loss[0]
    unit = model.vectors / np.linalg.norm(model.vectors, axis=1, keepdims=True)
    cos = unit @ unit.T
    same = np.mean(
        [cos[i, j] for i in range(20) for j in range(20) if i != j and i // 10 == j // 10]
    )
    other = np.mean([cos[i, j] for i in range(20) for j in range(20) if i // 10 != j // 10])
    assert same > other + 0.3
    assert nearest([str(i) for i in range(20)], model.vectors, "3", 3)[0][0] in {
        str(i) for i in range(10)
    }


# ---- against gensim ------------------------------------------------------------------------
def _lee() -> list[list[str]]:
    from practicum.data.english import lee_corpus

    return lee_corpus()


def test_phrases_equal_gensims_on_the_lee_corpus() -> None:
    from gensim.models.phrases import Phrases as GensimPhrases

    sentences = _lee()
    ours = Phrases.learn(sentences, min_count=5, threshold=10.0)
    theirs = GensimPhrases(sentences, min_count=5, threshold=10.0, delimiter="_")
    found = {"_".join(p): s for p, s in ours.phrases().items()}
    exported = theirs.export_phrases()
    assert set(found) == set(exported) and len(found) > 50
    for k, v in found.items():
        assert v == pytest.approx(exported[k], rel=1e-9)
    merged = ours.apply(sentences)
    assert merged == [list(theirs[s]) for s in sentences]


def test_two_passes_build_phrases_of_phrases() -> None:
    sentences = [["new", "york", "city", "hall"]] * 30 + [["new", "york"], ["city", "hall"]] * 10
    # pass 1, N = 4 + 3 types: new york and city hall score 39/40² · 7 = 0.17, york city 0.13;
    # read from the left, "new york city hall" becomes new_york city_hall. Pass 2, N = 2 + 1:
    # (30 − 1)/40² · 3 = 0.054 > 0.05.
    final, found = Phrases.passes(sentences, thresholds=(0.1, 0.05), min_count=1)
    assert set(found[0]) == {("new", "york"), ("york", "city"), ("city", "hall")}
    assert found[1] == {("new_york", "city_hall"): pytest.approx(29 / 1600 * 3)}
    assert final[0] == ["new_york_city_hall"] and final[-1] == ["city_hall"]


def _planted_vectors(questions, seed: int = 0):
    """Random vectors of the first questions' words, with half of the analogies planted."""
    rng = np.random.default_rng(seed)
    vocab = sorted({w for _, q in questions for w in q})
    index = {w: i for i, w in enumerate(vocab)}
    vectors = rng.normal(size=(len(vocab), 20)).astype(np.float32)
    for _, (a, b, c, d) in questions[::2]:
        vectors[index[d]] = vectors[index[b]] - vectors[index[a]] + vectors[index[c]]
    return vocab, vectors


def test_analogy_and_similarity_equal_gensims_evaluations() -> None:
    from gensim.models import KeyedVectors

    path = Path(datapath("questions-words.txt"))
    questions = read_analogies(path)
    chosen = questions[:150] + questions[9000:9150]  # a semantic and a syntactic section
    vocab, vectors = _planted_vectors(chosen)
    kv = KeyedVectors(vectors.shape[1])
    kv.add_vectors(vocab, vectors)
    ours = analogy_accuracy(vocab, vectors, questions)
    score, _ = kv.evaluate_word_analogies(str(path))
    assert ours.covered > 0 and 0.05 < ours.accuracy < 0.95
    assert ours.accuracy == pytest.approx(score, abs=1e-12)

    pairs_path = Path(datapath("wordsim353.tsv"))
    pairs = read_word_pairs(pairs_path)
    words_ = sorted({w for a, b, _ in pairs for w in (a, b)})
    rng = np.random.default_rng(1)
    vecs = rng.normal(size=(len(words_), 10)).astype(np.float32)
    kv2 = KeyedVectors(10)
    kv2.add_vectors(words_, vecs)
    _, spearman, _ = kv2.evaluate_word_pairs(str(pairs_path))
    assert similarity_spearman(words_, vecs, pairs).spearman == pytest.approx(
        spearman.statistic, abs=1e-9
    )


def test_one_analogy_is_answered_as_the_accuracy_answers_it() -> None:
    questions = read_analogies(Path(datapath("questions-words.txt")))[:100]
    vocab, vectors = _planted_vectors(questions)
    result = analogy_accuracy(vocab, vectors, questions)
    for (a, b, c, _), guess in list(result.answers.items())[:20]:
        assert analogy_answer(vocab, vectors, a, b, c) == guess
    with pytest.raises(PracticumError):
        analogy_answer(vocab, vectors, "not-a-word", vocab[0], vocab[1])


def test_gensim_with_one_worker_is_the_same_bits_twice() -> None:
    from gensim.models import Word2Vec

    sentences = _lee()[:100]
    runs = [
        Word2Vec(
            sentences, vector_size=8, min_count=3, sg=1, epochs=1, workers=1, seed=3
        ).wv.vectors
        for _ in range(2)
    ]
    assert np.array_equal(runs[0], runs[1])


# ---- data ----------------------------------------------------------------------------------
def test_a_wordnet_line_parses_into_words_definition_and_examples() -> None:
    line = (
        "00016573 29 v 01 nod 2 001 @ 00016380 v 0000 02 + 01 00 + 02 00 | be almost asleep; "
        '"The old man sat nodding by the fireplace"  \n'
    )
    s = parse_synset(line)
    assert (s.offset, s.pos, s.words) == ("00016573", "v", ("nod",))
    assert s.definition == "be almost asleep"
    assert s.examples == ("The old man sat nodding by the fireplace",)
    adj = parse_synset("00013160 00 s 02 ashamed(p) 0 embarrassed 0 000 | feeling shame  \n")
    assert adj.words == ("ashamed", "embarrassed")
    assert wordnet_sentences([s, adj]) == [
        ["nod", "be", "almost", "asleep"],
        ["the", "old", "man", "sat", "nodding", "by", "the", "fireplace"],
        ["ashamed", "embarrassed", "feeling", "shame"],
    ]
    with pytest.raises(PracticumError):
        parse_synset("not a synset")


def test_missing_wordnet_is_one_clear_error(monkeypatch, tmp_path) -> None:
    from practicum.data import wordnet

    monkeypatch.setenv("PRACTICUM_DATA", str(tmp_path))
    monkeypatch.setattr(wordnet, "SYSTEM_DIR", tmp_path / "none")
    with pytest.raises(PracticumError, match="wordnet-base"):
        wordnet_path("noun")
    (tmp_path / "wordnet").mkdir()
    (tmp_path / "wordnet" / "data.noun").write_text("not wordnet")
    with pytest.raises(PracticumError, match="checksum"):
        wordnet_path("noun")


def test_words_and_speeches() -> None:
    assert words("Don't stop, 2 Roads!") == ["don", "t", "stop", "roads"]
    text = "First Citizen:\nBefore we proceed,\nhear me.\n\nAll:\nSpeak, speak.\n"
    assert shakespeare_sentences(text) == [
        ["before", "we", "proceed", "hear", "me"],
        ["speak", "speak"],
    ]


# ---- the lab -------------------------------------------------------------------------------
def test_tags_name_thresholds_and_the_lab_refuses_a_sweep_without_zero() -> None:
    assert [lab.tag(t) for t in (0.0, 1e-4, 1e-5, 2.5e-3)] == ["t0", "t0p0001", "t1em05", "t0p0025"]
    with pytest.raises(PracticumError):
        lab.Config(sweep=(1e-4,)).validate()
    with pytest.raises(PracticumError):
        lab.Config(phrase_thresholds=(10.0, 100.0)).validate()
    lab.Config().validate()


def test_quick_mode_passes_with_finite_metrics(tmp_path: Path) -> None:
    summary, folder = run_lab("word2vec", quick=True, out=tmp_path / "w2v", quiet=True)
    metrics = summary["metrics"]
    assert all(math.isfinite(v) for v in metrics.values())
    assert metrics["subsampling_pair_ratio"] > 1
    for name in ("analogy_sections", "subsampling", "loss"):
        assert (folder / "plots" / f"{name}.png").is_file()
    assert (folder / "examples.json").is_file()
