"""Connectionist temporal classification (Graves et al. 2006): decoding, and the edit distance
that scores a transcript.

A CTC network emits, per frame, a distribution over the labels plus a *blank*. An alignment is
one symbol per frame; it collapses to a label sequence by merging repeats and then dropping
blanks ("aa-ab" → "aab" with "-" the blank, so a doubled letter needs a blank between its
copies). The probability of a label sequence is the sum over every alignment that collapses to
it; training maximises it (``torch.nn.functional.ctc_loss`` is its negative log).

Decoding wants the most probable *label sequence*, which is not the collapse of the most
probable *alignment*:

- :func:`greedy_decode` collapses the best alignment (the argmax per frame). It is fast and
  usually close.
- :func:`prefix_beam_search` keeps the ``beam`` most probable prefixes. Each one keeps two
  probabilities: of its alignments so far that end in a blank, and of those that end in its
  last label. The split is needed because the next frame's label extends the prefix or merges
  into it depending on which. With a beam as wide as the number of prefixes it is exact; the
  tests check that against the brute-force argmax over label sequences, each scored by
  ``ctc_loss``.

Log probabilities are (T, C) per utterance, with the blank at index ``blank``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

NEG_INF = -np.inf


def collapse(alignment: Sequence[int], blank: int = 0) -> list[int]:
    """Merge repeated symbols, then drop blanks: the label sequence of one alignment."""
    out: list[int] = []
    previous = None
    for symbol in alignment:
        if symbol != previous and symbol != blank:
            out.append(int(symbol))
        previous = symbol
    return out


def greedy_decode(log_probs: np.ndarray, blank: int = 0) -> list[int]:
    """The collapse of the most probable alignment, the argmax of each frame."""
    return collapse(np.asarray(log_probs).argmax(axis=-1).tolist(), blank)


def _log_add(a: float, b: float) -> float:
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    high, low = (a, b) if a > b else (b, a)
    return high + float(np.log1p(np.exp(low - high)))


def _add(
    beams: dict[tuple[int, ...], list[float]],
    prefix: tuple[int, ...],
    p_blank: float,
    p_label: float,
) -> None:
    entry = beams.setdefault(prefix, [NEG_INF, NEG_INF])
    entry[0] = _log_add(entry[0], p_blank)
    entry[1] = _log_add(entry[1], p_label)


def prefix_beam_search(
    log_probs: np.ndarray, beam: int = 8, blank: int = 0, prune: float = np.inf
) -> list[tuple[list[int], float]]:
    """The ``beam`` most probable label sequences with their log probabilities, best first.

    ``prune``: a frame's symbols more than ``prune`` nats below its best are not tried (a
    trained CTC network is peaky: two or three symbols per frame carry all the mass, and the
    search is that many times faster). The default tries every symbol.

    Each prefix carries (log P of its alignments ending in a blank, log P of those ending in
    its last label). On a frame, for each prefix and symbol s:
    - a blank keeps the prefix and moves all its mass to "ends in blank";
    - its last label again keeps the prefix (a repeat merges) from "ends in label";
    - any other label, or its last label after a blank, extends the prefix by s.
    After each frame only the ``beam`` prefixes of highest total probability survive.
    """
    log_probs = np.asarray(log_probs, dtype=np.float64)
    if log_probs.ndim != 2:
        raise ValueError(f"log_probs must be (T, C), got shape {log_probs.shape}")
    if beam < 1:
        raise ValueError(f"beam must be at least 1, got {beam}")
    # prefix -> (ends in blank, ends in its last label)
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, NEG_INF)}
    for frame in log_probs:
        candidates = np.flatnonzero(frame >= frame.max() - prune).tolist()
        nxt: dict[tuple[int, ...], list[float]] = {}
        for prefix, (p_b, p_l) in beams.items():
            total = _log_add(p_b, p_l)
            for s in candidates:
                lp = frame[s]
                if s == blank:
                    _add(nxt, prefix, total + lp, NEG_INF)
                elif prefix and s == prefix[-1]:
                    _add(nxt, prefix, NEG_INF, p_l + lp)  # the repeat merges into the prefix
                    _add(nxt, prefix + (s,), NEG_INF, p_b + lp)  # after a blank: a new label
                else:
                    _add(nxt, prefix + (s,), NEG_INF, total + lp)
        ranked = sorted(nxt.items(), key=lambda kv: -_log_add(*kv[1]))[:beam]
        beams = {prefix: (pb, pl) for prefix, (pb, pl) in ranked}
    scored = [(list(prefix), _log_add(pb, pl)) for prefix, (pb, pl) in beams.items()]
    return sorted(scored, key=lambda item: -item[1])


# ---- scoring a transcript -------------------------------------------------------------------


def edit_distance(reference: Sequence, hypothesis: Sequence) -> int:
    """Levenshtein distance: the fewest substitutions, deletions and insertions that turn
    ``reference`` into ``hypothesis`` (one row of the dynamic programme at a time)."""
    previous = list(range(len(hypothesis) + 1))
    for i, r in enumerate(reference, start=1):
        current = [i] + [0] * len(hypothesis)
        for j, h in enumerate(hypothesis, start=1):
            current[j] = min(
                previous[j] + 1,  # delete r
                current[j - 1] + 1,  # insert h
                previous[j - 1] + (r != h),  # substitute (or match)
            )
        previous = current
    return previous[-1]


def error_rate(references: Sequence[Sequence], hypotheses: Sequence[Sequence]) -> float:
    """Total edits over total reference length, pooled over the corpus (as jiwer and the
    speech literature count it: long utterances weigh more than short ones)."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    length = sum(len(r) for r in references)
    if length == 0:
        raise ValueError("the references are empty: an error rate needs at least one unit")
    edits = sum(edit_distance(r, h) for r, h in zip(references, hypotheses, strict=True))
    return edits / length


def character_error_rate(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """CER: edits between the character strings over the references' characters (spaces are
    characters)."""
    return error_rate(list(references), list(hypotheses))


def word_error_rate(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """WER: edits between the whitespace-split word sequences over the references' words."""
    return error_rate([r.split() for r in references], [h.split() for h in hypotheses])
