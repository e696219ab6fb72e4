"""Linear maps, Gaussian basis functions and the multilayer perceptron."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
from torch import nn

Activation = Callable[[torch.Tensor], torch.Tensor]


def identity(x: torch.Tensor) -> torch.Tensor:
    return x


class Linear(nn.Module):
    """y = x Wᵀ + b with W of shape (num_outputs, num_inputs).

    Initialisation: W ~ N(0, 1/num_inputs) ("LeCun normal"), so that for inputs of unit
    variance each output starts with unit variance too; b = 0. Networks with ReLU
    activations may prefer He's variance 2/num_inputs: call ``reset_parameters(gain=2)``.
    """

    def __init__(self, num_inputs: int, num_outputs: int, bias: bool = True) -> None:
        super().__init__()
        if num_inputs < 1 or num_outputs < 1:
            raise ValueError(f"Linear needs positive sizes, got {num_inputs}->{num_outputs}")
        self.num_inputs = num_inputs
        self.num_outputs = num_outputs
        self.weight = nn.Parameter(torch.empty(num_outputs, num_inputs))
        self.bias = nn.Parameter(torch.empty(num_outputs)) if bias else None
        self.reset_parameters()

    def reset_parameters(self, gain: float = 1.0) -> None:
        with torch.no_grad():
            self.weight.normal_(0.0, math.sqrt(gain / self.num_inputs))
            if self.bias is not None:
                self.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.num_inputs:
            raise ValueError(
                f"Linear expects inputs with {self.num_inputs} features, got shape {tuple(x.shape)}"
            )
        y = x @ self.weight.T
        return y + self.bias if self.bias is not None else y

    def extra_repr(self) -> str:
        return f"{self.num_inputs} -> {self.num_outputs}, bias={self.bias is not None}"


class BasisExpansion(nn.Module):
    """M Gaussian basis functions φ_j(x) = exp(−(x − μ_j)² / σ_j²) with learned μ and σ.

    Maps inputs of shape (..., 1) or (...) to (..., M). σ is stored as log σ so that it
    stays positive whatever the optimiser does. μ starts evenly spread over ``span``
    and σ at the spacing between centres, so neighbouring bumps overlap.
    """

    def __init__(self, num_basis: int, span: tuple[float, float] = (0.0, 1.0)) -> None:
        super().__init__()
        if num_basis < 1:
            raise ValueError(f"BasisExpansion needs num_basis >= 1, got {num_basis}")
        self.num_basis = num_basis
        lo, hi = span
        width = (hi - lo) / max(num_basis - 1, 1)
        self.mu = nn.Parameter(torch.linspace(lo, hi, num_basis))
        self.log_sigma = nn.Parameter(torch.full((num_basis,), math.log(width)))

    @property
    def sigma(self) -> torch.Tensor:
        return self.log_sigma.exp()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim >= 1 and x.shape[-1] == 1:
            x = x.squeeze(-1)
        z = (x.unsqueeze(-1) - self.mu) / self.sigma
        return torch.exp(-(z**2))

    def extra_repr(self) -> str:
        return f"num_basis={self.num_basis}"


class MLP(nn.Module):
    """A multilayer perceptron of ``num_hidden_layers`` hidden layers of equal width.

    With zero hidden layers it is a single ``Linear`` map. Activations are callables
    (``torch.relu``, ``torch.tanh``, ...), identity by default.
    """

    def __init__(
        self,
        num_inputs: int,
        num_outputs: int,
        num_hidden_layers: int,
        hidden_layer_width: int,
        hidden_activation: Activation = identity,
        output_activation: Activation = identity,
    ) -> None:
        super().__init__()
        if num_hidden_layers < 0:
            raise ValueError(f"num_hidden_layers must be >= 0, got {num_hidden_layers}")
        widths = [num_inputs] + [hidden_layer_width] * num_hidden_layers + [num_outputs]
        self.layers = nn.ModuleList(
            Linear(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True)
        )
        self.hidden_activation = hidden_activation
        self.output_activation = output_activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            x = self.hidden_activation(layer(x))
        return self.output_activation(self.layers[-1](x))


def l2_penalty(params: nn.Module | Iterable[torch.Tensor]) -> torch.Tensor:
    """Σ θ² over all parameters (multiply by λ yourself); its gradient is 2θ."""
    if isinstance(params, nn.Module):
        params = params.parameters()
    squares = [p.pow(2).sum() for p in params]
    if not squares:
        raise ValueError("l2_penalty got no parameters")
    return torch.stack(squares).sum()
