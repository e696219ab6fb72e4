import torch

from mlp import MLP


def test_shape():
    assert MLP(2, 1, 2, 8)(torch.zeros(4, 2)).shape == (4, 1)
