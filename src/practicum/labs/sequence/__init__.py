"""Sequences and text: language models and text classification."""
