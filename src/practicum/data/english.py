"""Real English text as sentences of lowercase words, for word vectors: WordNet's glosses and
examples, tiny-shakespeare's speeches, AG News articles, and the Lee news corpus gensim ships
(for quick runs and tests).

Words are runs of the letters a-z after lowercasing: digits and punctuation separate words and
are dropped, so "don't" is "don" "t" (as in the word2vec paper's own preprocessing of news
text, which keeps no punctuation); the analogy and similarity sets are all letters.

The same sources also come as running text, whole documents with case and punctuation kept,
for character-level language models (:func:`wordnet_documents`, :func:`shakespeare_documents`,
:func:`split_documents`), and :func:`markov_text` makes English-like text of any length from a
few bundled lines for quick runs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from practicum.data.wordnet import Synset

_WORD = re.compile(r"[a-z]+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def wordnet_sentences(synsets: Sequence[Synset], headwords: bool = True) -> list[list[str]]:
    """One sentence per synset, its definition (after its words, as a dictionary prints an
    entry, when ``headwords``), and one per example."""
    out = []
    for s in synsets:
        head = [w for lemma in s.words for w in words(lemma.replace("_", " "))] if headwords else []
        out.append(head + words(s.definition))
        out.extend(words(e) for e in s.examples)
    return [s for s in out if s]


def shakespeare_sentences(text: str) -> list[list[str]]:
    """One sentence per speech (blocks between blank lines), without the speaker's name."""
    out = []
    for block in text.split("\n\n"):
        lines = block.strip().splitlines()
        if lines and lines[0].endswith(":"):
            lines = lines[1:]  # "First Citizen:"
        sentence = words(" ".join(lines))
        if sentence:
            out.append(sentence)
    return out


def news_sentences(texts: Sequence[str]) -> list[list[str]]:
    """One sentence per article (title and description)."""
    return [s for s in (words(t) for t in texts) if s]


def lee_corpus() -> list[list[str]]:
    """The Lee background corpus gensim ships in its test data (300 news documents, ~60,000
    words), one sentence per document."""
    try:
        from gensim.test.utils import datapath
    except ImportError:
        from practicum.errors import PracticumError

        raise PracticumError(
            "the Lee corpus ships with gensim: pip install -e '.[anchors]'"
        ) from None
    text = Path(datapath("lee_background.cor")).read_text(encoding="utf-8", errors="replace")
    return [s for s in (words(line) for line in text.splitlines()) if s]


# ---- running text, for character-level language models ------------------------------------
def wordnet_documents(synsets: Sequence[Synset]) -> list[str]:
    """One document per synset: its definition and its quoted examples, as running text."""
    out = []
    for s in synsets:
        examples = "".join(f' "{e}"' for e in s.examples)
        out.append(f"{s.definition}.{examples}\n")
    return out


def shakespeare_documents(text: str) -> list[str]:
    """One document per speech (blocks between blank lines), the speaker's name kept."""
    return [block.strip() + "\n\n" for block in text.split("\n\n") if block.strip()]


def split_documents(documents: Sequence[str], held_out_chars: int, seed: int) -> tuple[str, str]:
    """Training and held-out text from documents in a seeded random order: the held-out text
    is whole documents from the end of that order, at least ``held_out_chars`` characters, so
    both halves draw on every source alike and no document is cut in two."""
    order = np.random.default_rng(seed).permutation(len(documents))
    shuffled = [documents[i] for i in order]
    held, total = len(shuffled), 0
    while held > 0 and total < held_out_chars:
        held -= 1
        total += len(shuffled[held])
    if held == 0 or total < held_out_chars:
        raise ValueError(
            f"{sum(map(len, documents)):,} characters cannot hold out {held_out_chars:,}"
        )
    return "".join(shuffled[:held]), "".join(shuffled[held:])


def markov_text(source: str, order: int, length: int, seed: int) -> str:
    """``length`` characters from the order-``order`` character Markov chain of ``source``
    (each next character drawn with its frequency after the last ``order`` in ``source``,
    read cyclically so every context has a successor): English-like text of any length from
    a few bundled lines, for quick runs and tests."""
    if not 0 < order < len(source):
        raise ValueError(f"order must be in [1, {len(source) - 1}], got {order}")
    cyclic = source + source[:order]
    successors: dict[str, list[str]] = {}
    for i in range(len(source)):
        successors.setdefault(cyclic[i : i + order], []).append(cyclic[i + order])
    rng = np.random.default_rng(seed)
    out = list(source[:order])
    while len(out) < length:
        options = successors["".join(out[-order:])]
        out.append(options[int(rng.integers(len(options)))])
    return "".join(out[:length])
