"""Independent trainings side by side in worker processes, results taken in order.

Small networks on a CPU are overhead-bound: a second thread barely speeds one up, a second
process doubles the throughput. A lab whose trainings are each seeded on their own can hand
them to :func:`worker_pool` and read them back with :class:`InOrder`, in the order of its
``run.loop``, so that every checkpoint and every bit is what one process would have produced.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

import torch


@contextmanager
def worker_pool(workers: int, threads: int | None = 1) -> Iterator[ProcessPoolExecutor | None]:
    """A pool of ``workers`` processes with ``threads`` torch threads each (None: workers that
    need not import torch are left alone), or None for 1 (run in this process)."""
    if workers <= 1:
        yield None
        return
    # spawn, not fork: a forked copy of a process that has started torch's thread pool can
    # deadlock.
    context = multiprocessing.get_context("spawn")
    if threads is None:
        pool = ProcessPoolExecutor(workers, mp_context=context)
    else:
        pool = ProcessPoolExecutor(
            workers, mp_context=context, initializer=torch.set_num_threads, initargs=(threads,)
        )
    try:
        yield pool
    finally:  # an interrupted run does not wait for results it will not use
        pool.shutdown(wait=True, cancel_futures=True)


class InOrder:
    """``fn(*jobs[i])`` for i in increasing order: in this process without a pool; with one,
    every job from the first asked for onwards is submitted at once (so a resumed run
    submits only what is left) and the results are returned in order."""

    def __init__(
        self, fn: Callable[..., Any], jobs: Sequence[tuple], pool: ProcessPoolExecutor | None
    ) -> None:
        self.fn, self.jobs, self.pool = fn, jobs, pool
        self.pending: dict[int, Future] = {}

    def result(self, i: int) -> Any:
        if self.pool is None:
            return self.fn(*self.jobs[i])
        if not self.pending:
            self.pending = {
                k: self.pool.submit(self.fn, *self.jobs[k]) for k in range(i, len(self.jobs))
            }
        return self.pending.pop(i).result()
