"""Meta-learning by gradient descent through gradient descent (MAML, Finn et al. 2017).

A network is a list of tensors ``[W1, b1, W2, b2, ...]`` and :func:`mlp_forward` is its
forward pass, so that adapted parameters ``θ' = θ − α ∇L(θ)`` are just another list: the
meta-objective ``L_query(θ')`` can then be differentiated with respect to θ, through the
inner step (second order, ``create_graph=True``) or treating ∇L(θ) as a constant (first
order, FOMAML).

Many tasks at once: every parameter may carry a leading task dimension (``W`` of shape
``(T, out, in)``, inputs ``(T, N, in)``), and :func:`per_task` expands shared parameters to
that shape. Each task's loss then depends only on its own slice, so the gradient of the *sum*
of the task losses with respect to the expanded parameters is every task's own gradient, in
one backward pass (see :func:`inner_step`).

Tasks: :class:`SinusoidTasks` draws the paper's sinusoid regression problems,
y = A sin(x − φ) with A ~ U[0.1, 5], φ ~ U[0, π] and x ~ U[−5, 5] (Finn et al. 2017, Sec. 5.1).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

Params = list[torch.Tensor]


# ---- the network, written as a function of its parameters -----------------------------------
def init_mlp(
    sizes: Sequence[int],
    generator: torch.Generator,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> Params:
    """Weights and biases ``[W1, b1, ...]`` of fully connected layers ``sizes[0] -> ...``,
    drawn as ``torch.nn.Linear`` draws them: U(−1/√fan_in, 1/√fan_in) for both."""
    params: Params = []
    for fan_in, fan_out in zip(sizes, sizes[1:], strict=False):
        bound = 1.0 / math.sqrt(fan_in)
        for shape in ((fan_out, fan_in), (fan_out,)):
            u = torch.rand(shape, generator=generator, dtype=dtype)
            params.append(((2 * u - 1) * bound).to(device).requires_grad_())
    return params


def mlp_forward(params: Sequence[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """ReLU between layers, none after the last: ``x (…, N, in) -> (…, N, out)``.

    Parameters without a task dimension broadcast over any leading dimensions of ``x``;
    with one (``W (T, out, in)``, ``b (T, out)``) task t's inputs ``x[t]`` meet its own
    weights.
    """
    if len(params) % 2:
        raise ValueError(f"params must alternate weights and biases, got {len(params)} tensors")
    h = x
    for i in range(0, len(params), 2):
        w, b = params[i], params[i + 1]
        h = h @ w.transpose(-1, -2) + b.unsqueeze(-2)
        if i + 2 < len(params):
            h = torch.relu(h)
    return h


def per_task(params: Sequence[torch.Tensor], tasks: int) -> Params:
    """Shared parameters viewed with a leading task dimension of size ``tasks`` (no copy).

    Differentiable: gradients flowing into the views sum back into the shared tensors.
    """
    return [p.unsqueeze(0).expand(tasks, *p.shape) for p in params]


def task_mse(params: Sequence[torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Each task's mean squared error over its points: ``x, y (T, N, 1) -> (T,)``."""
    return (mlp_forward(params, x) - y).pow(2).mean(dim=(-2, -1))


def multitask_loss(
    params: Sequence[torch.Tensor], x: torch.Tensor, y: torch.Tensor
) -> torch.Tensor:
    """The pretrained baseline's objective: one network for all tasks, the mean over tasks
    of each task's MSE (Finn et al.'s "pretrained on all tasks")."""
    return task_mse(params, x, y).mean()


# ---- adaptation ----------------------------------------------------------------------------
def inner_step(
    params: Sequence[torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    alpha: float,
    create_graph: bool,
) -> Params:
    """One gradient step on each task's support loss: ``θ'_t = θ_t − α ∇_θ L_t(θ_t)``.

    ``params`` carry a task dimension (:func:`per_task`). With ``create_graph`` the step is
    part of the graph, so that a loss of θ' can be differentiated through it (second-order
    MAML); without, ∇L is a constant and θ' depends on θ through the identity alone
    (first-order MAML: the meta-gradient is the post-update gradient).
    """
    loss = task_mse(params, x, y).sum()  # task t's term depends on θ_t alone
    grads = torch.autograd.grad(loss, list(params), create_graph=create_graph)
    return [p - alpha * g for p, g in zip(params, grads, strict=True)]


def adapt(
    params: Sequence[torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    alpha: float,
    steps: int,
) -> Iterator[Params]:
    """Test-time fine-tuning: each task's parameters after 0, 1, ..., ``steps`` plain
    gradient steps of size ``alpha`` on its own ``(x, y)``, yielded in turn.

    ``params`` are shared (no task dimension); ``x, y`` hold T tasks, ``(T, K, 1)``. No
    graph survives a step, so memory stays that of one step however many are taken.
    """
    current = [p.detach().requires_grad_() for p in per_task(params, x.shape[0])]
    yield current
    for _ in range(steps):
        current = [p.detach().requires_grad_() for p in inner_step(current, x, y, alpha, False)]
        yield current


def adaptation_curve(
    params: Sequence[torch.Tensor],
    support: tuple[torch.Tensor, torch.Tensor],
    query: tuple[torch.Tensor, torch.Tensor],
    alpha: float,
    steps: int,
) -> torch.Tensor:
    """Each task's query MSE after 0, 1, ..., ``steps`` fine-tuning steps on its support
    set: a ``(steps + 1, T)`` tensor (the meta-test of Finn et al. 2017, Fig. 3)."""
    xq, yq = query
    curve = [task_mse(p, xq, yq).detach() for p in adapt(params, *support, alpha, steps)]
    return torch.stack(curve)


def maml_loss(
    params: Sequence[torch.Tensor],
    support: tuple[torch.Tensor, torch.Tensor],
    query: tuple[torch.Tensor, torch.Tensor],
    alpha: float,
    steps: int = 1,
    first_order: bool = False,
) -> torch.Tensor:
    """The MAML meta-objective: mean over tasks of ``L_query(θ'_t)``, θ'_t after ``steps``
    inner steps on task t's support set from the shared θ (Finn et al. 2017, Algorithm 2).

    ``first_order`` drops the second-order terms (FOMAML): the inner gradients are
    constants, and the meta-gradient is the gradient at the adapted parameters.
    """
    (xs, ys), (xq, yq) = support, query
    adapted = per_task(params, xs.shape[0])
    for _ in range(steps):
        adapted = inner_step(adapted, xs, ys, alpha, create_graph=not first_order)
    return task_mse(adapted, xq, yq).mean()


# ---- the tasks -----------------------------------------------------------------------------
@dataclass(frozen=True)
class SinusoidTasks:
    """Sinusoid regression tasks y = A sin(x − φ) (Finn et al. 2017, Sec. 5.1).

    Every random number comes from the generator passed to :meth:`sample` and :meth:`points`.
    """

    amplitude: tuple[float, float] = (0.1, 5.0)
    phase: tuple[float, float] = (0.0, math.pi)
    x_range: tuple[float, float] = (-5.0, 5.0)

    def sample(self, tasks: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Amplitudes and phases of ``tasks`` new tasks, each ``(tasks,)``."""
        u = torch.rand(2, tasks, generator=generator, dtype=torch.float64)
        amp = self.amplitude[0] + (self.amplitude[1] - self.amplitude[0]) * u[0]
        phase = self.phase[0] + (self.phase[1] - self.phase[0]) * u[1]
        return amp, phase

    def points(
        self,
        amp: torch.Tensor,
        phase: torch.Tensor,
        n: int,
        generator: torch.Generator,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` points per task, x uniform on the range: ``x, y`` of shape ``(T, n, 1)``."""
        lo, hi = self.x_range
        x = lo + (hi - lo) * torch.rand(len(amp), n, 1, generator=generator, dtype=torch.float64)
        return x, self.value(amp, phase, x)

    @staticmethod
    def value(amp: torch.Tensor, phase: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The tasks' functions at ``x (T, N, 1)``."""
        return amp[:, None, None] * torch.sin(x - phase[:, None, None])


def mean_ci95(values: torch.Tensor) -> tuple[float, float]:
    """Mean and the half-width of its normal 95% confidence interval, 1.96 s / √n."""
    values = values.double().flatten()
    n = values.numel()
    half = 1.96 * float(values.std(unbiased=True)) / math.sqrt(n) if n > 1 else math.inf
    return float(values.mean()), half
