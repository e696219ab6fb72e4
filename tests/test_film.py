"""FiLM and Sort-of-CLEVR: the FiLM layer and block against explicit affine maps, and the
generated data against an independent naive reading of every scene (answers, rendering,
placement, determinism, cache)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from practicum.data import sort_of_clevr as soc
from practicum.nn.film import CNNMLP, FiLM, FiLMBlock, FiLMNet, coordinate_maps, film

# ---- the FiLM layer and block ----------------------------------------------------------------


def test_film_with_gamma_one_and_beta_zero_is_the_identity():
    x = torch.randn(3, 5, 4, 6, dtype=torch.float64)
    assert torch.equal(FiLM()(x, torch.ones(3, 5, dtype=torch.float64), torch.zeros(3, 5)), x)


def _net() -> FiLMNet:
    torch.manual_seed(0)
    net = FiLMNet(soc.QUESTION_SIZE, len(soc.ANSWERS), channels=6, blocks=2, features=8, hidden=8)
    for p in net.generator.parameters():  # γ, β far from 1, 0: a real modulation
        torch.nn.init.normal_(p, std=0.7)
    return net.double()


def test_film_with_a_constant_question_is_a_fixed_affine_map_per_channel():
    net = _net()
    q = torch.from_numpy(soc.encode(np.array([4]), np.array([3]))).double()  # grey, nearest
    gamma, beta = net.modulations(q.expand(5, -1))
    # the same (γ, β) for every case of the batch: one affine map per channel ...
    assert torch.equal(gamma, gamma[:1].expand_as(gamma)) and torch.equal(
        beta, beta[:1].expand_as(beta)
    )
    g, b = gamma[0, 1], beta[0, 1]  # layer 1's: the first block's (layer 0 is the stem's)
    assert not torch.allclose(g, torch.ones_like(g))
    x = torch.randn(5, 6, 4, 4, dtype=torch.float64)
    explicit = x * g[None, :, None, None] + b[None, :, None, None]
    assert torch.allclose(film(x, gamma[:, 1], beta[:, 1]), explicit)
    # ... and the generator is linear in the question: γ(q) - 1 = W_γ q + b_γ
    w = net.generator.weight.view(3, 2, 6, -1)[1, 0]  # layer 1, γ rows
    assert torch.allclose(g, 1 + w @ q[0] + net.generator.bias.view(3, 2, 6)[1, 0])


@pytest.mark.parametrize("train", [True, False])
def test_a_film_block_equals_the_block_with_that_affine_folded_into_batch_norm(train):
    torch.manual_seed(1)
    block = FiLMBlock(6, coords=True).double().train(train)
    if not train:  # evaluation mode: running statistics that are not 0 and 1
        block.norm.running_mean.normal_()
        block.norm.running_var.uniform_(0.5, 2.0)
    g, b = torch.randn(6, dtype=torch.float64), torch.randn(6, dtype=torch.float64)
    x = torch.randn(4, 6, 5, 5, dtype=torch.float64)
    out = block(x, g.expand(4, -1), b.expand(4, -1))
    # the same block written out with torch's batch norm carrying γ, β as its affine weights
    bn = torch.nn.BatchNorm2d(6, affine=True).double().train(train)
    bn.load_state_dict({**block.norm.state_dict(), "weight": g, "bias": b})
    rows = torch.linspace(-1, 1, 5, dtype=torch.float64)
    coords = torch.stack(torch.meshgrid(rows, rows, indexing="ij")).expand(4, 2, 5, 5)
    h = torch.relu(block.conv1(torch.cat([x, coords], 1)))
    assert torch.allclose(out, torch.relu(bn(block.conv2(h))) + h)
    assert torch.equal(coordinate_maps(x)[:, 6:], coords)


def test_film_net_with_identity_modulations_has_the_baselines_image_features():
    """γ = 1, β = 0 at the stem and every block (a zero generator): FiLM's trunk and head are
    the baseline's with its initial, identity affine maps, for any question."""
    torch.manual_seed(3)
    film_net = FiLMNet(soc.QUESTION_SIZE, len(soc.ANSWERS), channels=6, blocks=2, features=8,
                       hidden=8).double().eval()  # fmt: skip
    base = CNNMLP(soc.QUESTION_SIZE, len(soc.ANSWERS), channels=6, blocks=2, features=8,
                  hidden=8).double().eval()  # fmt: skip
    for name in ("stem", "blocks", "head"):
        getattr(film_net, name).load_state_dict(getattr(base, name).state_dict())
    torch.nn.init.zeros_(film_net.generator.weight)
    torch.nn.init.zeros_(film_net.generator.bias)
    features = []
    film_net.head.register_forward_hook(lambda m, i, o: features.append(o))
    base.head.register_forward_hook(lambda m, i, o: features.append(o))
    image = torch.randn(3, 3, 16, 16, dtype=torch.float64)
    q = torch.from_numpy(soc.encode(np.array([0, 2, 5]), np.array([1, 3, 4]))).double()
    film_net(image, q)
    base(image, q)
    assert torch.equal(features[0], features[1])


def test_the_baseline_ignores_the_question_until_its_mlp():
    torch.manual_seed(2)
    net = CNNMLP(soc.QUESTION_SIZE, len(soc.ANSWERS), channels=6, blocks=2, features=8, hidden=8)
    net.eval()
    image = torch.randn(2, 3, 16, 16)
    q1 = torch.from_numpy(soc.encode(np.array([0, 1]), np.array([0, 5])))
    q2 = torch.from_numpy(soc.encode(np.array([3, 2]), np.array([4, 1])))
    seen = []
    net.head.register_forward_hook(lambda m, i, o: seen.append(o))
    assert not torch.allclose(net(image, q1), net(image, q2))
    assert torch.equal(seen[0], seen[1])  # the image features do not depend on the question
    film_net = _net().float().eval()
    film_seen = []
    film_net.head.register_forward_hook(lambda m, i, o: film_seen.append(o))
    film_net(image, q1), film_net(image, q2)
    assert not torch.allclose(film_seen[0], film_seen[1])  # FiLM's do


# ---- Sort-of-CLEVR -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scenes() -> soc.Scenes:
    return soc.generate(60, seed=7, size=32, radius=3)


def _naive_answer(scenes: soc.Scenes, i: int, colour: int, kind: str) -> str:
    """The answer read off the scene description with nothing shared with the library."""
    objects = [
        (tuple(int(v) for v in scenes.centres[i, k]), soc.SHAPES[scenes.shapes[i, k]])
        for k in range(6)
    ]
    (row, col), shape = objects[colour]
    if kind == "shape":
        return shape
    if kind == "horizontal":
        return "left" if col < scenes.size / 2 else "right"
    if kind == "vertical":
        return "top" if row < scenes.size / 2 else "bottom"
    if kind == "count":
        return str(sum(other == shape for _, other in objects))
    others = sorted(
        (math.dist((row, col), c), s) for k, (c, s) in enumerate(objects) if k != colour
    )
    assert others[0][0] < others[1][0] and others[-2][0] < others[-1][0]  # no ties
    return others[0][1] if kind == "nearest" else others[-1][1]


def test_every_answer_matches_a_naive_reading_of_the_scene(scenes):
    qs = soc.all_questions(scenes)
    assert len(qs) == 36 * len(scenes)
    seen = set()
    for j in range(len(qs)):
        i, c, k = int(qs.image[j]), int(qs.colour[j]), int(qs.kind[j])
        kind = soc.QUESTION_TYPES[k]
        assert soc.ANSWERS[qs.answer[j]] == _naive_answer(scenes, i, c, kind), (i, c, kind)
        seen.add((i, c, k))
    assert len(seen) == len(qs)  # every (image, colour, type) once
    # the encoding: one-hot colour, then one-hot type
    vec = soc.encode(qs.colour, qs.kind)
    assert np.array_equal(vec[:, :6].argmax(1), qs.colour)
    assert np.array_equal(vec[:, 6:].argmax(1), qs.kind) and np.all(vec.sum(1) == 2)


def test_the_rendering_draws_each_object_in_its_colour_and_shape(scenes):
    r = scenes.radius
    for i in range(len(scenes)):
        image = scenes.images[i]
        painted = np.zeros(image.shape[:2], dtype=int)
        for k, colour in enumerate(soc.COLOURS):
            (row, col), shape = scenes.centres[i, k], soc.SHAPES[scenes.shapes[i, k]]
            rgb = np.array(soc.RGB[colour])
            assert np.array_equal(image[row, col], rgb)  # the centre
            for dr, dc in ((r, 0), (0, r), (-r, 0), (0, -r)):  # edge midpoints: both shapes
                assert np.array_equal(image[row + dr, col + dc], rgb)
            corner = image[row + r, col + r]  # a square's corner, outside a circle
            assert np.array_equal(corner, rgb if shape == "square" else soc.BACKGROUND)
            painted[row - r : row + r + 1, col - r : col + r + 1] += 1
        assert painted.max() == 1  # no two objects' boxes overlap
        background = painted == 0
        assert np.all(image[background] == soc.BACKGROUND)
        # colours counted: each object's pixels, circles fewer than squares
        for k, colour in enumerate(soc.COLOURS):
            pixels = int(np.all(image == np.array(soc.RGB[colour]), axis=-1).sum())
            expected = (2 * r + 1) ** 2 if scenes.shapes[i, k] == 1 else 37
            assert pixels == expected


def test_no_two_objects_come_close_and_all_stay_inside(scenes):
    r, size = scenes.radius, scenes.size
    c = scenes.centres
    assert c.min() >= r and c.max() <= size - 1 - r
    gaps = np.abs(c[:, :, None, :] - c[:, None, :, :]).max(-1)  # Chebyshev distances
    gaps[:, np.arange(6), np.arange(6)] = 10**6
    assert gaps.min() >= 2 * r + 2


def test_generation_is_deterministic_prefix_stable_and_cached(scenes, monkeypatch):
    again = soc.generate(60, seed=7, size=32, radius=3)
    for a, b in ((scenes.images, again.images), (scenes.centres, again.centres)):
        assert np.array_equal(a, b)
    shorter = soc.generate(20, seed=7, size=32, radius=3)
    assert np.array_equal(shorter.images, scenes.images[:20])
    other = soc.generate(20, seed=8, size=32, radius=3)
    assert not np.array_equal(other.centres, shorter.centres)
    # the cache: first load generates, the second reads; a new recipe generates again
    calls = []
    real = soc.generate
    monkeypatch.setattr(soc, "generate", lambda *a: calls.append(a) or real(*a))
    first = soc.load(20, 7, 32, 3)
    second = soc.load(20, 7, 32, 3)
    assert len(calls) == 1 and np.array_equal(first.images, shorter.images)
    assert np.array_equal(second.shapes, shorter.shapes)
    monkeypatch.setattr(soc, "recipe_digest", lambda: "changed")
    soc.load(20, 7, 32, 3)
    assert len(calls) == 2


def test_answers_are_balanced_where_they_should_be(scenes):
    qs = soc.all_questions(soc.generate(400, seed=3))
    for kind in ("shape", "horizontal", "vertical", "nearest", "farthest"):
        values = np.bincount(qs.answer[qs.kind == soc.QUESTION_TYPES.index(kind)])
        share = values[values > 0] / values.sum()
        assert len(share) == 2 and abs(share[0] - 0.5) < 0.05, kind
