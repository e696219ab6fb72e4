"""A student's MLP as a torch.nn.Sequential (the experiment is in a notebook, which the
course forbids)."""

from torch import nn


class Activation(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


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
        layers = []
        width = num_inputs
        for _ in range(num_hidden_layers):
            layers.append(nn.Linear(width, hidden_layer_width))
            layers.append(Activation(hidden_activation))
            width = hidden_layer_width
        layers += [nn.Linear(width, num_outputs), Activation(output_activation)]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)
