"""Run a lab: seed, make the run folder, call the lab, judge its targets, write the summary."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from practicum.errors import PracticumError
from practicum.io import atomic_write_json
from practicum.lab import Lab, Target, get_lab, make_config
from practicum.repro import environment, param_hash, seed_everything
from practicum.runs import Run, config_to_dict, default_run_dir, finite_metrics


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


def check_out(run_dir: str | Path | None) -> None:
    """A finished run folder is never overwritten."""
    if run_dir is not None and (Path(run_dir) / "summary.json").exists():
        raise PracticumError(f"{run_dir} already holds a finished run; choose another --out")


def judge(targets: list[Target], metrics: Mapping[str, float]) -> list[dict[str, Any]]:
    return [t.judge(metrics) for t in targets]


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
    settings = seed_everything(seed)
    run = Run(run_dir, seed=seed, device=device, quick=quick, quiet=quiet)
    atomic_write_json(
        run_dir / "config.json",
        {"lab": lab.name, "quick": quick, "seed": seed, "config": config_to_dict(config)},
    )
    atomic_write_json(run_dir / "env.json", {**environment(device), "determinism": settings})

    start = time.perf_counter()
    metrics = finite_metrics(lab.run(config, run))
    wall = time.perf_counter() - start
    if run.params is None:
        raise RuntimeError(f"lab {lab.name} did not call run.set_params(...)")

    targets = judge(lab.targets_for(quick), metrics)
    summary = {
        "lab": lab.name,
        "seed": seed,
        "quick": quick,
        "metrics": metrics,
        "targets": targets,
        "passed": all(t["passed"] for t in targets),
        "wall_time_s": round(wall, 3),
        "param_hash": param_hash(run.params),
    }
    atomic_write_json(run_dir / "summary.json", summary)
    return summary, run_dir
