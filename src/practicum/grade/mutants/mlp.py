"""Planted bugs in :class:`practicum.nn.MLP`."""

from __future__ import annotations

import torch

from practicum.nn import MLP
from practicum.nn.basic import Activation, identity


class OutputActivationIgnored(MLP):
    """The output activation is never applied."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            x = self.hidden_activation(layer(x))
        return self.layers[-1](x)


class ExtraHiddenLayer(MLP):
    """One hidden layer too many: num_hidden_layers + 1 of them."""

    def __init__(
        self,
        num_inputs: int,
        num_outputs: int,
        num_hidden_layers: int,
        hidden_layer_width: int,
        hidden_activation: Activation = identity,
        output_activation: Activation = identity,
    ) -> None:
        super().__init__(
            num_inputs,
            num_outputs,
            num_hidden_layers + 1,
            hidden_layer_width,
            hidden_activation,
            output_activation,
        )


class MissingHiddenLayer(MLP):
    """One hidden layer too few (range(1, n) instead of range(n))."""

    def __init__(
        self,
        num_inputs: int,
        num_outputs: int,
        num_hidden_layers: int,
        hidden_layer_width: int,
        hidden_activation: Activation = identity,
        output_activation: Activation = identity,
    ) -> None:
        super().__init__(
            num_inputs,
            num_outputs,
            max(num_hidden_layers - 1, 0),
            hidden_layer_width,
            hidden_activation,
            output_activation,
        )


class _PlainList(list):
    """A Python list: modules in it are not registered with the network."""


class LayersInPlainList(MLP):
    """The layers are kept in a plain Python list, so their parameters are not registered."""

    def __init__(
        self,
        num_inputs: int,
        num_outputs: int,
        num_hidden_layers: int,
        hidden_layer_width: int,
        hidden_activation: Activation = identity,
        output_activation: Activation = identity,
    ) -> None:
        super().__init__(
            num_inputs,
            num_outputs,
            num_hidden_layers,
            hidden_layer_width,
            hidden_activation,
            output_activation,
        )
        layers = list(self.layers)
        del self.layers
        self.layers = _PlainList(layers)


class ReluHardWired(MLP):
    """The hidden activation is always ReLU, whatever hidden_activation says."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            x = torch.relu(layer(x))
        return self.output_activation(self.layers[-1](x))


class HiddenActivationOnOutput(MLP):
    """The hidden activation is also applied after the last layer."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = self.hidden_activation(layer(x))
        return self.output_activation(x)
