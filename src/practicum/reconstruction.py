"""How well distances between embedded nodes reconstruct a graph (Nickel & Kiela 2017, Sec. 4.1).

For each node u with neighbours N(u) (in a closure: every node above u), every other node is
ranked by its distance to u. The *rank* of a neighbour v is 1 + the number of non-neighbours
at most as far from u as v (other neighbours do not count against it; ties do, and a NaN
distance is infinitely far); the *mean rank* averages it
over all edges. The *average precision* of u is the mean, over its neighbours, of the fraction
of neighbours among the nodes at least as close as that neighbour; MAP averages it over the
nodes that have neighbours. u itself is never a candidate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Reconstruction:
    mean_rank: float
    map: float
    edges: int
    nodes: int  # nodes with at least one neighbour


def reconstruction(
    embedding: torch.Tensor,
    neighbours: Sequence[np.ndarray],
    distance: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    chunk: int = 256,
) -> Reconstruction:
    """Mean rank and MAP of ``neighbours[u]`` (index arrays) under ``distance`` of the rows of
    ``embedding``, computed ``chunk`` rows of the distance matrix at a time."""
    n = embedding.shape[0]
    rank_sum, edges, ap_sum, nodes = 0.0, 0, 0.0, 0
    with torch.no_grad():
        for start in range(0, n, chunk):
            rows = torch.arange(start, min(start + chunk, n))
            dist = distance(embedding[rows, None, :], embedding[None, :, :]).double().numpy()
            for k, u in enumerate(rows.tolist()):
                positives = np.asarray(neighbours[u], dtype=np.int64)
                if positives.size == 0:
                    continue
                d = np.where(np.isnan(dist[k]), np.inf, dist[k])  # a NaN is no nearer
                candidates = np.arange(n) != u  # u is not a candidate
                ranks, precision = _ranks(d, positives, candidates)
                rank_sum += float(ranks.sum())
                edges += positives.size
                ap_sum += float(precision.mean())
                nodes += 1
    return Reconstruction(rank_sum / max(edges, 1), ap_sum / max(nodes, 1), edges, nodes)


def _ranks(
    d: np.ndarray, positives: np.ndarray, candidates: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each positive: 1 + non-positives at most as far (a tie counts against it, so an
    embedding that collapses or diverges, all distances equal, ranks last), and the precision
    at its place (positives and non-positives at most as far, as in scikit-learn's
    average_precision_score)."""
    is_pos = np.zeros(d.size, dtype=bool)
    is_pos[positives] = True
    negatives = np.sort(d[~is_pos & candidates])
    pos_d = np.sort(d[positives])
    tied_or_closer_negatives = np.searchsorted(negatives, pos_d, side="right")
    tied_or_closer_positives = np.searchsorted(pos_d, pos_d, side="right")
    ranks = 1 + tied_or_closer_negatives
    precision = tied_or_closer_positives / (tied_or_closer_positives + tied_or_closer_negatives)
    return ranks, precision
