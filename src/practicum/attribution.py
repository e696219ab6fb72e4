"""Attribution maps: which input pixels a classifier's score for one class depends on.

Every method takes a model in eval mode (no batch statistics, no dropout: the score of one
image must not depend on the others in its batch, so that one backward pass over a batch's
summed scores gives every image its own gradient), images ``x`` of shape (N, C, H, W) and
the class ``target`` (N,) whose logit is explained. Each returns a map of the input's shape
(Grad-CAM: of the chosen layer's spatial shape), one per image.

* :func:`saliency` — |∂f/∂x| (Simonyan, Vedaldi & Zisserman 2014).
* :func:`smoothgrad` — the gradient averaged over noisy copies of the input (Smilkov et al.
  2017): the noise is drawn as ``randn(N·samples, C, H, W)``, image-major, from a given
  generator, so a seed reproduces it.
* :func:`integrated_gradients` — (x − x′) ⊙ ∫₀¹ ∇f(x′ + α(x − x′)) dα (Sundararajan, Taly &
  Yan 2017), by Gauss–Legendre quadrature or the trapezoid rule; its attributions sum to
  f(x) − f(x′) (completeness) up to the quadrature's error, which
  :func:`completeness_error` measures.
* :func:`grad_cam` — ReLU(Σ_k α_k A_k) with α_k the spatial mean of ∂f/∂A_k over a layer's
  output A (Selvaraju et al. 2017).
* :func:`occlusion` — the mean drop of the score over every window that hides a pixel (Zeiler
  & Fergus 2014).

And the two ways of judging a map: :func:`deletion_curve` (Petsiuk, Das & Saenko 2018: hide
pixels in the map's order, the class probability should fall fast) and
:func:`rank_correlation` (Adebayo et al. 2018's sanity check: a map that barely changes
when the weights are randomised explains the input, not the model).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import rankdata
from torch import nn

from practicum.errors import PracticumError

Model = Callable[[torch.Tensor], torch.Tensor]  # images (N, C, H, W) -> logits (N, K)


def target_score(model: Model, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The logit of each image's target class, (N,)."""
    return model(x).gather(1, target.view(-1, 1)).squeeze(1)


def input_gradient(model: Model, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """∂f_target/∂x for every image (the model must not mix images: eval mode)."""
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(target_score(model, x, target).sum(), x)
    return grad


def saliency(model: Model, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The gradient's magnitude, per channel."""
    return input_gradient(model, x, target).abs()


def smoothgrad(
    model: Model,
    x: torch.Tensor,
    target: torch.Tensor,
    samples: int,
    sigma: float,
    generator: torch.Generator,
) -> torch.Tensor:
    """The signed gradient averaged over ``samples`` copies of each image with Gaussian noise
    of standard deviation ``sigma`` added (in the input's units). Noise of shape (N·samples,
    C, H, W) from the CPU ``generator``, the copies of image 0 first."""
    if samples < 1 or sigma < 0:
        raise PracticumError(
            f"smoothgrad needs samples >= 1 and sigma >= 0, got {samples}, {sigma}"
        )
    shape = (len(x) * samples, *x.shape[1:])
    noise = (torch.randn(shape, generator=generator) * sigma).to(x.device, x.dtype)
    noisy = x.detach().repeat_interleave(samples, dim=0) + noise
    grads = input_gradient(model, noisy, target.repeat_interleave(samples))
    return grads.view(len(x), samples, *x.shape[1:]).mean(dim=1)


def quadrature(steps: int, method: str = "gausslegendre") -> tuple[np.ndarray, np.ndarray]:
    """Nodes α in [0, 1] and weights (summing to 1) for ∫₀¹ g(α) dα ≈ Σ w_k g(α_k)."""
    if steps < 2:
        raise PracticumError(f"integrated gradients needs at least 2 steps, got {steps}")
    if method == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(steps)
        return 0.5 * (nodes + 1.0), 0.5 * weights
    if method == "trapezoid":
        weights = np.full(steps, 1.0 / (steps - 1))
        weights[[0, -1]] *= 0.5
        return np.linspace(0.0, 1.0, steps), weights
    raise PracticumError(f"unknown quadrature {method!r}: choose gausslegendre or trapezoid")


def integrated_gradients(
    model: Model,
    x: torch.Tensor,
    target: torch.Tensor,
    baseline: torch.Tensor | float = 0.0,
    steps: int = 64,
    method: str = "gausslegendre",
    chunk: int = 16,
) -> torch.Tensor:
    """(x − x′) ⊙ Σ_k w_k ∇f(x′ + α_k (x − x′)); ``chunk`` quadrature nodes per backward
    pass (memory: chunk · N images)."""
    alphas, weights = quadrature(steps, method)
    x = x.detach()
    baseline = torch.as_tensor(baseline, dtype=x.dtype, device=x.device).expand_as(x)
    delta = x - baseline
    total = torch.zeros_like(x)
    for start in range(0, steps, chunk):
        a = torch.as_tensor(alphas[start : start + chunk], dtype=x.dtype, device=x.device)
        w = torch.as_tensor(weights[start : start + chunk], dtype=x.dtype, device=x.device)
        view = (-1,) + (1,) * x.ndim
        points = (baseline.unsqueeze(0) + a.view(view) * delta.unsqueeze(0)).flatten(0, 1)
        grads = input_gradient(model, points, target.repeat(len(a)))
        total += (grads.view(len(a), *x.shape) * w.view(view)).sum(dim=0)
    return delta * total


@torch.no_grad()
def completeness_error(
    model: Model,
    x: torch.Tensor,
    target: torch.Tensor,
    attributions: torch.Tensor,
    baseline: torch.Tensor | float = 0.0,
) -> torch.Tensor:
    """|Σ attributions − (f(x) − f(x′))| / |f(x) − f(x′)| per image: integrated gradients'
    completeness axiom, violated only by the quadrature's error."""
    baseline = torch.as_tensor(baseline, dtype=x.dtype, device=x.device).expand_as(x)
    gap = target_score(model, x, target) - target_score(model, baseline, target)
    return (attributions.flatten(1).sum(1) - gap).abs() / gap.abs()


def grad_cam(model: Model, layer: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """ReLU(Σ_k α_k A_k), (N, 1, h, w), with A the output of ``layer`` (N, K, h, w) and α_k
    the spatial mean of ∂f/∂A_k."""
    captured: list[torch.Tensor] = []
    hook = layer.register_forward_hook(lambda _m, _i, out: captured.append(out))
    try:
        # the input asks for gradients so that the layer's output has a graph even when the
        # parameters are frozen
        score = target_score(model, x.detach().requires_grad_(True), target)
    finally:
        hook.remove()
    if len(captured) != 1:
        raise PracticumError(f"grad_cam: the layer ran {len(captured)} times in one forward")
    (activation,) = captured
    (grad,) = torch.autograd.grad(score.sum(), activation)
    alpha = grad.mean(dim=tuple(range(2, grad.ndim)), keepdim=True)
    return F.relu((alpha * activation).sum(dim=1, keepdim=True)).detach()


def upsample(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Coarse maps (N, 1, h, w) to the input's (H, W), bilinearly (a Grad-CAM map covers the
    whole image, not blocks of it)."""
    return F.interpolate(maps, size=size, mode="bilinear", align_corners=False)


@torch.no_grad()
def occlusion(
    model: Model,
    x: torch.Tensor,
    target: torch.Tensor,
    window: int,
    stride: int,
    baseline: torch.Tensor | float = 0.0,
) -> torch.Tensor:
    """For every pixel, the mean over the ``window``×``window`` patches (all channels) that
    cover it of f(x) − f(x with the patch set to ``baseline``, a number or a tensor that
    broadcasts to ``x``); patches every ``stride`` pixels, which must tile the image exactly."""
    height, width = x.shape[-2:]
    if window > min(height, width) or (height - window) % stride or (width - window) % stride:
        raise PracticumError(
            f"occlusion: windows of {window} every {stride} pixels do not tile {height}x{width}"
        )
    baseline = torch.as_tensor(baseline, dtype=x.dtype, device=x.device).expand_as(x)
    score = target_score(model, x, target)
    total = torch.zeros_like(x)
    count = torch.zeros_like(x[:1])
    for i in range(0, height - window + 1, stride):
        for j in range(0, width - window + 1, stride):
            hidden = x.clone()
            hidden[..., i : i + window, j : j + window] = baseline[
                ..., i : i + window, j : j + window
            ]
            drop = score - target_score(model, hidden, target)
            total[..., i : i + window, j : j + window] += drop.view(-1, 1, 1, 1)
            count[..., i : i + window, j : j + window] += 1
    return total / count


def pixel_scores(attributions: torch.Tensor) -> torch.Tensor:
    """One score per pixel, (N, H·W): the sum over channels (a map of the input's shape, or a
    one-channel map)."""
    return attributions.sum(dim=1).flatten(1)


@torch.no_grad()
def deletion_curve(
    model: Model,
    x: torch.Tensor,
    target: torch.Tensor,
    scores: torch.Tensor,
    steps: int,
    baseline: torch.Tensor | float = 0.0,
) -> torch.Tensor:
    """The target class's probability, (N, steps + 1), as the pixels are set to ``baseline``
    (all channels; a number or a tensor that broadcasts to ``x``) in decreasing order of
    ``scores`` (N, H·W), ``steps`` equal parts at a time (ties in the order of pixel index):
    column 0 is the intact image, the last the blank one."""
    n, pixels = scores.shape
    blank = torch.as_tensor(baseline, dtype=x.dtype, device=x.device).expand_as(x)
    rank = torch.empty_like(scores, dtype=torch.long)
    order = torch.argsort(scores, dim=1, descending=True, stable=True)
    rank.scatter_(1, order, torch.arange(pixels, device=scores.device).expand(n, -1))
    rank = rank.view(n, 1, *x.shape[-2:])  # each pixel's place in the order
    probs = []
    for k in range(steps + 1):
        hidden = torch.where(rank < round(k * pixels / steps), blank, x)
        probs.append(F.softmax(model(hidden), dim=1).gather(1, target.view(-1, 1)).squeeze(1))
    return torch.stack(probs, dim=1)


def area_under(curve: torch.Tensor) -> torch.Tensor:
    """The trapezoid area under curves sampled evenly on [0, 1], per row."""
    return torch.trapezoid(curve, dx=1.0 / (curve.shape[-1] - 1), dim=-1)


def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """Spearman's ρ between the rows of ``a`` and ``b`` (N, ...): the Pearson correlation of
    their ranks, ties given their mean rank; 0 where a row is constant."""
    ra = rankdata(a.flatten(1).double().cpu().numpy(), axis=1)
    rb = rankdata(b.flatten(1).double().cpu().numpy(), axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    norm = np.sqrt((ra**2).sum(axis=1) * (rb**2).sum(axis=1))
    return np.divide((ra * rb).sum(axis=1), norm, out=np.zeros(len(ra)), where=norm > 0)
