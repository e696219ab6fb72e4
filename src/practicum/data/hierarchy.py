"""Hierarchies as transitive closures: WordNet's noun hypernymy, or a generated tree.

A hierarchy is a list of node names and the edges (u, v) of its transitive closure, u below v
("dog.n.01" → "mammal.n.01"), as Nickel & Kiela (2017) embed it. Their WordNet data follow
NLTK: for every noun synset, every synset reachable by hypernym pointers ("@"), and for an
instance ("@i", e.g. a named city), its instance hypernyms and all of theirs.

The mammal subtree is the closure restricted to mammal.n.01 and the synsets below it, without
the edges of two synsets the authors filter out (``MAMMAL_DROP``: "tusker" and "female
mammal", categories of a trait, not of descent): 1,180 nodes and 6,540 edges. The whole noun
closure here has 82,115 nodes and 742,618 edges (the paper's Table 1: 82,115 and 743,086; NLTK
counts a few instance edges more).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from practicum.errors import PracticumError
from practicum.io import atomic_write_text

MAMMAL_DROP = ("tusker.n.01", "female_mammal.n.01")


@dataclass(frozen=True)
class Hierarchy:
    names: tuple[str, ...]
    edges: np.ndarray  # (E, 2) int64: (u, v) with v above u, sorted, no duplicates

    def __len__(self) -> int:
        return len(self.names)

    @cached_property
    def above(self) -> list[np.ndarray]:
        """For each node, the sorted indices of every node above it (its closure edges)."""
        order = np.argsort(self.edges[:, 0], kind="stable")
        u, v = self.edges[order, 0], self.edges[order, 1]
        cuts = np.searchsorted(u, np.arange(len(self.names) + 1))
        return [np.sort(v[cuts[i] : cuts[i + 1]]) for i in range(len(self.names))]

    @cached_property
    def parents(self) -> list[np.ndarray]:
        """The transitive reduction: the nodes directly above each node (for drawing)."""
        above = [set(a.tolist()) for a in self.above]
        out = []
        for a in above:
            # a parent is above u and not above another node above u
            implied = set().union(*(above[w] for w in a)) if a else set()
            out.append(np.array(sorted(a - implied), dtype=np.int64))
        return out

    @cached_property
    def depth(self) -> np.ndarray:
        """The number of nodes above each node (0 for a root)."""
        return np.array([len(a) for a in self.above], dtype=np.int64)

    def write_tsv(self, path: Path) -> None:
        """The edges as ``hyponym<TAB>hypernym`` lines of names, atomically."""
        lines = [f"{self.names[u]}\t{self.names[v]}" for u, v in self.edges.tolist()]
        atomic_write_text(path, "\n".join(["id1\tid2", *lines]) + "\n")


def from_edges(pairs: Iterable[tuple[str, str]]) -> Hierarchy:
    """A hierarchy from closure edges given by name, nodes in sorted order."""
    pairs = sorted(set(pairs))
    names = tuple(sorted({n for pair in pairs for n in pair}))
    index = {n: i for i, n in enumerate(names)}
    edges = np.array([(index[u], index[v]) for u, v in pairs], dtype=np.int64).reshape(-1, 2)
    for u, v in pairs:
        if u == v:
            raise PracticumError(f"a node above itself: {u!r}")
    return Hierarchy(names, edges)


def closure(parents: Mapping[str, Iterable[str]]) -> Hierarchy:
    """The transitive closure of a child → parents map (a DAG; a cycle is an error)."""
    memo: dict[str, frozenset[str]] = {}

    def above(node: str, path: tuple[str, ...]) -> frozenset[str]:
        if node in memo:
            return memo[node]
        if node in path:
            raise PracticumError(f"the hierarchy has a cycle through {node!r}")
        out: set[str] = set()
        for p in parents.get(node, ()):
            out.add(p)
            out |= above(p, (*path, node))
        memo[node] = frozenset(out)
        return memo[node]

    nodes = set(parents) | {p for ps in parents.values() for p in ps}
    return from_edges((n, a) for n in sorted(nodes) for a in above(n, ()))


def balanced_tree(branching: int, depth: int) -> Hierarchy:
    """The closure of a tree with ``branching`` children per node, ``depth`` levels below the
    root "r" (children of "r" are "r.0", "r.1", ...): a generated stand-in for WordNet."""
    if branching < 1 or depth < 1:
        raise PracticumError(f"a tree needs branching ≥ 1 and depth ≥ 1, got {branching}, {depth}")
    parents: dict[str, list[str]] = {}
    level = ["r"]
    for _ in range(depth):
        level_next = []
        for node in level:
            for k in range(branching):
                parents[f"{node}.{k}"] = [node]
                level_next.append(f"{node}.{k}")
        level = level_next
    return closure(parents)


def subtree(h: Hierarchy, root: str, drop: Iterable[str] = ()) -> Hierarchy:
    """``root`` and the nodes below it, with the edges among them, less the edges that start
    at a node of ``drop`` (and the nodes left with no edge)."""
    if root not in h.names:
        raise PracticumError(f"{root!r} is not in the hierarchy")
    r = h.names.index(root)
    below = set(h.edges[h.edges[:, 1] == r, 0].tolist()) | {r}
    dropped = set(drop)
    pairs = [
        (h.names[u], h.names[v])
        for u, v in h.edges.tolist()
        if u in below and v in below and h.names[u] not in dropped
    ]
    return from_edges(pairs)


def wordnet_nouns() -> Hierarchy:
    """The transitive closure of WordNet 3.0's noun hypernymy, named as NLTK names synsets."""
    from practicum.data.wordnet import load_synsets, synset_names, wordnet_path

    synsets = load_synsets(("noun",))
    names = synset_names(wordnet_path("index.noun"), synsets)
    hypernyms = {s.offset: s.targets("@") for s in synsets}
    memo: dict[str, frozenset[str]] = {}

    def above(offset: str) -> frozenset[str]:  # iterative: WordNet is 19 levels deep
        stack = [offset]
        while stack:
            node = stack[-1]
            todo = [p for p in hypernyms[node] if p not in memo]
            if todo:
                stack.extend(todo)
                continue
            stack.pop()
            out: set[str] = set()
            for p in hypernyms[node]:
                out.add(p)
                out |= memo[p]
            memo[node] = frozenset(out)
        return memo[offset]

    pairs = set()
    for s in synsets:
        pairs.update((s.offset, a) for a in above(s.offset))
        for i in s.targets("@i"):  # an instance: its classes and everything above them
            pairs.add((s.offset, i))
            pairs.update((s.offset, a) for a in above(i))
    return from_edges((names[u], names[v]) for u, v in pairs)


def wordnet_mammals() -> Hierarchy:
    """The mammal subtree of Nickel & Kiela (2017): 1,180 nouns, 6,540 closure edges."""
    return subtree(wordnet_nouns(), "mammal.n.01", MAMMAL_DROP)
