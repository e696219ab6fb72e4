"""Subword tokenisers written from their papers: byte-pair encoding (Sennrich, Haddow & Birch
2016) and the unigram language model (Kudo 2018), both over SentencePiece's raw character
stream (Kudo & Richardson 2018), lossless for any Unicode text through UTF-8 byte fallback."""

from practicum.tokenize.bpe import BPE
from practicum.tokenize.pieces import (
    BYTE_TOKENS,
    SPACE_MARK,
    Tokenizer,
    load_tokenizer,
    split_words,
)
from practicum.tokenize.unigram import Unigram

__all__ = [
    "BPE",
    "BYTE_TOKENS",
    "SPACE_MARK",
    "Tokenizer",
    "Unigram",
    "load_tokenizer",
    "split_words",
]
