"""What runs inside the sandbox: ``python -I -m practicum.grade.child --channel FD PLAN``.

``PLAN`` is JSON: ``{"limits": {...}, "jobs": [...]}``, each job either

- ``{"kind": "conformance", "task", "target", "skip": [check names]}``: the task's checks
  against the target class (:func:`practicum.grade.conformance.run_task`), or
- ``{"kind": "tests", "task", "target", "tests", "skip": [variant names]}``: the student's
  pytest tests against their class (variant ``"student"``), the reference (``"reference"``)
  and every planted-bug mutant of the task (its name), one ``pytest.main`` per variant in this
  one process.

Results go to the grader as JSON lines on file descriptor FD (never on stdout, which is the
student's), each carrying this process's pid: ``ready``; per job ``start`` (a check or a
variant is about to run), ``result`` / ``variant``, ``usage`` (the target is missing or does
not follow the interface), ``load-failed`` (importing it ended the process's work, e.g. by
``sys.exit``) and ``job-done``. The grader skips what was done when it restarts a child that
died, so a job can be resumed.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

Send = Callable[..., None]

STUDENT, REFERENCE = "student", "reference"


def _channel(fd: int) -> Send:
    pid = os.getpid()

    def send(event: str, **fields: Any) -> None:
        if os.getpid() != pid:  # a process the student's code forked: it has no say
            os._exit(0)
        line = json.dumps({"pid": pid, "event": event, **fields}) + "\n"
        os.write(fd, line.encode())

    return send


def explain(message: str, limits: dict[str, Any]) -> str:
    """A check's message with the limit it ran into said in words, where one shows."""
    from practicum.grade.sandbox import size_text

    if any(s in message for s in ("MemoryError", "can't allocate memory", "out of memory")):
        return f"{message} (memory limit of {size_text(limits['memory_bytes'])} reached)"
    if "BlockingIOError" in message or "Resource temporarily unavailable" in message:
        return f"{message} (process limit of {limits['processes']} reached)"
    if "File too large" in message:
        return f"{message} (file size limit of {size_text(limits['file_bytes'])} reached)"
    return message


# ---- conformance ------------------------------------------------------------------
def _load(job: dict[str, Any], i: int, send: Send) -> type | None:
    """The job's target class, or None after saying why it cannot be had."""
    from practicum.grade.conformance import load_target
    from practicum.grade.tasks import InterfaceError

    try:
        return load_target(job["target"])
    except InterfaceError as error:
        send("usage", job=i, message=str(error))
    except SystemExit as stop:
        send("load-failed", job=i, message=f"importing the module called sys.exit({stop.code!r})")
    except BaseException as error:  # noqa: BLE001 - anything the student's import raises
        send("load-failed", job=i, message=f"importing the module raised {type(error).__name__}")
    return None


def conformance(job: dict[str, Any], i: int, send: Send, limits: dict[str, Any]) -> None:
    from practicum.grade.conformance import run_task
    from practicum.grade.tasks import InterfaceError

    cls = _load(job, i, send)
    if cls is None:
        return

    def on_result(result: Any) -> None:
        out = result.to_json()
        if not out["passed"]:
            out["message"] = explain(out["message"], limits)
        send("result", job=i, result=out)

    try:
        run_task(
            job["task"],
            cls,
            on_start=lambda name: send("start", job=i, name=name),
            on_result=on_result,
            skip=set(job.get("skip", [])),
        )
    except InterfaceError as error:
        send("usage", job=i, message=str(error))
    except SystemExit as stop:  # a check's own failures are results; this left the checks
        send("load-failed", job=i, message=f"the class called sys.exit({stop.code!r})")


# ---- the student's tests against each variant ---------------------------------------------
def _inside(module: Any, folder: Path) -> bool:
    """Whether ``module`` was imported from ``folder`` (a string test: there are thousands of
    modules, and the copy's paths are absolute as ``sys.path`` gave them)."""
    file = getattr(module, "__file__", None)
    return isinstance(file, str) and file.startswith(f"{folder}{os.sep}")


def _purge(folder: Path) -> None:
    """Forget every module imported from ``folder`` (the student's module, tests, conftest),
    so the next variant imports them afresh."""
    for name, module in list(sys.modules.items()):
        if name.startswith("_graded_") or _inside(module, folder):
            del sys.modules[name]


def _is_student_class(value: Any, name: str, file: Path) -> bool:
    if not (isinstance(value, type) and value.__name__ == name):
        return False
    try:
        return Path(inspect.getfile(value)).resolve() == file
    except (TypeError, OSError):
        return False


class _Variant:
    """A pytest plugin: puts ``cls`` wherever the student's class is bound in their modules
    (after collection, for ``from module import Class`` in a test file) and records failures."""

    def __init__(self, folder: Path, file: Path | None, name: str, cls: type) -> None:
        self.folder, self.file, self.name, self.cls = folder, file, name, cls
        self.failed: list[str] = []  # "nodeid: why"
        self.failed_ids: list[str] = []
        self.ran = 0

    def _rebind(self) -> None:
        if self.file is None:
            return
        for module in list(sys.modules.values()):
            if not _inside(module, self.folder):
                continue
            for key, value in list(vars(module).items()):
                if value is not self.cls and _is_student_class(value, self.name, self.file):
                    setattr(module, key, self.cls)

    def pytest_collection_modifyitems(self, session: Any, config: Any, items: list[Any]) -> None:
        self._rebind()

    def pytest_collectreport(self, report: Any) -> None:
        if report.failed:
            self.failed.append(f"{report.nodeid or 'collection'}: could not be collected")
            self.failed_ids.append(report.nodeid)

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.when == "call":
            self.ran += 1
        if report.failed:
            crash = getattr(getattr(report, "longrepr", None), "reprcrash", None)
            why = " ".join(str(crash.message).split())[:160] if crash is not None else ""
            self.failed.append(f"{report.nodeid}: {why}" if why else report.nodeid)
            self.failed_ids.append(report.nodeid)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """pytest's report and the tests' prints go nowhere: the results come from the plugin."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (null, *saved):
            os.close(fd)


def variants(task: str) -> list[tuple[str, str | None]]:
    """(name, class spec) of what the student's tests are run against: their own class
    (None), the reference, then every mutant of the task."""
    from practicum.grade.mutants import MUTANTS
    from practicum.grade.tasks import TASKS

    out: list[tuple[str, str | None]] = [(STUDENT, None), (REFERENCE, TASKS[task].reference)]
    return out + [(m.name, m.target) for m in MUTANTS.get(task, [])]


def student_tests(job: dict[str, Any], i: int, send: Send) -> None:
    import pytest

    from practicum.grade.conformance import load_target

    folder = Path.cwd().resolve()
    where, _, name = job["target"].rpartition(":")
    file = (folder / where).resolve() if where.endswith(".py") else None
    skip = set(job.get("skip", []))
    # Tests that fail on the reference are over-specified: left out of the mutant runs.
    over_specified = list(job.get("reference_failed", []))
    for variant, spec in variants(job["task"]):
        if variant in skip:
            continue
        send("start", job=i, name=variant, phase="tests")
        _purge(folder)
        original = _load(job, i, send)
        if original is None:
            return
        cls = original if spec is None else load_target(spec)
        module = sys.modules[original.__module__]
        setattr(module, name, cls)  # before the tests import it
        if file is None:  # package.module:Class: where the tests import it from
            file = Path(inspect.getfile(original)).resolve()
        plugin = _Variant(folder, file, name, cls)
        args = [job["tests"], "-q", "-o", "addopts=", "-p", "no:cacheprovider"]
        # pytest's two gc.collect() per session cost ~0.1 s each with torch loaded.
        args += ["-p", "no:unraisableexception", "-p", "no:threadexception"]
        args += ["--rootdir", str(folder), "-W", "ignore::DeprecationWarning"]
        if variant not in (STUDENT, REFERENCE):
            args.append("-x")  # one failing test catches a mutant
            args += [f"--deselect={nodeid}" for nodeid in over_specified if nodeid]
        try:
            with _quiet():
                code = int(pytest.main(args, plugins=[plugin]))
        except SystemExit as stop:
            code, plugin.failed = 3, [*plugin.failed, f"the tests called sys.exit({stop.code!r})"]
        if variant == REFERENCE:
            over_specified = plugin.failed_ids
        send(
            "variant",
            job=i,
            name=variant,
            code=code,
            ran=plugin.ran,
            failed=plugin.failed[:20],
            failed_ids=plugin.failed_ids,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="practicum.grade.child")
    parser.add_argument("--channel", type=int, required=True)
    parser.add_argument("plan")
    args = parser.parse_args(argv)
    send = _channel(args.channel)
    plan = json.loads(args.plan)
    # Imported before the student's code runs, so nothing in their folder can shadow them.
    import practicum.grade.conformance  # noqa: F401
    import practicum.grade.mutants  # noqa: F401

    if any(job["kind"] == "tests" for job in plan["jobs"]):
        # Entry-point plugins cost ~0.5 s per pytest.main, once per variant; the tests need
        # none of them (hypothesis works without its plugin).
        os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        import pytest  # noqa: F401

    sys.path.insert(0, os.getcwd())  # `package.module:Class` targets import from the copy
    send("ready")
    for i, job in enumerate(plan["jobs"]):
        if job["kind"] == "conformance":
            conformance(job, i, send, plan["limits"])
        else:
            student_tests(job, i, send)
        send("job-done", job=i)
    return 0


if __name__ == "__main__":
    sys.exit(main())
