"""Run a task's property checks against a class, in this process.

This module imports whatever it is pointed at: the grader calls it only inside its sandbox
child (:mod:`practicum.grade.child`), never on submitted code in its own process.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Collection
from pathlib import Path

from practicum.grade.adapters import adapter_for
from practicum.grade.checks import CheckResult, one_line
from practicum.grade.tasks import TASKS, InterfaceError


def load_target(spec: str) -> type:
    """The class named by ``path/to/file.py:ClassName`` or ``package.module:ClassName``.

    A file's folder goes first on ``sys.path`` (so it can import its siblings) and the file is
    imported under its own stem, as the student's tests would import it. Raises
    :class:`InterfaceError` with one line for a malformed spec, a missing file, module or
    class, or an import that fails.
    """
    where, sep, name = spec.rpartition(":")
    if not sep or not where or not name.isidentifier():
        raise InterfaceError(f"target {spec!r} must be path/to/file.py:ClassName or module:Class")
    try:
        if where.endswith(".py") or "/" in where or "\\" in where:
            module = _import_file(Path(where))
        else:
            module = importlib.import_module(where)
    except InterfaceError:
        raise
    except ModuleNotFoundError as error:
        raise InterfaceError(f"cannot import {where!r}: {one_line(str(error), 200)}") from None
    except Exception as error:
        detail = one_line(f"{type(error).__name__}: {error}", 200)
        raise InterfaceError(f"importing {where!r} raised {detail}") from None
    cls = getattr(module, name, None)
    if cls is None:
        raise InterfaceError(f"{where!r} has no class {name!r}")
    if not isinstance(cls, type):
        raise InterfaceError(f"{where}:{name} is a {type(cls).__name__}, not a class")
    return cls


def _import_file(path: Path):  # noqa: ANN202 - a module object
    if not path.is_file():
        raise InterfaceError(f"no such file: {path}")
    if path.suffix != ".py":
        raise InterfaceError(f"{path} is not a Python file (.py)")
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    stem = path.stem
    module_name = stem if stem.isidentifier() and stem not in sys.modules else f"_graded_{stem}"
    loader_spec = importlib.util.spec_from_file_location(module_name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise InterfaceError(f"cannot import {path}")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[module_name] = module
    try:
        loader_spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def run_task(
    task: str,
    cls: type,
    *,
    on_result: Callable[[CheckResult], None] | None = None,
    on_start: Callable[[str], None] | None = None,
    skip: Collection[str] = (),
) -> list[CheckResult]:
    """Every check of ``task`` against ``cls`` (but those named in ``skip``: already run by a
    grading process that died), in order, seeded and deterministic.

    Raises :class:`InterfaceError` (before running any check) for an unknown task, a class
    that is not a module of a framework we know, or one that cannot be constructed with the
    interface's arguments. Otherwise each check's failure, including an exception, is a failed
    :class:`CheckResult`. ``on_start(name)`` is called before each check and
    ``on_result(result)`` after it.
    """
    if task not in TASKS:
        raise InterfaceError(f"unknown task {task!r}; the tasks are {', '.join(TASKS)}")
    spec = TASKS[task]
    adapter = adapter_for(cls)
    if adapter is None:
        raise InterfaceError(f"{getattr(cls, '__name__', cls)!r} is not a torch.nn.Module class")
    spec.probe(adapter)
    results = []
    for check in spec.checks:
        if check.name in skip:
            continue
        if on_start is not None:
            on_start(check.name)
        result = check.run(adapter)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results
