"""CTC decoding against brute force over every alignment and against torch's ctc_loss; the edit
distance and error rates against jiwer and the metric axioms."""

from __future__ import annotations

import itertools
import math

import jiwer
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from practicum.ctc import (
    character_error_rate,
    collapse,
    edit_distance,
    greedy_decode,
    prefix_beam_search,
    word_error_rate,
)


def random_log_probs(seed: int, frames: int, symbols: int) -> np.ndarray:
    logits = np.random.default_rng(seed).normal(scale=2.0, size=(frames, symbols))
    return logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)


def sequence_probabilities(log_probs: np.ndarray) -> dict[tuple[int, ...], float]:
    """P(label sequence) by summing every one of the C^T alignments that collapses to it."""
    probs: dict[tuple[int, ...], float] = {}
    frames, symbols = log_probs.shape
    for alignment in itertools.product(range(symbols), repeat=frames):
        p = math.exp(sum(log_probs[t, s] for t, s in enumerate(alignment)))
        key = tuple(collapse(alignment))
        probs[key] = probs.get(key, 0.0) + p
    return probs


def torch_sequence_log_prob(log_probs: np.ndarray, labels: list[int]) -> float:
    """log P(labels) as torch's ctc_loss defines it (its negative, summed)."""
    lp = torch.from_numpy(log_probs).unsqueeze(1)  # (T, N=1, C)
    target = torch.tensor([labels], dtype=torch.long)
    loss = torch.nn.functional.ctc_loss(
        lp, target, [log_probs.shape[0]], [len(labels)], blank=0, reduction="sum"
    )
    return -float(loss)


def test_collapse_merges_repeats_before_dropping_blanks():
    assert collapse([1, 1, 0, 1, 2, 2, 0]) == [1, 1, 2]
    assert collapse([0, 0, 0]) == []
    assert collapse([3, 0, 3, 3]) == [3, 3]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), frames=st.integers(1, 5), symbols=st.integers(2, 4))
def test_exact_beam_equals_brute_force_and_torch(seed, frames, symbols):
    log_probs = random_log_probs(seed, frames, symbols)
    brute = sequence_probabilities(log_probs)
    assert math.isclose(
        sum(brute.values()), 1.0, rel_tol=1e-9
    )  # the sequences partition alignments
    results = prefix_beam_search(log_probs, beam=len(brute))
    assert len(results) == len(brute)
    for labels, log_p in results:
        assert math.isclose(log_p, math.log(brute[tuple(labels)]), rel_tol=0, abs_tol=1e-9)
    best_labels, best_log_p = results[0]
    assert math.isclose(math.exp(best_log_p), max(brute.values()), rel_tol=1e-9)
    if best_labels:  # torch's ctc_loss scores non-empty targets here
        assert math.isclose(
            torch_sequence_log_prob(log_probs, best_labels), best_log_p, abs_tol=1e-6
        )


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), frames=st.integers(1, 5))
def test_greedy_collapses_the_most_probable_alignment(seed, frames):
    log_probs = random_log_probs(seed, frames, 3)
    best = max(
        itertools.product(range(3), repeat=frames),
        key=lambda a: sum(log_probs[t, s] for t, s in enumerate(a)),
    )
    assert greedy_decode(log_probs) == collapse(best)
    # and the exact search never scores its best below the greedy sequence
    brute = sequence_probabilities(log_probs)
    exact = prefix_beam_search(log_probs, beam=len(brute))[0][1]
    assert exact >= math.log(brute[tuple(greedy_decode(log_probs))]) - 1e-12


def test_beam_search_beats_greedy_where_the_best_path_misleads():
    """Two frames of blank 0.4, a 0.35, b 0.25: the best alignment is blank-blank (0.16, the
    empty transcript), but "a" has 0.35² + 2·0.35·0.4 = 0.4025."""
    frame = np.log([0.4, 0.35, 0.25])
    log_probs = np.stack([frame, frame])
    assert greedy_decode(log_probs) == []
    labels, log_p = prefix_beam_search(log_probs, beam=4)[0]
    assert labels == [1]
    assert math.isclose(math.exp(log_p), 0.35**2 + 2 * 0.35 * 0.4, rel_tol=1e-12)


def test_a_doubled_label_needs_a_blank_between():
    """With frames certain of a, blank, a the answer is "aa"; with a, a, a it is "a"."""
    eps = 1e-9
    certain = {0: [1 - 2 * eps, eps, eps], 1: [eps, 1 - 2 * eps, eps]}
    aba = np.log([certain[1], certain[0], certain[1]])
    aaa = np.log([certain[1], certain[1], certain[1]])
    assert prefix_beam_search(aba, beam=3)[0][0] == [1, 1]
    assert prefix_beam_search(aaa, beam=3)[0][0] == [1]


def test_pruning_keeps_the_answer_of_a_peaky_network():
    """Frames whose best symbol dominates: pruning at 5 nats finds the same best sequence."""
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(12, 6))
    logits[np.arange(12), rng.integers(0, 6, 12)] += 8.0
    log_probs = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
    full = prefix_beam_search(log_probs, beam=16)[0]
    pruned = prefix_beam_search(log_probs, beam=16, prune=5.0)[0]
    assert pruned[0] == full[0]
    # the pruned search sums a subset of the same sequence's alignments: a little less mass
    assert full[1] - 0.1 < pruned[1] <= full[1] + 1e-12


def test_bad_shapes_and_beams_are_refused():
    with pytest.raises(ValueError, match="must be \\(T, C\\)"):
        prefix_beam_search(np.zeros(4))
    with pytest.raises(ValueError, match="beam must be at least 1"):
        prefix_beam_search(np.zeros((2, 3)), beam=0)


# ---- the edit distance and error rates ------------------------------------------------------
words = st.lists(st.sampled_from("ab c"), max_size=12).map("".join)


@settings(max_examples=200, deadline=None)
@given(a=words, b=words, c=words)
def test_edit_distance_is_a_metric(a, b, c):
    assert edit_distance(a, a) == 0
    assert edit_distance(a, b) == edit_distance(b, a)
    assert edit_distance(a, c) <= edit_distance(a, b) + edit_distance(b, c)
    assert abs(len(a) - len(b)) <= edit_distance(a, b) <= max(len(a), len(b))


def test_edit_distance_closed_cases():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3
    assert edit_distance(["the", "cat"], ["the", "hat", "sat"]) == 2


text = st.lists(st.sampled_from(["ab", "ba", "c", "abc", "a"]), min_size=1, max_size=6).map(
    " ".join
)
maybe_empty = st.lists(st.sampled_from(["ab", "ba", "c", "abc", "a"]), max_size=6).map(" ".join)


@settings(max_examples=100, deadline=None)
@given(pairs=st.lists(st.tuples(text, maybe_empty), min_size=1, max_size=4))
def test_error_rates_equal_jiwer_pooled_over_the_corpus(pairs):
    refs, hyps = [p[0] for p in pairs], [p[1] for p in pairs]
    assert math.isclose(character_error_rate(refs, hyps), jiwer.cer(refs, hyps), rel_tol=1e-12)
    assert math.isclose(word_error_rate(refs, hyps), jiwer.wer(refs, hyps), rel_tol=1e-12)


def test_error_rate_refuses_mismatched_or_empty_references():
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        word_error_rate(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="references are empty"):
        character_error_rate([""], ["a"])
