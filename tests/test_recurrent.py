"""RNNCell, LSTMCell, the Recurrent wrapper and gradient clipping: equality with PyTorch,
a task with a known answer (binary addition) learned to 100%, and overfitting one batch."""

from __future__ import annotations

import pytest
import torch

from practicum.nn import LSTMCell, Recurrent, RNNCell, clip_grad_norm, detach_state


@pytest.fixture(autouse=True)
def one_thread():
    # These models are tiny: one thread avoids synchronisation overhead on busy cores.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def copy_weights(ours: torch.nn.Module, theirs: torch.nn.Module) -> None:
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(ours, name).copy_(getattr(theirs, name))


def test_lstm_cell_equals_torch() -> None:
    torch.manual_seed(0)
    theirs = torch.nn.LSTMCell(5, 7)
    ours = LSTMCell(5, 7)
    copy_weights(ours, theirs)
    x = torch.randn(3, 5, requires_grad=True)
    h0, c0 = torch.randn(3, 7), torch.randn(3, 7)
    h1, c1 = ours(x, (h0, c0))
    h2, c2 = theirs(x, (h0, c0))
    torch.testing.assert_close(h1, h2)
    torch.testing.assert_close(c1, c2)
    # Gradients agree too (same function, not just same values at one point).
    g1 = torch.autograd.grad((h1.sum() + c1.sum()), x)[0]
    g2 = torch.autograd.grad((h2.sum() + c2.sum()), x)[0]
    torch.testing.assert_close(g1, g2)
    # No state means zeros.
    torch.testing.assert_close(ours(x)[0], theirs(x)[0])


def test_rnn_cell_equals_torch() -> None:
    torch.manual_seed(1)
    theirs = torch.nn.RNNCell(4, 6)
    ours = RNNCell(4, 6)
    copy_weights(ours, theirs)
    x, h = torch.randn(2, 4), torch.randn(2, 6)
    torch.testing.assert_close(ours(x, h), theirs(x, h))


def test_recurrent_lstm_equals_torch_lstm_over_a_sequence() -> None:
    # Two stacked layers run over 9 steps match torch.nn.LSTM given the same weights.
    torch.manual_seed(2)
    theirs = torch.nn.LSTM(3, 5, num_layers=2, batch_first=True)
    ours = Recurrent.lstm(3, 5, num_layers=2)
    with torch.no_grad():
        for layer, cell in enumerate(ours.cells):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(cell, name).copy_(getattr(theirs, f"{name}_l{layer}"))
    x = torch.randn(4, 9, 3)
    out, states = ours(x)
    expected, (h_n, c_n) = theirs(x)
    torch.testing.assert_close(out, expected)
    for layer, (h, c) in enumerate(states):
        torch.testing.assert_close(h, h_n[layer])
        torch.testing.assert_close(c, c_n[layer])


def test_carried_state_equals_one_long_pass() -> None:
    # Running two halves with the state carried over equals one pass over the whole sequence.
    torch.manual_seed(3)
    net = Recurrent.lstm(2, 4)
    x = torch.randn(2, 10, 2)
    whole, _ = net(x)
    first, state = net(x[:, :6])
    second, _ = net(x[:, 6:], detach_state(state))
    torch.testing.assert_close(torch.cat([first, second], 1), whole)


def test_forget_bias_initialisation() -> None:
    cell = LSTMCell(2, 3, forget_bias=1.0)
    plain = LSTMCell(2, 3)
    assert cell.bias_hh[3:6].min() > 1.0 - 1 / 3**0.5 - 1e-6
    assert plain.bias_hh.abs().max() <= 1 / 3**0.5


def test_clip_grad_norm_matches_torch() -> None:
    torch.manual_seed(4)
    a = [torch.randn(3, 4, requires_grad=True), torch.randn(5, requires_grad=True)]
    b = [p.detach().clone().requires_grad_() for p in a]
    for ps in (a, b):
        (ps[0].sum() * 10 + (ps[1] ** 2).sum()).backward()
    n1 = clip_grad_norm(a, 1.0)
    n2 = torch.nn.utils.clip_grad_norm_(b, 1.0)
    torch.testing.assert_close(n1, n2)
    for p, q in zip(a, b, strict=True):
        torch.testing.assert_close(p.grad, q.grad)
    total = torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in a]))
    assert total.item() == pytest.approx(1.0, rel=1e-4)
    # Small gradients are left alone.
    before = a[1].grad.clone()
    clip_grad_norm(a, 100.0)
    torch.testing.assert_close(a[1].grad, before)


def binary_addition_batch(n: int, bits: int, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
    """Pairs of (bits-1)-bit numbers, least significant bit first, and their bits-bit sum."""
    a = torch.randint(0, 2 ** (bits - 1), (n,), generator=gen)
    b = torch.randint(0, 2 ** (bits - 1), (n,), generator=gen)
    shifts = torch.arange(bits)
    to_bits = lambda v: ((v[:, None] >> shifts) & 1).float()  # noqa: E731
    x = torch.stack([to_bits(a), to_bits(b)], dim=-1)  # (n, bits, 2)
    return x, to_bits(a + b)


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_rnn_learns_binary_addition_exactly(kind: str) -> None:
    # The carry must be remembered from one step to the next: a task with one right answer.
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    net = Recurrent.rnn(2, 16) if kind == "rnn" else Recurrent.lstm(2, 16)
    head = torch.nn.Linear(16, 1)
    params = [*net.parameters(), *head.parameters()]
    opt = torch.optim.Adam(params, lr=0.02)
    for _ in range(300):
        x, y = binary_addition_batch(64, 8, gen)
        logits = head(net(x)[0]).squeeze(-1)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
        opt.zero_grad()
        loss.backward()
        clip_grad_norm(params, 1.0)
        opt.step()
    # Tested on longer numbers than trained on: it learned the carry rule, not a table.
    x, y = binary_addition_batch(2000, 16, gen)
    with torch.no_grad():
        pred = (head(net(x)[0]).squeeze(-1) > 0).float()
    accuracy = (pred == y).all(dim=1).float().mean().item()
    assert accuracy == 1.0


def test_lstm_overfits_one_batch() -> None:
    torch.manual_seed(0)
    vocab = 9
    emb = torch.nn.Embedding(vocab, 16)
    net = Recurrent.lstm(16, 48, num_layers=2)
    head = torch.nn.Linear(48, vocab)
    params = [*emb.parameters(), *net.parameters(), *head.parameters()]
    opt = torch.optim.Adam(params, lr=1e-2)
    seq = torch.randint(0, vocab, (4, 13))
    x, y = seq[:, :-1], seq[:, 1:]
    for _ in range(200):
        loss = torch.nn.functional.cross_entropy(
            head(net(emb(x))[0]).reshape(-1, vocab), y.reshape(-1)
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05


def test_bad_sizes_raise() -> None:
    with pytest.raises(ValueError):
        LSTMCell(0, 3)
    with pytest.raises(ValueError, match="input_size"):
        Recurrent([LSTMCell(2, 3), LSTMCell(4, 3)])
    with pytest.raises(ValueError, match="batch, time"):
        Recurrent.lstm(2, 3)(torch.zeros(3, 2))
