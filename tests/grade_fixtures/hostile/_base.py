"""What every hostile fixture shares: a class that follows the mlp interface."""

import torch
from torch import nn


class Base(nn.Module):
    def __init__(self, num_inputs, num_outputs, num_hidden_layers, hidden_layer_width, **kw):
        super().__init__()
        self.layer = nn.Linear(num_inputs, num_outputs)
