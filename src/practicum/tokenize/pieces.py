"""What the subword tokenisers share: the raw character stream, words, byte fallback, files.

As in SentencePiece (Kudo & Richardson 2018), the text is a raw stream of characters: nothing
is normalised or stripped, and a space is an ordinary symbol that marks the start of a word.
SentencePiece writes it as the meta symbol "▁" (U+2581); here the space itself plays that
role inside pieces, and :func:`display` shows it as "▁". Keeping the real space means that a
literal "▁" in the input stays distinct from a space (SentencePiece's decoder turns it into a
space), so ``decode(encode(s)) == s`` for every string.

**Words.** Pieces never cross a word boundary: a word is an optional leading space, the
characters up to the next space or newline, and that newline (:func:`split_words`). So a run
of spaces is a run of one-space words, and a text cut into lines (each with its newline) is
tokenised exactly as its lines are one by one — which is how SentencePiece reads a training
file, one line a sentence.

**Byte fallback.** Characters outside the alphabet learned from the training text are written
as the bytes of their UTF-8 encoding: ids 0-255 are the 256 byte tokens, and pieces follow
(piece ``k`` is id ``256 + k``). The vocabulary size of a tokeniser counts its pieces — the
characters of the alphabet and the learned multi-character pieces — and not the 256 byte
tokens, which every tokeniser has alike (SentencePiece is configured to match; see the
tokenizers lab).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from practicum.errors import PracticumError
from practicum.io import atomic_write_json

SPACE_MARK = "\u2581"  # "▁": how a space inside a piece is shown, as in SentencePiece
BYTE_TOKENS = 256  # ids 0-255: the bytes of characters outside the alphabet
MAX_PIECE_LENGTH = 16  # characters; SentencePiece's default max_piece_length
FORMAT = "practicum-tokenizer"

_WORD = re.compile(r" ?[^ \n]*\n?")
# Lone surrogates are valid in a Python str; "surrogatepass" gives them bytes too.
_ENCODING = ("utf-8", "surrogatepass")


def split_words(text: str) -> list[str]:
    """The words of ``text``: an optional leading space, then everything up to the next space
    or newline, then that newline. ``"".join(split_words(s)) == s`` for every string."""
    return [w for w in _WORD.findall(text) if w]


def display(piece: str) -> str:
    """A piece as SentencePiece prints it: each space as "▁"."""
    return piece.replace(" ", SPACE_MARK)


def word_counts(sentences: Iterable[str]) -> Counter[str]:
    """How often each word occurs in the training sentences (what both trainers learn from);
    one clear line when there is no text at all."""
    counts: Counter[str] = Counter()
    for sentence in sentences:
        counts.update(split_words(sentence))
    if not counts:
        raise PracticumError("cannot train a tokenizer on an empty text")
    return counts


def alphabet_of(counts: Counter[str], vocab_size: int) -> list[str]:
    """The sorted characters of the training words (character coverage 1.0: all of them),
    checked against the vocabulary size, which must hold at least each of them once."""
    alphabet = sorted({c for word in counts for c in word})
    if vocab_size < len(alphabet):
        raise PracticumError(
            f"vocabulary size {vocab_size} is smaller than the {len(alphabet)} distinct "
            f"characters of the training text; ask for at least {len(alphabet)}"
        )
    return alphabet


def byte_piece(byte: int) -> str:
    """How a byte token is shown, as SentencePiece shows it: ``<0xE2>``."""
    return f"<0x{byte:02X}>"


class Tokenizer:
    """A trained subword tokeniser: pieces (id ``256 + k`` is ``pieces[k]``) and 256 byte tokens.

    Subclasses say how a run of alphabet characters inside one word is cut into pieces
    (:meth:`segment`); everything else — words, byte fallback, ids, decoding, files — is here.
    """

    kind: ClassVar[str] = ""
    _kinds: ClassVar[dict[str, type[Tokenizer]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            Tokenizer._kinds[cls.kind] = cls

    def __init__(self, pieces: Sequence[str]) -> None:
        if len(set(pieces)) != len(pieces) or any(not p for p in pieces):
            raise PracticumError("a tokenizer's pieces must be distinct, non-empty strings")
        self.pieces = list(pieces)
        self.alphabet = frozenset(p for p in self.pieces if len(p) == 1)
        self._ids = {p: BYTE_TOKENS + k for k, p in enumerate(self.pieces)}
        self._words: dict[str, tuple[int, ...]] = {}  # a text repeats its words: cache them

    @property
    def vocab_size(self) -> int:
        """The number of pieces: the alphabet and the learned pieces, not the byte tokens."""
        return len(self.pieces)

    @property
    def num_ids(self) -> int:
        """Every id :meth:`encode` can give: the byte tokens and the pieces."""
        return BYTE_TOKENS + len(self.pieces)

    def segment(self, run: str) -> list[str]:
        """Cut ``run`` (alphabet characters of one word) into pieces."""
        raise NotImplementedError

    def encode_word(self, word: str) -> tuple[int, ...]:
        """The ids of one word: runs of alphabet characters segmented into pieces, every other
        character as its UTF-8 bytes."""
        ids = self._words.get(word)
        if ids is None:
            out: list[int] = []
            start = 0
            for i, char in enumerate(word + "\0"):  # a sentinel ends the last run
                if i < len(word) and char in self.alphabet:
                    continue
                if start < i:
                    out.extend(self._ids[p] for p in self.segment(word[start:i]))
                if i < len(word):
                    out.extend(char.encode(*_ENCODING))
                start = i + 1
            ids = self._words[word] = tuple(out)
        return ids

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``; ``decode(encode(text)) == text`` for every string."""
        return [i for word in split_words(text) for i in self.encode_word(word)]

    def decode(self, ids: Iterable[int]) -> str:
        """The text of a sequence of ids (byte tokens are joined into UTF-8 characters)."""
        data = bytearray()
        for i in ids:
            i = int(i)
            if 0 <= i < BYTE_TOKENS:
                data.append(i)
            elif BYTE_TOKENS <= i < self.num_ids:
                data.extend(self.pieces[i - BYTE_TOKENS].encode(*_ENCODING))
            else:
                raise PracticumError(
                    f"token id {i} is outside this tokenizer (0-{self.num_ids - 1})"
                )
        try:
            return data.decode(*_ENCODING)
        except UnicodeDecodeError as exc:
            raise PracticumError(
                f"these ids are not a text: their bytes are not UTF-8 ({exc.reason})"
            ) from None

    def piece(self, i: int) -> str:
        """How id ``i`` is shown: a piece with "▁" for its space, or a byte as ``<0xAB>``."""
        return byte_piece(i) if i < BYTE_TOKENS else display(self.pieces[i - BYTE_TOKENS])

    # ---- files -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "kind": self.kind, "pieces": self.pieces}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tokenizer:
        raise NotImplementedError

    def save(self, path: str | Path) -> Path:
        """Write the tokenizer as JSON, atomically (pieces hold real spaces, not "▁")."""
        return atomic_write_json(path, self.to_dict())


def load_tokenizer(path: str | Path) -> Tokenizer:
    """A tokenizer saved by :meth:`Tokenizer.save`; one line if the file is not one."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PracticumError(f"no tokenizer file at {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PracticumError(f"{path} is not a tokenizer file (not JSON: {exc})") from None
    kind = data.get("kind") if isinstance(data, dict) else None
    if not isinstance(data, dict) or data.get("format") != FORMAT or kind not in Tokenizer._kinds:
        raise PracticumError(
            f"{path} is not a tokenizer file (no format {FORMAT!r} and known kind)"
        )
    try:
        return Tokenizer._kinds[kind].from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise PracticumError(f"{path}: a damaged {kind} tokenizer file ({exc!r})") from None
