"""Poincaré embeddings (Nickel & Kiela 2017): the ball's distance is a metric with the closed
form at the origin, the Riemannian gradient is the metric's, projection stays inside; the
reconstruction ranks and MAP against naive forms and scikit-learn; hierarchies as closures,
the WordNet reader's pointers and NLTK's names, the mammal subtree's published size; the
negative sampler; a small tree learned exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score

from practicum.data.hierarchy import (
    MAMMAL_DROP,
    balanced_tree,
    closure,
    from_edges,
    subtree,
    wordnet_mammals,
)
from practicum.data.wordnet import parse_synset, synset_names
from practicum.errors import PracticumError
from practicum.hyperbolic import (
    EPS,
    poincare_distance,
    project,
    riemannian_gradient,
    rsgd_step,
    squared_euclidean,
)
from practicum.labs.papers import poincare as lab
from practicum.reconstruction import reconstruction


def ball_points(n: int, dim: int, seed: int, radius: float = 0.95) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=g, dtype=torch.float64)
    r = radius * torch.rand(n, 1, generator=g, dtype=torch.float64) ** (1 / dim)
    return x / x.norm(dim=1, keepdim=True) * r


# ---- the ball ------------------------------------------------------------------------------
@given(st.integers(0, 10_000), st.integers(1, 6))
@settings(max_examples=60, deadline=None)
def test_the_poincare_distance_is_a_metric(seed: int, dim: int) -> None:
    a, b, c = ball_points(3, dim, seed)
    d = poincare_distance
    assert float(d(a, a)) == pytest.approx(0.0, abs=1e-5)
    assert float(d(a, b)) == pytest.approx(float(d(b, a)), rel=1e-12)
    assert float(d(a, b)) > 0
    assert float(d(a, c)) <= float(d(a, b)) + float(d(b, c)) + 1e-9


@given(st.floats(0.0, 0.99), st.integers(1, 5), st.integers(0, 1000))
@settings(max_examples=40, deadline=None)
def test_the_distance_from_the_origin_is_twice_artanh_of_the_norm(
    r: float, dim: int, seed: int
) -> None:
    x = ball_points(1, dim, seed)[0]
    x = x / x.norm() * r if r > 0 else torch.zeros(dim, dtype=torch.float64)
    expected = 2 * math.atanh(r)
    assert float(poincare_distance(torch.zeros(dim, dtype=torch.float64), x)) == pytest.approx(
        expected, abs=1e-5
    )


def test_the_distance_gradient_matches_finite_differences() -> None:
    u, v = ball_points(2, 4, seed=3, radius=0.9)
    assert torch.autograd.gradcheck(
        poincare_distance, (u.clone().requires_grad_(), v.clone().requires_grad_())
    )


def test_distances_grow_without_bound_towards_the_boundary() -> None:
    e = torch.tensor([1.0, 0.0], dtype=torch.float64)
    near = [float(poincare_distance(0.9 * e, 0.9 * e.flip(0))) for _ in range(1)]
    far = float(poincare_distance(0.999 * e, 0.999 * e.flip(0)))
    # the same Euclidean angle, further out: hyperbolic distance ~ 2·log(1/(1 − r)) each way
    assert far > near[0] + 8


@given(st.integers(0, 10_000), st.integers(1, 6))
@settings(max_examples=40, deadline=None)
def test_the_riemannian_gradient_is_the_metrics(seed: int, dim: int) -> None:
    # g_x(grad_R f, w) = ∇_E f · w for every w, with g_x = λ² I and λ = 2 / (1 − ‖x‖²)
    x, w, target = ball_points(3, dim, seed)
    x = x.clone().requires_grad_()
    f = poincare_distance(x, target)
    (grad,) = torch.autograd.grad(f, x)
    lam = 2 / (1 - float(x.detach().norm()) ** 2)
    lhs = lam**2 * float(riemannian_gradient(x.detach(), grad) @ w)
    assert lhs == pytest.approx(float(grad @ w), rel=1e-9, abs=1e-12)


@given(st.integers(0, 10_000), st.floats(0.5, 100.0))
@settings(max_examples=40, deadline=None)
def test_projection_and_steps_stay_inside_the_ball(seed: int, scale: float) -> None:
    x = torch.randn(20, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    x *= scale
    p = project(x)
    assert (p.norm(dim=1) < 1).all()
    inside = x.norm(dim=1) < 1 - EPS
    assert torch.equal(p[inside], x[inside])  # points inside are left alone
    theta = ball_points(20, 3, seed, radius=0.999)
    rsgd_step(theta, torch.randn(20, 3, dtype=torch.float64) * scale * 100, lr=1.0)
    assert (theta.norm(dim=1) < 1).all()


def test_an_rsgd_step_is_the_scaled_gradient_and_is_clipped() -> None:
    theta = torch.tensor([[0.5, 0.0], [0.0, 0.0]], dtype=torch.float64)
    grad = torch.tensor([[1.0, 0.0], [400.0, 0.0]], dtype=torch.float64)
    rsgd_step(theta, grad, lr=0.1, max_norm=5.0)
    # row 0: (1 − 0.25)² / 4 = 0.140625; row 1: 400 / 4 = 100, clipped to 5
    assert theta[0, 0].item() == pytest.approx(0.5 - 0.1 * 0.140625)
    assert theta[1, 0].item() == pytest.approx(-0.5)


# ---- reconstruction ------------------------------------------------------------------------
def matrix_distance(d: np.ndarray):
    table = torch.from_numpy(d)

    def distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return table[a[..., 0].long(), b[..., 0].long()]

    return distance


@given(st.integers(0, 10_000), st.integers(3, 12), st.booleans())
@settings(max_examples=60, deadline=None)
def test_ranks_and_map_equal_the_naive_forms_and_scikit_learn(
    seed: int, n: int, ties: bool
) -> None:
    rng = np.random.default_rng(seed)
    d = rng.integers(0, 4, size=(n, n)).astype(float) if ties else rng.random((n, n))
    neighbours = [np.flatnonzero((rng.random(n) < 0.4) & (np.arange(n) != u)) for u in range(n)]
    got = reconstruction(
        torch.arange(n, dtype=torch.float64)[:, None], neighbours, matrix_distance(d), chunk=5
    )
    ranks, aps = [], []
    for u in range(n):
        pos = set(neighbours[u].tolist())
        if not pos:
            continue
        others = [w for w in range(n) if w != u]
        for v in pos:  # 1 + non-neighbours at most as far (ties count against v)
            ranks.append(1 + sum(1 for w in others if w not in pos and d[u, w] <= d[u, v]))
        labels = [1 if w in pos else 0 for w in others]
        aps.append(average_precision_score(labels, [-d[u, w] for w in others]))
    if not ranks:
        assert got.edges == 0
        return
    assert got.mean_rank == pytest.approx(np.mean(ranks), rel=1e-12)
    assert got.map == pytest.approx(np.mean(aps), rel=1e-9)
    assert got.edges == len(ranks) and got.nodes == len(aps)


def test_a_collapsed_or_diverged_embedding_ranks_last() -> None:
    h = balanced_tree(2, 2)
    n = len(h)
    for value in (0.0, np.inf, np.nan):  # every distance the same, or NaN
        rec = reconstruction(
            torch.arange(n, dtype=torch.float64)[:, None],
            h.above,
            matrix_distance(np.full((n, n), value)),
        )
        # each positive is tied with every non-positive candidate (n − 1 − |above|)
        expected = np.mean([n - len(a) for a in h.above for _ in a])
        assert rec.mean_rank == pytest.approx(expected) and rec.map < 1


def test_an_embedding_that_orders_every_ancestor_first_is_perfect() -> None:
    h = balanced_tree(3, 3)
    # distance: 0 to an ancestor, 1 to anything else
    d = np.ones((len(h), len(h)))
    d[h.edges[:, 0], h.edges[:, 1]] = 0.0
    rec = reconstruction(
        torch.arange(len(h), dtype=torch.float64)[:, None], h.above, matrix_distance(d)
    )
    assert rec.mean_rank == 1.0 and rec.map == 1.0
    assert rec.edges == len(h.edges) and rec.nodes == len(h) - 1  # the root has nothing above


# ---- hierarchies ---------------------------------------------------------------------------
def test_the_closure_of_a_small_hierarchy() -> None:
    parents = {
        "dog": ["canine"],
        "wolf": ["canine"],
        "canine": ["carnivore"],
        "cat": ["feline"],
        "feline": ["carnivore"],
        "carnivore": ["mammal"],
        "pet_dog": ["dog", "pet"],
    }
    h = closure(parents)
    pairs = {(h.names[u], h.names[v]) for u, v in h.edges.tolist()}
    assert ("dog", "mammal") in pairs and ("pet_dog", "carnivore") in pairs
    assert ("pet_dog", "pet") in pairs and ("canine", "dog") not in pairs
    assert len(pairs) == 3 + 3 + 2 + 3 + 2 + 1 + 5  # dog, wolf, canine, cat, feline, ...: 19
    parent_names = {h.names[u]: {h.names[p] for p in h.parents[u]} for u in range(len(h))}
    assert parent_names["pet_dog"] == {"dog", "pet"} and parent_names["mammal"] == set()
    assert h.depth[h.names.index("dog")] == 3
    below = subtree(h, "carnivore", drop=("cat",))
    assert "pet" not in below.names and "cat" not in below.names and "feline" in below.names
    with pytest.raises(PracticumError, match="cycle"):
        closure({"a": ["b"], "b": ["a"]})
    with pytest.raises(PracticumError, match="not in"):
        subtree(h, "bird")


@given(st.integers(1, 4), st.integers(1, 4))
def test_a_balanced_tree_has_its_closed_form_size(b: int, k: int) -> None:
    h = balanced_tree(b, k)
    assert len(h) == sum(b**level for level in range(k + 1))
    assert len(h.edges) == sum(level * b**level for level in range(k + 1))
    assert all(len(p) == 1 for p, depth in zip(h.parents, h.depth, strict=True) if depth > 0)


def test_edges_round_trip_through_the_tsv(tmp_path) -> None:
    h = balanced_tree(2, 3)
    h.write_tsv(tmp_path / "edges.tsv")
    lines = (tmp_path / "edges.tsv").read_text().splitlines()
    assert lines[0] == "id1\tid2"
    back = from_edges(tuple(line.split("\t")) for line in lines[1:])
    assert back.names == h.names and np.array_equal(back.edges, h.edges)


LINE = (
    "02084071 05 n 03 dog 0 domestic_dog 0 Canis_familiaris 0 003 @ 02083346 n 0000 "
    "@ 01317541 n 0000 ~ 01322604 n 0000 | a member of the genus Canis"
)


def test_a_synsets_pointers_are_read() -> None:
    s = parse_synset(LINE)
    assert s.words == ("dog", "domestic_dog", "Canis_familiaris")
    assert s.targets("@") == ["02083346", "01317541"] and s.targets("~") == ["01322604"]
    assert s.definition == "a member of the genus Canis"


def test_names_follow_the_sense_order_of_the_index(tmp_path) -> None:
    index = tmp_path / "index.noun"
    index.write_text(
        "  1 licence line\ndog n 2 2 @ ~ 2 1 10000000 02084071\ndomestic_dog n 1 1 @ 1 0 02084071\n"
    )
    s = parse_synset(LINE)
    other = parse_synset("10000000 05 n 01 dog 0 000 | a dull person")
    assert synset_names(index, [s, other]) == {"02084071": "dog.n.02", "10000000": "dog.n.01"}
    with pytest.raises(PracticumError, match="not in"):
        synset_names(index, [parse_synset("20000000 05 n 01 cat 0 000 | a cat")])


def test_the_wordnet_mammal_closure_has_the_published_size() -> None:
    # ../shared/datasets/README.md and the issue: 1,180 nouns and 6,540 edges, as the authors'
    # scripts make it through NLTK (the two filtered synsets are not in it)
    h = wordnet_mammals()
    assert (len(h), len(h.edges)) == (1180, 6540)
    mammal = h.names.index("mammal.n.01")
    assert h.depth[mammal] == 0 and (h.edges[:, 1] == mammal).sum() == 1179
    assert not set(MAMMAL_DROP) & set(h.names)
    dog = h.names.index("dog.n.01")
    assert {h.names[v] for v in h.above[dog]} >= {"canine.n.02", "carnivore.n.01", "mammal.n.01"}


# ---- the lab's parts -----------------------------------------------------------------------
@given(st.integers(0, 1000), st.booleans())
@settings(max_examples=30, deadline=None)
def test_negatives_are_never_the_node_or_above_it(seed: int, burnin: bool) -> None:
    h = balanced_tree(3, 3)
    sampler = lab.NegativeSampler(h, 0.75)
    u = np.random.default_rng(seed).integers(0, len(h), size=40)
    negs = sampler.sample(np.random.default_rng(seed), u, 20, burnin)
    for row, node in zip(negs, u, strict=True):
        assert node not in row and not set(row.tolist()) & set(h.above[node].tolist())


def test_burn_in_negatives_follow_hypernym_counts_to_the_three_quarters() -> None:
    h = balanced_tree(3, 2)  # the root is above 12 nodes, each child above 3, leaves none
    sampler = lab.NegativeSampler(h, 0.75)
    leaf = int(np.flatnonzero(h.depth == 2)[0])
    negs = sampler.sample(np.random.default_rng(0), np.full(20_000, leaf), 1, burnin=True)
    counts = np.bincount(negs.ravel(), minlength=len(h))
    # a leaf's valid negatives under the weights: the two children of the root that are not
    # its parent, each ∝ 3^0.75; leaves have weight 0. A draw is valid with probability
    # 2·3^¾ / (12^¾ + 3·3^¾) = 0.34, so after ten weighted rounds 0.66^10 = 1.6% are left to
    # the uniform fallback, which may pick a leaf
    parent = int(h.parents[leaf][0])
    others = [c for c in np.flatnonzero(h.depth == 1) if c != parent]
    assert 0.975 * 20_000 < counts[others].sum() < 0.995 * 20_000
    assert counts[others[0]] / counts[others].sum() == pytest.approx(0.5, abs=0.02)


def test_a_small_tree_is_reconstructed_exactly_in_two_dimensions() -> None:
    h = balanced_tree(2, 3)
    config = lab.Config(
        subtree="tree",
        tree_branching=2,
        tree_depth=3,
        epochs=150,
        burnin=10,
        negatives=10,
        eval_every=150,
        workers=1,
    )
    result = lab.train(config, "poincare", 2, config.lr, 0, h)
    assert result["mean_rank"] == pytest.approx(1.0, abs=0.05)
    assert result["map"] >= 0.97
    assert result["max_norm"] < 1


def test_the_euclidean_baseline_is_trained_with_the_squared_distance_at_every_rate() -> None:
    assert lab.DISTANCES["euclidean"] is squared_euclidean
    jobs = lab.trainings_of(lab.Config(dims=(2, 5), euclidean_lrs=(0.03, 1.0)))
    assert [name for name, *_ in jobs] == [
        "poincare_d2",
        "poincare_d5",
        "euclidean_d2_lr0p03",
        "euclidean_d2_lr1",
        "euclidean_d5_lr0p03",
        "euclidean_d5_lr1",
    ]
    with pytest.raises(PracticumError, match="geometries"):
        lab.Config(geometries=("spherical",)).validate()
