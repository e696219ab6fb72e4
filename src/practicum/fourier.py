"""Fourier analysis over the integers modulo p.

A network that has learned modular addition represents each residue ``a`` by waves
``cos(2πka/p)``, ``sin(2πka/p)`` of a few *key frequencies* k (Nanda et al. 2023, "Progress
measures for grokking via mechanistic interpretability"): the rows of its embedding matrix,
read as functions of ``a``, are sparse in the Fourier basis of Z_p. This module gives that
basis and the share of a matrix's squared norm each frequency carries.
"""

from __future__ import annotations

import math

import torch


def fourier_basis(p: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The real orthonormal Fourier basis of functions on Z_p, as the columns of a (p, p)
    matrix: the constant, then ``cos_k, sin_k`` for k = 1, ..., ⌊(p−1)/2⌋, then (p even) the
    alternating wave of frequency p/2."""
    if p < 1:
        raise ValueError(f"p must be positive, got {p}")
    a = torch.arange(p, dtype=dtype)
    columns = [torch.full((p,), 1 / math.sqrt(p), dtype=dtype)]
    for k in range(1, (p - 1) // 2 + 1):
        angle = 2 * math.pi * k * a / p
        columns += [torch.cos(angle) * math.sqrt(2 / p), torch.sin(angle) * math.sqrt(2 / p)]
    if p % 2 == 0:
        columns.append(torch.cos(math.pi * a) / math.sqrt(p))
    return torch.stack(columns, dim=1)


def frequency_of_column(p: int) -> torch.Tensor:
    """For each column of :func:`fourier_basis`, its frequency k (0 for the constant)."""
    ks = [0] + [k for k in range(1, (p - 1) // 2 + 1) for _ in range(2)]
    if p % 2 == 0:
        ks.append(p // 2)
    return torch.tensor(ks)


def frequency_norms(weights: torch.Tensor) -> torch.Tensor:
    """The squared norm of ``weights`` (p, d) — a function of the residue for each of its d
    columns — carried by each frequency k = 0, ..., ⌊p/2⌋: Σ over the basis vectors of
    frequency k of ‖bᵀ W‖². By Parseval the entries sum to ‖W‖_F²."""
    p = weights.shape[0]
    coefficients = fourier_basis(p, torch.float64).T @ weights.detach().to(torch.float64)
    energy = coefficients.pow(2).sum(dim=1)
    return torch.zeros(p // 2 + 1, dtype=torch.float64).index_add_(
        0, frequency_of_column(p), energy
    )


def top_frequency_share(weights: torch.Tensor, top: int = 5) -> tuple[float, list[int]]:
    """The share of ``‖W‖_F²`` carried by the ``top`` non-constant frequencies with the most
    of it, and those frequencies (largest first)."""
    norms = frequency_norms(weights)
    total = float(norms.sum())
    if total == 0:
        return 0.0, []
    values, order = norms[1:].sort(descending=True)
    return float(values[:top].sum()) / total, [int(k) + 1 for k in order[:top]]
