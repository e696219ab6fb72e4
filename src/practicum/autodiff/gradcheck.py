"""Check analytic derivatives against central finite differences, in float64.

For f: inputs -> output, ``gradcheck`` compares, element by element of every input,

    reverse mode   ∂⟨u, f⟩/∂x_i      (one backward pass with a fixed random cotangent u)
    forward mode   ⟨u, J e_i⟩          (one jvp per input element)
    numeric        (⟨u, f(x + h e_i)⟩ − ⟨u, f(x − h e_i)⟩) / 2h

and reports the worst element: which input, which index, the three numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from practicum.autodiff.tensor import Tensor, no_grad


class GradcheckError(AssertionError):
    """Analytic and numeric derivatives disagree; the message names the worst element."""


@dataclass
class GradcheckReport:
    ok: bool
    abs_error: float  # at the worst element
    rel_error: float
    worst_input: int  # which input holds the worst element
    worst_index: tuple[int, ...]
    worst_mode: str  # "reverse" or "forward"
    analytic: float
    numeric: float

    def __str__(self) -> str:
        verdict = "passed" if self.ok else "FAILED"
        return (
            f"gradcheck {verdict}: worst element is input {self.worst_input} at index "
            f"{self.worst_index} ({self.worst_mode} mode): analytic {self.analytic:.10g}, "
            f"numeric {self.numeric:.10g}, abs error {self.abs_error:.3g}, "
            f"rel error {self.rel_error:.3g}"
        )


def gradcheck(
    f: Callable[..., Tensor],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    modes: Sequence[str] = ("reverse", "forward"),
    seed: int = 0,
    raise_on_failure: bool = True,
) -> GradcheckReport:
    """Compare reverse- and forward-mode derivatives of ``f`` with finite differences.

    An element passes when ``|analytic − numeric| <= atol + rtol·|numeric|``. Inputs are
    converted to float64 so that the finite differences themselves are accurate.
    """
    arrays = [np.array(x.data if isinstance(x, Tensor) else x, dtype=np.float64) for x in inputs]
    with no_grad():
        out0 = f(*[Tensor(a) for a in arrays])
    u = np.random.default_rng(seed).standard_normal(out0.shape)

    def projected(values: list[np.ndarray]) -> float:
        with no_grad():
            return float(np.sum(u * f(*[Tensor(a) for a in values]).data))

    # Numeric: perturb one element at a time.
    numeric = []
    for k, a in enumerate(arrays):
        n = np.zeros_like(a)
        for index in np.ndindex(a.shape):
            plus = [b.copy() for b in arrays]
            minus = [b.copy() for b in arrays]
            plus[k][index] += eps
            minus[k][index] -= eps
            n[index] = (projected(plus) - projected(minus)) / (2 * eps)
        numeric.append(n)

    analytic: dict[str, list[np.ndarray]] = {}
    if "reverse" in modes:
        leaves = [Tensor(a.copy(), requires_grad=True) for a in arrays]
        out = f(*leaves)
        out.backward(u)
        analytic["reverse"] = [
            leaf.grad.data if leaf.grad is not None else np.zeros_like(leaf.data) for leaf in leaves
        ]
    if "forward" in modes:
        columns = []
        for k, a in enumerate(arrays):
            col = np.zeros_like(a)
            for index in np.ndindex(a.shape):
                leaves = [Tensor(b.copy()) for b in arrays]
                for j, leaf in enumerate(leaves):
                    leaf.tangent = np.zeros_like(leaf.data)
                    if j == k:
                        leaf.tangent[index] = 1.0
                with no_grad():
                    out = f(*leaves)
                tangent = out.tangent if out.tangent is not None else np.zeros_like(out.data)
                col[index] = np.sum(u * tangent)
            columns.append(col)
        analytic["forward"] = columns

    # The worst element is the one with the largest excess over its tolerance.
    report = GradcheckReport(True, 0.0, 0.0, -1, (), "none", 0.0, 0.0)
    worst_score = -np.inf
    for mode, grads in analytic.items():
        for k, (g, n) in enumerate(zip(grads, numeric, strict=True)):
            if g.shape != n.shape:
                raise GradcheckError(
                    f"gradcheck: {mode}-mode gradient of input {k} has shape {g.shape}, "
                    f"expected {n.shape}"
                )
            if g.size == 0:
                continue
            err = np.abs(g - n)
            score = err - (atol + rtol * np.abs(n))
            index = np.unravel_index(int(np.argmax(score)), score.shape)
            if score[index] > worst_score:
                worst_score = float(score[index])
                report = GradcheckReport(
                    ok=True,
                    abs_error=float(err[index]),
                    rel_error=float(err[index] / max(abs(n[index]), 1e-300)),
                    worst_input=k,
                    worst_index=tuple(int(i) for i in index),
                    worst_mode=mode,
                    analytic=float(g[index]),
                    numeric=float(n[index]),
                )
    report.ok = bool(worst_score <= 0)
    if not report.ok and raise_on_failure:
        raise GradcheckError(str(report))
    return report
