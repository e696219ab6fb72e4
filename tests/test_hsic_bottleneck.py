"""The HSIC estimator of practicum.hsic against its definition (a naive trace of matrix
products), its invariances, its behaviour for independent and dependent samples, the
bottleneck objective's locality (no gradient into earlier layers), the unformatted
network's permutation read-out, and the hsic-bottleneck lab's quick run."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from practicum import hsic


def naive_gaussian_kernel(x: np.ndarray, sigma: float) -> np.ndarray:
    m, d = x.shape
    k = np.empty((m, m))
    for i in range(m):
        for j in range(m):
            k[i, j] = math.exp(-float(np.sum((x[i] - x[j]) ** 2)) / (2 * sigma**2 * d))
    return k


def naive_hsic(x: np.ndarray, y: np.ndarray, sx: float, sy: float) -> float:
    """(m − 1)⁻² tr(K_X H K_Y H), with explicit matrices (O(m³))."""
    m = len(x)
    h = np.eye(m) - np.ones((m, m)) / m
    kx, ky = naive_gaussian_kernel(x, sx), naive_gaussian_kernel(y, sy)
    return float(np.trace(kx @ h @ ky @ h)) / (m - 1) ** 2


@settings(max_examples=30, deadline=None)
@given(
    m=st.integers(2, 12),
    dx=st.integers(1, 5),
    dy=st.integers(1, 4),
    sx=st.floats(0.2, 5.0),
    sy=st.floats(0.2, 5.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_hsic_equals_the_naive_trace_formula(m, dx, dy, sx, sy, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(m, dx)), rng.normal(size=(m, dy))
    fast = hsic.hsic(torch.from_numpy(x), torch.from_numpy(y), sx, sy)
    assert float(fast) == pytest.approx(naive_hsic(x, y, sx, sy), rel=1e-9, abs=1e-12)


def test_kernel_and_centring_against_their_definitions():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 3))
    k = hsic.gaussian_kernel(torch.from_numpy(x), 0.7)
    np.testing.assert_allclose(k.numpy(), naive_gaussian_kernel(x, 0.7), rtol=1e-12)
    plain = hsic.gaussian_kernel(torch.from_numpy(x), 0.7, per_dimension=False)
    np.testing.assert_allclose(plain.numpy(), naive_gaussian_kernel(x, 0.7 / math.sqrt(3)))
    h = np.eye(7) - np.ones((7, 7)) / 7
    np.testing.assert_allclose(hsic.centre(k).numpy(), h @ k.numpy() @ h, atol=1e-12)
    with pytest.raises(ValueError):
        hsic.gaussian_kernel(torch.from_numpy(x), 0.0)
    with pytest.raises(ValueError):
        hsic.hsic_from_kernels(k, k[:3, :3])


def test_hsic_is_invariant_to_one_permutation_of_both_samples():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(40, 3, generator=gen, dtype=torch.float64)
    y = x[:, :2] ** 2 + 0.3 * torch.randn(40, 2, generator=gen, dtype=torch.float64)
    perm = torch.randperm(40, generator=gen)
    a = hsic.hsic(x, y, 1.0, 1.0)
    assert float(hsic.hsic(x[perm], y[perm], 1.0, 1.0)) == pytest.approx(float(a), rel=1e-12)
    # permuting one sample alone breaks the pairing: the dependence drops
    assert float(hsic.hsic(x, y[perm], 1.0, 1.0)) < 0.5 * float(a)


def test_hsic_of_independent_samples_is_its_small_bias_and_dependence_is_larger():
    """Independent x, y: the biased estimator's mean is (1/m)·E[k̃(x,x')]·E[k̃(y,y')]-sized,
    O(1/m): far below the dependent case y = x (HSIC(X, X)) and shrinking like 1/m."""
    gen = torch.Generator().manual_seed(2)
    means = {}
    for m in (25, 100):
        draws = [
            float(
                hsic.hsic(
                    torch.randn(m, 2, generator=gen, dtype=torch.float64),
                    torch.randn(m, 2, generator=gen, dtype=torch.float64),
                    1.0,
                    1.0,
                )
            )
            for _ in range(200)
        ]
        means[m] = float(np.mean(draws))
        assert min(draws) >= -1e-12  # tr(K H L H) ≥ 0 for positive semi-definite K, L
    x = torch.randn(100, 2, generator=gen, dtype=torch.float64)
    same = float(hsic.hsic(x, x, 1.0, 1.0))
    assert means[100] < 0.1 * same
    assert means[100] < 0.4 * means[25]  # the bias falls like 1/m (ratio 0.25 ± noise)
    noisy = float(
        hsic.hsic(x, x + 0.5 * torch.randn(100, 2, generator=gen, dtype=torch.float64), 1.0, 1.0)
    )
    assert means[100] < noisy < same


def test_the_bottleneck_objective_is_the_two_hsic_terms_for_every_estimator():
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(30, 5, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (30,), generator=gen)
    z = torch.randn(30, 4, generator=gen, dtype=torch.float64)
    yh = hsic.one_hot(y, 3).to(torch.float64)
    kx, ky = hsic.gaussian_kernel(x, 1.0), hsic.gaussian_kernel(yh, 0.3)
    kz = hsic.gaussian_kernel(z, 1.0)
    obj, hx, hy = hsic.bottleneck_objective(
        z, hsic.side(kx, "biased"), hsic.side(ky, "biased"), 1.0, beta=7.0
    )
    assert float(hx) == pytest.approx(float(hsic.hsic(z, x, 1.0, 1.0)), rel=1e-12)
    assert float(hy) == pytest.approx(float(hsic.hsic(z, yh, 1.0, 0.3)), rel=1e-12)
    assert float(obj) == pytest.approx(float(hx) - 7.0 * float(hy), rel=1e-12)
    # cka: HSIC(Z, X) / √(HSIC(Z, Z) HSIC(X, X)), in [0, 1], 1 for Z = X
    _, nx, _ = hsic.bottleneck_objective(
        z, hsic.side(kx, "cka"), hsic.side(ky, "cka"), 1.0, 1.0, "cka"
    )
    expected = hsic.hsic_from_kernels(kz, kx) / torch.sqrt(
        hsic.hsic_from_kernels(kz, kz) * hsic.hsic_from_kernels(kx, kx)
    )
    assert float(nx) == pytest.approx(float(expected), rel=1e-10)
    assert 0 < float(nx) < 1
    _, self_x, _ = hsic.bottleneck_objective(
        x, hsic.side(kx, "cka"), hsic.side(ky, "cka"), 1.0, 1.0, "cka"
    )
    assert float(self_x) == pytest.approx(1.0, rel=1e-9)
    # cca: tr(R_Z R_X) with R = K̃ (K̃ + εmI)⁻¹, against explicit inverses
    eps = 1e-3
    _, cx, cy = hsic.bottleneck_objective(
        z, hsic.side(kx, "cca", eps), hsic.side(ky, "cca", eps), 1.0, 1.0, "cca", eps
    )
    h = np.eye(30) - np.ones((30, 30)) / 30

    def r(k):
        kc = h @ k.numpy() @ h
        return kc @ np.linalg.inv(kc + eps * 30 * np.eye(30))

    assert float(cx) == pytest.approx(float(np.trace(r(kz) @ r(kx))), rel=1e-8)
    # the label space has rank 2 after centring (3 classes): tr(R_Z R_Y) < 2
    assert 0 < float(cy) < 2
    with pytest.raises(ValueError):
        hsic.side(kx, "mutual-information")


def test_a_layers_objective_reaches_only_that_layers_parameters():
    torch.manual_seed(0)
    layers = nn.ModuleList(
        nn.Sequential(nn.Linear(a, b), nn.BatchNorm1d(b, affine=False), nn.ReLU())
        for a, b in ((6, 5), (5, 5), (5, 4))
    )
    x = torch.randn(16, 6)
    y = torch.randint(0, 3, (16,))
    kx = hsic.side(hsic.gaussian_kernel(x, 1.0), "cca")
    ky = hsic.side(hsic.gaussian_kernel(hsic.one_hot(y, 3), 0.5), "cca")
    outputs = hsic.layerwise_outputs(layers, x)
    objective, _, _ = hsic.bottleneck_objective(outputs[1], kx, ky, 1.0, 2.0, "cca")
    objective.backward()
    assert all(p.grad is None for p in layers[0].parameters())  # nothing flows backwards
    assert all(p.grad is None for p in layers[2].parameters())
    assert all(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in layers[1].parameters())
    # and the forward pass is the ordinary one
    with torch.no_grad():
        assert torch.allclose(outputs[-1], layers[2](layers[1](layers[0](x))))


def test_the_permutation_read_out_on_a_hand_made_example():
    # 3 classes, 4 units: class 0 fires unit 2, class 1 unit 0, class 2 also unit 2 most, then 3
    mean = torch.tensor([[0.1, 0.0, 0.9, 0.2], [0.8, 0.1, 0.3, 0.0], [0.0, 0.1, 0.7, 0.6]])
    assert hsic.assign_units(mean) == [2, 0, 3]  # class 2's unit 2 is taken: its next best
    z = torch.tensor(
        [
            [0.0, 0.0, 1.0, 0.5],  # unit 2 → class 0 (correct)
            [0.9, 0.0, 0.2, 0.1],  # unit 0 → class 1 (correct)
            [0.1, 0.0, 0.2, 0.8],  # unit 3 → class 2 (correct)
            [0.0, 0.9, 0.3, 0.1],  # unit 1 is nobody's: the best assigned unit, 2 → class 0 (wrong)
        ]
    )
    y = torch.tensor([0, 1, 2, 2])
    assert hsic.permutation_accuracy(z, y, [2, 0, 3]) == pytest.approx(0.75)
    responses = hsic.mean_responses(z, y, 3)
    torch.testing.assert_close(responses[2], (z[2] + z[3]) / 2)


def test_the_labs_quick_run_passes_its_quick_targets(tmp_path):
    from practicum.launch import run_lab

    summary, folder = run_lab("hsic-bottleneck", quick=True, out=tmp_path / "run", quiet=True)
    assert summary["passed"], summary["targets"]
    assert (folder / "plots" / "test_accuracy.png").exists()
    assert (folder / "plots" / "hsic_per_layer.png").exists()
