"""Run folders and the object a lab's ``run`` function receives.

A run folder holds ``config.json``, ``env.json``, ``metrics.jsonl``, ``summary.json``,
``plots/*.png`` and ``checkpoints/``. Everything except the append-only metrics log is
written atomically, so an interrupted run never leaves a half-written summary.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from practicum.errors import PracticumError
from practicum.io import atomic_write, atomic_write_json, read_json, to_json

T = TypeVar("T")


def new_run_dir(lab: str, seed: int, root: Path = Path("runs")) -> Path:
    """Create and return a fresh run folder ``root/<lab>/<UTC time>-s<seed>``.

    Never one that exists: two runs started in the same second (even by two processes, since
    the creation itself is the test) get ``<time>-2-s<seed>``, ``<time>-3-s<seed>``, ...
    """
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (root / lab).mkdir(parents=True, exist_ok=True)
    n = 1
    while True:
        path = root / lab / (f"{stamp}-s{seed}" if n == 1 else f"{stamp}-{n}-s{seed}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            n += 1


class Run:
    """What a lab gets besides its config: where to write, how to log, the seed, the device.

    Attributes: ``dir`` (the run folder), ``seed``, ``device`` (a string for torch),
    ``quick`` and ``quiet``.
    """

    def __init__(
        self,
        path: Path,
        seed: int = 0,
        device: str = "cpu",
        quick: bool = False,
        quiet: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.rank = rank  # under torchrun: this process's rank; only rank 0 writes
        self.world_size = world_size
        if rank != 0:
            import tempfile

            # Other ranks compute the same things but keep them to themselves.
            path = Path(tempfile.mkdtemp(prefix=f"practicum-rank{rank}-"))
            quiet = True
        self.dir = Path(path)
        self.seed = seed
        self.device = device
        self.quick = quick
        self.quiet = quiet
        self.params: Any = None
        self.resuming = False  # set by prepare_resume (the launcher's --resume)
        self._resume_from: tuple[Path, dict[str, Any]] | None = None
        self.last_checkpoint: Path | None = None
        # Wall time spent by earlier processes of this run, up to the checkpoint resumed from
        # (work after it was lost and is done again, so it is not counted twice).
        self.elapsed_before_resume = 0.0
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "plots").mkdir(exist_ok=True)
        (self.dir / "checkpoints").mkdir(exist_ok=True)
        self._metrics_log = self.dir / "metrics.jsonl"
        # Where this process's lines of the log begin (a resumed run that finds no usable
        # checkpoint keeps only those).
        self._metrics_start = self._metrics_log.stat().st_size if self._metrics_log.exists() else 0
        self._t0 = time.perf_counter()

    # ---- paths -------------------------------------------------------------------
    @property
    def plots_dir(self) -> Path:
        return self.dir / "plots"

    @property
    def checkpoints_dir(self) -> Path:
        return self.dir / "checkpoints"

    # ---- data parallelism (torchrun) ---------------------------------------------
    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, batch: Any) -> Any:
        """This process's contiguous share of a batch (all of it without torchrun).

        Shards are equal, so DistributedDataParallel's average of the shards' mean-loss
        gradients equals the gradient of the mean loss over the whole batch.
        """
        if self.world_size == 1:
            return batch
        n = batch.shape[0]
        if n % self.world_size:
            raise PracticumError(
                f"a batch of {n} does not split evenly over {self.world_size} processes"
            )
        k = n // self.world_size
        return batch[self.rank * k : (self.rank + 1) * k]

    def distribute(self, model: Any) -> Any:
        """Wrap a module in DistributedDataParallel under torchrun; unchanged otherwise.

        Keep the unwrapped module for evaluation and ``set_params``.
        """
        if self.world_size == 1:
            return model
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(model)

    # ---- logging -----------------------------------------------------------------
    def log(self, **values: Any) -> None:
        """Append one line to ``metrics.jsonl`` (e.g. ``run.log(step=10, loss=0.3)``)."""
        if not self.is_main:
            return
        line = json.dumps(json.loads(to_json(values)), separators=(",", ":"))
        with self._metrics_log.open("a") as f:
            f.write(line + "\n")

    def print(self, *args: Any) -> None:
        """A line for the person watching; silent with ``--quiet``."""
        if not self.quiet:
            print(*args, file=sys.stderr, flush=True)

    def progress(
        self,
        iterable: Iterable[T],
        total: int | None = None,
        desc: str | None = None,
        initial: int = 0,
    ) -> Iterator[T]:
        """A tqdm progress bar on a terminal; plain iteration with --quiet or no TTY.

        ``initial`` is how much of ``total`` was done before (a resumed run's bar starts there).
        """
        if self.quiet or not sys.stderr.isatty():
            return iter(iterable)
        from tqdm.auto import tqdm

        bar = tqdm(
            iterable, total=total, desc=desc, initial=initial, leave=False, dynamic_ncols=True
        )
        return iter(bar)

    def loop(
        self, total: int, state: Mapping[str, Any], *, desc: str = "epoch", every: int = 1
    ) -> Iterator[int]:
        """The training loop's skeleton: ``for i in run.loop(epochs, state): ...``.

        Yields ``i = 0, 1, ..., total - 1`` (one numbering: ``i`` counts iterations from 0,
        and ``i + 1`` are done when the body ends) with a progress bar. On ``--resume`` it
        first restores ``state`` from the newest checkpoint and starts after the iteration
        that checkpoint ended. After every ``every``-th iteration, and after the last, it saves
        ``state`` with :meth:`checkpoint`.

        ``state`` maps names to what must survive an interruption: modules, optimisers,
        schedulers, NumPy and torch generators, objects with ``state_dict``, and plain
        containers (lists and dicts of numbers and strings, NumPy arrays, tensors), which are
        restored in place. Keep counters and bests in such a container (``best = {"acc": 0}``)
        so that they are restored too. Leaving the loop with ``break`` saves nothing more.
        """
        if total < 0 or every < 1:
            raise ValueError(f"loop needs total >= 0 and every >= 1, got {total}, {every}")
        resumed = self.restore(**state)
        first = resumed["step"] + 1 if resumed else 0
        for i in self.progress(range(first, total), total=total, desc=desc, initial=first):
            yield i
            if (i + 1) % every == 0 or i + 1 == total:
                self.checkpoint(i, **state)

    def elapsed(self) -> float:
        return time.perf_counter() - self._t0

    # ---- outputs -----------------------------------------------------------------
    def save_figure(self, fig: Any, name: str) -> Path:
        """Save a matplotlib figure as ``plots/<name>.png`` atomically and close it."""
        import matplotlib.pyplot as plt

        path = self.plots_dir / f"{name}.png"
        if self.is_main:
            atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=130, bbox_inches="tight"))
        plt.close(fig)
        return path

    def set_params(self, params: Any) -> None:
        """Declare the final parameters (a module, state dict, or mapping of arrays)."""
        self.params = params

    def write_json(self, name: str, value: Any) -> Path:
        return atomic_write_json(self.dir / name, value)

    # ---- checkpoint and resume ------------------------------------------------------
    def checkpoint(self, step: int, **objects: Any) -> Path:
        """Save ``objects`` (modules, optimisers, schedulers, generators, plain data) at ``step``.

        The global Python/NumPy/torch RNG states and the length of ``metrics.jsonl`` are
        saved too, so that :meth:`restore` continues exactly where this call was made.
        """
        from practicum import checkpoint as ckpt

        if not self.is_main:
            return self.checkpoints_dir
        payload = {
            "step": step,
            "objects": {name: ckpt.state_of(obj) for name, obj in objects.items()},
            "global_rng": ckpt.global_rng_state(),
            "metrics_bytes": self._metrics_log.stat().st_size if self._metrics_log.exists() else 0,
            "elapsed": self.elapsed_before_resume + self.elapsed(),
        }
        self.last_checkpoint = ckpt.save(self.checkpoints_dir, step, payload)
        return self.last_checkpoint

    def prepare_resume(self) -> None:
        """Make this run a ``--resume``: find the checkpoint that :meth:`restore` continues from.

        Unreadable checkpoints newer than it are set aside as ``*.unreadable`` (so that no new
        checkpoint is pruned in their favour) and named in one line on stderr. Without a usable
        checkpoint — stopped before the first, or every one unreadable — the run starts over:
        the metrics log keeps only what this process wrote, and the run ends as an
        uninterrupted one would.
        """
        from practicum import checkpoint as ckpt

        latest = ckpt.load_latest(self.checkpoints_dir)
        for path, _ in latest.unreadable:
            path.rename(path.with_name(path.name + ".unreadable"))
        bad = ", ".join(f"{path.name} ({why})" for path, why in latest.unreadable)
        if latest.path is None or latest.payload is None:
            self.resuming = False
            self._start_metrics_over()
            why = (
                f"every checkpoint is unreadable ({bad}; set aside as *.unreadable)"
                if bad
                else "it was stopped before its first checkpoint"
            )
            self._warn(f"{self.dir}: nothing to resume from: {why}; starting the run over")
            return
        self.resuming = True
        self._resume_from = (latest.path, latest.payload)
        where = f"{latest.path} (step {latest.payload['step']})"
        if bad:
            self._warn(
                f"unreadable checkpoint(s) {bad} set aside as *.unreadable; resuming {where}"
            )
        else:
            self.print(f"resuming from {where}")

    def _start_metrics_over(self) -> None:
        if self._metrics_log.exists():
            with self._metrics_log.open("rb") as f:
                f.seek(self._metrics_start)
                mine = f.read()
            atomic_write(self._metrics_log, lambda f: f.write(mine))
        self._metrics_start = 0

    def _warn(self, message: str) -> None:
        """One line on stderr that ``--quiet`` does not silence: something was not as expected."""
        if self.is_main:
            print(f"practicum: {message}", file=sys.stderr, flush=True)

    def restore(self, **objects: Any) -> dict[str, Any] | None:
        """Load the newest usable checkpoint into ``objects``; None when starting fresh.

        Only a run made a ``--resume`` (:meth:`prepare_resume`, or ``resuming = True``)
        restores. Modules, optimisers, generators, lists, dicts, arrays and tensors are
        restored in place; the saved values are also returned by name, with ``"step"``:
        continue from ``step + 1``. The metrics log is cut back to where it was at that
        checkpoint.
        """
        from practicum import checkpoint as ckpt

        if not self.resuming:
            return None
        if self._resume_from is None:
            self.prepare_resume()
            if self._resume_from is None:
                return None
        path, payload = self._resume_from
        saved = payload["objects"]
        missing = set(objects) - set(saved)
        if missing:
            raise PracticumError(f"checkpoint {path} has no state for {', '.join(sorted(missing))}")
        values: dict[str, Any] = {"step": payload["step"]}
        for name, obj in objects.items():
            values[name] = ckpt.load_into(obj, saved[name])
        ckpt.set_global_rng_state(payload["global_rng"])
        self.elapsed_before_resume = float(payload.get("elapsed", 0.0))  # older checkpoints: 0
        if self._metrics_log.exists():
            with self._metrics_log.open("r+b") as f:
                f.truncate(payload["metrics_bytes"])
        self.last_checkpoint = path
        return values


def config_to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def load_summary(run_dir: str | Path, name: str = "summary.json") -> dict[str, Any]:
    """Read ``summary.json`` (or ``name``) of a run folder, with a clear error if it is
    missing or bad."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise PracticumError(f"no such run folder: {run_dir}")
    path = run_dir / name
    if not path.is_file():
        raise PracticumError(f"{run_dir} has no {name} (the run did not finish)")
    try:
        summary = read_json(path)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PracticumError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(summary, dict):
        raise PracticumError(f"{path} is not a run summary (not a JSON object)")
    for key, kind in (("lab", str), ("metrics", dict), ("targets", list)):
        if key not in summary:
            raise PracticumError(f"{path} is missing the key {key!r}")
        if not isinstance(summary[key], kind):
            raise PracticumError(f"{path}: {key!r} is not a JSON {kind.__name__}")
    return summary


def finite_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """Labs return numbers; reject anything else with a clear message."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise TypeError(f"metric {key!r} is not a number: {value!r}") from None
        out[key] = int(value) if isinstance(value, int) and not isinstance(value, bool) else number
        if isinstance(out[key], float) and not math.isfinite(out[key]):
            out[key] = number  # kept; JSON writes it as null and the target fails
    return out
