"""Word vectors (Mikolov et al. 2013): a vocabulary with frequent-word subsampling and the
unigram^¾ noise distribution (``vocab``), phrase detection (``phrases``), skip-gram with
negative sampling (``sgns``) and the analogy and similarity evaluations (``evaluate``)."""

from practicum.wordvec.evaluate import (
    analogy_accuracy,
    analogy_answer,
    nearest,
    read_analogies,
    read_word_pairs,
    similarity_spearman,
    unit_rows,
)
from practicum.wordvec.phrases import Phrases
from practicum.wordvec.sgns import SkipGram, skipgram_pairs
from practicum.wordvec.vocab import Vocabulary, keep_probability, noise_distribution

__all__ = [
    "Phrases",
    "SkipGram",
    "Vocabulary",
    "analogy_accuracy",
    "analogy_answer",
    "keep_probability",
    "nearest",
    "noise_distribution",
    "read_analogies",
    "read_word_pairs",
    "similarity_spearman",
    "skipgram_pairs",
    "unit_rows",
]
