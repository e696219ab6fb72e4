"""WordNet 3.0's database files (Miller 1995; Fellbaum 1998), read directly, no NLTK.

Each ``data.<pos>`` file holds one synset a line: its offset, lexicographer file, part of
speech, its words, its pointers, then ``|`` and the gloss, a definition followed by examples in
double quotes (``be almost asleep; "The old man sat nodding by the fireplace"``). Lines that
begin with two spaces are the licence.

The files are looked for in ``$PRACTICUM_DATA/wordnet/``, the cache, then Debian's
``/usr/share/wordnet`` (``apt-get install wordnet-base``), each verified by SHA-256. WordNet is
published as a tarball, not file by file, so there is no URL to download one from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from practicum.data.store import DataFile, find_local, verify
from practicum.errors import PracticumError

SYSTEM_DIR = Path("/usr/share/wordnet")  # Debian's wordnet-base
PARTS = ("noun", "verb", "adj", "adv")
# SHA-256 of the files of Debian 12's wordnet-base 1:3.0-37.
WORDNET_FILES = {
    "noun": DataFile(
        "wordnet/data.noun", "", "fea17d2f9656611334eac790e5d69e47645fa180c4aa481fb4cd9b3520754ca2"
    ),
    "verb": DataFile(
        "wordnet/data.verb", "", "adcf43e35b581e8036d8b5a52d63d9cd3d3b4870b2720d3c03c799df44777bc2"
    ),
    "adj": DataFile(
        "wordnet/data.adj", "", "c89120dfc1f046ddff4a631bf9b7e9fa1a36b5e86565a23bf82dbe14f30b88a7"
    ),
    "adv": DataFile(
        "wordnet/data.adv", "", "444a63bf3955080ab7524f5079cfc07ff9bc682cb98bdb1db73b0fb9829f1139"
    ),
    # The lemma index: the order of a lemma's senses, which names a synset ("mammal.n.01").
    "index.noun": DataFile(
        "wordnet/index.noun", "", "a490d99d93d017bf4822fe2f0ffa51fd73911ce271dc7535fade21f8814b5a04"
    ),
}


_MARKER = re.compile(r"\((a|p|ip)\)$")


@dataclass(frozen=True)
class Synset:
    offset: str
    pos: str
    words: tuple[str, ...]  # lemma names, multi-word ones joined by "_" as in the files
    definition: str
    examples: tuple[str, ...]
    # (symbol, target offset, target pos): "@" hypernym, "@i" instance hypernym, "~" hyponym, ...
    pointers: tuple[tuple[str, str, str], ...] = ()

    def targets(self, symbol: str) -> list[str]:
        """Offsets this synset points to with ``symbol`` (same part of speech)."""
        return [o for sym, o, pos in self.pointers if sym == symbol and pos == self.pos]


def wordnet_path(part: str) -> Path:
    """The verified ``data.<part>`` (or ``index.noun``) file: $PRACTICUM_DATA, the cache, then
    Debian's folder."""
    f = WORDNET_FILES[part]
    local = find_local(f)
    if local is not None:
        return verify(local, f)
    system = SYSTEM_DIR / f.name
    if system.is_file():
        return verify(system, f)
    raise PracticumError(
        f"WordNet 3.0's {f.name} is not available: install Debian's wordnet-base "
        f"(apt-get install wordnet-base) or put the file at $PRACTICUM_DATA/{f.relpath}"
    )


def parse_synset(line: str) -> Synset:
    """One line of a data file (see the module docstring; wndb(5) gives the format)."""
    head, _, gloss = line.partition(" | ")
    fields = head.split()
    try:
        offset, pos, count = fields[0], fields[2], int(fields[3], 16)
        # adjectives may carry a syntactic marker: "ashamed(p)", "elect(ip)"
        words = tuple(_MARKER.sub("", fields[4 + 2 * i]) for i in range(count))
        at = 4 + 2 * count
        n_pointers = int(fields[at])
        # each pointer is: symbol, offset, part of speech, source/target word numbers
        pointers = tuple(
            (fields[at + 1 + 4 * i], fields[at + 2 + 4 * i], _POS[fields[at + 3 + 4 * i]])
            for i in range(n_pointers)
        )
    except (IndexError, ValueError, KeyError):
        raise PracticumError(f"not a WordNet synset line: {line[:60]!r}") from None
    definition, examples = _split_gloss(gloss.strip())
    return Synset(offset, pos, words, definition, examples, pointers)


# A pointer's target part of speech; adjective satellites ("s") live in data.adj.
_POS = {"n": "n", "v": "v", "a": "a", "s": "a", "r": "r"}


def _split_gloss(gloss: str) -> tuple[str, tuple[str, ...]]:
    """The definition (the text outside quotes) and the quoted examples."""
    pieces = gloss.split('"')
    outside = " ".join(pieces[0::2])
    quoted = tuple(q.strip() for q in pieces[1::2] if q.strip())
    definition = " ".join(p.strip() for p in outside.split(";") if p.strip())
    return definition, quoted


def read_synsets(path: Path) -> list[Synset]:
    with path.open(encoding="utf-8", errors="replace") as f:
        return [parse_synset(line) for line in f if line.strip() and not line.startswith("  ")]


def load_synsets(parts: tuple[str, ...] = PARTS) -> list[Synset]:
    """Every synset of the given parts of speech (117,659 for all four)."""
    for part in parts:
        if part not in PARTS:
            raise PracticumError(f"WordNet part must be one of {PARTS}, got {part!r}")
    return [s for part in parts for s in read_synsets(wordnet_path(part))]


def synset_names(index: Path, synsets: list[Synset]) -> dict[str, str]:
    """NLTK's names, offset -> "lemma.n.NN": a synset's first lemma (lower case) and the rank of
    the synset among that lemma's senses in the index file (``index.noun`` for nouns)."""
    senses: dict[str, list[str]] = {}
    with index.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("  ") or not line.strip():
                continue
            fields = line.split()
            n_synsets, n_pointers = int(fields[2]), int(fields[3])
            # lemma pos synset_cnt p_cnt [symbols] sense_cnt tagsense_cnt offsets...
            senses[fields[0]] = fields[6 + n_pointers : 6 + n_pointers + n_synsets]
    names = {}
    for s in synsets:
        lemma = s.words[0].lower()
        try:
            rank = senses[lemma].index(s.offset) + 1
        except (KeyError, ValueError):
            raise PracticumError(f"synset {s.offset} ({lemma}) is not in {index}") from None
        names[s.offset] = f"{lemma}.{s.pos}.{rank:02d}"
    return names
