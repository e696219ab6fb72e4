"""Receptive fields: Araujo et al.'s closed form by hand, against the gradient measurement,
and on every convolutional network practicum builds (those defined inside labs too)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from practicum import receptive_field as rf
from practicum.errors import PracticumError
from practicum.nn.conv import ConvStage, ResidualBlock


def walk_and_measure(model, channels=1, extra=0, forward=None, part=""):
    """Walk ``model`` (or its submodule named ``part``: a chain inside a custom forward) and
    measure every layer by running ``model``."""
    probes = rf.walk(model.get_submodule(part), part)
    measured = rf.measure(model, probes, rf.side_for(probes) + extra, channels, forward)
    return probes, measured


def assert_all_match(model: nn.Module, channels: int = 1, forward=None, part: str = "") -> int:
    probes, measured = walk_and_measure(model, channels, forward=forward, part=part)
    bad = [(n, f, m) for (n, _, f), m in zip(probes, measured, strict=True) if not m.matches(f)]
    assert not bad
    return len(probes)


# ---- the formulas by hand ------------------------------------------------------------------
def test_hand_worked_chains():
    three = [rf.layer(3, 1, 1)] * 3
    assert rf.chain(three)[-1] == rf.Field(7, 1, 3)  # 1 + 2 + 2 + 2
    # a stride-2 first layer doubles what the next two add: 1 + 2 + 2·2 + 2·2, P = 1 + 2 + 2
    strided = [rf.layer(3, 2, 1), rf.layer(3, 1, 1), rf.layer(3, 1, 1)]
    assert rf.chain(strided)[-1] == rf.Field(11, 2, 5)
    assert rf.layer(3, dilation=2) == rf.Field(5, 1, 0)  # effective kernel 2·(3 − 1) + 1
    assert rf.chain([rf.layer(3, 1, 0, 2)] * 2)[-1].size == 9
    # padding is counted in input pixels: 2, then 0 after a stride of 1
    assert rf.chain([rf.layer(5, 1, 2), rf.layer(3, 2, 0)])[-1] == rf.Field(7, 2, 2)
    assert rf.chain([rf.layer(3, 2, 0), rf.layer(1, 1, 1)])[-1] == rf.Field(3, 2, 2)


def test_union_spans_both_branches():
    # [u − 2, u] and [u, u + 2]: together five pixels, padding two
    assert rf.Field(3, 1, 2).union(rf.Field(3, 1, 0)) == rf.Field(5, 1, 2)
    assert rf.Field(7, 2, 3).union(rf.Field(1, 2, 0)) == rf.Field(7, 2, 3)  # nested
    with pytest.raises(PracticumError):
        rf.Field(3, 1, 1).union(rf.Field(3, 2, 1))


def test_unknown_module_is_one_clear_error():
    with pytest.raises(PracticumError, match="no receptive-field rule for LSTM"):
        rf.walk(nn.Sequential(nn.Conv2d(1, 1, 3), nn.LSTM(1, 1)))


# ---- against the gradient measurement --------------------------------------------------------
layers = st.tuples(
    st.integers(1, 5), st.integers(1, 3), st.integers(0, 3), st.integers(1, 3)
)  # (k, s, p, d)


@settings(max_examples=30, deadline=None)
@given(st.lists(layers, min_size=1, max_size=4), st.integers(0, 9), st.integers(1, 3))
def test_random_chains_match_the_measurement(spec, extra, channels):
    convs = [nn.Conv2d(channels, channels, k, s, p, dilation=d) for k, s, p, d in spec]
    model = nn.Sequential(*convs)
    probes, measured = walk_and_measure(model, channels, extra)
    assert probes[-1][2] == rf.closed_form(spec)  # the written-out sums
    for (_, _, field), m in zip(probes, measured, strict=True):
        assert m.matches(field), (spec, field, m)
    assert measured[-1].corner_end == corner_end(spec)


def corner_end(spec) -> int:
    """The last input pixel the corner unit (0, 0) sees, layer by layer from the top: unit e's
    last tap is e·s − p + d(k − 1); a negative one is padding, and nothing is seen."""
    e = 0
    for k, s, p, d in reversed(spec):
        e = e * s - p + d * (k - 1)
        if e < 0:
            return -1
    return e


def test_pools_and_pointwise_layers():
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 4, 3, padding=1), nn.LeakyReLU(0.2), nn.AvgPool2d(3, 2, 1),
    )  # fmt: skip
    probes, measured = walk_and_measure(model)
    assert [f for _, _, f in probes] == [
        rf.Field(3, 1, 1), rf.Field(4, 2, 1), rf.Field(8, 2, 3), rf.Field(12, 4, 5)
    ]  # fmt: skip
    assert all(m.matches(f) for (_, _, f), m in zip(probes, measured, strict=True))
    # the measurement is not the closed form echoed: one pixel off is seen
    assert not measured[-1].matches(rf.Field(13, 4, 5))
    assert not measured[-1].matches(rf.Field(12, 4, 6))


def test_residual_block_and_functional_pool():
    block = ResidualBlock(4, 8, stride=2)
    probes, measured = walk_and_measure(block, 4)
    assert probes[-1][2] == rf.Field(7, 2, 3)  # conv1 (3, 2, 1) then conv2 (3, 1, 1); 1×1 inside
    assert all(m.matches(f) for (_, _, f), m in zip(probes, measured, strict=True))
    stage = ConvStage(1, 8, 3, pool=True, norm="group", num_groups=4, num_residual=2)
    probes, measured = walk_and_measure(stage)
    assert probes[-1][2] == rf.Field(11 + 1, 2, 5)  # five 3×3 convolutions, then the 2×2 pool
    assert all(m.matches(f) for (_, _, f), m in zip(probes, measured, strict=True))


def test_agrees_with_the_classifiers_own_arithmetic():
    from practicum.recipes import image_classifier

    model = image_classifier.build_model(image_classifier.Config())
    assert rf.walk(model)[-1][2].size == model.receptive_field() == 22


# ---- every convolutional network in practicum -------------------------------------------------
def test_every_network_of_the_labs():
    """The networks built inside labs, with their labs' default configs (a test may import
    labs); the library's own are checked by the lab itself."""
    from practicum.labs.generative import gan
    from practicum.labs.papers import batchnorm_landscape, film, he_init
    from practicum.labs.vision import fashion_mnist_cnn
    from practicum.recipes import image_classifier

    gen = torch.Generator().manual_seed(0)
    layers = 0
    for variant in batchnorm_landscape.VARIANTS:
        net = batchnorm_landscape.vgg(variant, batchnorm_landscape.Config(), gen, gen)
        layers += assert_all_match(net.model, 3)
    config = he_init.Config(network="conv")
    plain = he_init.build(config, config.depths[0], "he", 0, "cpu")
    assert rf.walk(plain.layers)[-1][2] == rf.Field(267, 8, 133)
    layers += assert_all_match(plain, part="layers")  # circular padding, measured as zeros
    g = gan.Config()
    layers += assert_all_match(gan.discriminator(28, g.channels, g.hidden))
    from practicum.data.sort_of_clevr import QUESTION_SIZE

    question = torch.zeros(3, QUESTION_SIZE, dtype=torch.float64)
    for name in ("film", "cnn-mlp"):
        model = film.make_model(name, film.Config())
        layers += assert_all_match(model, 3, lambda m, x: m(x, question))
    fashion = image_classifier.build_model(fashion_mnist_cnn.Config())
    layers += assert_all_match(fashion)
    assert layers == 3 * 9 + 30 + 2 + 2 * 15 + 6  # every layer of the eight networks


# ---- the effective receptive field's size ----------------------------------------------------
def test_mass_side():
    from practicum.labs.papers.receptive_fields import mass_side

    delta = np.zeros((9, 9))
    delta[4, 4] = 1.0
    assert mass_side(delta, 0.95) == 1
    block = np.zeros((9, 9))
    block[3:6, 3:6] = 1.0
    assert mass_side(block, 0.95) == 3
    assert mass_side(block, 0.5) == 3  # the centre pixel alone holds 1/9
    assert mass_side(np.ones((9, 9)), 0.95) == 9
