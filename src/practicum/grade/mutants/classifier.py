"""Planted bugs in :class:`practicum.nn.Classifier`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from practicum.nn import Classifier, Linear


class MissingStage(Classifier):
    """The last stage is never built (a loop over range(len(layer_depths) - 1))."""

    def __init__(
        self,
        input_depth: int,
        layer_depths: Sequence[int],
        layer_kernel_sizes: Sequence[int],
        num_classes: int,
        **options: Any,
    ) -> None:
        super().__init__(input_depth, layer_depths, layer_kernel_sizes, num_classes, **options)
        del self.stages[-1]
        last = [input_depth, *layer_depths][-2]
        self.head = Linear(last * self.head_pool**2, num_classes)


class ExtraStage(Classifier):
    """The last stage is built twice (its copy keeps the width)."""

    def __init__(
        self,
        input_depth: int,
        layer_depths: Sequence[int],
        layer_kernel_sizes: Sequence[int],
        num_classes: int,
        **options: Any,
    ) -> None:
        depths = [*layer_depths, layer_depths[-1]]
        kernels = [*layer_kernel_sizes, layer_kernel_sizes[-1]]
        if options.get("pool") is not None:
            options["pool"] = [*options["pool"], False]
        else:
            options["pool"] = [True] * len(layer_depths) + [False]
        super().__init__(input_depth, depths, kernels, num_classes, **options)


class BatchNormForGroupNorm(Classifier):
    """norm='group' builds batch normalisation, which normalises over the batch."""

    def __init__(
        self,
        input_depth: int,
        layer_depths: Sequence[int],
        layer_kernel_sizes: Sequence[int],
        num_classes: int,
        **options: Any,
    ) -> None:
        if options.get("norm") == "group":
            options["norm"] = "batch"
        super().__init__(input_depth, layer_depths, layer_kernel_sizes, num_classes, **options)


class DropoutInEval(Classifier):
    """Dropout is applied with training=True always, so evaluation is random too."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x).mean(dim=(2, 3))
        return self.head(F.dropout(h, self.dropout.p, training=True))
