"""A student's MLP built from torch.nn.Linear layers (and no tests)."""

from torch import nn


class MLP(nn.Module):
    def __init__(
        self,
        num_inputs,
        num_outputs,
        num_hidden_layers,
        hidden_layer_width,
        hidden_activation=None,
        output_activation=None,
    ):
        super().__init__()
        widths = [num_inputs, *[hidden_layer_width] * num_hidden_layers, num_outputs]
        pairs = zip(widths, widths[1:])
        self.linears = nn.ModuleList([nn.Linear(i, o) for i, o in pairs])
        self.hidden_activation = hidden_activation or (lambda x: x)
        self.output_activation = output_activation or (lambda x: x)

    def forward(self, x):
        *hidden, last = self.linears
        for linear in hidden:
            x = self.hidden_activation(linear(x))
        return self.output_activation(last(x))
