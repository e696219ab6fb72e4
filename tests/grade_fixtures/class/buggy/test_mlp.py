"""A weak student test file for the mlp task: shapes and one parameter count, nothing of
the activations."""

import torch

from mlp import MLP


def test_output_shape():
    model = MLP(3, 2, 2, 4)
    assert model(torch.randn(5, 3)).shape == (5, 2)


def test_parameter_count():
    model = MLP(3, 2, 2, 4)
    assert sum(p.numel() for p in model.parameters()) == (3 * 4 + 4) + (4 * 4 + 4) + (4 * 2 + 2)


def test_runs_with_an_activation():
    model = MLP(3, 2, 1, 4, hidden_activation=torch.relu)
    assert torch.isfinite(model(torch.randn(5, 3))).all()
