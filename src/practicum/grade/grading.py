"""Grade classes in a sandbox: (task, target, tests) in, one :class:`Report` each out.

All the tasks of one submission run in one sandboxed child (one interpreter start, one import
of torch): first every conformance job, then every test job, so a student's tests cannot
change what the checks see.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from practicum.errors import PracticumError
from practicum.grade import mutation
from practicum.grade.feedback import Report, report
from practicum.grade.runner import MAX_DEATHS, run_jobs
from practicum.grade.sandbox import Limits, Sandbox


@dataclass(frozen=True)
class Target:
    """A class to grade, as the sandbox sees it: ``spec`` relative to the copied ``folder``."""

    task: str
    spec: str  # "mlp.py:MLP" or "package.module:Class"
    tests: str | None = None  # a file or folder of pytest tests, relative to folder


def locate(target: str, tests: str | None = None) -> tuple[Path, str, str | None]:
    """The folder to copy into the sandbox and ``target`` and ``tests`` relative to it.

    ``path/to/file.py:Class`` copies the file's folder (or, with tests elsewhere, the folder
    holding both); ``package.module:Class`` copies the current folder. PracticumError (one
    line) for a malformed target or a missing file.
    """
    where, sep, name = target.rpartition(":")
    if not sep or not where or not name.isidentifier():
        raise PracticumError(
            f"target {target!r} must be path/to/file.py:ClassName or package.module:ClassName"
        )
    tests_path = None
    if tests is not None:
        tests_path = Path(tests).resolve()
        if not tests_path.exists():
            raise PracticumError(f"no such tests file or folder: {tests}")
    if where.endswith(".py") or os.sep in where:
        file = Path(where).resolve()
        if not file.is_file():
            raise PracticumError(f"no such file: {where}")
        folder = file.parent
        if tests_path is not None and not tests_path.is_relative_to(folder):
            folder = Path(os.path.commonpath([folder, tests_path]))
        spec = f"{file.relative_to(folder)}:{name}"
    else:
        folder = Path.cwd().resolve()
        if tests_path is not None and not tests_path.is_relative_to(folder):
            raise PracticumError(f"--tests {tests} must be inside the current folder")
        spec = target
    rel_tests = None if tests_path is None else str(tests_path.relative_to(folder) or ".")
    return folder, spec, rel_tests


def grade(box: Sandbox, targets: Sequence[Target], *, max_deaths: int = MAX_DEATHS) -> list[Report]:
    """Grade every target in ``box``; the reports in the order of ``targets``."""
    jobs = [{"kind": "conformance", "task": t.task, "target": t.spec} for t in targets]
    with_tests = [t for t in targets if t.tests is not None]
    jobs += [
        {"kind": "tests", "task": t.task, "target": t.spec, "tests": t.tests} for t in with_tests
    ]
    results = run_jobs(box, jobs, max_deaths=max_deaths)
    scored = {
        t: mutation.score(r) for t, r in zip(with_tests, results[len(targets) :], strict=True)
    }
    notes = box.isolation.notes()
    return [
        report(t.task, t.spec, r, scored.get(t), notes)
        for t, r in zip(targets, results[: len(targets)], strict=True)
    ]


def grade_one(
    task: str, target: str, tests: str | None = None, limits: Limits | None = None
) -> Report:
    """``practicum grade TASK TARGET [--tests PATH]`` without the printing."""
    from practicum.grade.tasks import TASKS

    if task not in TASKS:
        raise PracticumError(f"unknown task {task!r}; the tasks are {', '.join(TASKS)}")
    folder, spec, rel_tests = locate(target, tests)
    with Sandbox(folder, limits) as box:
        (rep,) = grade(box, [Target(task, spec, rel_tests)])
    if rep.usage:
        raise PracticumError(rep.usage)
    return rep
