"""The grader's side of the sandbox child: start it, read its results, outlive its deaths.

:func:`run_jobs` runs a plan of jobs (:mod:`practicum.grade.child`) in a :class:`Sandbox`.
When the child dies — a timeout, a resource limit, ``os._exit``, a segfault, too much output —
the check (or test variant) that was running fails with the reason, and a fresh child goes on
with the rest; a job whose class keeps killing the child has its remaining items marked not
run, with the reason. A death outside any check (while importing or constructing the class)
fails the job's remaining items at once, since a new child would die the same way.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from practicum.grade.sandbox import Sandbox

MAX_DEATHS = 2  # per job: after this many deaths of the child, the rest is not run


@dataclass
class JobResult:
    """What one job gave: conformance results or test-variant results, by item name."""

    job: dict[str, Any]
    items: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> message
    usage: str | None = None  # the target is missing or does not follow the interface
    failure: str | None = None  # why the remaining items could not be run
    finished: bool = False


def child_argv(plan: dict[str, Any]) -> list[str]:
    """The command that runs ``plan`` inside the sandbox (``-I``: the submission's folder is
    not on ``sys.path`` until our own modules are imported)."""
    return [sys.executable, "-I", "-m", "practicum.grade.child", "--channel", "{channel}"] + [
        json.dumps(plan)
    ]


def _resumed(result: JobResult) -> dict[str, Any]:
    """The job for a fresh child: what was done is skipped; the tests that failed on the
    reference stay left out of the mutant runs."""
    reference = result.items.get("reference", {})
    return {
        **result.job,
        "skip": sorted(result.items),
        "reference_failed": reference.get("failed_ids", []),
    }


def run_jobs(
    box: Sandbox,
    jobs: Sequence[dict[str, Any]],
    *,
    max_deaths: int = MAX_DEATHS,
    argv: Callable[[dict[str, Any]], list[str]] = child_argv,
) -> list[JobResult]:
    """Run every job to the end (see the module docstring) and return their results."""
    results = [JobResult(dict(job)) for job in jobs]
    deaths = [0] * len(results)
    limits = {
        k: getattr(box.limits, k) for k in ("memory_bytes", "file_bytes", "processes", "check_s")
    }
    while True:
        todo = [i for i, r in enumerate(results) if not r.finished]
        if not todo:
            return results
        plan_jobs = [_resumed(results[i]) for i in todo]
        running: dict[str, Any] = {}

        def on_message(
            message: dict[str, Any], todo: list[int] = todo, running: dict[str, Any] = running
        ) -> str | None:
            event = message.get("event")
            job = message.get("job")
            if not isinstance(job, int) or not 0 <= job < len(todo):
                return "check"
            r = results[todo[job]]
            if event == "start":
                running.update(job=todo[job], name=str(message.get("name")))
                return str(message.get("phase", "check"))
            if event in ("result", "variant"):
                item = message.get("result", message)
                r.items[str(item.get("name"))] = item
                running.clear()
            elif event == "usage":
                r.usage, r.finished = str(message.get("message")), True
            elif event == "load-failed":
                r.failure, r.finished = str(message.get("message")), True
            elif event == "job-done":
                r.finished = True
            return "check"

        outcome = box.run(
            argv({"limits": limits, "jobs": plan_jobs}), channel=True, on_message=on_message
        )
        if all(results[i].finished for i in todo):
            continue
        reason = outcome.death()
        if running:  # the child died in a check: that check fails, a new child goes on
            i, name = running["job"], running["name"]
            during = " during the check" if reason.startswith("the process") else ""
            results[i].items[name] = {"name": name, "died": f"{reason}{during}"}
            deaths[i] += 1
            if deaths[i] >= max_deaths:
                times = "once" if deaths[i] == 1 else f"{deaths[i]} times"
                results[i].failure = f"the grader's process died {times} in this class's checks"
                results[i].finished = True
        else:  # it died outside any check: loading or constructing the class
            i = next(i for i in todo if not results[i].finished)
            results[i].failure = f"{reason} while loading or constructing the class"
            last = outcome.stderr.decode(errors="replace").strip().splitlines()[-1:]
            if outcome.returncode and outcome.returncode > 0 and last:
                results[i].failure += f" (it said: {last[0][:160]})"
            results[i].finished = True
