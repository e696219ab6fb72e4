"""Run a lab: seed, make the run folder, call the lab, judge its targets, write the summary.

Everything a user gives (lab, config, ``--out``, device, threads, the folder to resume) is
checked before anything is written, so bad input is one line and loses nothing.
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from practicum.errors import Interrupted, PracticumError
from practicum.io import atomic_write_json, out_folder, read_json
from practicum.lab import Lab, Target, check_config, config_fields, get_lab, make_config
from practicum.repro import environment, param_hash, seed_everything
from practicum.run import Run, config_to_dict, finite_metrics, new_run_dir

# More intra-op threads than this many per CPU only spin-wait: a larger --threads is a typo.
THREADS_PER_CPU = 4


def resolve_device(device: str) -> str:
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise PracticumError(f"bad device {device!r} (use cpu or cuda)")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise PracticumError("--device cuda was asked for, but no CUDA device is available")
    return device


def max_threads() -> int:
    """The largest thread count that is not a mistake on this machine."""
    return THREADS_PER_CPU * (os.cpu_count() or 1)


def resolve_threads(threads: int | None, given_as: str = "--threads") -> int:
    """Intra-op threads for torch and BLAS: ``--threads``, else $PRACTICUM_THREADS, else 1.

    One thread is the default on purpose: the labs' models are small, and on a shared
    2-core machine a second intra-op thread was measured to make a small MLP step 40x
    slower (spin-waiting against other processes). Results are bit-identical only for
    the same thread count, which env.json records. ``given_as`` names where ``threads``
    came from, for the error message; a value from the environment is named as such.
    """
    if threads is None:
        text = os.environ.get("PRACTICUM_THREADS", "").strip()
        if not text:  # unset, or set empty to unset it
            return 1
        given_as = "PRACTICUM_THREADS"
        try:
            threads = int(text)
        except ValueError:
            raise PracticumError(f"PRACTICUM_THREADS must be an integer, got {text!r}") from None
    limit = max_threads()
    if not 1 <= threads <= limit:
        raise PracticumError(
            f"{given_as} must be between 1 and {limit} ({THREADS_PER_CPU} per CPU, "
            f"{os.cpu_count()} CPUs here), got {threads}"
        )
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


def check_out(out: str | Path | None, lab: str) -> None:
    """Refuse, before anything is written, an ``--out`` that would mix or lose files.

    ``None`` (the default: a fresh folder under runs/) and a new or empty folder are fine.
    An empty string, a file, a place under a file or without write permission, a finished
    run, an unfinished run of ``lab`` (continue it with ``--resume``) and a folder holding
    anything else are one-line errors.
    """
    if out is None or int(os.environ.get("RANK", "0")) > 0:  # under torchrun rank 0 writes
        return
    path, entries = out_folder(out, "(or leave --out off)")
    if entries is not None:
        if not entries:
            return
        owner = _run_of(path)
        if (path / "summary.json").exists():
            raise PracticumError(
                f"{path} already holds a finished run{f' of {owner}' if owner else ''}; "
                "choose another --out"
            )
        if owner == lab:
            raise PracticumError(
                f"{path} holds an unfinished run of {lab}: continue it with "
                f"`practicum run --resume {path}`, or choose another --out"
            )
        shown = ", ".join(entries[:3]) + (", …" if len(entries) > 3 else "")
        raise PracticumError(
            f"--out {path} is a folder that holds other files ({shown}), not a run of {lab}; "
            "name a new or empty folder"
        )


def _run_of(path: Path) -> str | None:
    """The lab whose run ``path`` holds (from its config.json), or None."""
    try:
        saved = read_json(path / "config.json")
    except (OSError, ValueError):
        return None
    lab = saved.get("lab") if isinstance(saved, dict) else None
    return lab if isinstance(lab, str) else None


def make_run_dir(out: str | Path | None, lab: str, seed: int, runs_root: Path) -> Path:
    """Create the run folder: ``out`` (checked by :func:`check_out`), else a fresh one.

    The creation is the run's first write; a place that cannot be made (``/proc/...``, a
    read-only disk) is one line, and nothing else has been written.
    """
    try:
        if out is None:
            return new_run_dir(lab, seed, runs_root)
        path = Path(out)
        path.mkdir(parents=True, exist_ok=True)
        return path
    except OSError as exc:
        where = f"--out {out}" if out is not None else f"the run folder under {runs_root}"
        raise PracticumError(f"{where} cannot be created: {exc.strerror}") from None


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
    """Call the lab, judge its targets and write summary.json.

    Running out of memory is one line naming the lab and its config (an allocation that the
    kernel refuses; a process the kernel kills for memory cannot say anything). Ctrl-C is
    :class:`Interrupted`, which names the run folder.
    """
    start = time.perf_counter()
    try:
        with _NonFiniteGuard(run):
            metrics = finite_metrics(lab.run(config, run))
    except KeyboardInterrupt:
        raise Interrupted(run.dir) from None
    except (MemoryError, RuntimeError) as exc:
        if not is_out_of_memory(exc):
            raise
        raise PracticumError(out_of_memory_message(lab, config, quick, exc)) from None
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


# How torch (CPU and CUDA allocators) and NumPy word a refused allocation.
_OUT_OF_MEMORY = re.compile(r"can't allocate memory|out of memory|not enough memory", re.I)


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an allocation the machine refused (MemoryError, torch's allocators)."""
    return isinstance(exc, MemoryError) or bool(_OUT_OF_MEMORY.search(str(exc)))


def config_changes(lab: Lab, config: Any, quick: bool) -> str:
    """How ``config`` differs from the lab's defaults, as the command line says it:
    ``--quick --set width=4096`` (``the default config`` when it does not)."""
    base = make_config(lab, quick=quick, check_memory=False)
    sets = [
        f"--set {f.name}={_as_set(getattr(config, f.name))}"
        for f in dataclasses.fields(config)
        if getattr(config, f.name) != getattr(base, f.name)
    ]
    words = (["--quick"] if quick else []) + sets
    return " ".join(words) if words else "the default config"


def _as_set(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple | list):
        return ",".join(_as_set(v) for v in value)
    return str(value)


def out_of_memory_message(lab: Lab, config: Any, quick: bool, exc: BaseException) -> str:
    """One line for a refused allocation: the lab, its config, what was asked for."""
    detail = " ".join(str(exc).split()) or type(exc).__name__
    detail = re.sub(r"^\[enforce fail at [^\]]*\] err == 0\. ", "", detail)  # torch's C++ prefix
    if len(detail) > 120:
        detail = detail[:119] + "…"
    return (
        f"lab {lab.name} ran out of memory with {config_changes(lab, config, quick)} "
        f"({detail}); make its sizes smaller with --set, or run it on a bigger machine"
    )


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
    """Run one lab and return its summary and run folder.

    Everything is checked before the run folder is created; ``out=None`` makes a fresh
    folder ``runs_root/<lab>/<UTC time>-s<seed>``.
    """
    if isinstance(lab, str):
        lab = get_lab(lab)
    config = make_config(lab, quick=quick, overrides=overrides)
    lab.check_requirements(config)  # a missing optional package: one line, nothing written
    device = resolve_device(device)
    check_out(out, lab.name)
    threads = resolve_threads(threads)

    set_threads(threads)
    rank, world_size, device = distributed_rank(device)
    if rank == 0:
        run_dir = make_run_dir(out, lab.name, seed, Path(runs_root))
    else:  # other ranks write nowhere (Run gives them a scratch folder)
        run_dir = Path(out) if out is not None else Path(runs_root) / lab.name
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
    Without a usable checkpoint the run starts over in its folder, its metrics log emptied,
    and ends as an uninterrupted run would (one line says so).
    """
    run_dir = Path(run_dir)
    saved = _saved_config(run_dir)
    lab = get_lab(saved["lab"])
    if (run_dir / "summary.json").exists():
        mode = " --quick" if saved["quick"] else ""
        raise PracticumError(
            f"{run_dir} holds a finished run of {lab.name}: nothing to resume (`practicum show "
            f"{run_dir}`); to run it again, give a new folder: `practicum run {lab.name}{mode} "
            f"--seed {saved['seed']} --out NEW_DIR` (and its --set values, see config.json)"
        )
    env = _read_run_json(run_dir / "env.json") if (run_dir / "env.json").exists() else {}
    fields = config_fields(lab)
    unknown = set(saved["config"]) - set(fields)
    if unknown:
        raise PracticumError(f"{run_dir}: config keys no longer in lab {lab.name}: {unknown}")
    values = {k: _from_json(v) for k, v in saved["config"].items()}
    for key, value in values.items():
        if not fits_type(value, fields[key]):
            raise PracticumError(
                f"{run_dir / 'config.json'} does not fit lab {lab.name}: "
                f"{key}={value!r} is not of type {_type_text(fields[key])}"
            )
    config = lab.config(**values)
    check_config(lab, config)
    lab.check_requirements(config)
    device = resolve_device(device or env.get("device", "cpu"))
    if threads is None and env.get("num_threads") is not None:
        saved_threads = env["num_threads"]
        given_as = f"num_threads in {run_dir / 'env.json'} (give --threads N)"
        if not isinstance(saved_threads, int):
            raise PracticumError(f"{given_as} must be an integer, got {saved_threads!r}")
        threads = resolve_threads(saved_threads, given_as)
    else:
        threads = resolve_threads(threads)
    set_threads(threads)
    seed_everything(saved["seed"])
    run = Run(run_dir, seed=saved["seed"], device=device, quick=saved["quick"], quiet=quiet)
    run.prepare_resume()
    return _execute(lab, config, run, saved["quick"]), run_dir


def _read_run_json(path: Path) -> dict[str, Any]:
    """A run folder's JSON file, or one line saying why it cannot be used."""
    try:
        value = read_json(path)
    except OSError as exc:
        raise PracticumError(f"{path} cannot be read: {exc.strerror}") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise PracticumError(f"{path} is corrupt ({exc}); the run cannot be resumed") from None
    if not isinstance(value, dict):
        raise PracticumError(f"{path} is corrupt (not a JSON object); the run cannot be resumed")
    return value


def _saved_config(run_dir: Path) -> dict[str, Any]:
    """The folder's config.json, checked: lab, seed, quick and config of the right types."""
    if not run_dir.is_dir():
        raise PracticumError(f"no such run folder: {run_dir}")
    path = run_dir / "config.json"
    if not path.is_file():
        raise PracticumError(f"{run_dir} is not a run folder (no config.json)")
    saved = _read_run_json(path)
    kinds = {"lab": str, "seed": int, "quick": bool, "config": dict}
    for key, kind in kinds.items():
        if not isinstance(saved.get(key), kind):
            raise PracticumError(
                f"{path} is corrupt ({key!r} is not a {kind.__name__}); the run cannot be resumed"
            )
    return saved


def _from_json(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _type_text(typ: Any) -> str:
    return typ.__name__ if isinstance(typ, type) else str(typ).replace("typing.", "")


def fits_type(value: Any, typ: Any) -> bool:
    """Whether a value read from config.json has a config field's type (numbers, strings,
    booleans, choices, optional values, tuples and lists of them; other types pass)."""
    origin, args = typing.get_origin(typ), typing.get_args(typ)
    if origin in (typing.Union, types.UnionType):
        return any(fits_type(value, arg) for arg in args)
    if origin is typing.Literal:
        return value in args
    if origin in (tuple, list):
        if not isinstance(value, tuple | list):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(map(fits_type, value, args))
        return all(fits_type(v, args[0]) for v in value) if args else True
    if typ is type(None):
        return value is None
    if typ is bool:
        return isinstance(value, bool)
    if typ is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if typ is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if typ is str:
        return isinstance(value, str)
    return True
