"""Probes of the optimisation landscape and of internal covariate shift (Santurkar et al. 2018).

Each probe looks at one training step from the outside: it evaluates the loss and its gradient
at points other than the current weights, on the step's own batch, and then puts everything
back exactly as it found it. A :class:`Snapshot` holds what a forward pass can disturb — the
parameters, the buffers (batch norm's running statistics and counters), the given noise
generators and torch's global random state — and is restored before every pass and at the
end, so that a run with probes is bit for bit the run without them, and every pass of a probe
sees the same noise as the training step it probes (whose gradient is then exactly the
probe's ``∇L(x)``). Gradients are taken with ``torch.autograd.grad``, never into ``.grad``.

* :func:`probe_landscape` (the paper's Sec. 3.1, Fig. 4): along the gradient direction,
  ``x − η·∇L(x)`` for several step sizes ``η``, the loss (its range: "loss variation"), the
  change of the gradient ``‖∇L(x) − ∇L(x − η∇L(x))‖`` ("gradient predictiveness") and the
  "effective β-smoothness" ``max_η ‖∇L(x) − ∇L(x − η∇L(x))‖ / ‖η∇L(x)‖``.
* :func:`internal_covariate_shift` (the paper's Definition 2.1, Fig. 3): for layer ``i``,
  ``G`` is the gradient of its weights and ``G'`` the same gradient after layers ``1..i−1``
  have taken this step's update; the shift is ``‖G − G'‖₂`` (and ``cos(G, G')``).
* :func:`sgd_delta`: the update ``torch.optim.SGD`` would make for given gradients, computed
  without touching the optimiser (its step hooks, momentum buffers and counters stay as they
  are).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

LossFn = Callable[[], torch.Tensor]  # one forward pass on the probed batch -> scalar loss


@dataclass
class Snapshot:
    """Copies of what a probe may disturb; :meth:`restore` writes them back bit for bit."""

    module: nn.Module
    params: list[torch.Tensor]
    buffers: list[torch.Tensor]
    generators: tuple[torch.Generator, ...]
    generator_states: list[torch.Tensor]
    global_rng: torch.Tensor

    @classmethod
    def take(cls, module: nn.Module, generators: Sequence[torch.Generator] = ()) -> Snapshot:
        return cls(
            module,
            [p.detach().clone() for p in module.parameters()],
            [b.detach().clone() for b in module.buffers()],
            tuple(generators),
            [g.get_state() for g in generators],
            torch.get_rng_state(),
        )

    @torch.no_grad()
    def restore(self) -> None:
        for p, saved in zip(self.module.parameters(), self.params, strict=True):
            p.copy_(saved)
        for b, saved in zip(self.module.buffers(), self.buffers, strict=True):
            b.copy_(saved)
        for g, state in zip(self.generators, self.generator_states, strict=True):
            g.set_state(state)
        torch.set_rng_state(self.global_rng)


def loss_and_gradient(
    params: Sequence[torch.Tensor], loss_fn: LossFn
) -> tuple[float, list[torch.Tensor]]:
    """The loss of one pass and its gradient with respect to ``params`` (zeros where unused)."""
    loss = loss_fn()
    grads = torch.autograd.grad(loss, list(params), allow_unused=True)
    out = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads, strict=True)]
    return float(loss.detach()), out


def _norm(tensors: Sequence[torch.Tensor]) -> float:
    return float(torch.sqrt(sum((t.double() ** 2).sum() for t in tensors)))


def _distance(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> float:
    return _norm([x - y for x, y in zip(a, b, strict=True)])


@dataclass
class LandscapeProbe:
    """What :func:`probe_landscape` measured at one point, for each step size ``η``."""

    step_sizes: list[float]
    loss: float  # L(x)
    gradient_norm: float  # ‖∇L(x)‖
    losses: list[float] = field(default_factory=list)  # L(x − η∇L(x))
    gradient_changes: list[float] = field(default_factory=list)  # ‖∇L(x) − ∇L(x − η∇L(x))‖

    @property
    def loss_range(self) -> float:
        """max − min of the losses along the gradient direction ("loss variation")."""
        return max(self.losses) - min(self.losses)

    @property
    def beta_smoothness(self) -> float:
        """max over η of ‖∇L(x) − ∇L(x − η∇L(x))‖ / ‖η∇L(x)‖ ("effective β-smoothness")."""
        if self.gradient_norm == 0:
            return 0.0
        return max(
            change / (eta * self.gradient_norm)
            for eta, change in zip(self.step_sizes, self.gradient_changes, strict=True)
        )


def probe_landscape(
    module: nn.Module,
    loss_fn: LossFn,
    step_sizes: Sequence[float],
    generators: Sequence[torch.Generator] = (),
) -> LandscapeProbe:
    """Loss and gradient at ``x − η·∇L(x)`` for each ``η`` in ``step_sizes``, over all of
    ``module``'s parameters; the module, its buffers and ``generators`` are left as found."""
    if not step_sizes or min(step_sizes) <= 0:
        raise ValueError(f"step sizes must be positive, got {list(step_sizes)}")
    params = list(module.parameters())
    snapshot = Snapshot.take(module, generators)
    try:
        loss, grad = loss_and_gradient(params, loss_fn)
        probe = LandscapeProbe(list(step_sizes), loss, _norm(grad))
        for eta in step_sizes:
            snapshot.restore()
            with torch.no_grad():
                for p, g in zip(params, grad, strict=True):
                    p.sub_(eta * g)
            moved_loss, moved_grad = loss_and_gradient(params, loss_fn)
            probe.losses.append(moved_loss)
            probe.gradient_changes.append(_distance(grad, moved_grad))
    finally:
        snapshot.restore()
    return probe


@dataclass
class CovariateShift:
    """Per layer, the gradient change caused by the earlier layers' update (Definition 2.1)."""

    l2: list[float]  # ‖G − G'‖₂
    cosine: list[float]  # cos(G, G')
    gradient_norms: list[float]  # ‖G‖₂, to put ‖G − G'‖ on a scale


def internal_covariate_shift(
    module: nn.Module,
    layers: Sequence[Sequence[torch.Tensor]],
    loss_fn: LossFn,
    update: Callable[[Mapping[torch.Tensor, torch.Tensor]], Mapping[torch.Tensor, torch.Tensor]],
    generators: Sequence[torch.Generator] = (),
) -> CovariateShift:
    """Santurkar et al.'s internal covariate shift of each layer at the current step.

    ``layers`` lists the network's layers in forward order, each as its parameters with the
    measured weight first (a convolution's weight, then its bias and its batch norm's scale
    and shift). ``update`` maps the gradients of all of ``module``'s parameters to the step's
    update of each (:func:`sgd_delta`). For layer ``i``: ``G`` = the gradient of its weight at
    the current point, ``G'`` = the same after ``x ← x + Δ`` for the parameters of layers
    ``0..i−1`` only, on the same batch and noise. Everything is restored afterwards.
    """
    params = list(module.parameters())
    snapshot = Snapshot.take(module, generators)
    try:
        _, grads = loss_and_gradient(params, loss_fn)
        by_param = dict(zip(params, grads, strict=True))
        delta = update(by_param)
        l2, cosine, norms = [], [], []
        for i, layer in enumerate(layers):
            weight = layer[0]
            g = by_param[weight]
            snapshot.restore()
            with torch.no_grad():
                for earlier in layers[:i]:
                    for p in earlier:
                        if p in delta:
                            p.add_(delta[p])
            _, (g_after,) = loss_and_gradient([weight], loss_fn)
            l2.append(_distance([g], [g_after]))
            norms.append(_norm([g]))
            denominator = norms[-1] * _norm([g_after])
            dot = float((g.double() * g_after.double()).sum())
            cosine.append(dot / denominator if denominator > 0 else 1.0)
    finally:
        snapshot.restore()
    return CovariateShift(l2, cosine, norms)


def sgd_delta(
    optimizer: torch.optim.SGD, grads: Mapping[torch.Tensor, torch.Tensor]
) -> dict[torch.Tensor, torch.Tensor]:
    """The change ``torch.optim.SGD.step()`` would make to each parameter given these
    gradients, from the optimiser's hyperparameters and momentum buffers, which are only read.

    As PyTorch: ``d = g + wd·p`` (``g`` negated first when maximising); with momentum
    ``buf = d`` on the first step, else ``buf = m·buf + (1 − dampening)·d``, and ``d = buf``
    (or ``d + m·buf`` with Nesterov); the change is ``−lr·d``.
    """
    out: dict[torch.Tensor, torch.Tensor] = {}
    for group in optimizer.param_groups:
        lr, wd, m = group["lr"], group["weight_decay"], group["momentum"]
        for p in group["params"]:
            if p not in grads:
                continue
            d = -grads[p] if group.get("maximize", False) else grads[p]
            if wd != 0:
                d = d + wd * p.detach()
            if m != 0:
                buf = optimizer.state.get(p, {}).get("momentum_buffer")
                buf = d.clone() if buf is None else m * buf + (1 - group["dampening"]) * d
                d = d + m * buf if group["nesterov"] else buf
            out[p] = -lr * d
    return out
