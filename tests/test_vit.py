"""Vision Transformer: the patch embedding against the explicit unfold-and-matmul, patch
permutation with and without position embeddings, the mean attention distance against hand-
worked closed forms, cosine similarity, an overfitted batch, FLOP counts in closed form, and
the lab's equal-budget training."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from practicum.flops import training_step_flops
from practicum.labs.papers.vit import Config, Job, sweep_plan, train_sweep_job
from practicum.nn.vit import (
    PatchEmbedding,
    VisionTransformer,
    cosine_similarity_matrix,
    mean_attention_distance,
    patch_distances,
    patchify,
)


@settings(max_examples=20, deadline=None)
@given(
    channels=st.integers(1, 3),
    patch=st.integers(1, 4),
    grid=st.integers(1, 4),
    dim=st.integers(1, 8),
    seed=st.integers(0, 2**16),
)
def test_patch_embedding_is_the_unfolded_patches_times_a_matrix(channels, patch, grid, dim, seed):
    torch.manual_seed(seed)
    embed = PatchEmbedding(channels, patch, dim).double()
    x = torch.randn(2, channels, grid * patch, grid * patch, dtype=torch.float64)
    w = embed.proj.weight.reshape(dim, -1)  # (D, C·P·P), channel-major like patchify
    expected = patchify(x, patch) @ w.T + embed.proj.bias
    torch.testing.assert_close(embed(x), expected)


def test_patchify_orders_patches_row_major_and_pixels_channel_major():
    x = torch.arange(2 * 4 * 4).reshape(1, 2, 4, 4)
    p = patchify(x, 2)
    assert p.shape == (1, 4, 8)
    # patch 1 is the top-right 2x2 block: channel 0 then channel 1, row by row
    assert p[0, 1].tolist() == [2, 3, 6, 7, 18, 19, 22, 23]
    assert p[0, 2].tolist() == [8, 9, 12, 13, 24, 25, 28, 29]
    with pytest.raises(ValueError, match="multiple"):
        patchify(torch.zeros(1, 1, 5, 4), 2)


def permute_patches(x: torch.Tensor, patch: int, perm: torch.Tensor) -> torch.Tensor:
    """The image whose k-th patch (row-major) is patch perm[k] of ``x``."""
    b, c, h, w = x.shape
    g = h // patch
    blocks = x.reshape(b, c, g, patch, g, patch).permute(0, 2, 4, 1, 3, 5).reshape(b, g * g, -1)
    blocks = blocks[:, perm]
    return blocks.reshape(b, g, g, c, patch, patch).permute(0, 3, 1, 4, 2, 5).reshape(x.shape)


def test_permute_patches_moves_whole_patches():
    x = torch.randn(1, 2, 6, 6)
    perm = torch.tensor([8, 7, 6, 5, 4, 3, 2, 1, 0])
    moved = permute_patches(x, 2, perm)
    torch.testing.assert_close(patchify(moved, 2), patchify(x, 2)[:, perm])


def test_without_positions_the_output_ignores_the_order_of_the_patches():
    torch.manual_seed(0)
    x = torch.randn(3, 1, 8, 8, dtype=torch.float64)
    perm = torch.randperm(16, generator=torch.Generator().manual_seed(1))
    bag = VisionTransformer(8, 2, 1, 5, 16, 2, 2, positions=False).double().eval()
    torch.testing.assert_close(bag(permute_patches(x, 2, perm)), bag(x))
    vit = VisionTransformer(8, 2, 1, 5, 16, 2, 2).double().eval()
    with torch.no_grad():  # away from the tiny initial embeddings, so the order shows clearly
        vit.pos_embed.weight.normal_()
    gap = (vit(permute_patches(x, 2, perm)) - vit(x)).abs().max()
    assert gap > 1e-3


def test_attention_maps_are_distributions_over_every_token():
    torch.manual_seed(0)
    vit = VisionTransformer(8, 4, 3, 10, 16, 3, 4)
    maps = vit.attention_maps(torch.randn(2, 3, 8, 8))
    assert len(maps) == 3
    for w in maps:
        assert w.shape == (2, 4, 5, 5)
        torch.testing.assert_close(w.sum(-1), torch.ones(2, 4, 5))


def test_the_maps_are_the_ones_the_forward_pass_uses():
    """Rebuild the first block's output from its attention map: x + W_o (A V) + MLP."""
    torch.manual_seed(0)
    vit = VisionTransformer(8, 4, 1, 10, 8, 1, 2).double().eval()
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    (w,) = vit.attention_maps(x)
    block, z = vit.blocks[0], vit.tokens(x)
    v = block.attn.v_proj(block.ln1(z)).view(2, 5, 2, 4).transpose(1, 2)
    z = z + block.attn.out_proj((w @ v).transpose(1, 2).reshape(2, 5, 8))
    z = z + block.fc2(F.gelu(block.fc1(block.ln2(z))))
    torch.testing.assert_close(vit.head(vit.norm(z[:, 0])), vit(x))


def uniform_weights(grid: int, heads: int = 1) -> torch.Tensor:
    n = grid * grid + 1
    return torch.full((1, heads, n, n), 1.0 / n)


def test_uniform_attention_has_the_hand_worked_mean_distance():
    # 2x2 grid: from any patch the distances are 0, 1, 1, √2 patch sides
    got = mean_attention_distance(uniform_weights(2), 2, patch_size=7)
    torch.testing.assert_close(got, torch.tensor([7 * (2 + math.sqrt(2)) / 4], dtype=got.dtype))
    # 3x3 grid: ordered pairs with |Δ| = 0, 1, 2 along one axis number 3, 4, 2, so the sum of
    # distances over all 81 pairs is 2·3·4·1 + 16√2 + 2·3·2·2 + 2·4·2·√5 + 4·2√2
    got = mean_attention_distance(uniform_weights(3), 3, patch_size=1)
    expected = (48 + 24 * math.sqrt(2) + 16 * math.sqrt(5)) / 81
    assert got.item() == pytest.approx(expected, rel=1e-12)


def test_attention_on_self_or_the_class_token_is_distance_zero_and_a_neighbour_one_patch():
    grid, n = 3, 10
    w = torch.zeros(2, 3, n, n)
    w[:, 0] = torch.eye(n)  # head 0: each token on itself
    w[:, 1, :, 0] = 0.5  # head 1: half on the class token (ignored), half on itself
    w[:, 1] += 0.5 * torch.eye(n)
    # head 2: each patch on its right-hand neighbour, the last column on its left-hand one
    for q in range(grid * grid):
        r, c = divmod(q, grid)
        k = q + 1 if c < grid - 1 else q - 1
        w[:, 2, q + 1, k + 1] = 1.0
    w[:, 2, 0, 0] = 1.0
    got = mean_attention_distance(w, grid, patch_size=4)
    torch.testing.assert_close(got, torch.tensor([0.0, 0.0, 4.0], dtype=got.dtype))


def test_mean_attention_distance_refuses_the_wrong_number_of_tokens():
    with pytest.raises(ValueError, match="tokens"):
        mean_attention_distance(uniform_weights(3), 2, 1)


def test_patch_distances_are_euclidean_between_centres():
    d = patch_distances(2, 3)
    assert d[0].tolist() == pytest.approx([0, 3, 3, 3 * math.sqrt(2)])
    torch.testing.assert_close(d, d.T)


def test_cosine_similarity_matrix_matches_torch():
    e = torch.randn(6, 5, dtype=torch.float64)
    s = cosine_similarity_matrix(e)
    ref = F.cosine_similarity(e[:, None], e[None], dim=-1)
    torch.testing.assert_close(s, ref)
    torch.testing.assert_close(s.diagonal(), torch.ones(6, dtype=torch.float64))
    s2 = cosine_similarity_matrix(3.0 * e)  # scale-free
    torch.testing.assert_close(s2, s)


def test_a_vit_overfits_one_batch_of_random_labels():
    torch.manual_seed(0)
    x, y = torch.randn(16, 1, 8, 8), torch.randint(0, 4, (16,))
    vit = VisionTransformer(8, 2, 1, 4, 32, 2, 4)
    opt = torch.optim.Adam(vit.parameters(), lr=3e-3)
    first = F.cross_entropy(vit(x), y).item()
    for _ in range(150):
        loss = F.cross_entropy(vit(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert first > 1.0
    assert loss.item() < 0.05
    assert (vit(x).argmax(1) == y).all()


def test_training_flops_of_linear_layers_in_closed_form():
    """Forward 2·B·i·o per layer; backward the weight gradient (2·B·i·o) of each layer and the
    input gradient of every layer but the first (the images need no gradient)."""
    b, i, h, o = 5, 7, 11, 3
    model = torch.nn.Sequential(torch.nn.Linear(i, h), torch.nn.ReLU(), torch.nn.Linear(h, o))
    before = [p.detach().clone() for p in model.parameters()]
    flops = training_step_flops(model, torch.randn(b, i), torch.randint(0, o, (b,)))
    assert flops == 4 * b * i * h + 6 * b * h * o
    assert all(p.grad is None for p in model.parameters())  # counted on a copy
    for p, q in zip(model.parameters(), before, strict=True):
        assert torch.equal(p, q)


def test_training_flops_of_a_convolution_in_closed_form():
    """A P x P patch embedding is one multiply-add per weight per patch and image."""
    b, c, p, d, g = 2, 3, 4, 8, 5
    model = torch.nn.Sequential(PatchEmbedding(c, p, d), torch.nn.Flatten())
    flops = training_step_flops(model, torch.randn(b, c, g * p, g * p), torch.zeros(b).long())
    assert flops == 2 * (2 * b * g * g * c * p * p * d)  # forward and weight gradient


def tiny_split(n: int = 64, side: int = 8):
    gen = torch.Generator().manual_seed(0)
    return SimpleNamespace(
        x_train=torch.randn(n, 3, side, side, generator=gen),
        y_train=torch.randint(0, 10, (n,), generator=gen),
        x_test=torch.randn(16, 3, side, side, generator=gen),
        y_test=torch.randint(0, 10, (16,), generator=gen),
        num_classes=10,
    )


def test_both_networks_get_the_same_flop_budget_within_one_step():
    config = Config(
        cifar_source="digits",
        cifar_patch=2,
        cifar_width=16,
        cifar_depth=1,
        resnet_depths=(8,),
        resnet_groups=4,
        batch_size=16,
    )
    data = tiny_split()
    order = torch.arange(64)
    budget = 40 * training_step_flops(
        VisionTransformer(8, 2, 3, 10, 16, 1, 4), data.x_train[:16], data.y_train[:16]
    )
    outs = [
        train_sweep_job(config, Job(m, 32), data, order, budget, 0, "cpu")
        for m in ("vit", "resnet")
    ]
    assert outs[0]["steps"] == 40
    for out in outs:
        assert abs(out["train_flops"] - budget) <= out["flops_per_step"] / 2
        assert out["epochs"] == pytest.approx(out["steps"] * 16 / 32)
    again = train_sweep_job(config, Job("vit", 32), data, order, budget, 0, "cpu")
    for k, v in outs[0]["params"].items():  # same seed, same bits
        assert torch.equal(v, again["params"][k])


def test_the_sweep_trains_both_networks_at_every_size():
    plan = sweep_plan(Config(sweep_sizes=(10, 20, 30)))
    assert [(j.model, j.size) for j in plan] == [
        (m, n) for n in (10, 20, 30) for m in ("vit", "resnet")
    ]
