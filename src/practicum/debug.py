"""Debugging a training run: overfit one batch, and watch gradients and activations flow.

``overfit_one_batch`` is the first test of any model: if it cannot drive the loss on a single
batch to (near) zero, something is wrong in the model, the loss or the optimiser, and no amount
of data or tuning will fix it.

``practicum.sanity`` holds the recipe's four sanity checks (loss at initialisation, overfit one
batch, an input-independent baseline, per-sample gradient independence), which ``practicum
debug`` runs for a lab that declares ``Lab(sanity=...)``.

``GradientFlowMonitor`` watches any PyTorch training loop without changing it, through torch's
global module and optimiser hooks: per layer, the gradient norm, the update-to-weight ratio
(‖Δθ‖/‖θ‖, healthy around 1e-3), the fraction of dead units (never positive over the batch: a
ReLU after them outputs zero for every example), activation mean and standard deviation, and
the first module output or parameter that becomes NaN or Inf. ``practicum debug LAB`` runs a
few steps of a lab under it and writes a table and plots into a run folder.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn


@dataclass
class OverfitReport:
    initial_loss: float
    final_loss: float
    steps: int
    passed: bool
    losses: list[float] = field(repr=False)


def overfit_one_batch(
    model: nn.Module,
    batch: Any,
    loss_fn: Callable[[nn.Module, Any], torch.Tensor],
    steps: int = 300,
    lr: float = 1e-2,
    tolerance: float = 1e-2,
    optimizer: torch.optim.Optimizer | None = None,
) -> OverfitReport:
    """Train ``model`` on one ``batch`` with Adam; pass if the loss falls to ``tolerance``.

    ``loss_fn(model, batch)`` returns a scalar loss. "Near zero" is relative to where the loss
    started: passed when final ≤ tolerance · max(1, initial) — a loss that must stay positive
    (an ELBO, say) should be shifted by its known floor before it is given here.
    """
    model.train()
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = loss_fn(model, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        final = loss_fn(model, batch).item()
    initial = losses[0]
    passed = math.isfinite(final) and final <= tolerance * max(1.0, abs(initial))
    return OverfitReport(initial, final, steps, passed, losses)


class StopTraining(Exception):
    """Raised by the monitor after the requested number of optimiser steps."""


@dataclass
class LayerStats:
    grad_norm: list[float] = field(default_factory=list)
    update_ratio: list[float] = field(default_factory=list)
    act_mean: float = math.nan
    act_std: float = math.nan
    dead_fraction: float = math.nan
    act_sample: Any = None


class GradientFlowMonitor:
    """Hooks into every module and optimiser in the process while active (a context manager)."""

    def __init__(self, max_steps: int | None = None, sample_size: int = 5000) -> None:
        self.max_steps = max_steps
        self.sample_size = sample_size
        self.steps = 0
        self.layers: dict[str, LayerStats] = {}
        self.first_nonfinite: str | None = None
        self._names: dict[int, str] = {}
        self._depth = 0
        self._before: dict[int, torch.Tensor] = {}
        self._handles: list[Any] = []

    # ---- naming: modules get the qualified name they have in the outermost model -------
    def _name(self, module: nn.Module) -> str:
        return self._names.get(id(module), type(module).__name__)

    def _pre_forward(self, module: nn.Module, args: Any) -> None:
        if self._depth == 0 and id(module) not in self._names:
            root = type(module).__name__
            for name, sub in module.named_modules():
                self._names.setdefault(id(sub), f"{root}.{name}" if name else root)
        self._depth += 1

    def _forward(self, module: nn.Module, args: Any, output: Any) -> None:
        self._depth -= 1
        if not isinstance(output, torch.Tensor) or not output.is_floating_point():
            return
        if self.first_nonfinite is None and not torch.isfinite(output).all():
            inputs_ok = all(torch.isfinite(a).all() for a in args if isinstance(a, torch.Tensor))
            if inputs_ok:
                self.first_nonfinite = f"output of {self._name(module)} at step {self.steps}"
        if not module.training or any(True for _ in module.children()):
            return  # leaf modules in training only
        out = output.detach().float()
        stats = self.layers.setdefault(self._name(module), LayerStats())
        stats.act_mean = out.mean().item()
        stats.act_std = out.std().item() if out.numel() > 1 else 0.0
        if out.ndim >= 2:
            units = out.transpose(0, 1).reshape(out.shape[1], -1) if out.ndim > 2 else out.T
            stats.dead_fraction = (units <= 0).all(dim=1).float().mean().item()
        flat = out.flatten()
        stride = max(1, flat.numel() // self.sample_size)
        stats.act_sample = flat[::stride][: self.sample_size].cpu().numpy()

    # ---- optimiser steps ---------------------------------------------------------------
    def _params(self, optimizer: torch.optim.Optimizer):
        for group in optimizer.param_groups:
            yield from group["params"]

    def _param_layer(self) -> dict[int, str]:
        """Parameter id -> the name of the leaf module holding it."""
        out = {}
        for module_id, name in self._names.items():
            module = self._modules.get(module_id)
            if module is not None:
                for p in module.parameters(recurse=False):
                    out[id(p)] = name
        return out

    def _pre_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        self._before = {id(p): p.detach().clone() for p in self._params(optimizer)}

    def _post_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        owner = self._param_layer()
        grads: dict[str, float] = {}
        updates: dict[str, tuple[float, float]] = {}
        for p in self._params(optimizer):
            layer = owner.get(id(p), f"param{tuple(p.shape)}")
            if p.grad is not None:
                grads[layer] = grads.get(layer, 0.0) + p.grad.detach().float().pow(2).sum().item()
            before = self._before.get(id(p))
            if before is not None:
                du, w = updates.get(layer, (0.0, 0.0))
                updates[layer] = (
                    du + (p.detach() - before).float().pow(2).sum().item(),
                    w + before.float().pow(2).sum().item(),
                )
            if self.first_nonfinite is None and not torch.isfinite(p).all():
                self.first_nonfinite = f"parameter of {layer} after step {self.steps}"
        for layer, g2 in grads.items():
            self.layers.setdefault(layer, LayerStats()).grad_norm.append(math.sqrt(g2))
        for layer, (du, w) in updates.items():
            ratio = math.sqrt(du) / math.sqrt(w) if w > 0 else math.nan
            self.layers.setdefault(layer, LayerStats()).update_ratio.append(ratio)
        self.steps += 1
        if self.max_steps is not None and self.steps >= self.max_steps:
            raise StopTraining

    def __enter__(self) -> GradientFlowMonitor:
        from torch.nn.modules.module import (
            register_module_forward_hook,
            register_module_forward_pre_hook,
        )
        from torch.optim.optimizer import (
            register_optimizer_step_post_hook,
            register_optimizer_step_pre_hook,
        )

        self._modules: dict[int, nn.Module] = {}

        def pre(module: nn.Module, args: Any) -> None:
            self._modules.setdefault(id(module), module)
            self._pre_forward(module, args)

        self._handles = [
            register_module_forward_pre_hook(pre),
            register_module_forward_hook(self._forward),
            register_optimizer_step_pre_hook(self._pre_step),
            register_optimizer_step_post_hook(self._post_step),
        ]
        return self

    def __exit__(self, *exc: Any) -> None:
        for handle in self._handles:
            handle.remove()

    # ---- results -------------------------------------------------------------------------
    def rows(self) -> list[dict[str, Any]]:
        rows = []
        for name, s in self.layers.items():
            if not s.grad_norm and s.act_sample is None:
                continue
            flags = []
            if s.grad_norm and s.grad_norm[-1] < 1e-7:
                flags.append("vanishing gradient")
            if s.grad_norm and s.grad_norm[-1] > 1e3:
                flags.append("exploding gradient")
            if s.update_ratio and s.update_ratio[-1] > 1e-1:
                flags.append("large updates")
            if s.dead_fraction == s.dead_fraction and s.dead_fraction > 0.5:
                flags.append("mostly dead units")
            rows.append(
                {
                    "layer": name,
                    "grad_norm": s.grad_norm[-1] if s.grad_norm else None,
                    "update_ratio": s.update_ratio[-1] if s.update_ratio else None,
                    "dead_fraction": _nan_to_none(s.dead_fraction),
                    "act_mean": _nan_to_none(s.act_mean),
                    "act_std": _nan_to_none(s.act_std),
                    "flags": ", ".join(flags),
                }
            )
        return rows


def _nan_to_none(x: float) -> float | None:
    return None if x != x else x


# ---- `practicum debug LAB` ------------------------------------------------------------------
def debug_lab(
    lab_name: str,
    *,
    quick: bool = True,
    seed: int = 0,
    steps: int = 20,
    overrides: dict[str, str] | None = None,
    out: str | None = None,
    quiet: bool = False,
) -> tuple[list[dict[str, Any]], Any]:
    """Run ``steps`` optimiser steps of a lab under the monitor; write table and plots."""
    from pathlib import Path

    from practicum.errors import PracticumError
    from practicum.io import atomic_write_json, atomic_write_text
    from practicum.lab import get_lab, make_config
    from practicum.launch import check_out, make_run_dir, resolve_threads, set_threads
    from practicum.repro import environment, seed_everything
    from practicum.run import Run

    if steps < 1:
        raise PracticumError(f"--steps must be >= 1, got {steps}")
    lab = get_lab(lab_name)
    config = make_config(lab, quick=quick, overrides=overrides)
    check_out(out, f"{lab.name}-debug")
    threads = resolve_threads(None)
    run_dir = make_run_dir(out, f"{lab.name}-debug", seed, Path("runs"))
    set_threads(threads)
    seed_everything(seed)
    run = Run(run_dir, seed=seed, quick=quick, quiet=True)
    atomic_write_json(run_dir / "env.json", environment())
    with GradientFlowMonitor(max_steps=steps) as monitor, contextlib.suppress(StopTraining):
        lab.run(config, run)
    if monitor.steps == 0:
        raise PracticumError(
            f"lab {lab.name} made no torch optimiser step, so there is nothing to watch "
            "(labs on the NumPy engine have their own gradcheck)"
        )
    rows = monitor.rows()
    checks = []
    if lab.sanity is not None:  # the recipe's sanity checks, outside the monitor's hooks
        from practicum.sanity import run_checks

        seed_everything(seed)
        checks = run_checks(lab.sanity(config, run))
    atomic_write_json(
        run_dir / "debug.json",
        {
            "lab": lab.name,
            "steps": monitor.steps,
            "first_nonfinite": monitor.first_nonfinite,
            "layers": rows,
            "sanity": [c.as_dict() for c in checks],
        },
    )
    atomic_write_text(run_dir / "debug.md", debug_table(rows, monitor, checks))
    _plot_gradients(monitor, run)
    _plot_activations(monitor, run)
    return rows, run_dir


def debug_table(
    rows: list[dict[str, Any]], monitor: GradientFlowMonitor, checks: list[Any] = ()
) -> str:
    def fmt(x: Any) -> str:
        return "–" if x is None else f"{x:.3g}" if isinstance(x, float) else str(x)

    lines = [
        f"Gradient flow over {monitor.steps} optimiser steps (values at the last step).",
        "",
        "| layer | grad norm | update/weight | dead units | act mean | act std | flags |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['layer']} | {fmt(r['grad_norm'])} | {fmt(r['update_ratio'])} | "
            f"{fmt(r['dead_fraction'])} | {fmt(r['act_mean'])} | {fmt(r['act_std'])} | {r['flags']} |"
        )
    lines += ["", f"First NaN/Inf: {monitor.first_nonfinite or 'none'}", ""]
    if checks:
        from practicum.sanity import checks_table

        lines.append(checks_table(list(checks)))
    else:
        lines += ["Sanity checks: none (the lab declares no `sanity`; see docs/design.md).", ""]
    return "\n".join(lines)


def _plot_gradients(monitor: GradientFlowMonitor, run: Any) -> None:
    from practicum.plotting import figure

    fig, axes = figure(ncols=2, size=(6.0, 4.2))
    ax1, ax2 = axes[0]
    for name, s in monitor.layers.items():
        if s.grad_norm:
            ax1.semilogy(range(1, len(s.grad_norm) + 1), s.grad_norm, label=name)
        if s.update_ratio:
            ax2.semilogy(range(1, len(s.update_ratio) + 1), s.update_ratio, label=name)
    ax1.set(title="Gradient norm per layer", xlabel="optimiser step", ylabel="‖∇θ‖")
    ax2.axhline(1e-3, color="0.5", ls="--", lw=1, label="1e-3 (rule of thumb)")
    ax2.set(title="Update-to-weight ratio per layer", xlabel="optimiser step", ylabel="‖Δθ‖ / ‖θ‖")
    ax2.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7)
    run.save_figure(fig, "gradient_flow")


def _plot_activations(monitor: GradientFlowMonitor, run: Any) -> None:
    from practicum.plotting import figure

    named = [(n, s) for n, s in monitor.layers.items() if s.act_sample is not None][:16]
    if not named:
        return
    ncols = min(4, len(named))
    nrows = math.ceil(len(named) / ncols)
    fig, axes = figure(ncols=ncols, nrows=nrows, size=(3.2, 2.4))
    axes = [axes] if ncols == nrows == 1 else list(getattr(axes, "flat", axes))
    for ax, (name, s) in zip(axes, named, strict=False):
        ax.hist(s.act_sample, bins=50, color="C0")
        ax.set_title(name, fontsize=8)
        ax.set_xlabel("activation")
    for ax in axes[len(named) :]:
        ax.set_visible(False)
    fig.suptitle(f"Layer outputs at step {monitor.steps} (pre-activation for Linear and Conv)")
    fig.tight_layout()
    run.save_figure(fig, "activation_histograms")
