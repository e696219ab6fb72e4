"""A student's MLP with a bug: the output activation is never applied."""

import os

import torch
from torch import nn


class MLP(nn.Module):
    def __init__(
        self,
        num_inputs,
        num_outputs,
        num_hidden_layers,
        hidden_layer_width,
        hidden_activation=lambda x: x,
        output_activation=lambda x: x,
    ):
        super().__init__()
        sizes = [num_inputs] + [hidden_layer_width] * num_hidden_layers + [num_outputs]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.hidden_activation = hidden_activation
        self.output_activation = output_activation

    def forward(self, x):
        for layer in self.layers[:-1]:
            x = self.hidden_activation(layer(x))
        return self.layers[-1](x)  # bug: output_activation forgotten


def spiral_points(n):
    return torch.linspace(0, 1, n)
