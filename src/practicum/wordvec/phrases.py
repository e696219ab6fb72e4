"""Phrases from bigram counts (Mikolov et al. 2013b, Sec. 4).

Two adjacent words a b become one token "a_b" when

    score(a, b) = (count(a b) − δ) / (count(a) · count(b)) · N  >  threshold,

the paper's score with its discount δ (which keeps phrases of rare words out), scaled by N,
the number of distinct unigrams and bigrams counted, as gensim scales it so that one threshold
suits corpora of any size. A sentence is read left to right: a detected pair is merged and the
next candidate starts after it. The paper runs 2-4 such passes with a falling threshold, so that
phrases of more words can form from phrases of two; :meth:`Phrases.passes` does that.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from practicum.errors import PracticumError


@dataclass
class Phrases:
    """Unigram and bigram counts of a corpus, and the phrases they score above ``threshold``."""

    unigrams: Counter[str]
    bigrams: Counter[tuple[str, str]]
    min_count: int = 5  # δ, the discount
    threshold: float = 10.0
    delimiter: str = "_"

    @classmethod
    def learn(
        cls,
        sentences: Sequence[Sequence[str]],
        min_count: int = 5,
        threshold: float = 10.0,
        delimiter: str = "_",
    ) -> Phrases:
        if threshold < 0 or min_count < 0:
            raise PracticumError("phrase threshold and min_count must be non-negative")
        unigrams: Counter[str] = Counter()
        bigrams: Counter[tuple[str, str]] = Counter()
        for sentence in sentences:
            unigrams.update(sentence)
            bigrams.update(zip(sentence, sentence[1:], strict=False))
        return cls(unigrams, bigrams, min_count, threshold, delimiter)

    @property
    def size(self) -> int:
        """N: distinct unigrams plus distinct bigrams."""
        return len(self.unigrams) + len(self.bigrams)

    def score(self, a: str, b: str) -> float:
        together = self.bigrams.get((a, b), 0)
        if together == 0:
            return float("-inf")
        return (together - self.min_count) / (self.unigrams[a] * self.unigrams[b]) * self.size

    def phrases(self) -> dict[tuple[str, str], float]:
        """Every bigram that scores above the threshold, with its score."""
        n = self.size
        found = {}
        for (a, b), together in self.bigrams.items():
            s = (together - self.min_count) / (self.unigrams[a] * self.unigrams[b]) * n
            if s > self.threshold:
                found[(a, b)] = s
        return found

    def apply(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """The sentences with each detected pair merged, greedily from the left."""
        found = self.phrases()
        out = []
        for sentence in sentences:
            merged: list[str] = []
            i = 0
            while i < len(sentence):
                if i + 1 < len(sentence) and (sentence[i], sentence[i + 1]) in found:
                    merged.append(sentence[i] + self.delimiter + sentence[i + 1])
                    i += 2
                else:
                    merged.append(sentence[i])
                    i += 1
            out.append(merged)
        return out

    @staticmethod
    def passes(
        sentences: Sequence[Sequence[str]],
        thresholds: Sequence[float],
        min_count: int = 5,
        delimiter: str = "_",
    ) -> tuple[list[list[str]], list[dict[tuple[str, str], float]]]:
        """One pass per threshold (the paper: falling thresholds), each learned on the output
        of the last; the final sentences and each pass's phrases."""
        current = [list(s) for s in sentences]
        found = []
        for threshold in thresholds:
            model = Phrases.learn(current, min_count, threshold, delimiter)
            found.append(model.phrases())
            current = model.apply(current)
        return current, found
