"""Modules and optimisers: parameter discovery, equality with PyTorch, overfitting one batch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from practicum import autodiff as ad
from practicum.autodiff.nn import MLP, Conv2d, Linear, Module
from practicum.autodiff.optim import SGD, Adam
from practicum.twins import torch_twin


def test_parameter_discovery_names_and_order() -> None:
    class Net(Module):
        def __init__(self) -> None:
            rng = np.random.default_rng(0)
            self.conv = Conv2d(1, 2, 3, rng)
            self.blocks = [Linear(4, 3, rng), Linear(3, 2, rng, bias=False)]
            self.scale = ad.nn.Parameter(np.ones(1))
            self.not_a_param = ad.Tensor(np.ones(2))  # a constant, not discovered

    names = [name for name, _ in Net().named_parameters()]
    assert names == [
        "conv.weight",
        "conv.bias",
        "blocks.0.weight",
        "blocks.0.bias",
        "blocks.1.weight",
        "scale",
    ]
    assert Net().num_parameters() == 2 * 9 + 2 + 12 + 3 + 6 + 1


def test_two_layer_mlp_gradients_equal_pytorch() -> None:
    rng = np.random.default_rng(0)
    model = MLP([5, 7, 3], rng, activation="tanh", dtype=np.float64)
    x, y = rng.standard_normal((6, 5)), rng.integers(0, 3, size=6)
    loss = ad.cross_entropy(model(ad.Tensor(x)), y)
    loss.backward()

    reference = torch_twin(model)
    expected = torch.nn.functional.cross_entropy(
        reference(torch.from_numpy(x)), torch.from_numpy(y)
    )
    expected.backward()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12)
    for layer, linear in zip(model.layers, reference[::2], strict=True):
        np.testing.assert_allclose(layer.weight.grad.data, linear.weight.grad.numpy().T, rtol=1e-10)
        np.testing.assert_allclose(layer.bias.grad.data, linear.bias.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_optimisers_follow_pytorch_step_by_step(name: str) -> None:
    rng = np.random.default_rng(1)
    model = MLP([4, 8, 3], rng, dtype=np.float64)
    reference = torch_twin(model)
    if name == "sgd":
        opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
        ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    else:
        opt = Adam(model.parameters(), lr=0.01)
        ref_opt = torch.optim.Adam(reference.parameters(), lr=0.01)
    for _ in range(20):
        x, y = rng.standard_normal((8, 4)), rng.integers(0, 3, size=8)
        opt.zero_grad()
        ad.cross_entropy(model(ad.Tensor(x)), y).backward()
        opt.step()
        ref_opt.zero_grad()
        torch.nn.functional.cross_entropy(
            reference(torch.from_numpy(x)), torch.from_numpy(y)
        ).backward()
        ref_opt.step()
    for layer, linear in zip(model.layers, reference[::2], strict=True):
        np.testing.assert_allclose(layer.weight.data, linear.weight.detach().numpy().T, rtol=1e-10)


def test_mlp_overfits_one_batch() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((16, 10)).astype(np.float32), rng.integers(0, 4, size=16)
    model = MLP([10, 32, 4], rng)
    opt = Adam(model.parameters(), lr=0.01)
    for _ in range(600):
        opt.zero_grad()
        loss = ad.cross_entropy(model(ad.Tensor(x)), y)
        loss.backward()
        opt.step()
    assert loss.item() < 1e-3


def test_small_cnn_learns_digits() -> None:
    """conv2d + max-pool train a CNN that generalises (held-out 8x8 digits), not just memorises."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images[:, None] / 16.0).astype(np.float32)  # (1797, 1, 8, 8)
    y = digits.target
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    train, held_out = order[:1400], order[1400:]

    class CNN(Module):
        def __init__(self) -> None:
            self.conv1 = Conv2d(1, 8, 3, rng, padding=1)
            self.conv2 = Conv2d(8, 16, 3, rng, padding=1)
            self.head = Linear(16 * 2 * 2, 10, rng)

        def forward(self, x: ad.Tensor) -> ad.Tensor:
            h = ad.max_pool2d(ad.relu(self.conv1(x)), 2)  # 8x8 -> 4x4
            h = ad.max_pool2d(ad.relu(self.conv2(h)), 2)  # 4x4 -> 2x2
            return self.head(h.reshape(len(x), -1))

    model = CNN()
    opt = Adam(model.parameters(), lr=3e-3)
    for _ in range(4):
        shuffled = rng.permutation(train)
        for start in range(0, len(shuffled), 50):
            batch = shuffled[start : start + 50]
            opt.zero_grad()
            ad.cross_entropy(model(ad.Tensor(x[batch])), y[batch]).backward()
            opt.step()
    with ad.no_grad():
        accuracy = np.mean(model(ad.Tensor(x[held_out])).data.argmax(axis=1) == y[held_out])
    assert accuracy > 0.85  # chance is 0.1; a wrong conv or pool gradient stays far below


def test_state_dict_round_trip_and_shape_check() -> None:
    a, b = MLP([3, 4, 2], np.random.default_rng(0)), MLP([3, 4, 2], np.random.default_rng(1))
    b.load_state_dict(a.state_dict())
    x = ad.Tensor(np.ones((1, 3), dtype=np.float32))
    np.testing.assert_array_equal(a(x).data, b(x).data)
    with pytest.raises(ad.ShapeError, match="Linear: expects inputs with 3 features"):
        a(ad.Tensor(np.ones((1, 4))))


def _train_steps(model: MLP, opt: SGD | Adam, rng: np.random.Generator, steps: int) -> None:
    for _ in range(steps):
        x, y = rng.standard_normal((8, 4)), rng.integers(0, 3, size=8)
        opt.zero_grad()
        ad.cross_entropy(model(ad.Tensor(x)), y).backward()
        opt.step()


def _optimiser(name: str, model: MLP, lr: float) -> SGD | Adam:
    if name == "sgd":
        return SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-3)
    return Adam(model.parameters(), lr=lr, betas=(0.8, 0.99), weight_decay=1e-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_a_resumed_optimiser_takes_the_same_next_steps(tmp_path, name: str, dtype) -> None:
    """Save after 5 steps through a real checkpoint file; a fresh model and optimiser (other
    weights, other learning rate) loaded from it take the same next 5 steps, bit for bit."""
    from practicum.run import Run

    model = MLP([4, 8, 3], np.random.default_rng(0), dtype=dtype)
    opt = _optimiser(name, model, lr=0.05)
    _train_steps(model, opt, np.random.default_rng(1), 5)
    run = Run(tmp_path, quiet=True)
    run.checkpoint(4, model=model, optimizer=opt)

    other = MLP([4, 8, 3], np.random.default_rng(9), dtype=dtype)
    other_opt = _optimiser(name, other, lr=0.5)
    run.resuming = True
    assert run.restore(model=other, optimizer=other_opt)["step"] == 4
    for a, b in zip(model.parameters(), other.parameters(), strict=True):
        assert b.data.dtype == dtype
        np.testing.assert_array_equal(a.data, b.data)

    _train_steps(model, opt, np.random.default_rng(2), 5)
    _train_steps(other, other_opt, np.random.default_rng(2), 5)
    for a, b in zip(model.parameters(), other.parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)
    mine, theirs = opt.state_dict(), other_opt.state_dict()
    assert mine.keys() == theirs.keys()
    for key in mine:
        if isinstance(mine[key], list):
            for x, y in zip(mine[key], theirs[key], strict=True):
                np.testing.assert_array_equal(x, y)
        else:
            assert mine[key] == theirs[key], key


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_optimiser_state_dict_is_a_snapshot_and_checks_shapes(name: str) -> None:
    model = MLP([4, 8, 3], np.random.default_rng(0), dtype=np.float64)
    opt = _optimiser(name, model, lr=0.05)
    if name == "sgd":  # before the first step the momentum buffers do not exist yet
        fresh = opt.state_dict()
        assert fresh["velocity"] == [None] * len(model.parameters())
    _train_steps(model, opt, np.random.default_rng(1), 2)
    saved = opt.state_dict()
    key = "velocity" if name == "sgd" else "m"
    before = [a.copy() for a in saved[key]]
    _train_steps(model, opt, np.random.default_rng(2), 1)  # must not change the snapshot
    for a, b in zip(saved[key], before, strict=True):
        np.testing.assert_array_equal(a, b)

    small = MLP([4, 5, 3], np.random.default_rng(0), dtype=np.float64)
    with pytest.raises(ValueError, match="shape"):
        _optimiser(name, small, lr=0.05).load_state_dict(saved)
    with pytest.raises(ValueError, match="buffers for"):
        _optimiser(name, MLP([4, 3], np.random.default_rng(0)), lr=0.05).load_state_dict(saved)
