import torch

from mlp import MLP


def test_shape_and_parameter_count():
    model = MLP(2, 1, 1, 8)
    assert model(torch.zeros(4, 2)).shape == (4, 1)
    assert sum(p.numel() for p in model.parameters()) == 2 * 8 + 8 + 8 + 1
