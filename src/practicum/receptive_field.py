"""Receptive fields of convolutional networks: the closed form, a walk over modules, and the
receptive field measured from gradients.

Closed form (Araujo, Norris & Sim 2019, "Computing receptive fields of convolutional neural
networks", Distill): for a chain of layers l = 1..L with kernel k_l, stride s_l, padding p_l and
dilation d_l (effective kernel d_l (k_l - 1) + 1), an output unit u of layer L sees the input
pixels u S - P, ..., u S - P + r - 1, with

    r = Σ_l (k_l - 1) Π_{i<l} s_i + 1,    S = Π_l s_l,    P = Σ_l p_l Π_{i<l} s_i.

:class:`Field` holds (r, S, P) and composes: a layer after a field, a field after a field, and the
union of parallel branches that meet in a sum (a residual block), which spans from the
branch that starts first to the branch that ends last. The span may have holes (a dilated
kernel, or a kernel smaller than the stride before it): r is the span, as in the paper.

:func:`walk` gives the field of every layer of a module (Sequential and ModuleList chains of
convolutions, pools and pointwise layers, and practicum's own blocks); :func:`measure` finds
the same numbers from the input pixels that have a non-zero gradient of one output unit.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from practicum.errors import PracticumError
from practicum.nn.conv import Classifier, ConvStage, GroupNorm, PatchWhitening, ResidualBlock
from practicum.nn.conv import Conv2d as PracticumConv2d
from practicum.nn.film import CNNMLP, FiLM, FiLMBlock, FiLMNet, PooledHead, Stem
from practicum.nn.generative import ConvEncoder


@dataclass(frozen=True)
class Field:
    """Output unit u sees input pixels [u·stride − padding, u·stride − padding + size − 1]."""

    size: int = 1
    stride: int = 1
    padding: int = 0

    def then(self, layer: Field) -> Field:
        """This field followed by ``layer`` (whose numbers are relative to this field's output):
        the paper's recurrences r += (k − 1) S, P += p S, S *= s."""
        return Field(
            self.size + (layer.size - 1) * self.stride,
            self.stride * layer.stride,
            self.padding + layer.padding * self.stride,
        )

    def union(self, other: Field) -> Field:
        """Two branches from one input added together: the span of both intervals."""
        if self.stride != other.stride:
            raise PracticumError(
                f"branches with strides {self.stride} and {other.stride} cannot be added"
            )
        padding = max(self.padding, other.padding)
        end = max(self.size - 1 - self.padding, other.size - 1 - other.padding)
        return Field(end + padding + 1, self.stride, padding)


def layer(kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> Field:
    """One layer's own field: its effective kernel d (k − 1) + 1, stride and padding."""
    if min(kernel, stride, dilation) < 1 or padding < 0:
        raise PracticumError(f"bad layer: kernel {kernel}, stride {stride}, padding {padding}")
    return Field(dilation * (kernel - 1) + 1, stride, padding)


def chain(layers: Sequence[Field]) -> list[Field]:
    """The field of each layer's output relative to the chain's input (prefix compositions)."""
    out, field = [], Field()
    for one in layers:
        field = field.then(one)
        out.append(field)
    return out


def closed_form(layers: Sequence[tuple[int, int, int, int]]) -> Field:
    """Araujo et al.'s sums written out, for (kernel, stride, padding, dilation) layers: a
    second route to the same numbers as :func:`chain` (the tests compare them)."""
    size, padding, jump = 1, 0, 1
    for k, s, p, d in layers:
        size += (d * (k - 1) + 1 - 1) * jump
        padding += p * jump
        jump *= s
    return Field(size, jump, padding)


# ---- walking modules ---------------------------------------------------------------------------
Probe = tuple[str, nn.Module, Field]  # a layer's name, the module whose output it is, its field

POINTWISE = (
    nn.ReLU, nn.LeakyReLU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.Identity, nn.Dropout,
    nn.Dropout2d, nn.BatchNorm2d, nn.GroupNorm, GroupNorm, FiLM,
)  # fmt: skip
# Where the spatial layout ends: nothing after these has a receptive field of its own.
SPATIAL_END = (nn.Flatten, nn.Linear, nn.BatchNorm1d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)


def _square(value: Any, what: str, module: nn.Module) -> int:
    if isinstance(value, str):
        raise PracticumError(f"{type(module).__name__}: padding={value!r} is not supported")
    if isinstance(value, tuple | list):
        if len(set(value)) != 1:
            raise PracticumError(f"{type(module).__name__}: {what} {value} is not square")
        value = value[0]
    return int(value)


def module_layer(module: nn.Module) -> Field | None:
    """The field of a single convolution or pool; None for a pointwise layer."""
    if isinstance(module, nn.Conv2d | nn.MaxPool2d | nn.AvgPool2d):
        if getattr(module, "ceil_mode", False):
            raise PracticumError(f"{type(module).__name__} with ceil_mode is not supported")
        k = _square(module.kernel_size, "kernel", module)
        stride = module.stride if module.stride is not None else k
        return layer(
            k,
            _square(stride, "stride", module),
            _square(module.padding, "padding", module),
            _square(getattr(module, "dilation", 1), "dilation", module),
        )
    if isinstance(module, PracticumConv2d):
        return layer(module.kernel_size, module.stride, module.padding)
    if isinstance(module, PatchWhitening):
        return layer(module.patch_size)
    if isinstance(module, POINTWISE):
        return None
    raise PracticumError(f"no receptive-field rule for {type(module).__name__}")


def walk(module: nn.Module, name: str = "", start: Field | None = None) -> list[Probe]:
    """The field of every layer of ``module``, in forward order, relative to its input.

    Sequential and ModuleList are chains. A residual block is the union of its branches
    (:meth:`Field.union`): for a branch-and-sum the output unit sees what either branch sees,
    i.e. the max over the paths of how far they reach on each side. practicum's blocks whose
    forward pools with ``F.max_pool2d`` are probed at the block's output, which includes it.
    The walk ends at the first layer that ends the spatial layout (Flatten, Linear, adaptive
    or global pooling).
    """
    return _walk(module, name, start or Field(), [])


def _walk(module: nn.Module, name: str, field: Field, probes: list[Probe]) -> list[Probe]:
    def at(suffix: str) -> str:
        return f"{name}.{suffix}" if name else suffix

    def last(default: Field) -> Field:
        return probes[-1][2] if probes else default

    if isinstance(module, nn.Sequential | nn.ModuleList):
        for child_name, child in module.named_children():
            if isinstance(child, SPATIAL_END):
                break
            before = len(probes)
            _walk(child, at(child_name), field, probes)
            field = probes[-1][2] if len(probes) > before else field
    elif isinstance(module, ConvEncoder):
        _walk(module.net, at("net"), field, probes)
    elif isinstance(module, Stem):
        _walk(module.layers, at("layers"), field, probes)
    elif isinstance(module, ResidualBlock):
        _walk(module.conv1, at("conv1"), field, probes)
        _walk(module.conv2, at("conv2"), probes[-1][2], probes)
        main = probes[-1][2]
        skip = field if module.shortcut is None else field.then(module_layer(module.shortcut))
        probes.append((name, module, main.union(skip)))
    elif isinstance(module, FiLMBlock):
        _walk(module.conv1, at("conv1"), field, probes)
        h = probes[-1][2]
        _walk(module.conv2, at("conv2"), h, probes)
        probes.append((name, module, probes[-1][2].union(h)))  # relu(FiLM(conv2(h))) + h
    elif isinstance(module, ConvStage):
        _walk(module.conv, at("conv"), field, probes)
        field = probes[-1][2]
        if module.pool_first:
            field = field.then(layer(2, 2))
        for i, block in enumerate(module.blocks):
            _walk(block, at(f"blocks.{i}"), field, probes)
            field = probes[-1][2]
        if module.pool and not module.pool_first:
            field = field.then(layer(2, 2))
        if module.pool:  # the functional pool has no module of its own: probe the stage
            probes.append((name, module, field))
    elif isinstance(module, Classifier):
        _walk(module.stages, at("stages"), field, probes)
    elif isinstance(module, FiLMNet | CNNMLP):
        _walk(module.stem, at("stem"), field, probes)
        _walk(module.blocks, at("blocks"), last(field), probes)
        _walk(module.head.conv, at("head.conv"), last(field), probes)
    elif isinstance(module, PooledHead):
        _walk(module.conv, at("conv"), field, probes)
    else:
        own = module_layer(module)
        if own is not None:
            probes.append((name, module, field.then(own)))
    return probes


# ---- measuring by gradients --------------------------------------------------------------------
@dataclass(frozen=True)
class Measured:
    """What the gradients show for one layer: the span of input pixels the centre unit sees,
    the step between two neighbouring units' spans, the padding (centre·stride − first pixel),
    the last pixel the corner unit (0, 0) sees (−1: none), and whether any span touched the
    border of the input (then the numbers are clipped and not to be trusted)."""

    size: int
    stride: int
    padding: int
    corner_end: int
    clipped: bool

    def matches(self, field: Field) -> bool:
        """Whether these are the closed form's numbers. The corner unit is not compared: every
        layer's zero padding cuts what it sees (a 1×1 convolution with padding 1 makes the
        corner unit a padding pixel that sees nothing), so its view is not a function of the
        composed (r, S, P) alone."""
        return not self.clipped and (self.size, self.stride, self.padding) == (
            field.size,
            field.stride,
            field.padding,
        )


class _Stop(Exception):
    """Raised by the last probe's hook: the rest of the forward pass is not needed."""


_IDENTITIES = {"relu", "relu_", "leaky_relu", "leaky_relu_", "gelu", "silu", "tanh", "sigmoid"}
_IDENTITIES |= {"batch_norm", "group_norm", "dropout", "dropout2d", "feature_dropout"}


class _ImpulseMode(TorchFunctionMode):
    """Runs a network as the linear map with positive weights that has its wiring.

    An exact support needs every path from an input pixel to the unit to add with the same
    sign and none to be cut: a ReLU that happens to be off, a max-pool's losing inputs, and
    weights of both signs that cancel would each remove pixels the unit is wired to. So
    activations (and normalisations: per-pixel affine maps, whose scales could be negative)
    become the identity, a max-pool becomes the average pool over the same window, and every
    convolution uses the weight 1 / fan_in, all positive. Every output channel of such a
    convolution is the same map: the mean over the input channels convolved with a kernel of
    1 / k², so one channel of it stands for all (the layers after it are per-pixel, means over
    channels, sums and concatenations, which broadcast), and wide networks measure in a moment. With 1 / fan_in the
    values stay near 1 through any depth and float64 keeps the smallest gradients, about 9^-L
    for L 3×3 layers at the field's corner, far from underflow.
    """

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name in _IDENTITIES:
            return args[0] if args else kwargs["input"]
        if name in ("max_pool2d", "max_pool2d_with_indices"):
            return self._pool(*args, **kwargs)
        if name == "conv2d":
            return self._conv(*args, **kwargs)
        return func(*args, **kwargs)

    @staticmethod
    def _pool(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, **_):
        if dilation not in (1, (1, 1)):
            raise PracticumError("a dilated max-pool cannot be measured")
        return F.avg_pool2d(x, kernel_size, stride or kernel_size, padding, ceil_mode)

    @staticmethod
    def _conv(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        if groups != 1:
            raise PracticumError("grouped convolutions cannot be measured")
        k = weight.shape[-2:]
        ones = torch.full((1, 1, *k), 1.0 / (k[0] * k[1]), dtype=x.dtype, device=x.device)
        return F.conv2d(x.mean(1, keepdim=True), ones, None, stride, padding, dilation)


class _Unmodulated(nn.Module):
    """FiLM without its modulation: ``forward(x, gamma, beta) = x``."""

    def forward(self, x: torch.Tensor, *_: Any) -> torch.Tensor:
        return x


def _measurable_copy(model: nn.Module, device: str | torch.device) -> nn.Module:
    """A float64 copy in eval mode with zero padding (circular padding would wrap the corner
    unit's field onto the far side of the image) and GroupNorm, which mixes all pixels of an
    image through its statistics, removed (normalisation counts as pointwise, as in the paper).
    """
    model = copy.deepcopy(model).to(device, torch.float64).eval()
    for module in list(model.modules()):
        if isinstance(module, nn.Conv2d):
            module.padding_mode = "zeros"
        for child_name, child in list(module.named_children()):
            if isinstance(child, GroupNorm | nn.GroupNorm):
                setattr(module, child_name, nn.Identity())
            elif isinstance(child, FiLM):  # γ of either sign: a sum over channels could cancel
                setattr(module, child_name, _Unmodulated())
    return model


def measure(
    model: nn.Module,
    probes: Sequence[Probe],
    side: int,
    channels: int,
    forward: Callable[[nn.Module, torch.Tensor], Any] | None = None,
    device: str | torch.device = "cpu",
) -> list[Measured]:
    """The receptive field of every probe measured by an impulse: on one ``side``² image of
    ``channels`` channels, backpropagate a one-hot at the centre unit of channel 0, at its right
    neighbour and at the corner unit, and read the rows with non-zero gradient.

    ``forward(model, x)`` runs the copy (default ``model(x)``); probes are looked up in the copy
    by their names, so ``probes`` may come from :func:`walk` of ``model``. The copy runs on
    ``device``.
    """
    copy_ = _measurable_copy(model, device)
    modules = dict(copy_.named_modules())
    outputs: dict[str, torch.Tensor] = {}
    names = [name for name, _, _ in probes]

    def hook(name: str):
        def save(_module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
            outputs[name] = output
            if len(outputs) == len(set(names)):
                raise _Stop

        return save

    handles = [modules[name].register_forward_hook(hook(name)) for name in dict.fromkeys(names)]
    x = torch.ones(3, channels, side, side, dtype=torch.float64, device=device)
    x.requires_grad_(True)
    try:
        with _ImpulseMode():
            (forward or (lambda m, t: m(t)))(copy_, x)
    except _Stop:
        pass
    finally:
        for handle in handles:
            handle.remove()
    return [_measure_one(outputs[name], x) for name in names]


def _rows(grad: torch.Tensor) -> torch.Tensor:
    return torch.nonzero(grad.abs().sum(dim=(0, 2)) > 0).flatten()


def _measure_one(y: torch.Tensor, x: torch.Tensor) -> Measured:
    """Image 0 carries the centre unit's impulse, image 1 its neighbour's, image 2 the
    corner's: one backward pass for all three (the images do not mix)."""
    h, w = y.shape[-2:]
    centre = min(h // 2, h - 2, w - 2)
    units = (centre, centre + 1, 0)
    impulse = sum(y[b, 0, i, i] for b, i in enumerate(units) if i < min(h, w))
    (grad,) = torch.autograd.grad(impulse, x, retain_graph=True)
    here, right, corner = (_rows(grad[b]) for b in range(3))
    side = x.shape[-1]
    if centre < 0 or len(here) == 0 or len(right) == 0:
        return Measured(0, 0, 0, -1, True)
    step = int(right[0] - here[0])
    return Measured(
        size=int(here[-1] - here[0] + 1),
        stride=step,
        padding=centre * step - int(here[0]),
        corner_end=int(corner[-1]) if len(corner) else -1,
        clipped=bool(here[0] == 0 or right[-1] == side - 1),
    )


def side_for(probes: Sequence[Probe]) -> int:
    """An input side on which every probe's centre unit and its neighbour see no border."""
    # The centre unit c of h ≈ (side + 2P − r) / S + 1 starts at c·S − P ≈ (side − r) / 2:
    # a margin of two strides plus the field's off-centre shift |P − (r − 1) / 2| on each side.
    return max(
        f.size + 4 * f.stride + 2 * abs(2 * f.padding - f.size + 1) + 4 for _, _, f in probes
    )
