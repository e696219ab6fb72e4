"""Backpropagation by hand: labs that train with practicum.autodiff, our NumPy engine."""
