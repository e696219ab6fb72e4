"""An autodiff MLP and its PyTorch twin: the same weights, batches and optimiser, step for step.

The check that a written-out optimiser is the optimiser it claims to be: copy an
:class:`practicum.autodiff.nn.MLP` into an equivalent ``torch.nn.Sequential``, give each engine
its own implementation of the same optimiser with the same hyperparameters (:data:`OPTIMIZERS`
pairs ours in :mod:`practicum.autodiff.optim` with ``torch.optim``'s), feed both the same
minibatches and compare every parameter after every step. In float64 the two compute the same
mathematics in nearly the same order, so the gap stays at rounding level (≈ 1e-15); a wrong
formula (ε in the wrong place, a missing bias correction, the momentum buffer started at zero
instead of at the first gradient) shows up as a gap of the size of a step, ≈ lr.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from practicum import autodiff as ad
from practicum.autodiff import optim
from practicum.autodiff.nn import MLP


@dataclass(frozen=True)
class OptimizerSpec:
    """One optimiser: its name, ours, torch's, with the same keyword arguments for both."""

    name: str
    label: str
    ours: Callable[..., optim.Optimizer]
    theirs: Callable[..., torch.optim.Optimizer]
    kwargs: dict[str, Any] = field(default_factory=dict)

    def make(self, params: Any, lr: float) -> optim.Optimizer:
        return self.ours(params, lr=lr, **self.kwargs)

    def make_torch(self, params: Any, lr: float) -> torch.optim.Optimizer:
        return self.theirs(params, lr=lr, **self.kwargs)


# torch's default hyperparameters except the rate, and the classical momentum 0.9.
OPTIMIZERS: dict[str, OptimizerSpec] = {
    spec.name: spec
    for spec in (
        OptimizerSpec("sgd", "SGD", optim.SGD, torch.optim.SGD),
        OptimizerSpec("momentum", "momentum 0.9", optim.SGD, torch.optim.SGD, {"momentum": 0.9}),
        OptimizerSpec(
            "nesterov",
            "Nesterov 0.9",
            optim.SGD,
            torch.optim.SGD,
            {"momentum": 0.9, "nesterov": True},
        ),
        OptimizerSpec("adagrad", "AdaGrad", optim.AdaGrad, torch.optim.Adagrad),
        OptimizerSpec("rmsprop", "RMSProp", optim.RMSProp, torch.optim.RMSprop),
        OptimizerSpec("adam", "Adam", optim.Adam, torch.optim.Adam),
        OptimizerSpec("adamw", "AdamW (λ 0.01)", optim.AdamW, torch.optim.AdamW),
    )
}


ACTIVATIONS: dict[str, type[torch.nn.Module]] = {
    "relu": torch.nn.ReLU,
    "tanh": torch.nn.Tanh,
    "sigmoid": torch.nn.Sigmoid,
}


def torch_twin(model: MLP, dtype: torch.dtype = torch.float64) -> torch.nn.Sequential:
    """A torch MLP with ``model``'s weights (torch stores W transposed: (out, in)) and its
    activation between the layers."""
    layers: list[torch.nn.Module] = []
    for i, layer in enumerate(model.layers):
        linear = torch.nn.Linear(layer.in_features, layer.out_features, dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(layer.weight.data.T.copy()))
            linear.bias.copy_(torch.from_numpy(layer.bias.data.copy()))
        layers.append(linear)
        if i < len(model.layers) - 1:
            layers.append(ACTIVATIONS[model.activation]())
    return torch.nn.Sequential(*layers)


def parameter_differences(model: MLP, twin: torch.nn.Sequential) -> tuple[float, float]:
    """(max |ours − torch|, max |torch|) over every weight and bias of the two networks."""
    gap, scale = 0.0, 0.0
    for layer, linear in zip(model.layers, twin[::2], strict=True):
        for ours, theirs in (
            (layer.weight.data, linear.weight.detach().cpu().numpy().T),
            (layer.bias.data, linear.bias.detach().cpu().numpy()),
        ):
            gap = max(gap, float(np.max(np.abs(ours.astype(np.float64) - theirs))))
            scale = max(scale, float(np.max(np.abs(theirs))))
    return gap, scale


def parameter_gap(model: MLP, twin: torch.nn.Sequential) -> float:
    """max |ours − torch| over every weight and bias, relative to max |torch| (so the number
    means the same for small and large weights)."""
    gap, scale = parameter_differences(model, twin)
    return gap / scale


@dataclass
class TwinResult:
    losses: np.ndarray  # ours, one per step
    twin_losses: np.ndarray  # torch's
    gaps: np.ndarray  # parameter_gap after each step
    state: dict[str, np.ndarray]  # our final parameters


def step_for_step(
    spec: OptimizerSpec,
    model: MLP,
    x: np.ndarray,
    y: np.ndarray,
    batches: Sequence[np.ndarray],
    lr: float,
    device: str | torch.device = "cpu",
) -> TwinResult:
    """Train ``model`` with our optimiser and its torch twin with torch's on the same
    ``batches`` (index arrays into x, y); the parameter gap after every step.

    ``model`` is trained in place; its dtype (float64 for the equality check) sets the twin's.
    """
    dtype = torch.float64 if model.layers[0].weight.data.dtype == np.float64 else torch.float32
    twin = torch_twin(model, dtype).to(device)
    ours = spec.make(model.parameters(), lr)
    theirs = spec.make_torch(twin.parameters(), lr)
    x = x.astype(model.layers[0].weight.data.dtype)
    losses, twin_losses, gaps = [], [], []
    for batch in batches:
        ours.zero_grad()
        loss = ad.cross_entropy(model(ad.Tensor(x[batch])), y[batch])
        loss.backward()
        ours.step()
        losses.append(loss.item())

        theirs.zero_grad()
        inputs = torch.from_numpy(x[batch]).to(device)
        twin_loss = torch.nn.functional.cross_entropy(
            twin(inputs), torch.from_numpy(y[batch]).to(device)
        )
        twin_loss.backward()
        theirs.step()
        twin_losses.append(twin_loss.item())
        gaps.append(parameter_gap(model, twin))
    return TwinResult(np.array(losses), np.array(twin_losses), np.array(gaps), model.state_dict())
