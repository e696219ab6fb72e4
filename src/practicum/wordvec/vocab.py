"""The vocabulary of a tokenised corpus, and the two distributions word2vec draws from.

Subsampling (Mikolov et al. 2013b, Sec. 2.3): each occurrence of a word w of corpus frequency
f(w) is discarded with probability 1 − √(t / f(w)) in the paper's form. word2vec.c, and gensim
after it, keep it with probability (√(f/t) + 1) · t/f instead (f here a share of the corpus,
t the ``sample`` threshold), which is the paper's keep probability √(t/f) plus t/f: slightly
gentler, and above 1 (always kept) for any word rarer than about 2.6 t. We use the code's form
so that the anchor sees the same corpus; ``paper_keep_probability`` is the paper's, for the
comparison in the tests.

Negative samples are drawn from the unigram distribution raised to ¾ (Sec. 2.2), normalised.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from practicum.errors import PracticumError


@dataclass(frozen=True)
class Vocabulary:
    """Words kept (at least ``min_count`` occurrences), most frequent first, ties in
    alphabetical order; ``counts[i]`` is the corpus count of ``words[i]``."""

    words: tuple[str, ...]
    counts: np.ndarray  # int64

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], min_count: int) -> Vocabulary:
        if min_count < 1:
            raise PracticumError(f"min_count must be at least 1, got {min_count}")
        counter: Counter[str] = Counter()
        for sentence in sentences:
            counter.update(sentence)
        kept = sorted(((w, c) for w, c in counter.items() if c >= min_count), key=_order)
        if not kept:
            raise PracticumError(f"no word occurs {min_count} times or more")
        return cls(tuple(w for w, _ in kept), np.array([c for _, c in kept], dtype=np.int64))

    def __len__(self) -> int:
        return len(self.words)

    @property
    def index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}

    def encode(self, sentences: Iterable[Sequence[str]]) -> list[np.ndarray]:
        """Each sentence as word ids, out-of-vocabulary words dropped (as word2vec does: the
        window then reaches past them)."""
        index = self.index
        return [np.array([index[w] for w in s if w in index], dtype=np.int64) for s in sentences]


def _order(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]


def keep_probability(counts: np.ndarray, sample: float) -> np.ndarray:
    """word2vec.c's probability of keeping an occurrence of each word, capped at 1;
    ``sample`` = 0 keeps everything."""
    counts = np.asarray(counts, dtype=np.float64)
    if sample <= 0:
        return np.ones_like(counts)
    threshold = sample * counts.sum()  # t as a count
    return np.minimum(1.0, (np.sqrt(counts / threshold) + 1) * threshold / counts)


def paper_keep_probability(counts: np.ndarray, sample: float) -> np.ndarray:
    """The paper's form, 1 − P(discard) = √(t / f), capped at 1."""
    counts = np.asarray(counts, dtype=np.float64)
    return np.minimum(1.0, np.sqrt(sample * counts.sum() / counts))


def noise_distribution(counts: np.ndarray, power: float = 0.75) -> np.ndarray:
    """P_n(w) ∝ count(w)^power, the distribution negative samples are drawn from."""
    weights = np.asarray(counts, dtype=np.float64) ** power
    return weights / weights.sum()
