"""Byte-pair encoding as Sennrich, Haddow & Birch (2016, ACL) learn it: start from characters,
and repeatedly merge the most frequent pair of adjacent symbols, counted over the words of
the training text weighted by how often each word occurs; encode by applying the learned
merges in the order they were learned.

Training keeps the count of every adjacent pair and, for each pair, the words it occurs in,
so a merge only revisits the words that hold the merged pair (their old pairs are taken out
of the counts and their new ones put in); a heap with lazy deletion finds the most frequent
pair. Ties go to the pair that sorts first, so training is deterministic.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from practicum.errors import PracticumError
from practicum.tokenize.pieces import MAX_PIECE_LENGTH, Tokenizer, alphabet_of, word_counts

Pair = tuple[str, str]


def merge_pair(symbols: Sequence[str], pair: Pair) -> list[str]:
    """``symbols`` with every occurrence of ``pair`` joined, left to right, no overlaps
    (``a a a`` with the pair ``(a, a)`` becomes ``aa a``)."""
    out: list[str] = []
    i = 0
    while i < len(symbols):
        if i + 1 < len(symbols) and symbols[i] == pair[0] and symbols[i + 1] == pair[1]:
            out.append(pair[0] + pair[1])
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out


def learn_merges(
    counts: dict[str, int], alphabet: Sequence[str], vocab_size: int, max_piece_length: int
) -> list[Pair]:
    """The merges that grow ``alphabet`` to ``vocab_size`` distinct pieces on these word counts.

    A merge whose result is longer than ``max_piece_length`` characters is never made. Two
    merges can make the same string (``ab+c`` and ``a+bc``); it counts once towards the size.
    """
    words = [list(w) for w in counts]
    freqs = list(counts.values())
    pair_counts: dict[Pair, int] = defaultdict(int)
    holders: dict[Pair, set[int]] = defaultdict(set)  # words that hold (or held) each pair
    for i, symbols in enumerate(words):
        for pair in zip(symbols, symbols[1:], strict=False):
            pair_counts[pair] += freqs[i]
            holders[pair].add(i)
    heap = [(-count, pair) for pair, count in pair_counts.items()]
    heapq.heapify(heap)
    pieces = set(alphabet)
    merges: list[Pair] = []
    while len(pieces) < vocab_size:
        while heap:
            negative, pair = heapq.heappop(heap)
            count = pair_counts.get(pair, 0)
            # A stale entry (the count changed since it was pushed) or a merge too long.
            if count == -negative and count > 0 and len(pair[0]) + len(pair[1]) <= max_piece_length:
                break
        else:
            raise PracticumError(
                f"the training text supports only {len(pieces)} BPE pieces (no pair of symbols "
                f"is left to merge); ask for a vocabulary of at most {len(pieces)}"
            )
        merges.append(pair)
        pieces.add(pair[0] + pair[1])
        changed: set[Pair] = set()
        for i in sorted(holders.pop(pair)):
            old = words[i]
            new = merge_pair(old, pair)
            if len(new) == len(old):
                continue  # the word no longer holds the pair (an earlier merge took it)
            for p in zip(old, old[1:], strict=False):
                pair_counts[p] -= freqs[i]
                changed.add(p)
            for p in zip(new, new[1:], strict=False):
                pair_counts[p] += freqs[i]
                holders[p].add(i)
                changed.add(p)
            words[i] = new
        for p in sorted(changed):
            if pair_counts[p] > 0:
                heapq.heappush(heap, (-pair_counts[p], p))
            else:
                del pair_counts[p]
    return merges


class BPE(Tokenizer):
    """A byte-pair-encoding tokeniser: the alphabet and the merges, ranked by when each was learned."""

    kind = "bpe"

    def __init__(self, alphabet: Sequence[str], merges: Sequence[Pair]) -> None:
        pieces = list(alphabet)
        seen = set(pieces)
        for a, b in merges:
            if a not in seen or b not in seen:
                raise ValueError(f"merge {(a, b)} joins a symbol no earlier merge made")
            if a + b not in seen:
                seen.add(a + b)
                pieces.append(a + b)
        super().__init__(pieces)
        self.characters = list(alphabet)
        self.merges = [(a, b) for a, b in merges]
        self._ranks = {pair: rank for rank, pair in reversed(list(enumerate(self.merges)))}

    @classmethod
    def train(
        cls,
        sentences: Iterable[str],
        vocab_size: int,
        max_piece_length: int = MAX_PIECE_LENGTH,
    ) -> BPE:
        """Learn merges on ``sentences`` until there are ``vocab_size`` pieces (characters
        included, byte tokens not)."""
        counts = word_counts(sentences)
        alphabet = alphabet_of(counts, vocab_size)
        return cls(alphabet, learn_merges(counts, alphabet, vocab_size, max_piece_length))

    def segment(self, run: str) -> list[str]:
        """Apply the merges in rank order: repeatedly join the adjacent pair learned first."""
        symbols = list(run)
        while len(symbols) > 1:
            ranked = [self._ranks.get(p) for p in zip(symbols, symbols[1:], strict=False)]
            best = min((r for r in ranked if r is not None), default=None)
            if best is None:
                break
            symbols = merge_pair(symbols, self.merges[best])
        return symbols

    def to_dict(self) -> dict[str, Any]:
        merges = [list(m) for m in self.merges]
        return {**super().to_dict(), "alphabet": self.characters, "merges": merges}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BPE:
        return cls(data["alphabet"], [(a, b) for a, b in data["merges"]])
