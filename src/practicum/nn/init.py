"""Weight initialisation by variance: He (Kaiming) and Xavier (Glorot), and the per-layer
variance of the responses a network computes at initialisation.

A layer computes y = W x + b from n = fan_in inputs (for a convolution, fan_in = in_channels ×
k_h × k_w, fan_out = out_channels × k_h × k_w). With independent zero-mean weights of variance
Var(w), Var(y) = fan_in · Var(w) · E[x²]. After a ReLU of a symmetric y, E[x²] = Var(y) / 2, so
one layer multiplies the response variance by fan_in · Var(w) / 2 (He, Zhang, Ren & Sun 2015,
"Delving Deep into Rectifiers", Sec. 2.2). Hence:

* **He**: Var(w) = gain² / fan_in with gain = √(2 / (1 + a²)) for a leaky ReLU/PReLU of slope a
  (√2 for the ReLU, a = 0): the variance stays the same through any depth (Eq. 10). The
  ``fan_out`` mode, gain² / fan_out, keeps the variance of the *gradients* constant instead
  (Eq. 14); for equal fan-in and fan-out the two agree.
* **Xavier** (Glorot & Bengio 2010, Eq. 16): Var(w) = 2 / (fan_in + fan_out), derived for a
  linear (or tanh near 0) network. ``variant="fan_in"`` is Var(w) = 1 / fan_in, the form He et
  al. compare against in Sec. 2.2 and Fig. 3 ("n_l Var[w_l] = 1", Caffe's ``xavier`` filler);
  for equal fan-in and fan-out the two agree, and through ReLUs either halves the variance at
  every layer: the std after L layers is 1/√2^L of He's.

Every initialiser draws from a ``torch.Generator`` (on the CPU, whatever the device of the
weight), so the same seed gives the same weights on every device.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from practicum.nn.basic import Linear
from practicum.nn.conv import Conv2d

FanMode = Literal["fan_in", "fan_out"]
XavierVariant = Literal["average", "fan_in"]
Distribution = Literal["normal", "uniform"]

# The layers whose weights these initialisers set: weight (out, in, *kernel), bias (out,).
WEIGHTED_LAYERS: tuple[type[nn.Module], ...] = (
    nn.Linear,
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    Linear,
    Conv2d,
)


def fans(weight: torch.Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel): in × kernel, out × kernel."""
    if weight.ndim < 2:
        raise ValueError(
            f"fans need a weight with at least 2 dimensions, got {tuple(weight.shape)}"
        )
    receptive = math.prod(weight.shape[2:])
    return int(weight.shape[1]) * receptive, int(weight.shape[0]) * receptive


def relu_gain(negative_slope: float = 0.0) -> float:
    """√(2 / (1 + a²)): the gain that keeps the variance through a (leaky) ReLU of slope a."""
    return math.sqrt(2.0 / (1.0 + negative_slope**2))


def he_std(weight: torch.Tensor, mode: FanMode = "fan_in", negative_slope: float = 0.0) -> float:
    """He et al.'s standard deviation, gain / √fan for the ``mode``'s fan."""
    fan_in, fan_out = fans(weight)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    return relu_gain(negative_slope) / math.sqrt(fan_in if mode == "fan_in" else fan_out)


def xavier_std(weight: torch.Tensor, variant: XavierVariant = "average") -> float:
    """√(2 / (fan_in + fan_out)) (Glorot & Bengio), or √(1 / fan_in) (``variant="fan_in"``,
    the "Xavier" of He et al.'s Fig. 3)."""
    fan_in, fan_out = fans(weight)
    if variant == "average":
        return math.sqrt(2.0 / (fan_in + fan_out))
    if variant == "fan_in":
        return math.sqrt(1.0 / fan_in)
    raise ValueError(f"variant must be 'average' or 'fan_in', got {variant!r}")


def fill_(
    weight: torch.Tensor,
    std: float,
    generator: torch.Generator,
    distribution: Distribution = "normal",
) -> torch.Tensor:
    """Fill ``weight`` in place with zero-mean values of standard deviation ``std``: Gaussian,
    or uniform on [−√3·std, √3·std] (the same variance). Drawn on the CPU from ``generator``."""
    if distribution == "normal":
        values = torch.randn(weight.shape, generator=generator, dtype=torch.float64) * std
    elif distribution == "uniform":
        bound = math.sqrt(3.0) * std
        values = (
            torch.rand(weight.shape, generator=generator, dtype=torch.float64) * 2 - 1
        ) * bound
    else:
        raise ValueError(f"distribution must be 'normal' or 'uniform', got {distribution!r}")
    with torch.no_grad():
        weight.copy_(values.to(dtype=weight.dtype, device=weight.device))
    return weight


def he_(
    weight: torch.Tensor,
    generator: torch.Generator,
    mode: FanMode = "fan_in",
    negative_slope: float = 0.0,
    distribution: Distribution = "normal",
) -> torch.Tensor:
    """He initialisation in place: Var(w) = 2 / ((1 + a²) · fan)."""
    return fill_(weight, he_std(weight, mode, negative_slope), generator, distribution)


def xavier_(
    weight: torch.Tensor,
    generator: torch.Generator,
    variant: XavierVariant = "average",
    distribution: Distribution = "normal",
) -> torch.Tensor:
    """Xavier initialisation in place: Var(w) = 2 / (fan_in + fan_out), or 1 / fan_in."""
    return fill_(weight, xavier_std(weight, variant), generator, distribution)


def weighted_layers(model: nn.Module) -> list[nn.Module]:
    """The linear and convolutional layers of ``model``, in the order ``modules()`` gives."""
    return [m for m in model.modules() if isinstance(m, WEIGHTED_LAYERS)]


def initialise_(
    model: nn.Module,
    scheme: Literal["he", "xavier"],
    generator: torch.Generator,
    *,
    mode: FanMode = "fan_in",
    negative_slope: float = 0.0,
    variant: XavierVariant = "average",
    distribution: Distribution = "normal",
) -> nn.Module:
    """Initialise every linear and convolutional layer of ``model`` with one scheme, layer by
    layer in module order, biases zero (as both papers do). Returns ``model``."""
    for layer in weighted_layers(model):
        if scheme == "he":
            he_(layer.weight, generator, mode, negative_slope, distribution)
        elif scheme == "xavier":
            xavier_(layer.weight, generator, variant, distribution)
        else:
            raise ValueError(f"scheme must be 'he' or 'xavier', got {scheme!r}")
        if layer.bias is not None:
            with torch.no_grad():
                layer.bias.zero_()
    return model


def activation_variances(
    model: nn.Module, x: torch.Tensor, layers: Sequence[nn.Module] | None = None
) -> list[float]:
    """The variance of every layer's output (over all its elements: batch, channels and
    positions) in one forward pass of ``x``, recorded by forward hooks that are removed again.

    ``layers`` defaults to the model's linear and convolutional layers, whose outputs are the
    responses y_l of He et al.'s derivation (before the nonlinearity). Runs without gradients
    and leaves the model and its output unchanged.
    """
    chosen = weighted_layers(model) if layers is None else list(layers)
    variances: dict[int, float] = {}

    def hook_for(index: int):
        def hook(module: nn.Module, inputs: object, output: torch.Tensor) -> None:
            variances[index] = float(output.detach().double().var(correction=0))

        return hook

    handles = [layer.register_forward_hook(hook_for(i)) for i, layer in enumerate(chosen)]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    missing = [i for i in range(len(chosen)) if i not in variances]
    if missing:
        raise ValueError(f"layers {missing} did not run in the forward pass")
    return [variances[i] for i in range(len(chosen))]
