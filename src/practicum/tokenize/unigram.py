"""The unigram language-model tokeniser of Kudo (2018, ACL), as SentencePiece trains it.

A text is a sequence of pieces drawn independently, p(x_1 … x_n) = ∏ p(x_i); a word's
segmentations are the paths through its lattice (an edge for every piece that matches at a
position). Training:

1. **Seed**: every character, and the right-branching substrings of the words (at most
   ``max_piece_length`` characters, seen at least twice) with the largest frequency × length,
   ``seed_size`` of them; initial log-probabilities proportional to log(frequency × length).
2. **EM**: the E-step sums, over the words weighted by their counts, each piece's expected
   number of occurrences under the posterior over segmentations (the forward-backward
   algorithm on the lattice); the M-step is SentencePiece's Bayesian one,
   log p(x) = ψ(c_x) − ψ(Σ c), which drops pieces expected less than half an occurrence.
3. **Prune**: the loss of a piece is how much the likelihood falls when its occurrences in the
   best segmentations are re-segmented by the best segmentation of the piece without it
   (:meth:`_Trainer.prune`); the pieces with the smallest loss go, 25% a round, until 10%
   above the target size. Single characters are never removed.
4. **Finalise**: the characters and the most probable other pieces, ``vocab_size`` in all;
   EM once more on the final vocabulary.

Encoding is the Viterbi (most probable) segmentation of each word.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from practicum.errors import PracticumError
from practicum.tokenize.pieces import MAX_PIECE_LENGTH, Tokenizer, alphabet_of, word_counts

# A lattice: the edges (i, j, k), piece k spanning word[i:j], sorted by their end j.
Lattice = list[tuple[int, int, int]]

MIN_EXPECTED = 0.5  # SentencePiece's threshold below which the M-step drops a piece


def digamma(x: float) -> float:
    """ψ(x) for x > 0: the recurrence ψ(x) = ψ(x + 1) − 1/x up to x ≥ 10, then the asymptotic
    series ln x − 1/(2x) − Σ B_2k / (2k x^2k) to k = 5 (error below 1e-13 there)."""
    if not x > 0:
        raise ValueError(f"digamma needs x > 0, got {x}")
    shift = 0.0
    while x < 10.0:
        shift -= 1.0 / x
        x += 1.0
    inv2 = 1.0 / (x * x)
    series = inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 * (1 / 240 - inv2 / 132))))
    return shift + math.log(x) - 0.5 / x - series


def build_lattice(word: str, index: Mapping[str, int], max_piece_length: int) -> Lattice:
    """The edges of ``word``'s lattice: every piece of ``index`` that matches, by end."""
    edges: Lattice = []
    for j in range(1, len(word) + 1):
        for i in range(max(0, j - max_piece_length), j):
            k = index.get(word[i:j])
            if k is not None:
                edges.append((i, j, k))
    return edges


def _logsumexp(values: Sequence[float]) -> float:
    top = max(values)
    if top == -math.inf:
        return top
    return top + math.log(sum(math.exp(v - top) for v in values))


def _forward_backward_log(
    n: int, edges: Lattice, log_probs: Sequence[float]
) -> tuple[float, list[tuple[int, float]]]:
    """:func:`_forward_backward` in log space, for a word too long for plain products."""
    by_end: list[list[tuple[int, int]]] = [[] for _ in range(n + 1)]
    by_start: list[list[tuple[int, int]]] = [[] for _ in range(n + 1)]
    for i, j, k in edges:
        by_end[j].append((i, k))
        by_start[i].append((j, k))
    alpha = [-math.inf] * (n + 1)
    alpha[0] = 0.0
    for j in range(1, n + 1):
        if by_end[j]:
            alpha[j] = _logsumexp([alpha[i] + log_probs[k] for i, k in by_end[j]])
    beta = [-math.inf] * (n + 1)
    beta[n] = 0.0
    for i in range(n - 1, -1, -1):
        if by_start[i]:
            beta[i] = _logsumexp([log_probs[k] + beta[j] for j, k in by_start[i]])
    log_z = alpha[n]
    if log_z == -math.inf:
        raise ValueError("the word has no segmentation into these pieces")
    return log_z, [(k, math.exp(alpha[i] + log_probs[k] + beta[j] - log_z)) for i, j, k in edges]


def _forward_backward(
    n: int, edges: Lattice, probs: Sequence[float], log_probs: Sequence[float]
) -> tuple[float, list[tuple[int, float]]]:
    """log Z of the lattice of a word of ``n`` characters and each edge's posterior
    probability, as (piece, probability). Plain products of probabilities (three passes over
    the edges, no logarithms); a word whose Z would underflow is redone in log space."""
    alpha = [0.0] * (n + 1)
    alpha[0] = 1.0
    for i, j, k in edges:  # by end: alpha[i] is complete when an edge leaves i
        alpha[j] += alpha[i] * probs[k]
    z = alpha[n]
    if not z > 1e-250:
        return _forward_backward_log(n, edges, log_probs)
    beta = [0.0] * (n + 1)
    beta[n] = 1.0
    for i, j, k in reversed(edges):  # by end, descending: beta[j] is complete here
        beta[i] += probs[k] * beta[j]
    return math.log(z), [(k, alpha[i] * probs[k] * beta[j] / z) for i, j, k in edges]


def _viterbi(
    n: int, edges: Lattice, log_probs: Sequence[float], exclude: int = -1
) -> list[tuple[int, int]]:
    """The best path through a lattice as (start, piece) edges; ``exclude`` is never used."""
    best = [-math.inf] * (n + 1)
    back: list[tuple[int, int]] = [(-1, -1)] * (n + 1)
    best[0] = 0.0
    for i, j, k in edges:
        score = best[i] + log_probs[k]
        if k != exclude and score > best[j]:
            best[j], back[j] = score, (i, k)
    if best[n] == -math.inf:
        return []
    path = []
    j = n
    while j > 0:
        i, k = back[j]
        path.append((i, k))
        j = i
    return path[::-1]


def forward_backward(
    word: str, log_probs: Mapping[str, float], max_piece_length: int = MAX_PIECE_LENGTH
) -> tuple[float, dict[str, float]]:
    """log p(word) summed over all its segmentations into the pieces of ``log_probs``, and
    each piece's expected number of occurrences in a segmentation drawn from the posterior."""
    pieces = list(log_probs)
    edges = build_lattice(word, {p: k for k, p in enumerate(pieces)}, max_piece_length)
    logs = [log_probs[p] for p in pieces]
    log_z, posteriors = _forward_backward(len(word), edges, [math.exp(v) for v in logs], logs)
    expected: dict[str, float] = {}
    for k, prob in posteriors:
        expected[pieces[k]] = expected.get(pieces[k], 0.0) + prob
    return log_z, expected


def viterbi(
    word: str, log_probs: Mapping[str, float], max_piece_length: int = MAX_PIECE_LENGTH
) -> list[str]:
    """The most probable segmentation of ``word`` into the pieces of ``log_probs``."""
    pieces = list(log_probs)
    edges = build_lattice(word, {p: k for k, p in enumerate(pieces)}, max_piece_length)
    path = _viterbi(len(word), edges, [log_probs[p] for p in pieces])
    if word and not path:
        raise ValueError(f"{word!r} has no segmentation into these pieces")
    return [pieces[k] for _, k in path]


def seed_pieces(
    counts: Mapping[str, int], max_piece_length: int, seed_size: int
) -> dict[str, float]:
    """Seed vocabulary → initial log-probability: every character (by its frequency) and the
    ``seed_size`` substrings of two or more characters with the largest frequency × length.

    As in SentencePiece, whose seed is the internal nodes of the corpus's suffix tree, a
    substring qualifies when it occurs at least twice and is right-branching: followed by at
    least two different characters, or ending a word (what follows a word is the next word's
    space, a line's end or punctuation: the corpus branches there). A substring always followed
    by the same character (``"Citize"``) would only split the mass of its extension.
    """
    freq: dict[str, int] = {}
    followers: dict[str, str | bool] = {}  # the one follower seen, or True once it branches
    for word, c in counts.items():
        for i in range(len(word)):
            for j in range(i + 1, min(len(word), i + max_piece_length) + 1):
                sub = word[i:j]
                freq[sub] = freq.get(sub, 0) + c
                seen = followers.get(sub)
                if j == len(word):
                    followers[sub] = True
                elif seen is None:
                    followers[sub] = word[j]
                elif seen is not True and seen != word[j]:
                    followers[sub] = True
    chars = {p: float(f) for p, f in freq.items() if len(p) == 1}
    longer = sorted(
        (
            (f * len(p), p)
            for p, f in freq.items()
            if len(p) > 1 and f >= 2 and followers[p] is True
        ),
        key=lambda sp: (-sp[0], sp[1]),
    )[:seed_size]
    scores = {**dict(sorted(chars.items())), **{p: float(s) for s, p in longer}}
    log_total = math.log(sum(scores.values()))
    return {p: math.log(s) - log_total for p, s in scores.items()}


class _Trainer:
    """The state of unigram training: the words with their counts, their lattices over the
    seed pieces (built once; an edge goes when its piece does) and the pieces still alive."""

    def __init__(self, counts: Mapping[str, int], seed: Mapping[str, float], max_len: int) -> None:
        self.words = list(counts)
        self.freqs = [float(counts[w]) for w in self.words]
        self.pieces = list(seed)  # ids are seed positions throughout
        self.log_probs = list(seed.values())
        self.alive = [True] * len(self.pieces)
        index = {p: k for k, p in enumerate(self.pieces)}
        self.lattices = [build_lattice(w, index, max_len) for w in self.words]
        # A piece's own lattice, for its best segmentation without it (pieces are substrings
        # of the words, so the seed ids cover them).
        self.piece_lattices = [build_lattice(p, index, max_len) for p in self.pieces]

    def current(self) -> dict[str, float]:
        return {
            p: lp for p, lp, a in zip(self.pieces, self.log_probs, self.alive, strict=True) if a
        }

    def keep(self, log_probs: Mapping[str, float]) -> None:
        """Set the log-probabilities of the pieces that stay; the others are removed."""
        removed = False
        for k, piece in enumerate(self.pieces):
            if self.alive[k] and piece not in log_probs:
                self.alive[k], self.log_probs[k], removed = False, -math.inf, True
            elif self.alive[k]:
                self.log_probs[k] = log_probs[piece]
        if removed:
            alive = self.alive
            self.lattices = [[e for e in edges if alive[e[2]]] for edges in self.lattices]
            self.piece_lattices = [
                [e for e in edges if alive[e[2]]] if alive[k] else []
                for k, edges in enumerate(self.piece_lattices)
            ]

    def em_step(self, drop: bool = True) -> float:
        """One EM iteration; returns the corpus log-likelihood before it. With ``drop``, pieces
        expected less than half an occurrence go (characters always stay)."""
        expected = [0.0] * len(self.pieces)
        probs = [math.exp(v) for v in self.log_probs]
        likelihood = 0.0
        for word, edges, f in zip(self.words, self.lattices, self.freqs, strict=True):
            log_z, posteriors = _forward_backward(len(word), edges, probs, self.log_probs)
            likelihood += f * log_z
            for k, prob in posteriors:
                expected[k] += f * prob
        kept = {
            p: max(c, 1e-6)  # a character stays even when longer pieces cover nearly all of it
            for p, c, a in zip(self.pieces, expected, self.alive, strict=True)
            if a and (c >= MIN_EXPECTED or len(p) == 1 or not drop)
        }
        psi_total = digamma(sum(kept.values()))
        self.keep({p: digamma(c) - psi_total for p, c in kept.items()})
        return likelihood

    def prune(self, size: int) -> None:
        """Keep the characters and the ``size`` − #characters pieces whose removal would cost
        the most likelihood.

        The cost of removing piece x is measured on the best segmentations of the words, with
        unigram frequencies re-estimated from them: x's occurrences go to the pieces of its own
        best segmentation without it (each of those gains freq(x) occurrences, and the total
        grows by freq(x)·(|alt| − 1)), and the change in log-likelihood of one occurrence,
        log p(x) − Σ log p'(alt), is weighted by the share of the words whose best
        segmentation uses x (SentencePiece's weighting).
        """
        freq = [0.0] * len(self.pieces)
        holders = [0.0] * len(self.pieces)  # weight of the words whose best path uses each piece
        for word, edges, f in zip(self.words, self.lattices, self.freqs, strict=True):
            path = [k for _, k in _viterbi(len(word), edges, self.log_probs)]
            for k in path:
                freq[k] += f
            used = set(path)
            for k in used:
                holders[k] += f
        total, words = sum(freq), sum(self.freqs)
        losses = []
        chars = 0
        for k, piece in enumerate(self.pieces):
            if not self.alive[k] or len(piece) == 1:
                chars += self.alive[k]
                continue
            # Never on a best path, or not even the best segmentation of its own string:
            # removing it costs nothing measured here.
            loss = 0.0
            own = _viterbi(len(piece), self.piece_lattices[k], self.log_probs)
            if freq[k] > 0 and len(own) == 1:
                alt = [
                    a for _, a in _viterbi(len(piece), self.piece_lattices[k], self.log_probs, k)
                ]
                log_total_alt = math.log(total + freq[k] * (len(alt) - 1))
                log_p = math.log(freq[k]) - math.log(total)
                log_p_alt = sum(math.log(freq[a] + freq[k]) - log_total_alt for a in alt)
                loss = holders[k] / words * (log_p - log_p_alt)
            losses.append((loss, piece))
        keep = {p for _, p in sorted(losses, key=lambda lp: (-lp[0], lp[1]))[: size - chars]}
        self.keep({p: lp for p, lp in self.current().items() if len(p) == 1 or p in keep})


class Unigram(Tokenizer):
    """A unigram-LM tokeniser: pieces with log-probabilities, Viterbi encoding."""

    kind = "unigram"

    def __init__(self, pieces: Sequence[str], log_probs: Sequence[float]) -> None:
        if len(pieces) != len(log_probs):
            raise ValueError("one log-probability per piece")
        super().__init__(pieces)
        self.log_probs = [float(lp) for lp in log_probs]
        self._index = {p: k for k, p in enumerate(self.pieces)}
        self._max_len = max(len(p) for p in self.pieces)

    @classmethod
    def train(
        cls,
        sentences: Iterable[str],
        vocab_size: int,
        max_piece_length: int = MAX_PIECE_LENGTH,
        seed_size: int = 1_000_000,
        shrink: float = 0.75,
        em_steps: int = 2,
        pool_size: int | None = None,
    ) -> Unigram:
        """Kudo's EM and pruning on ``sentences`` down to ``vocab_size`` pieces (characters
        included, byte tokens not); SentencePiece's defaults for the other settings.

        Pruning stops at ``pool_size`` pieces (default 1.1 × ``vocab_size``, SentencePiece's
        rule), from which the most probable are kept. SentencePiece applies its 1.1 to its own
        vocabulary size, which counts its reserved ids (byte and control tokens): to train as
        it does, pass 1.1 × (vocab_size + reserved).
        """
        counts = word_counts(sentences)
        alphabet = alphabet_of(counts, vocab_size)
        seed = seed_pieces(counts, max_piece_length, seed_size)
        if len(seed) < vocab_size:
            raise PracticumError(
                f"the training text supports only {len(seed)} unigram pieces (characters and "
                f"substrings seen twice); ask for a vocabulary of at most {len(seed)}"
            )
        trainer = _Trainer(counts, seed, max_piece_length)
        desired = max(vocab_size, pool_size or int(1.1 * vocab_size))
        while True:
            for _ in range(em_steps):
                trainer.em_step()
            size = sum(trainer.alive)
            if size <= desired:
                break
            trainer.prune(max(desired, int(shrink * size)))
        # Finalise: the characters and the most probable other pieces, then EM on them.
        final = trainer.current()
        ranked = sorted((-lp, p) for p, lp in final.items() if len(p) > 1)
        top = {p for _, p in ranked[: vocab_size - len(alphabet)]}
        trainer.keep({p: lp for p, lp in final.items() if len(p) == 1 or p in top})
        for _ in range(em_steps):
            trainer.em_step(drop=False)  # the size is final: keep every piece
        final = trainer.current()
        if len(final) < vocab_size:
            raise PracticumError(
                f"unigram training kept only {len(final)} pieces expected at least "
                f"{MIN_EXPECTED} times; ask for a vocabulary of at most {len(final)}"
            )
        return cls(list(final), list(final.values()))

    def segment(self, run: str) -> list[str]:
        """The Viterbi segmentation of ``run`` (its characters are all pieces, so one exists)."""
        path = _viterbi(len(run), build_lattice(run, self._index, self._max_len), self.log_probs)
        return [self.pieces[k] for _, k in path]

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "log_probs": self.log_probs}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Unigram:
        return cls(data["pieces"], data["log_probs"])
