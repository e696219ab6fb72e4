"""A student's multilayer perceptron for ECE472 assignment 2."""

import math

import torch
from torch import nn


def identity(x):
    return x


class Linear(nn.Module):
    def __init__(self, num_inputs, num_outputs):
        super().__init__()
        scale = 1 / math.sqrt(num_inputs)
        self.w = nn.Parameter(torch.randn(num_inputs, num_outputs) * scale)
        self.b = nn.Parameter(torch.zeros(num_outputs))

    def forward(self, x):
        return x @ self.w + self.b


class MLP(nn.Module):
    def __init__(
        self,
        num_inputs,
        num_outputs,
        num_hidden_layers,
        hidden_layer_width,
        hidden_activation=identity,
        output_activation=identity,
    ):
        super().__init__()
        sizes = [num_inputs] + [hidden_layer_width] * num_hidden_layers + [num_outputs]
        self.layers = nn.ModuleList(Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.hidden_activation = hidden_activation
        self.output_activation = output_activation

    def forward(self, x):
        for layer in self.layers[:-1]:
            x = self.hidden_activation(layer(x))
        return self.output_activation(self.layers[-1](x))
