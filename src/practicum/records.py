"""The results of record in ``docs/results/``: what ``practicum record`` writes, and reads back.

A lab's run of record is laid out as::

    docs/results/<lab>.json            the run's summary.json
    docs/results/<lab>/config.json     its config and seed
    docs/results/<lab>/env.json        versions, commit, CPU, threads, device
    docs/results/<lab>/*.png           its plots
    docs/results/<lab>/seeds.json      only when several seeds were recorded (below)

A record must be rerunnable, so a run made from a tree with uncommitted changes to tracked
files (its env.json names a ``+dirty`` commit) or outside git is refused. Where one seed hides
the spread of a close call, further run folders of the same lab and config, other seeds, are
recorded beside it in ``seeds.json``::

    {"lab": "mnist-cnn", "config": {...the shared config...},
     "runs": [{"seed": 0, "metrics": {...}, "param_hash": "...", "wall_time_s": 185.7,
               "git_commit": "<sha>", "cpu": "AMD EPYC", "record": true}, ...],
     "stats": {"test_accuracy": {"mean": m, "std": s, "min": a, "max": b, "n": k}}}

``stats`` covers the metric of each full target; ``std`` is the sample standard deviation
(ddof=1, 0.0 for one value); ``"record": true`` marks the run of record (the first given).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from practicum.errors import PracticumError
from practicum.format import short_commit, wall_time
from practicum.io import atomic_write_bytes, atomic_write_json

if TYPE_CHECKING:
    from practicum.lab import Lab

SEEDS = "seeds.json"


def project_root() -> Path:
    """The repository root (where pyproject.toml is), else the current folder."""
    here = Path(__file__).resolve().parents[2]
    return here if (here / "pyproject.toml").is_file() else Path.cwd()


def results_dir() -> Path:
    """``docs/results/`` of the project: the results of record."""
    return project_root() / "docs" / "results"


def load_seeds(lab: str, results: Path | None = None) -> dict[str, Any] | None:
    """The seeds.json of a lab's record (several seeds, their stats), or None if it has none."""
    path = (results if results is not None else results_dir()) / lab / SEEDS
    if not path.is_file():
        return None
    return json.loads(path.read_text())


# Marks a time that is the lab's own estimate (``Lab.time_full``), not a measured run of record.
ESTIMATE_MARK = "≈ "


def estimate(lab: Lab) -> str:
    """A lab's own estimate of its full run (``time_full``), marked as one."""
    return ESTIMATE_MARK + lab.time_full


def full_time(lab: Lab, results: Path | None = None) -> str:
    """A lab's full-run time, written the same in the README, `practicum list` and `info`, and
    the report: its run of record's measured wall time (with the GPU, if it ran on one), else
    the lab's own estimate (``time_full``) marked with :data:`ESTIMATE_MARK`."""
    results = results if results is not None else results_dir()
    try:
        summary = json.loads((results / f"{lab.name}.json").read_text())
    except FileNotFoundError:
        return estimate(lab)
    try:
        env = json.loads((results / lab.name / "env.json").read_text())
    except FileNotFoundError:
        env = None
    return wall_time(summary.get("wall_time_s"), env)


def is_dirty(env: Mapping[str, Any] | None) -> bool:
    """Whether a run's env.json says it ran uncommitted changes (its commit ends in ``+dirty``)."""
    return str((env or {}).get("git_commit") or "").endswith("+dirty")


def is_clean(env: Mapping[str, Any] | None) -> bool:
    """Whether a run's env.json names a commit that holds exactly the code it ran (a run with
    no commit recorded is neither clean nor dirty)."""
    return bool((env or {}).get("git_commit")) and not is_dirty(env)


def seed_stats(values: Sequence[float]) -> dict[str, float | int]:
    """Mean, sample standard deviation (ddof=1; 0.0 for one value), min, max and count."""
    if not values:
        raise ValueError("seed_stats needs at least one value")
    n = len(values)
    mean = math.fsum(values) / n
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return {"mean": mean, "std": std, "min": min(values), "max": max(values), "n": n}


@dataclass(frozen=True)
class _RunFolder:
    """One run folder, read and checked in full before anything is written."""

    path: Path
    summary: dict[str, Any]
    config: dict[str, Any]
    env: dict[str, Any]
    plots: list[Path]
    audio: list[Path]  # audio/*.wav: examples to listen to (a separation lab's estimates)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PracticumError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PracticumError(f"{path} does not hold a JSON object")
    return data


def _read_run(run_dir: Path, allow_quick: bool) -> _RunFolder:
    from practicum.run import load_summary

    summary = load_summary(run_dir)  # one-line errors for a missing or unfinished folder
    if summary.get("quick") and not allow_quick:
        raise PracticumError(
            f"{run_dir} is a --quick run; results of record are full runs (--allow-quick to override)"
        )
    for name in ("config.json", "env.json"):
        if not (run_dir / name).is_file():
            raise PracticumError(f"{run_dir} has no {name}; rerun the lab to record it")
    env = _read_json(run_dir / "env.json")
    if not is_clean(env):
        commit = env.get("git_commit")
        why = (
            f"was made from uncommitted changes ({short_commit(env)})"
            if commit
            else "names no git commit (not run from a clone)"
        )
        raise PracticumError(
            f"{run_dir} {why}; a record must be rerunnable: commit, rerun the lab, then record"
        )
    return _RunFolder(
        path=run_dir,
        summary=summary,
        config=_read_json(run_dir / "config.json"),
        env=env,
        plots=sorted((run_dir / "plots").glob("*.png")),
        audio=sorted((run_dir / "audio").glob("*.wav")),
    )


def _full_target_metrics(record: _RunFolder) -> list[str]:
    """The metrics of the lab's full targets (the registered lab's, else the saved ones)."""
    from practicum.lab import all_labs

    lab = all_labs().get(record.summary["lab"])
    if lab is not None:
        metrics = [t.metric for t in lab.targets]
    else:
        metrics = [t["metric"] for t in record.summary.get("targets", [])]
    return list(dict.fromkeys(metrics))


def _check_same_experiment(runs: list[_RunFolder]) -> None:
    """Further run folders must be other seeds of the record's lab, mode and config."""
    first = runs[0]
    seen = {first.summary.get("seed"): first.path}
    for other in runs[1:]:
        if other.summary["lab"] != first.summary["lab"]:
            raise PracticumError(
                f"{other.path} is a run of {other.summary['lab']}, not {first.summary['lab']}; "
                "the seeds of a record are runs of one lab"
            )
        if bool(other.summary.get("quick")) != bool(first.summary.get("quick")):
            raise PracticumError(f"{other.path} and {first.path} differ in --quick")
        mine, theirs = first.config.get("config", {}), other.config.get("config", {})
        if mine != theirs:
            keys = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
            raise PracticumError(
                f"{other.path} has another config than {first.path} "
                f"({', '.join(keys)}); the seeds of a record share one config"
            )
        seed = other.summary.get("seed")
        if seed in seen:
            raise PracticumError(f"{other.path} and {seen[seed]} both have seed {seed}")
        seen[seed] = other.path


def seeds_document(runs: Sequence[_RunFolder]) -> dict[str, Any]:
    """The seeds.json of a record: the shared config, each seed's run, the stats per metric."""
    stats = {}
    for metric in _full_target_metrics(runs[0]):
        values = [r.summary["metrics"].get(metric) for r in runs]
        finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
        if finite:
            stats[metric] = seed_stats(finite)
    return {
        "lab": runs[0].summary["lab"],
        "config": runs[0].config.get("config", {}),
        "runs": [
            {
                "seed": r.summary.get("seed"),
                "metrics": r.summary["metrics"],
                "param_hash": r.summary.get("param_hash"),
                "wall_time_s": r.summary.get("wall_time_s"),
                "git_commit": r.env.get("git_commit"),
                "cpu": r.env.get("cpu"),
                "record": i == 0,
            }
            for i, r in enumerate(runs)
        ],
        "stats": stats,
    }


@dataclass(frozen=True)
class Recorded:
    """What :func:`record` wrote."""

    lab: str
    plots: int
    seeds: int  # run folders recorded (1: no seeds.json)


def record(
    run_dirs: Sequence[str | Path], allow_quick: bool = False, results: Path | None = None
) -> Recorded:
    """Make ``run_dirs[0]`` the lab's run of record; further folders are other seeds.

    Every folder is read and checked first (finished, full unless ``allow_quick``, clean commit,
    same lab and config, distinct seeds), so bad input raises PracticumError with nothing
    written. The README table and docs/reproducibility.md are regenerated by the caller.
    """
    if not run_dirs:
        raise PracticumError("name at least one run folder to record")
    runs = [_read_run(Path(d), allow_quick) for d in run_dirs]
    _check_same_experiment(runs)

    first = runs[0]
    lab = first.summary["lab"]
    dest = results if results is not None else results_dir()
    atomic_write_bytes(dest / f"{lab}.json", (first.path / "summary.json").read_bytes())
    folder = dest / lab
    # Old plots go (a plot the lab no longer draws must not linger); other files the
    # folder holds (notes, extra summaries committed beside the record) stay.
    for stale in folder.glob("*.png"):
        stale.unlink()
    for plot in first.plots:
        atomic_write_bytes(folder / plot.name, plot.read_bytes())
    for stale in (folder / "audio").glob("*.wav"):
        stale.unlink()
    for clip in first.audio:
        atomic_write_bytes(folder / "audio" / clip.name, clip.read_bytes())
    for extra in ("config.json", "env.json"):
        atomic_write_bytes(folder / extra, (first.path / extra).read_bytes())
    if len(runs) > 1:
        atomic_write_json(folder / SEEDS, seeds_document(runs))
    else:
        # One seed: a seeds.json left from an earlier record would describe another run.
        (folder / SEEDS).unlink(missing_ok=True)
    return Recorded(lab=lab, plots=len(first.plots), seeds=len(runs))
