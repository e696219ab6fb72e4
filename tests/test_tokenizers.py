"""The subword tokenisers (practicum.tokenize) and the language-model scoring of the tokenizers
lab: lossless round trips over arbitrary Unicode, BPE's merges against a naive recount,
the unigram model's forward-backward and Viterbi against brute-force enumeration, bits per
character in closed form, files and bad input."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from practicum.data.text import SONNETS
from practicum.errors import PracticumError
from practicum.nn.language_model import bits_per_character, total_nll, warmup_cosine
from practicum.tokenize import BPE, BYTE_TOKENS, Unigram, load_tokenizer, split_words
from practicum.tokenize.bpe import merge_pair
from practicum.tokenize.pieces import word_counts
from practicum.tokenize.unigram import digamma, forward_backward, viterbi

LINES = SONNETS.splitlines()


@pytest.fixture(scope="module")
def trained() -> dict[str, BPE | Unigram]:
    return {"bpe": BPE.train(LINES, 90), "unigram": Unigram.train(LINES, 90)}


# Text with what breaks tokenisers: runs of spaces, tabs and newlines, control characters,
# the meta symbol itself, astral code points; and anything st.text() draws.
AWKWARD = st.text(alphabet=st.sampled_from(" \t\n\r\x00\x7f\u2581\u3000e\u0301\U0001f642ab"))
TEXTS = st.one_of(st.text(), AWKWARD, st.lists(st.sampled_from(LINES)).map("\n".join))


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_decode_inverts_encode_for_any_text(trained, text):
    for tok in trained.values():
        ids = tok.encode(text)
        assert all(0 <= i < tok.num_ids for i in ids)
        assert tok.decode(ids) == text
    assert "".join(split_words(text)) == text


def test_words_start_at_spaces_and_end_at_newlines():
    assert split_words("a  b\n\nc d") == ["a", " ", " b\n", "\n", "c", " d"]
    words = split_words(" x y\tz\n")
    assert all(" " not in w[1:] and "\n" not in w[:-1] for w in words)


def test_characters_outside_the_alphabet_become_their_utf8_bytes(trained):
    tok = trained["bpe"]
    assert "🙂" not in tok.alphabet
    assert tok.encode("🙂") == list("🙂".encode())
    assert tok.num_ids == BYTE_TOKENS + tok.vocab_size == BYTE_TOKENS + 90
    # The vocabulary size counts pieces: the alphabet and the merges' distinct results.
    assert len(tok.pieces) == 90 and tok.alphabet == set("".join(LINES))


# ---- BPE -----------------------------------------------------------------------------------
SENNRICH = " ".join(["low"] * 5 + ["lower"] * 2 + ["newest"] * 6 + ["widest"] * 3)


def naive_best_pair(words: dict[tuple[str, ...], int], max_length: int) -> tuple[str, str]:
    pairs: Counter[tuple[str, str]] = Counter()
    for symbols, count in words.items():
        for pair in zip(symbols, symbols[1:], strict=False):
            if len(pair[0]) + len(pair[1]) <= max_length:
                pairs[pair] += count
    top = max(pairs.values())
    return min(pair for pair, count in pairs.items() if count == top)


@pytest.mark.parametrize(("lines", "size", "max_length"), [([SENNRICH], 20, 16), (LINES, 70, 3)])
def test_bpe_merges_the_most_frequent_pair_as_a_naive_recount_does(lines, size, max_length):
    tok = BPE.train(lines, size, max_piece_length=max_length)
    words = {tuple(w): c for w, c in word_counts(lines).items()}
    for merge in tok.merges:
        assert merge == naive_best_pair(words, max_length)
        merged: Counter[tuple[str, ...]] = Counter()
        for symbols, count in words.items():
            merged[tuple(merge_pair(symbols, merge))] += count
        words = dict(merged)
    assert len(tok.pieces) == size and max(map(len, tok.pieces)) <= max_length


def test_bpe_learns_sennrichs_first_merges_and_applies_them_in_order():
    tok = BPE.train([SENNRICH], 20)
    # Sennrich et al. 2016, Fig. 1: "e s" (9), then "es t" (9) on {low, lower, newest, widest}.
    assert tok.merges[:2] == [("e", "s"), ("es", "t")]
    pieces = [tok.pieces[i - BYTE_TOKENS] for i in tok.encode(" lowest")]
    assert "".join(pieces) == " lowest" and pieces[-1].endswith("est")
    assert merge_pair(["a", "a", "a"], ("a", "a")) == ["aa", "a"]


# ---- unigram -------------------------------------------------------------------------------
def segmentations(word: str, pieces: set[str]):
    if not word:
        yield []
        return
    for j in range(1, len(word) + 1):
        if word[:j] in pieces:
            for rest in segmentations(word[j:], pieces):
                yield [word[:j], *rest]


def log_probs(seed: int, shift: float = 0.0) -> dict[str, float]:
    gen = torch.Generator().manual_seed(seed)
    pieces = ["a", "b", "c", "ab", "ba", "bc", "abc", "cab", "abab", "bcab"]
    values = torch.log_softmax(torch.randn(len(pieces), generator=gen, dtype=torch.float64), 0)
    return {p: float(v) + shift for p, v in zip(pieces, values, strict=True)}


@pytest.mark.parametrize("shift", [0.0, -400.0])  # -400: products underflow, log space is used
@pytest.mark.parametrize("word", ["abcabab", "bcabcab", "a", "ababcbab"])
def test_forward_backward_equals_brute_force_over_all_segmentations(word, shift):
    lp = log_probs(len(word), shift)
    paths = list(segmentations(word, set(lp)))
    scores = [sum(lp[p] for p in path) for path in paths]
    top = max(scores)
    log_z = top + math.log(math.fsum(math.exp(s - top) for s in scores))
    expected: Counter[str] = Counter()
    for path, score in zip(paths, scores, strict=True):
        for piece in path:
            expected[piece] += math.exp(score - log_z)
    got_z, got = forward_backward(word, lp)
    assert got_z == pytest.approx(log_z, rel=1e-12, abs=1e-9)
    assert set(got) <= set(lp)
    for piece in lp:
        assert got.get(piece, 0.0) == pytest.approx(expected[piece], rel=1e-9, abs=1e-12)
    # Viterbi is the brute-force argmax.
    assert viterbi(word, lp) == paths[scores.index(top)]


def test_digamma_against_closed_forms():
    gamma = 0.5772156649015329  # Euler-Mascheroni: psi(1) = -gamma
    assert digamma(1.0) == pytest.approx(-gamma, rel=1e-12)
    assert digamma(0.5) == pytest.approx(-gamma - 2 * math.log(2), rel=1e-12)
    for n in (1, 4, 30):  # psi(n + 1) = H_n - gamma
        harmonic = math.fsum(1 / k for k in range(1, n + 1))
        assert digamma(n + 1.0) == pytest.approx(harmonic - gamma, rel=1e-12)
    for x in (0.3, 5.5, 1e5):  # the recurrence psi(x + 1) = psi(x) + 1/x
        assert digamma(x + 1) == pytest.approx(digamma(x) + 1 / x, rel=1e-12)
    # Near 0: psi(x) = -1/x - gamma + (pi^2 / 6) x + O(x^2).
    assert digamma(1e-6) == pytest.approx(-1e6 - gamma + math.pi**2 / 6 * 1e-6, rel=1e-15)
    with pytest.raises(ValueError):
        digamma(0.0)


def test_unigram_keeps_every_character_and_the_asked_size(trained):
    tok = trained["unigram"]
    assert tok.vocab_size == 90 and tok.alphabet == set("".join(LINES))
    assert all(lp < 0 for lp in tok.log_probs)
    assert len(tok.encode(LINES[0])) < len(LINES[0])  # it learned multi-character pieces


# ---- files and bad input ---------------------------------------------------------------------
def test_a_saved_tokenizer_loads_and_encodes_the_same(trained, tmp_path):
    text = SONNETS + " ▁ 🙂\t"
    for kind, tok in trained.items():
        path = tok.save(tmp_path / f"{kind}.json")
        loaded = load_tokenizer(path)
        assert type(loaded) is type(tok) and loaded.pieces == tok.pieces
        assert loaded.encode(text) == tok.encode(text)
    (tmp_path / "bad.json").write_text('{"format": "something else"}')
    for bad in (tmp_path / "bad.json", tmp_path / "missing.json"):
        with pytest.raises(PracticumError) as info:
            load_tokenizer(bad)
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("cls", [BPE, Unigram])
def test_bad_training_input_is_one_clear_line(cls):
    cases = [
        (LINES, 10, "smaller than the 43 distinct characters"),
        ([], 50, "empty text"),
        (["", ""], 50, "empty text"),
        (["ab ab"], 50, "supports only"),
    ]
    for lines, size, message in cases:
        with pytest.raises(PracticumError, match=message) as info:
            cls.train(lines, size)
        assert "\n" not in str(info.value)
    with pytest.raises(PracticumError, match="outside this tokenizer"):
        BPE(["a"], []).decode([300])


# ---- the language models' unit ---------------------------------------------------------------
class Uniform(torch.nn.Module):
    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.vocab = vocab

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros(*x.shape, self.vocab)


def test_bits_per_character_of_a_uniform_model_is_tokens_times_log2_vocab_over_characters():
    vocab, tokens, characters = 50, 6 * 10, 173
    x = torch.randint(0, vocab, (6, 10), generator=torch.Generator().manual_seed(0))
    nll = total_nll(Uniform(vocab), x, x, batch=4)
    assert nll == pytest.approx(tokens * math.log(vocab), rel=1e-6)
    assert bits_per_character(nll, characters) == pytest.approx(
        tokens * math.log2(vocab) / characters, rel=1e-6
    )
    with pytest.raises(ValueError):
        bits_per_character(1.0, 0)


def test_warmup_then_cosine_to_a_tenth():
    rates = [warmup_cosine(s, 10, 110, 1.0) for s in range(110)]
    assert rates[0] == pytest.approx(0.1) and rates[9] == pytest.approx(1.0)
    assert rates[10] == pytest.approx(1.0) and rates[60] == pytest.approx(0.55)
    assert warmup_cosine(110, 10, 110, 1.0) == pytest.approx(0.1)
    assert all(a >= b for a, b in itertools.pairwise(rates[10:]))


def test_train_step_is_one_clipped_step_of_next_token_cross_entropy() -> None:
    import copy

    from practicum.nn.language_model import TransformerLM, train_step

    torch.manual_seed(0)
    model = TransformerLM(11, 8, 16, 1, 2, 0.0)
    twin = copy.deepcopy(model)
    x, y = torch.randint(0, 11, (3, 8)), torch.randint(0, 11, (3, 8))
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    loss = train_step(model, opt, x, y, grad_clip=0.01)
    # By hand: the mean cross-entropy over all 24 positions, its gradient scaled to norm 0.01.
    expected = torch.nn.functional.cross_entropy(twin(x).reshape(-1, 11), y.reshape(-1))
    expected.backward()
    grads = [p.grad for p in twin.parameters()]
    norm = torch.sqrt(sum(g.pow(2).sum() for g in grads))
    assert loss == pytest.approx(expected.item())
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        assert torch.allclose(p, q - 0.5 * q.grad * min(1.0, 0.01 / float(norm)), atol=1e-6)
