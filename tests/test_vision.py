"""Vision modules (Conv2d, GroupNorm, ResidualBlock, Classifier) and the vision labs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from practicum.errors import PracticumError
from practicum.launch import run_lab
from practicum.nn import (
    Classifier,
    Conv2d,
    GroupNorm,
    PatchWhitening,
    ResidualBlock,
    receptive_field,
    update_average,
)


@given(
    cin=st.integers(1, 4),
    cout=st.integers(1, 4),
    k=st.sampled_from([1, 3, 5]),
    stride=st.integers(1, 2),
    size=st.integers(5, 9),
)
@settings(max_examples=25, deadline=None)
def test_conv2d_equals_functional_conv(cin: int, cout: int, k: int, stride: int, size: int) -> None:
    conv = Conv2d(cin, cout, k, stride=stride)
    with torch.no_grad():
        conv.bias.normal_()
    x = torch.randn(2, cin, size, size + 1)
    expected = F.conv2d(x, conv.weight, conv.bias, stride=stride, padding=k // 2)
    torch.testing.assert_close(conv(x), expected)


def test_conv2d_he_initialisation_keeps_variance() -> None:
    conv = Conv2d(64, 64, 3)
    assert abs(conv.weight.var().item() - 2 / (64 * 9)) < 0.1 * 2 / (64 * 9)


@given(dy=st.integers(-3, 3), dx=st.integers(-3, 3), k=st.sampled_from([3, 5]))
@settings(max_examples=20, deadline=None)
def test_conv2d_is_translation_equivariant(dy: int, dx: int, k: int) -> None:
    conv = Conv2d(2, 3, k, bias=False)
    x = torch.zeros(1, 2, 24, 24)
    x[..., 8:16, 8:16] = torch.randn(1, 2, 8, 8)  # content far from the borders

    def shift(t: torch.Tensor) -> torch.Tensor:
        return torch.roll(t, shifts=(dy, dx), dims=(2, 3))

    torch.testing.assert_close(conv(shift(x)), shift(conv(x)))


def test_standardized_conv_uses_zero_mean_he_scaled_filters() -> None:
    torch.manual_seed(
        0
    )  # filters scaled by up to 10: float32 rounding of the mean varies with them
    conv = Conv2d(5, 7, 3, standardize=True)
    with torch.no_grad():
        conv.weight.mul_(torch.rand(7, 1, 1, 1) * 10).add_(torch.randn(7, 1, 1, 1))
    w = conv.effective_weight().detach()
    torch.testing.assert_close(w.mean(dim=(1, 2, 3)), torch.zeros(7), atol=1e-6, rtol=0)
    var = w.var(dim=(1, 2, 3), correction=0)
    torch.testing.assert_close(var, torch.full((7,), 2 / (5 * 9)), rtol=1e-4, atol=0)
    plain = Conv2d(5, 7, 3)
    assert plain.effective_weight() is plain.weight  # off by default: the plain convolution


@given(scale=st.floats(0.05, 20.0), offset=st.floats(-3.0, 3.0), seed=st.integers(0, 2**16))
@settings(max_examples=25, deadline=None)
def test_standardized_conv_is_invariant_to_affine_weight_changes(
    scale: float, offset: float, seed: int
) -> None:
    """w -> a w + b per output channel (a > 0) leaves the function unchanged, so the
    gradient has no component along w or along the constant filter (checked below)."""
    torch.manual_seed(seed)
    conv = Conv2d(3, 4, 3, standardize=True)
    x = torch.randn(2, 3, 6, 6)
    before = conv(x)
    with torch.no_grad():
        a = scale * (1 + torch.rand(4, 1, 1, 1))
        conv.weight.mul_(a).add_(offset * torch.randn(4, 1, 1, 1))
    torch.testing.assert_close(conv(x), before, rtol=1e-4, atol=1e-4)


def test_standardized_conv_gradient_is_orthogonal_to_its_invariances() -> None:
    torch.manual_seed(0)
    conv = Conv2d(3, 4, 3, standardize=True, bias=False)
    x = torch.randn(2, 3, 6, 6)
    (conv(x) * torch.randn(2, 4, 6, 6)).sum().backward()
    g, w = conv.weight.grad.flatten(1), conv.weight.detach().flatten(1)
    for direction in (torch.ones_like(w), w):  # the constant filter; w itself (a rescaling)
        cosine = F.cosine_similarity(g, direction, dim=1)
        assert (cosine.abs() < 1e-5).all()


def test_classifier_standardizes_only_convolutions_followed_by_a_norm() -> None:
    """The stage convolution (then GroupNorm) and each block's first convolution (then its
    second norm) are standardised; the block's last convolution feeds the residual sum,
    whose scale matters, and stays plain."""
    model = Classifier(
        3,
        [8, 16],
        [3, 3],
        10,
        norm="group",
        num_groups=4,
        residual_blocks=1,
        standardize_weights=True,
    )
    for stage in model.stages:
        assert stage.conv.standardize
        for block in stage.blocks:
            assert block.conv1.standardize and not block.conv2.standardize
    plain = Classifier(3, [8], [3], 10, norm="none", standardize_weights=True)
    assert not plain.stages[0].conv.standardize  # nothing normalises its output


@pytest.mark.parametrize(("groups", "channels"), [(1, 6), (2, 6), (6, 6), (4, 8)])
def test_groupnorm_standardises_each_group(groups: int, channels: int) -> None:
    gn = GroupNorm(groups, channels)
    x = 3 + 5 * torch.randn(4, channels, 5, 7)
    y = gn(x).reshape(4, groups, -1)
    torch.testing.assert_close(y.mean(-1), torch.zeros(4, groups), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.var(-1, unbiased=False), torch.ones(4, groups), atol=1e-3, rtol=0)


@pytest.mark.parametrize(
    ("reference", "layout"),
    [
        (lambda: torch.nn.GroupNorm(4, 8), torch.contiguous_format),
        (lambda: GroupNorm(4, 8, fused=True), torch.contiguous_format),  # the fast path
        (lambda: GroupNorm(4, 8, fused=True), torch.channels_last),
    ],
    ids=["torch", "fused", "fused-channels-last"],
)
def test_groupnorm_equals_reference_with_gradients(reference, layout) -> None:
    ours, theirs = GroupNorm(4, 8), reference()
    with torch.no_grad():
        for p, q in ((ours.weight, theirs.weight), (ours.bias, theirs.bias)):
            p.normal_()
            q.copy_(p)
    x = (2 + 3 * torch.randn(3, 8, 6, 6)).contiguous(memory_format=layout).requires_grad_(True)
    x2 = x.detach().clone().requires_grad_(True)
    torch.testing.assert_close(ours(x), theirs(x2))
    w = torch.randn(3, 8, 6, 6)
    (ours(x) * w).sum().backward()
    (theirs(x2) * w).sum().backward()
    torch.testing.assert_close(x.grad, x2.grad)
    torch.testing.assert_close(ours.weight.grad, theirs.weight.grad)
    torch.testing.assert_close(ours.bias.grad, theirs.bias.grad)


def test_zero_initialised_residual_block_is_identity() -> None:
    block = ResidualBlock(8, kernel_size=3, num_groups=4, zero_init=True)
    x = torch.randn(2, 8, 6, 6)
    torch.testing.assert_close(block(x), x)
    changed = ResidualBlock(8, kernel_size=3, num_groups=4, zero_init=False)
    assert not torch.allclose(changed(x), x)


def test_residual_block_projection_shapes() -> None:
    block = ResidualBlock(8, 16, stride=2, num_groups=4)
    assert block(torch.randn(2, 8, 8, 8)).shape == (2, 16, 4, 4)


def measured_receptive_field(model: Classifier, size: int = 64) -> int:
    """Width of the input region whose gradient reaches the centre feature pixel, unioned
    over a batch of random inputs (max-pooling routes each gradient to one argmax)."""
    model.eval()
    x = torch.randn(64, model.stages[0].conv.in_channels, size, size, requires_grad=True)
    feats = model.features(x)
    h, w = feats.shape[-2:]
    feats[:, :, h // 2, w // 2].sum().backward()
    reached = (x.grad.abs().sum(dim=(0, 1)) > 0).nonzero()
    return int(max(np.ptp(reached[:, 0].numpy()), np.ptp(reached[:, 1].numpy())) + 1)


@pytest.mark.parametrize(
    ("depths", "kernels", "pool", "blocks", "pool_first", "expected"),
    [
        ([4], [3], [False], 0, False, 3),
        ([4, 4], [3, 5], [False, False], 0, False, 7),
        ([4, 4], [3, 3], [True, False], 0, False, 1 + 2 + 1 + 2 * 2),
        ([4, 8], [3, 3], [True, True], 0, False, 10),
        ([4, 4], [3, 3], [True, False], 1, False, None),
        # Pooling before the residual blocks: each block's convolutions see twice the span.
        ([4, 4], [3, 3], [True, True], 1, True, 1 + 2 + 1 + 4 + 4 + 4 + 2 + 8 + 8),
    ],
)
def test_receptive_field_matches_gradient_measurement(
    depths: list[int],
    kernels: list[int],
    pool: list[bool],
    blocks: int,
    pool_first: bool,
    expected: int | None,
) -> None:
    torch.manual_seed(0)
    model = Classifier(
        1,
        depths,
        kernels,
        10,
        pool=pool,
        residual_blocks=blocks,
        num_groups=2,
        pool_first=pool_first,
    )
    if blocks:
        for module in model.modules():
            if isinstance(module, ResidualBlock):
                # A zero-initialised block passes no gradient through its convolutions, and
                # GroupNorm's statistics see the whole image; the receptive field is a
                # property of the convolution and pooling geometry, so measure that.
                torch.nn.init.normal_(module.conv2.weight, std=0.1)
                module.norm1 = module.norm2 = torch.nn.Identity()
        model.final_norm = None
    predicted = model.receptive_field()
    if expected is not None:
        assert predicted == expected
    assert measured_receptive_field(model) == predicted


def test_receptive_field_formula() -> None:
    assert receptive_field([(3, 1), (3, 1)]) == 5
    assert receptive_field([(3, 1), (2, 2), (3, 1)]) == 8


@pytest.mark.parametrize(
    ("residual", "norm", "pool_first", "standardize"),
    [
        (0, "group", False, False),
        (1, "group", False, False),
        (1, "group", True, False),
        (1, "group", True, True),
        (1, "batch", True, False),
    ],
)
def test_classifier_overfits_one_batch(
    residual: int, norm: str, pool_first: bool, standardize: bool
) -> None:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.tensor(digits.images[:20] / 16.0, dtype=torch.float32).unsqueeze(1)
    y = torch.tensor(digits.target[:20])
    torch.manual_seed(0)
    model = Classifier(
        1,
        [8, 16],
        [3, 3],
        10,
        norm=norm,
        num_groups=4,
        residual_blocks=residual,
        pool_first=pool_first,
        standardize_weights=standardize,
    )
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(100):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05
    assert (model(x).argmax(1) == y).all()


@pytest.mark.parametrize(("norm", "kind"), [("group", GroupNorm), ("batch", torch.nn.BatchNorm2d)])
def test_classifier_norm_choice_reaches_every_layer(norm: str, kind: type) -> None:
    """norm="batch" (a comparison for cifar10-resnet) swaps every normalisation, including
    those inside the residual blocks and the final one, and leaves no GroupNorm behind."""
    model = Classifier(3, [8, 16], [3, 3], 10, norm=norm, num_groups=4, residual_blocks=1)
    norms = [m for m in model.modules() if isinstance(m, (GroupNorm, torch.nn.BatchNorm2d))]
    assert len(norms) == 2 * (1 + 2) + 1  # per stage: 1 + 2 in the block; then the final one
    assert all(isinstance(m, kind) for m in norms)


def test_classifier_any_input_size() -> None:
    model = Classifier(3, [4, 8], [3, 3], 5)
    for size in (8, 13, 32):
        assert model(torch.randn(2, 3, size, size)).shape == (2, 5)


def _correlated_images(n: int = 300, size: int = 12) -> torch.Tensor:
    """Smooth images with mixed channels: neighbouring pixels and channels correlate."""
    g = torch.Generator().manual_seed(0)
    x = F.avg_pool2d(torch.randn(n, 3, size + 2, size + 2, generator=g), 3, stride=1)
    mix = torch.tensor([[1.0, 0.8, 0.6], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
    return torch.einsum("dc,nchw->ndhw", mix, x) + 0.3


@pytest.mark.parametrize("patch", [2, 3])
def test_patch_whitening_gives_identity_covariance(patch: int) -> None:
    x = _correlated_images()
    layer = PatchWhitening(3, patch_size=patch, eps=1e-9).fit(x)
    n = 3 * patch**2
    assert layer.out_channels == 2 * n
    linear = F.conv2d(x.double(), layer.weight[:n].double())  # the filters before ReLU
    flat = linear.permute(1, 0, 2, 3).reshape(n, -1)
    before = torch.cov(F.unfold(x.double(), patch).transpose(1, 2).reshape(-1, n).T)
    assert (before - torch.diag(before.diag())).abs().max() > 0.1  # correlated to begin with
    torch.testing.assert_close(
        torch.cov(flat), torch.eye(n, dtype=torch.float64), atol=1e-5, rtol=0
    )


def test_patch_whitening_keeps_the_information_and_is_not_trained() -> None:
    x = _correlated_images(50, 8)
    layer = PatchWhitening(3).fit(x)
    y = layer(x)
    assert y.shape == (50, 24, 7, 7) and (y >= 0).all()
    # relu(a) - relu(-a) = a: the two signed copies together are the linear whitening
    torch.testing.assert_close(y[:, :12] - y[:, 12:], F.conv2d(x, layer.weight[:12]))
    assert not list(layer.parameters()) and "weight" in layer.state_dict()  # saved, frozen
    assert receptive_field(layer.kernels_strides()) == 2


def test_update_average_is_an_exponential_moving_average() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    average = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    before = [p.detach().clone() for p in average.parameters()]
    model(torch.randn(8, 3))  # moves the running statistics away from their start
    update_average(average, model, 0.9)
    for a, b, p in zip(average.parameters(), before, model.parameters(), strict=True):
        torch.testing.assert_close(a, 0.9 * b + 0.1 * p)
    for a, b in zip(average.buffers(), model.buffers(), strict=True):
        torch.testing.assert_close(a, b)  # copied, not averaged
    update_average(average, model, 0.0)
    for a, p in zip(average.parameters(), model.parameters(), strict=True):
        torch.testing.assert_close(a, p)


def test_digits_loaders_give_a_fixed_split_as_uint8_grey_and_rgb() -> None:
    from sklearn.datasets import load_digits

    from practicum.data.vision import load_digits_rgb, load_digits_uint8

    x, y, x_test, y_test = load_digits_uint8()
    assert x.shape == (1397, 8, 8) and x_test.shape == (400, 8, 8) and x.dtype == torch.uint8
    assert int(x.max()) == 255 and int(x.min()) == 0  # sklearn's 0..16 scaled to 0..255
    raw = load_digits()
    assert torch.equal(y_test, torch.from_numpy(raw.target[1397:]).long())
    np.testing.assert_allclose(x.numpy() / 255 * 16, raw.images[:1397], atol=16 / 255 / 2)
    rgb = load_digits_rgb()
    assert rgb.x_train.shape == (1397, 8, 8, 3) and rgb.num_classes == 10
    for c in range(3):
        assert torch.equal(rgb.x_train[..., c], x) and torch.equal(rgb.x_test[..., c], x_test)
    assert torch.equal(rgb.y_train, y)


# ---- labs --------------------------------------------------------------------------------


def _quick(lab: str, tmp_path: Path, seed: int = 0, **overrides: str) -> dict:
    summary, _ = run_lab(
        lab, quick=True, seed=seed, out=tmp_path / f"{lab}-{seed}", quiet=True, overrides=overrides
    )
    return summary


def test_mnist_cnn_quick_passes_and_is_deterministic(tmp_path: Path) -> None:
    a = _quick("mnist-cnn", tmp_path)
    assert a["passed"], a["targets"]
    assert (tmp_path / "mnist-cnn-0" / "plots" / "confusion.png").is_file()
    # Same seed, same numbers: checked on a shorter run to keep the suite fast.
    short = {"epochs": "2"}
    b = _quick("mnist-cnn", tmp_path, seed=1, **short)
    c, _ = run_lab(
        "mnist-cnn", quick=True, seed=1, out=tmp_path / "again", quiet=True, overrides=short
    )
    assert b["metrics"] == c["metrics"] and b["param_hash"] == c["param_hash"]


@pytest.mark.parametrize("lab", ["mnist-tiny", "fashion-mnist-cnn", "cifar10-resnet"])
def test_quick_modes_pass(lab: str, tmp_path: Path) -> None:
    summary = _quick(lab, tmp_path)
    assert summary["passed"], summary["targets"]
    assert (tmp_path / f"{lab}-0" / "plots" / "curves.png").is_file()


def test_cifar10_whitening_and_weight_average_quick(tmp_path: Path) -> None:
    """The airbench options (and weight standardisation) run end to end and report what
    the average adds."""
    summary = _quick(
        "cifar10-resnet", tmp_path, whiten="true", ema_decay="0.95", standardize_weights="true"
    )
    assert summary["passed"], summary["targets"]
    assert 0.8 <= summary["metrics"]["val_accuracy_last_weights"] <= 1


def test_bad_config_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(PracticumError):
        run_lab("mnist-cnn", quick=True, out=tmp_path / "bad", overrides={"dropout": "1.5"})
    with pytest.raises(PracticumError, match="pool needs one entry per layer depth"):
        run_lab("cifar10-resnet", quick=True, out=tmp_path / "bad2", overrides={"pool": "true"})
    assert not (tmp_path / "bad2").exists()


def test_corrupt_mnist_stops_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One changed byte in a dataset file: the checksum error, and nothing is trained."""
    from practicum.data import vision

    monkeypatch.setenv("PRACTICUM_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for f in vision.IDX_FILES["mnist"]:
        path = tmp_path / "data" / f.relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\x1f\x8b not really the file")
    with pytest.raises(PracticumError, match="checksum mismatch"):
        run_lab("mnist-cnn", quick=False, out=tmp_path / "run", quiet=True)
    metrics = tmp_path / "run" / "metrics.jsonl"
    assert not metrics.exists() or metrics.read_text() == ""
    assert not (tmp_path / "run" / "summary.json").exists()
    assert not any((tmp_path / "run" / "checkpoints").iterdir())
