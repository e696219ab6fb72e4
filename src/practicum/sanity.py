"""The sanity checks of Karpathy's "A Recipe for Training Neural Networks" (2019), for a
classifier and one batch of its data, each of which a common bug fails:

1. **Loss at initialisation** against ln K: with K classes and near-equal logits the
   cross-entropy starts at ln K (measured in training mode, as the first step sees it). Logits of a small spread σ add about σ²/2 (a second-order
   expansion of log-sum-exp), so ``init_tolerance`` = 0.5 nats allows a spread up to about 1
   (a He-initialised last layer); a badly scaled initialisation starts far above, a label
   leak or a loss on the wrong tensor below.
2. **Overfit one batch** (:func:`practicum.debug.overfit_one_batch`): a model that cannot drive
   the loss on a few dozen examples towards 0 is broken.
3. **Input-independent baseline**: train one copy of the model on the batch and another on
   the batch with every input zeroed, the same number of steps; the zeroed one can learn the
   class frequencies only, so the real one must end at a lower loss, by ``input_margin`` nats
   at least. A model that ignores its input (a detached or overwritten tensor) ends level.
4. **Per-sample gradient independence**: the gradient of the sum of sample i's outputs with
   respect to the input batch must be nonzero in row i only. A view or permute that mixes the
   batch axis with another (``x.view(features, batch)`` for ``x.view(batch, features)``) leaks
   it into other rows. It runs in eval mode: batch norm in training mode legitimately mixes
   samples through the batch statistics, and dropout masks do not matter to the question.

A lab opts in by giving ``Lab(sanity=...)`` a function ``(config, run) -> SanityProblem``;
``practicum debug LAB`` then runs :func:`run_checks` and prints and saves their table.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class SanityProblem:
    """A freshly initialised classifier, one batch of real inputs and labels, the class count,
    and the loss ``loss(logits, labels) -> scalar`` (cross-entropy unless given)."""

    model: nn.Module
    x: torch.Tensor
    y: torch.Tensor
    num_classes: int
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = field(default=F.cross_entropy)


@dataclass
class Check:
    """One check's outcome: its name, the measured value and what it is compared with."""

    name: str
    passed: bool
    value: float
    reference: float
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.name,
            "passed": self.passed,
            "value": self.value,
            "reference": self.reference,
            "detail": self.detail,
        }


def init_loss_check(problem: SanityProblem, tolerance: float = 0.5) -> Check:
    """Loss of the untrained model within ``tolerance`` nats of ln K, in training mode as the
    first step sees it (in eval mode an untrained batch norm divides by its initial running
    variance, 1, instead of the batch's)."""
    model = copy.deepcopy(problem.model).train()
    with torch.no_grad():
        loss = float(problem.loss(model(problem.x), problem.y))
    expected = math.log(problem.num_classes)
    passed = math.isfinite(loss) and abs(loss - expected) <= tolerance
    return Check(
        "loss at initialisation",
        passed,
        loss,
        expected,
        f"{loss:.4f} against ln {problem.num_classes} = {expected:.4f} (within {tolerance:g})",
    )


def overfit_check(problem: SanityProblem, steps: int = 300, lr: float = 1e-2) -> Check:
    """:func:`practicum.debug.overfit_one_batch` with Adam: the loss falls to 1% of where it
    started."""
    from practicum.debug import overfit_one_batch

    model = copy.deepcopy(problem.model)
    report = overfit_one_batch(
        model, (problem.x, problem.y), lambda m, b: problem.loss(m(b[0]), b[1]), steps=steps, lr=lr
    )
    return Check(
        "overfit one batch",
        report.passed,
        report.final_loss,
        report.initial_loss,
        f"loss {report.initial_loss:.4f} → {report.final_loss:.2e} in {steps} Adam steps "
        f"on {len(problem.y)} examples",
    )


def _train_briefly(
    model: nn.Module, x: torch.Tensor, problem: SanityProblem, steps: int, lr: float
) -> float:
    model.train()
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        loss = problem.loss(model(x), problem.y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    with torch.no_grad():
        return float(problem.loss(model(x), problem.y))


def input_independent_check(
    problem: SanityProblem, steps: int = 100, lr: float = 1e-3, margin: float = 0.1
) -> Check:
    """Two copies of the model, ``steps`` Adam steps each, one on the real inputs and one on
    zeros: the real one's final loss is lower by ``margin`` at least."""
    real = _train_briefly(copy.deepcopy(problem.model), problem.x, problem, steps, lr)
    zeroed = _train_briefly(
        copy.deepcopy(problem.model), torch.zeros_like(problem.x), problem, steps, lr
    )
    passed = math.isfinite(real) and real <= zeroed - margin
    return Check(
        "input-independent baseline",
        passed,
        real,
        zeroed,
        f"after {steps} steps: loss {real:.4f} on real inputs, {zeroed:.4f} on zeroed ones "
        f"(real must be lower by {margin:g})",
    )


def gradient_independence_check(problem: SanityProblem, sample: int | None = None) -> Check:
    """Backpropagate the sum of sample i's outputs (eval mode) to the inputs: every other row
    of the input gradient must be exactly zero, row i must not be. The value is the largest
    gradient outside row i relative to row i's."""
    model = copy.deepcopy(problem.model).eval()
    i = len(problem.x) // 2 if sample is None else sample
    x = problem.x.detach().clone().requires_grad_(True)
    model(x)[i].sum().backward()
    grad = x.grad.detach().flatten(1).abs()
    own = float(grad[i].max())
    others = torch.cat([grad[:i], grad[i + 1 :]])
    leak = float(others.max()) if len(others) else 0.0
    ratio = leak / own if own > 0 else math.inf
    passed = own > 0 and leak == 0.0
    return Check(
        "per-sample gradient independence",
        passed,
        ratio,
        0.0,
        f"max |∂(sum of sample {i}'s outputs)/∂x| outside row {i}: {leak:.3g}, in it {own:.3g} "
        "(eval mode)",
    )


def run_checks(problem: SanityProblem) -> list[Check]:
    """The four checks, each on its own copy of the model (the order does not matter)."""
    return [
        init_loss_check(problem),
        overfit_check(problem),
        input_independent_check(problem),
        gradient_independence_check(problem),
    ]


def checks_table(checks: list[Check]) -> str:
    lines = [
        "Sanity checks (Karpathy 2019), on one batch:",
        "",
        "| check | passed | value | reference | detail |",
        "|---|---|---|---|---|",
    ]
    for c in checks:
        lines.append(
            f"| {c.name} | {'pass' if c.passed else 'FAIL'} | {c.value:.4g} | {c.reference:.4g} "
            f"| {c.detail} |"
        )
    return "\n".join(lines) + "\n"
