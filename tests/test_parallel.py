"""practicum.parallel: results in order, the same as in one process, only the rest submitted
after a resume, and one torch thread per worker."""

from __future__ import annotations

import torch

from practicum.parallel import InOrder, worker_pool


def test_a_pool_returns_what_one_process_returns_in_order() -> None:
    jobs = [(3, k) for k in range(6)]
    with worker_pool(1) as none:
        assert none is None
        serial = [InOrder(pow, jobs, none).result(i) for i in range(6)]
    with worker_pool(2) as pool:
        runner = InOrder(pow, jobs, pool)
        assert [runner.result(i) for i in range(6)] == serial == [3**k for k in range(6)]


def test_a_resumed_run_submits_only_the_jobs_left_and_workers_use_one_thread() -> None:
    with worker_pool(2) as pool:
        runner = InOrder(pow, [(2, k) for k in range(5)], pool)
        assert runner.result(3) == 8
        assert sorted(runner.pending) == [4]
        assert InOrder(torch.get_num_threads, [()], pool).result(0) == 1
    with worker_pool(2, threads=None) as plain:  # workers left to their own imports
        assert InOrder(pow, [(2, 10)], plain).result(0) == 1024
