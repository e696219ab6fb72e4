"""Run a lab: seed, make the run folder, call the lab, judge its targets, write the summary."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from practicum.errors import PracticumError
from practicum.io import atomic_write_json, read_json
from practicum.lab import Lab, Target, config_fields, get_lab, make_config
from practicum.repro import environment, param_hash, seed_everything
from practicum.run import Run, config_to_dict, default_run_dir, finite_metrics


def resolve_device(device: str) -> str:
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise PracticumError(f"bad device {device!r} (use cpu or cuda)")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise PracticumError("--device cuda was asked for, but no CUDA device is available")
    return device


def resolve_threads(threads: int | None) -> int:
    """Intra-op threads for torch and BLAS: ``--threads``, else $PRACTICUM_THREADS, else 1.

    One thread is the default on purpose: the labs' models are small, and on a shared
    2-core machine a second intra-op thread was measured to make a small MLP step 40x
    slower (spin-waiting against other processes). Results are bit-identical only for
    the same thread count, which env.json records.
    """
    if threads is None:
        text = os.environ.get("PRACTICUM_THREADS", "1")
        try:
            threads = int(text)
        except ValueError:
            raise PracticumError(f"PRACTICUM_THREADS must be an integer, got {text!r}") from None
    if threads < 1:
        raise PracticumError(f"--threads must be >= 1, got {threads}")
    return threads


def set_threads(threads: int) -> None:
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    threadpool_limits(threads)  # NumPy's BLAS (the autodiff engine's matmuls)


def distributed_rank(device: str) -> tuple[int, int, str]:
    """(rank, world size, device) — joins the process group when started by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, device
    import torch.distributed as dist

    if device.startswith("cuda"):
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    return dist.get_rank(), world, device


def check_out(run_dir: str | Path | None) -> None:
    """A finished run folder is never overwritten."""
    if run_dir is not None and (Path(run_dir) / "summary.json").exists():
        raise PracticumError(f"{run_dir} already holds a finished run; choose another --out")


def judge(targets: list[Target], metrics: Mapping[str, float]) -> list[dict[str, Any]]:
    return [t.judge(metrics) for t in targets]


class _NonFiniteGuard:
    """Stops training at the first optimiser step whose gradients hold NaN or Inf.

    Installed around every lab as a global optimiser hook, so no lab can silently train on
    garbage: the error names the step, the parameter and the last good checkpoint.
    """

    def __init__(self, run: Run) -> None:
        self.run = run
        self.steps: dict[int, int] = {}
        self.handle: Any = None

    def __enter__(self) -> _NonFiniteGuard:
        from torch.optim.optimizer import register_optimizer_step_pre_hook

        self.handle = register_optimizer_step_pre_hook(self.check)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.handle.remove()

    def check(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        import torch

        step = self.steps.get(id(optimizer), 0)
        self.steps[id(optimizer)] = step + 1
        for g, group in enumerate(optimizer.param_groups):
            for i, p in enumerate(group["params"]):
                grad = p.grad._values() if p.grad is not None and p.grad.is_sparse else p.grad
                if grad is not None and not torch.isfinite(grad).all():
                    last = self.run.last_checkpoint
                    where = f"last good checkpoint: {last}" if last else "no checkpoint yet"
                    name = _parameter_name(p) or f"parameter {i} of group {g}"
                    raise PracticumError(
                        f"loss or gradient became non-finite at optimiser step {step} "
                        f"({name}, shape {tuple(p.shape)}); {where}; "
                        f"metrics so far are in {self.run.dir / 'metrics.jsonl'}"
                    )


def _parameter_name(param: Any) -> str | None:
    """The qualified name of a parameter in the largest module that holds it (error path only)."""
    import gc
    import warnings

    import torch

    best: tuple[int, str] | None = None
    with warnings.catch_warnings():  # isinstance() on some lazy modules warns
        warnings.simplefilter("ignore")
        objects = [obj for obj in gc.get_objects() if isinstance(obj, torch.nn.Module)]
    for obj in objects:
        for name, p in obj.named_parameters():
            if p is param and (best is None or name.count(".") > best[0]):
                best = (name.count("."), f"{type(obj).__name__}.{name}")
    return best[1] if best else None


def _execute(lab: Lab, config: Any, run: Run, quick: bool) -> dict[str, Any]:
    """Call the lab, judge its targets and write summary.json."""
    start = time.perf_counter()
    with _NonFiniteGuard(run):
        metrics = finite_metrics(lab.run(config, run))
    wall = time.perf_counter() - start
    if run.params is None:
        raise RuntimeError(f"lab {lab.name} did not call run.set_params(...)")
    targets = judge(lab.targets_for(quick), metrics)
    summary = {
        "lab": lab.name,
        "seed": run.seed,
        "quick": quick,
        "metrics": metrics,
        "targets": targets,
        "passed": all(t["passed"] for t in targets),
        "wall_time_s": round(run.elapsed_before_resume + wall, 3),  # all processes of the run
        "param_hash": param_hash(run.params),
    }
    if run.elapsed_before_resume:
        summary["wall_time_this_process_s"] = round(wall, 3)
    if run.is_main:
        atomic_write_json(run.dir / "summary.json", summary)
    return summary


def run_lab(
    lab: Lab | str,
    *,
    quick: bool = False,
    seed: int = 0,
    overrides: Mapping[str, str] | None = None,
    out: str | Path | None = None,
    device: str = "cpu",
    quiet: bool = False,
    runs_root: str | Path = "runs",
    threads: int | None = None,
) -> tuple[dict[str, Any], Path]:
    """Run one lab and return its summary and run folder."""
    if isinstance(lab, str):
        lab = get_lab(lab)
    config = make_config(lab, quick=quick, overrides=overrides)
    device = resolve_device(device)
    run_dir = Path(out) if out is not None else default_run_dir(lab.name, seed, Path(runs_root))
    check_out(run_dir)

    set_threads(resolve_threads(threads))
    rank, world_size, device = distributed_rank(device)
    settings = seed_everything(seed)  # every rank the same seed: identical initial weights
    run = Run(run_dir, seed, device, quick, quiet, rank=rank, world_size=world_size)
    if run.is_main:
        atomic_write_json(
            run_dir / "config.json",
            {"lab": lab.name, "quick": quick, "seed": seed, "config": config_to_dict(config)},
        )
        env = {**environment(device), "determinism": settings, "world_size": world_size}
        atomic_write_json(run_dir / "env.json", env)

    return _execute(lab, config, run, quick), run_dir


def resume_lab(
    run_dir: str | Path,
    *,
    device: str | None = None,
    quiet: bool = False,
    threads: int | None = None,
) -> tuple[dict[str, Any], Path]:
    """Continue an interrupted run from its newest usable checkpoint, in the same folder.

    The lab, seed, quick flag and config come from the folder's config.json; the thread
    count and device from its env.json unless given (bit-identical results need the same).
    """
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file():
        raise PracticumError(f"{run_dir} is not a run folder (no config.json)")
    check_out(run_dir)
    saved = read_json(run_dir / "config.json")
    env = read_json(run_dir / "env.json") if (run_dir / "env.json").is_file() else {}
    lab = get_lab(saved["lab"])
    fields = set(config_fields(lab))
    unknown = set(saved["config"]) - fields
    if unknown:
        raise PracticumError(f"{run_dir}: config keys no longer in lab {lab.name}: {unknown}")
    config = lab.config(**{k: _from_json(v) for k, v in saved["config"].items()})
    device = resolve_device(device or env.get("device", "cpu"))
    set_threads(resolve_threads(threads or env.get("num_threads")))
    seed_everything(saved["seed"])
    run = Run(run_dir, seed=saved["seed"], device=device, quick=saved["quick"], quiet=quiet)
    run.resuming = True
    return _execute(lab, config, run, saved["quick"]), run_dir


def _from_json(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
