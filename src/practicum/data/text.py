"""Text data: tiny-shakespeare for character language models, AG News for classification,
and small generated stand-ins for quick runs and tests (no files needed).

Real files are found through :func:`practicum.data.store.fetch` (``$PRACTICUM_DATA``, the
cache, or a verified download).
"""

from __future__ import annotations

import csv
import hashlib
import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from practicum.data.store import DataFile, cache_dir, data_dir, fetch
from practicum.errors import PracticumError

TINY_SHAKESPEARE = DataFile(
    "tinyshakespeare/input.txt",
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
    "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
)

_AG_NEWS_URL = "https://raw.githubusercontent.com/mhjabreel/CharCnn_Keras/master/data/ag_news_csv"
AG_NEWS_TEST = DataFile(
    "ag_news/test.csv",
    f"{_AG_NEWS_URL}/test.csv",
    "521465c2428ed7f02f8d6db6ffdd4b5447c1c701962353eb2c40d548c3c85699",
)
# SHA-256 as recorded by a third party next to the published MD5 (b1a00f82...); their
# test.csv SHA-256 matches ours, but this one could not be checked here (no train.csv offline).
AG_NEWS_TRAIN = DataFile(
    "ag_news/train.csv",
    f"{_AG_NEWS_URL}/train.csv",
    "76a0a2d2f92b286371fe4d4044640910a04a803fdd2538e0f3f29a5c6f6b672e",
)
AG_NEWS_CLASSES = ("World", "Sports", "Business", "Sci/Tech")


def local_path(f: DataFile) -> Path | None:
    """Where ``f`` already is on disk ($PRACTICUM_DATA, then the cache), without downloading."""
    root = data_dir()
    for candidate in ([root / f.relpath] if root else []) + [cache_dir() / f.relpath]:
        if candidate.is_file():
            return candidate
    return None


# ---- characters ------------------------------------------------------------------------


def load_tiny_shakespeare() -> str:
    """The 1,115,394 characters of Karpathy's tiny-shakespeare, verified by SHA-256."""
    return fetch(TINY_SHAKESPEARE).read_text(encoding="utf-8")


@dataclass(frozen=True)
class CharVocab:
    """The sorted set of characters of a text; ids are positions in ``chars``."""

    chars: str

    @classmethod
    def from_text(cls, text: str) -> CharVocab:
        return cls("".join(sorted(set(text))))

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        index = {c: i for i, c in enumerate(self.chars)}
        try:
            return np.fromiter((index[c] for c in text), dtype=np.int64, count=len(text))
        except KeyError as exc:
            raise PracticumError(f"character {exc.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        return "".join(self.chars[int(i)] for i in ids)


# A few public-domain lines (Shakespeare's sonnets 18 and 116) for quick runs and tests.
SONNETS = """\
Shall I compare thee to a summer's day?
Thou art more lovely and more temperate:
Rough winds do shake the darling buds of May,
And summer's lease hath all too short a date;
Sometime too hot the eye of heaven shines,
And often is his gold complexion dimm'd;
And every fair from fair sometime declines,
By chance or nature's changing course untrimm'd;
But thy eternal summer shall not fade,
Nor lose possession of that fair thou ow'st;
Nor shall death brag thou wander'st in his shade,
When in eternal lines to time thou grow'st:
So long as men can breathe or eyes can see,
So long lives this, and this gives life to thee.

Let me not to the marriage of true minds
Admit impediments. Love is not love
Which alters when it alteration finds,
Or bends with the remover to remove:
O no! it is an ever-fixed mark
That looks on tempests and is never shaken;
It is the star to every wandering bark,
Whose worth's unknown, although his height be taken.
Love's not Time's fool, though rosy lips and cheeks
Within his bending sickle's compass come;
Love alters not with his brief hours and weeks,
But bears it out even to the edge of doom.
If this be error and upon me proved,
I never writ, nor no man ever loved.
"""


# ---- AG News ---------------------------------------------------------------------------


def _clean(text: str) -> str:
    # The CSV escapes newlines as "\" and drops the "&" of HTML entities ("#39;" for "'").
    text = text.replace("\\", " ").replace("#39;", "'").replace("#36;", "$")
    return " ".join(html.unescape(text).split())


def read_ag_news_csv(path: Path) -> tuple[list[str], np.ndarray]:
    """Rows of (class 1-4, title, description) -> texts "title. description", labels 0-3."""
    texts: list[str] = []
    labels: list[int] = []
    with path.open(newline="", encoding="utf-8") as f:
        for lineno, row in enumerate(csv.reader(f), start=1):
            if len(row) != 3 or row[0] not in ("1", "2", "3", "4"):
                raise PracticumError(f"{path}:{lineno}: expected 'class,title,description'")
            labels.append(int(row[0]) - 1)
            texts.append(_clean(row[1]) + ". " + _clean(row[2]))
    return texts, np.asarray(labels, dtype=np.int64)


def load_ag_news(split: str) -> tuple[list[str], np.ndarray]:
    """AG News ``train`` (120,000 rows) or ``test`` (7,600 rows) as texts and labels 0-3."""
    if split not in ("train", "test"):
        raise PracticumError(f"AG News split must be 'train' or 'test', got {split!r}")
    return read_ag_news_csv(fetch(AG_NEWS_TRAIN if split == "train" else AG_NEWS_TEST))


_TOPIC_WORDS = (
    "minister election troops government president talks rebels peace capital embassy "
    "border parliament vote protest united nations ceasefire refugees summit treaty",
    "game season coach team win match league cup striker playoffs victory score "
    "championship olympic medal tournament inning quarterback goal defeat",
    "shares profit market stocks company earnings quarter investors bank oil prices "
    "sales deal merger economy growth percent billion rates retailer",
    "software computer internet users technology microsoft space research web online "
    "phone scientists chip data network launch google digital study",
)
_COMMON_WORDS = (
    "the a on in of to for with after new says said over first year week monday tuesday "
    "report officials people two three top big plan more its from by as at"
)


def synthetic_news(
    n: int, seed: int = 0, topic_share: float = 0.35
) -> tuple[list[str], np.ndarray]:
    """``n`` generated four-class "headlines" for quick runs and tests (no files).

    Each text mixes words of its class with common words and, with small probability, words
    of another class, so the classes overlap a little and no model is perfect at once.
    """
    rng = np.random.default_rng(seed)
    topics = [t.split() for t in _TOPIC_WORDS]
    common = _COMMON_WORDS.split()
    labels = np.arange(n) % 4
    rng.shuffle(labels)
    texts = []
    for label in labels:
        words = []
        for _ in range(rng.integers(8, 20)):
            u = rng.random()
            if u < topic_share:
                words.append(str(rng.choice(topics[label])))
            elif u < topic_share + 0.08:
                words.append(str(rng.choice(topics[rng.integers(4)])))
            else:
                words.append(str(rng.choice(common)))
        texts.append(" ".join(words))
    return texts, labels.astype(np.int64)


def text_hash(texts: Sequence[str]) -> str:
    """SHA-256 over the texts in order (a cache key that changes if any text changes)."""
    h = hashlib.sha256()
    for t in texts:
        data = t.encode("utf-8")
        h.update(len(data).to_bytes(8, "little"))  # length prefix: no ambiguity at joins
        h.update(data)
    return h.hexdigest()
