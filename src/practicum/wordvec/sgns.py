"""Skip-gram with negative sampling (Mikolov et al. 2013a, b), as word2vec.c trains it.

For each kept occurrence of a word (after dropping out-of-vocabulary words and subsampling
frequent ones, see :mod:`practicum.wordvec.vocab`), a window b is drawn uniformly from
1..``window`` and every word within b positions, in the same sentence, is a context. Each
(centre, context) pair is one logistic regression: the context's input vector v must score its
centre's output vector u high and ``negative`` words drawn from the unigram^¾ distribution low,

    log σ(u_c · v) + Σ_k log σ(−u_k · v),

ascended by SGD with a rate falling linearly from ``alpha`` to ``min_alpha`` over training.
The input vectors start uniform in ±0.5/d, the output vectors at zero; the input vectors are
the word vectors.

word2vec.c updates after every pair, one thread per core with no locks. Here a batch of
``batch`` consecutive pairs is one vectorised step (the gradients of a batch are computed at the
same vectors and summed, so a word met twice in a batch gets both updates): the same
algorithm with updates a few hundred pairs late, which is what makes it fast in Python.
A negative that draws the centre itself is skipped, as in word2vec.c.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from practicum.errors import PracticumError
from practicum.wordvec.vocab import keep_probability, noise_distribution


def skipgram_pairs(
    sentences: Sequence[np.ndarray], window: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(centre, context) word ids of every pair, in corpus order (by centre, then by context
    position), each centre with its own window drawn from 1..``window``."""
    if window < 1:
        raise PracticumError(f"window must be at least 1, got {window}")
    lengths = np.array([len(s) for s in sentences], dtype=np.int64)
    if lengths.sum() == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    tokens = np.concatenate([s for s in sentences if len(s)])
    sentence = np.repeat(np.arange(len(lengths)), lengths)
    reach = rng.integers(1, window + 1, len(tokens))  # word2vec.c: window − (rand % window)
    position = np.arange(len(tokens))
    centres, contexts, keys = [], [], []
    for offset in range(-window, window + 1):
        if offset == 0:
            continue
        lo, hi = max(0, -offset), len(tokens) - max(0, offset)
        if hi <= lo:
            continue  # the offset reaches past the whole corpus
        i = position[lo:hi]
        j = i + offset
        ok = (reach[i] >= abs(offset)) & (sentence[i] == sentence[j])
        centres.append(i[ok])
        contexts.append(j[ok])
        keys.append(i[ok] * (2 * window + 1) + (offset + window))
    if not keys:  # a one-word corpus has no pairs
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = np.argsort(np.concatenate(keys), kind="stable")
    return tokens[np.concatenate(centres)[order]], tokens[np.concatenate(contexts)[order]]


@dataclass
class TrainingLog:
    pairs: list[int] = field(default_factory=list)  # pairs trained per epoch
    kept_tokens: list[int] = field(default_factory=list)  # tokens left after subsampling
    loss: list[float] = field(default_factory=list)  # mean loss per pair, per report interval
    seconds: float = 0.0


class SkipGram:
    """Input and output vectors of a vocabulary, trained by :meth:`train`."""

    def __init__(self, vocab_size: int, dim: int, seed: int) -> None:
        if vocab_size < 1 or dim < 1:
            raise PracticumError("the vocabulary and the vectors must not be empty")
        g = torch.Generator().manual_seed(seed)
        self.input = (torch.rand(vocab_size, dim, generator=g) - 0.5) / dim
        self.output = torch.zeros(vocab_size, dim)

    @property
    def vectors(self) -> np.ndarray:
        return self.input.numpy().copy()

    def step(
        self, centres: torch.Tensor, contexts: torch.Tensor, negatives: torch.Tensor, rate: float
    ) -> float:
        """One batch of pairs (``negatives``: B × k word ids); returns the summed loss."""
        v = self.input[contexts]  # B × d: the context's input vector predicts its centre
        targets = torch.cat([centres[:, None], negatives], dim=1)  # B × (1 + k)
        u = self.output[targets]  # B × (1 + k) × d
        scores = torch.bmm(u, v[:, :, None]).squeeze(2)
        labels = torch.zeros_like(scores)
        labels[:, 0] = 1.0
        live = torch.ones_like(scores)
        live[:, 1:] = (negatives != centres[:, None]).to(scores.dtype)
        # d/ds of log σ(s) is 1 − σ(s); of log σ(−s) is −σ(s): (label − σ) in both cases
        g = (labels - torch.sigmoid(scores)) * live * rate
        sign = 2 * labels - 1
        loss = -(torch.nn.functional.logsigmoid(sign * scores) * live).sum()
        dv = torch.bmm(g[:, None, :], u).squeeze(1)
        du = g[:, :, None] * v[:, None, :]
        self.output.index_add_(0, targets.reshape(-1), du.reshape(-1, u.shape[2]))
        self.input.index_add_(0, contexts, dv)
        return float(loss)

    def train(
        self,
        sentences: Sequence[np.ndarray],
        counts: np.ndarray,
        *,
        epochs: int,
        window: int,
        negative: int,
        sample: float,
        alpha: float,
        min_alpha: float,
        batch: int,
        seed: int,
        ns_exponent: float = 0.75,
        report_every: int = 200,
    ) -> TrainingLog:
        """``epochs`` passes over the id sentences."""
        if negative < 1 or batch < 1 or epochs < 1:
            raise PracticumError("negative, batch and epochs must be at least 1")
        rng = np.random.default_rng(seed)
        keep = keep_probability(counts, sample)
        cumulative = np.cumsum(noise_distribution(counts, ns_exponent))
        cumulative[-1] = 1.0
        log = TrainingLog()
        start = time.perf_counter()
        # The rate falls with the tokens read (before subsampling), as in word2vec.c and gensim;
        # a pair counts as the share of its epoch's tokens its position in the epoch gives.
        epoch_tokens = int(sum(len(s) for s in sentences))
        total_tokens = epoch_tokens * epochs
        for epoch in range(epochs):
            seen = epoch * epoch_tokens
            kept = [s[rng.random(len(s)) < keep[s]] for s in sentences]
            centres, contexts = skipgram_pairs(kept, window, rng)
            n = len(centres)
            log.pairs.append(n)
            log.kept_tokens.append(sum(len(s) for s in kept))
            running, count = 0.0, 0
            c_all, x_all = torch.from_numpy(centres), torch.from_numpy(contexts)
            for b, lo in enumerate(range(0, n, batch)):
                hi = min(n, lo + batch)
                progress_share = (seen + epoch_tokens * lo / max(n, 1)) / total_tokens
                rate = max(min_alpha, alpha - (alpha - min_alpha) * progress_share)
                draws = np.searchsorted(cumulative, rng.random((hi - lo, negative)), side="right")
                running += self.step(
                    c_all[lo:hi], x_all[lo:hi], torch.from_numpy(draws.astype(np.int64)), rate
                )
                count += hi - lo
                if (b + 1) % report_every == 0:
                    log.loss.append(running / count)
                    running, count = 0.0, 0
            if count:
                log.loss.append(running / count)
        log.seconds = time.perf_counter() - start
        return log
