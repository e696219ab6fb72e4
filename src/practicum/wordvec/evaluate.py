"""The evaluations of word vectors in Mikolov et al. 2013a and after.

**Analogies** (the Google test set, 19,544 questions in 14 sections): "a is to b as c is to ?"
is answered by the word whose unit vector is nearest in cosine to b̂ − â + ĉ (3CosAdd, with
the unit vectors of a, b, c), the three question words excluded. A question counts only when
its four words are among the ``restrict`` most frequent words; accuracy is over those.
**Similarity** (WordSim-353, SimLex-999): Spearman's ρ between the cosine of each pair and the
human score, over the pairs whose two words both have vectors. Words are matched in lowercase.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from practicum.errors import PracticumError


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def read_analogies(path: Path) -> list[tuple[str, tuple[str, str, str, str]]]:
    """(section, (a, b, c, d)) for every question of a questions-words file, lowercased."""
    section, out = "", []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(":"):
            section = line[1:].strip()
        elif line.strip():
            parts = line.lower().split()
            if len(parts) != 4:
                raise PracticumError(f"{path}: an analogy needs four words: {line!r}")
            out.append((section, (parts[0], parts[1], parts[2], parts[3])))
    return out


def read_word_pairs(path: Path) -> list[tuple[str, str, float]]:
    """(word, word, human score) for every line of a tab-separated pairs file ('#': comment)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        a, b, score = line.split("\t")[:3]
        out.append((a.lower(), b.lower(), float(score)))
    return out


@dataclass(frozen=True)
class AnalogyResult:
    accuracy: float  # correct / covered
    correct: int
    covered: int  # questions whose four words are in the restricted vocabulary
    total: int
    by_section: dict[str, tuple[int, int]]  # section -> (correct, covered)
    answers: dict[tuple[str, str, str, str], str]  # the covered questions' predicted words


def analogy_accuracy(
    words: Sequence[str],
    vectors: np.ndarray,
    questions: Sequence[tuple[str, tuple[str, str, str, str]]],
    restrict: int = 300_000,
    chunk: int = 1024,
) -> AnalogyResult:
    """3CosAdd accuracy over the covered questions (``words`` most frequent first)."""
    top = min(restrict, len(words))
    index = {w: i for i, w in enumerate(words[:top])}
    unit = unit_rows(np.asarray(vectors[:top], dtype=np.float64))
    covered = [(s, q) for s, q in questions if all(w in index for w in q)]
    by_section: dict[str, list[int]] = {}
    answers = {}
    for lo in range(0, len(covered), chunk):
        part = covered[lo : lo + chunk]
        best = _three_cos_add(unit, np.array([[index[w] for w in q[:3]] for _, q in part]))
        for (section, q), guess in zip(part, best, strict=True):
            answers[q] = words[guess]
            tally = by_section.setdefault(section, [0, 0])
            tally[0] += int(words[guess] == q[3])
            tally[1] += 1
    correct = sum(c for c, _ in by_section.values())
    return AnalogyResult(
        accuracy=correct / len(covered) if covered else 0.0,
        correct=correct,
        covered=len(covered),
        total=len(questions),
        by_section={s: (c, n) for s, (c, n) in by_section.items()},
        answers=answers,
    )


def _three_cos_add(unit: np.ndarray, abc: np.ndarray) -> np.ndarray:
    """The row nearest b̂ − â + ĉ for each row (a, b, c) of word ids, the three excluded."""
    target = unit[abc[:, 1]] - unit[abc[:, 0]] + unit[abc[:, 2]]
    scores = unit_rows(target) @ unit.T
    scores[np.arange(len(abc))[:, None], abc] = -np.inf  # the question's own words
    return scores.argmax(axis=1)


def analogy_answer(words: Sequence[str], vectors: np.ndarray, a: str, b: str, c: str) -> str:
    """3CosAdd's answer to a : b :: c : ? over all the words."""
    index = {w: i for i, w in enumerate(words)}
    for w in (a, b, c):
        if w not in index:
            raise PracticumError(f"{w!r} has no vector")
    unit = unit_rows(np.asarray(vectors, dtype=np.float64))
    return words[int(_three_cos_add(unit, np.array([[index[a], index[b], index[c]]]))[0])]


@dataclass(frozen=True)
class SimilarityResult:
    spearman: float
    covered: int
    total: int


def similarity_spearman(
    words: Sequence[str], vectors: np.ndarray, pairs: Sequence[tuple[str, str, float]]
) -> SimilarityResult:
    """Spearman's ρ between cosine similarity and the human scores on the covered pairs."""
    index = {w: i for i, w in enumerate(words)}
    unit = unit_rows(np.asarray(vectors, dtype=np.float64))
    kept = [(a, b, h) for a, b, h in pairs if a in index and b in index]
    if len(kept) < 3:
        return SimilarityResult(0.0, len(kept), len(pairs))
    cos = [float(unit[index[a]] @ unit[index[b]]) for a, b, _ in kept]
    rho = spearmanr(cos, [h for _, _, h in kept]).statistic
    return SimilarityResult(float(rho), len(kept), len(pairs))


def nearest(
    words: Sequence[str], vectors: np.ndarray, query: str, k: int = 5
) -> list[tuple[str, float]]:
    """The ``k`` words nearest ``query`` in cosine, with their similarities."""
    index = {w: i for i, w in enumerate(words)}
    if query not in index:
        raise PracticumError(f"{query!r} has no vector")
    unit = unit_rows(np.asarray(vectors, dtype=np.float64))
    scores = unit @ unit[index[query]]
    scores[index[query]] = -np.inf
    best = np.argsort(-scores)[:k]
    return [(words[i], float(scores[i])) for i in best]
