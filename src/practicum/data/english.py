"""Real English text as sentences of lowercase words, for word vectors: WordNet's glosses and
examples, tiny-shakespeare's speeches, AG News articles, and the Lee news corpus gensim ships
(for quick runs and tests).

Words are runs of the letters a-z after lowercasing: digits and punctuation separate words and
are dropped, so "don't" is "don" "t" (as in the word2vec paper's own preprocessing of news
text, which keeps no punctuation); the analogy and similarity sets are all letters.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

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
