"""MultiHeadAttention, TransformerBlock and positional encodings: equality with PyTorch,
closed forms, invariances (permutation, causality, padding) and overfitting one batch."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from practicum.nn import (
    LearnedPositionalEncoding,
    MultiHeadAttention,
    SinusoidalPositionalEncoding,
    TransformerBlock,
    causal_mask,
)


@pytest.fixture(autouse=True)
def one_thread():
    # These models are tiny: one thread avoids synchronisation overhead on busy cores.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def copy_from_torch(ours: MultiHeadAttention, theirs: torch.nn.MultiheadAttention) -> None:
    e = ours.embed_dim
    with torch.no_grad():
        w, b = theirs.in_proj_weight, theirs.in_proj_bias
        for i, proj in enumerate((ours.q_proj, ours.k_proj, ours.v_proj)):
            proj.weight.copy_(w[i * e : (i + 1) * e])
            proj.bias.copy_(b[i * e : (i + 1) * e])
        ours.out_proj.weight.copy_(theirs.out_proj.weight)
        ours.out_proj.bias.copy_(theirs.out_proj.bias)


@pytest.mark.parametrize("num_heads", [1, 2, 4])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("padded", [False, True])
def test_equals_torch_multihead_attention(num_heads: int, causal: bool, padded: bool) -> None:
    gen = torch.Generator().manual_seed(num_heads)
    e, b, t = 8, 3, 5
    theirs = torch.nn.MultiheadAttention(e, num_heads, batch_first=True)
    with torch.no_grad():  # non-zero biases, so the test also covers them
        theirs.in_proj_bias.normal_(generator=gen)
        theirs.out_proj.bias.normal_(generator=gen)
    ours = MultiHeadAttention(e, num_heads)
    copy_from_torch(ours, theirs)
    x = torch.randn(b, t, e, generator=gen)
    kpm = None
    if padded:
        kpm = torch.zeros(b, t, dtype=torch.bool)
        kpm[0, 3:] = True
        kpm[2, 4:] = True
    attn_mask = causal_mask(t, t) if causal else None
    expected, expected_w = theirs(
        x, x, x, key_padding_mask=kpm, attn_mask=attn_mask, average_attn_weights=False
    )
    got, got_w = ours(x, causal=causal, key_padding_mask=kpm, need_weights=True)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got_w, expected_w, atol=1e-6, rtol=1e-5)


def test_cross_attention_equals_torch() -> None:
    gen = torch.Generator().manual_seed(7)
    theirs = torch.nn.MultiheadAttention(6, 3, batch_first=True)
    ours = MultiHeadAttention(6, 3)
    copy_from_torch(ours, theirs)
    q, k, v = (torch.randn(2, n, 6, generator=gen) for n in (4, 7, 7))
    torch.testing.assert_close(ours(q, k, v)[0], theirs(q, k, v)[0], atol=1e-5, rtol=1e-5)


def identity_head(d: int) -> MultiHeadAttention:
    mha = MultiHeadAttention(d, 1)
    with torch.no_grad():
        for proj in (mha.q_proj, mha.k_proj, mha.v_proj, mha.out_proj):
            proj.weight.copy_(torch.eye(d))
            proj.bias.zero_()
    return mha


def test_single_identity_head_is_softmax_qkt_v_by_hand() -> None:
    # Two queries, two keys in 2-D: scores worked out on paper.
    x = torch.tensor([[[1.0, 0.0], [0.0, 2.0]]])
    out, w = identity_head(2)(x, need_weights=True)
    s = 1 / math.sqrt(2)
    # Row 0: scores [1, 0]·s; row 1: scores [0, 4]·s.
    w0 = torch.tensor([math.exp(s), 1.0]) / (math.exp(s) + 1.0)
    w1 = torch.tensor([1.0, math.exp(4 * s)]) / (1.0 + math.exp(4 * s))
    expected_w = torch.stack([w0, w1])
    v = x[0]
    torch.testing.assert_close(w[0, 0], expected_w)
    torch.testing.assert_close(out[0], expected_w @ v)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    heads=st.sampled_from([1, 2, 4]),
    t=st.integers(1, 6),
    causal=st.booleans(),
)
def test_weights_nonnegative_rows_sum_to_one(seed: int, heads: int, t: int, causal: bool) -> None:
    torch.manual_seed(seed)
    mha = MultiHeadAttention(8, heads)
    x = torch.randn(2, t, 8) * 3
    _, w = mha(x, causal=causal, need_weights=True)
    assert w.shape == (2, heads, t, t)
    assert (w >= 0).all()
    torch.testing.assert_close(w.sum(-1), torch.ones(2, heads, t))
    if causal:  # nothing above the diagonal
        assert (w.triu(1) == 0).all()


@pytest.mark.parametrize("module", ["attention", "block"])
def test_permutation_equivariance(module: str) -> None:
    torch.manual_seed(0)
    net = MultiHeadAttention(8, 2) if module == "attention" else TransformerBlock(8, 2)

    def f(x: torch.Tensor) -> torch.Tensor:
        out = net(x)
        return out[0] if isinstance(out, tuple) else out

    x = torch.randn(2, 6, 8)
    perm = torch.randperm(6)
    torch.testing.assert_close(f(x[:, perm]), f(x)[:, perm], atol=1e-6, rtol=1e-5)


def test_causal_mask_breaks_permutation_equivariance() -> None:
    # The invariance test above would pass for a module that ignored the order; this one
    # checks that the mask really does depend on order.
    torch.manual_seed(0)
    net = MultiHeadAttention(8, 2)
    x = torch.randn(1, 6, 8)
    perm = torch.tensor([5, 4, 3, 2, 1, 0])
    assert not torch.allclose(net(x[:, perm], causal=True)[0], net(x, causal=True)[0][:, perm])


@pytest.mark.parametrize("module", ["attention", "block"])
def test_causality_by_gradients(module: str) -> None:
    torch.manual_seed(0)
    net = MultiHeadAttention(8, 2) if module == "attention" else TransformerBlock(8, 2)
    t = 6
    x = torch.randn(2, t, 8, requires_grad=True)
    out = net(x, causal=True)
    out = out[0] if isinstance(out, tuple) else out
    for pos in range(t):
        (grad,) = torch.autograd.grad(out[:, pos].sum(), x, retain_graph=True)
        assert (grad[:, pos + 1 :] == 0).all(), f"output {pos} depends on the future"
        assert (grad[:, : pos + 1].abs().sum(-1) > 0).all(), f"output {pos} ignores the past"


def test_causal_mask_offset_for_longer_keys() -> None:
    # 2 queries that are the last 2 of 4 positions see keys 0..2 and 0..3.
    expected = torch.tensor([[False, False, False, True], [False, False, False, False]])
    assert torch.equal(causal_mask(2, 4), expected)


@pytest.mark.parametrize("module", ["attention", "block"])
def test_key_padding_invariance(module: str) -> None:
    torch.manual_seed(0)
    net = MultiHeadAttention(8, 2) if module == "attention" else TransformerBlock(8, 2)
    lengths = torch.tensor([3, 5, 6])
    t = 6
    kpm = torch.arange(t)[None, :] >= lengths[:, None]
    x = torch.randn(3, t, 8)
    y = x.clone()
    y[kpm] = torch.randn(int(kpm.sum()), 8) * 100  # scribble over the padding

    def f(z: torch.Tensor) -> torch.Tensor:
        out = net(z, key_padding_mask=kpm)
        return out[0] if isinstance(out, tuple) else out

    a, b = f(x), f(y)
    valid = ~kpm
    torch.testing.assert_close(a[valid], b[valid], atol=1e-6, rtol=1e-5)
    assert not torch.allclose(a[kpm], b[kpm])  # padded rows did change: the test has teeth


def test_mask_shape_checked() -> None:
    with pytest.raises(ValueError, match="key_padding_mask"):
        MultiHeadAttention(4, 2)(torch.zeros(2, 3, 4), key_padding_mask=torch.zeros(2, 4).bool())
    with pytest.raises(ValueError, match="multiple"):
        MultiHeadAttention(5, 2)


def test_sinusoidal_encoding_values_and_relative_shift() -> None:
    d = 8
    pe = SinusoidalPositionalEncoding(d, max_len=50)
    table = pe(torch.zeros(1, 50, d))[0]
    # PE[t, 0] = sin(t), PE[t, 1] = cos(t) (frequency 1 for the first pair).
    t = torch.arange(50.0)
    torch.testing.assert_close(table[:, 0], torch.sin(t))
    torch.testing.assert_close(table[:, 1], torch.cos(t))
    # PE[t + k] is a fixed rotation of PE[t] for each pair of features.
    k = 3
    freq = torch.exp(-math.log(10000.0) * torch.arange(0, d, 2) / d)
    for i, w in enumerate(freq):
        c, s = math.cos(k * w), math.sin(k * w)
        rot = torch.tensor([[c, -s], [s, c]])
        pair = table[:, 2 * i : 2 * i + 2]
        torch.testing.assert_close(pair[:-k] @ rot, pair[k:], atol=1e-5, rtol=1e-4)


def test_positional_encodings_break_permutation_equivariance_and_check_length() -> None:
    torch.manual_seed(0)
    for pe in (SinusoidalPositionalEncoding(8, 10), LearnedPositionalEncoding(8, 10)):
        x = torch.randn(1, 5, 8)
        perm = torch.tensor([4, 3, 2, 1, 0])
        assert not torch.allclose(pe(x[:, perm]), pe(x)[:, perm])
        with pytest.raises(ValueError, match="max_len"):
            pe(torch.zeros(1, 11, 8))


def test_transformer_stack_overfits_one_batch() -> None:
    # A tiny decoder-only model must memorise next-token prediction on 4 random sequences.
    torch.manual_seed(0)
    vocab, d, t = 11, 32, 12
    emb = torch.nn.Embedding(vocab, d)
    pos = LearnedPositionalEncoding(d, t)
    blocks = torch.nn.ModuleList([TransformerBlock(d, 4), TransformerBlock(d, 4)])
    head = torch.nn.Linear(d, vocab)
    params = [*emb.parameters(), *pos.parameters(), *blocks.parameters(), *head.parameters()]
    opt = torch.optim.Adam(params, lr=3e-3)
    seq = torch.randint(0, vocab, (4, t + 1))
    x, y = seq[:, :-1], seq[:, 1:]
    for _ in range(250):
        h = pos(emb(x))
        for block in blocks:
            h = block(h, causal=True)
        loss = torch.nn.functional.cross_entropy(head(h).reshape(-1, vocab), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05
