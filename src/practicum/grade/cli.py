"""``practicum grade``: the command line of the autograder.

::

    practicum grade --list
    practicum grade TASK TARGET [--tests PATH] [--json FILE] [--markdown FILE]
    practicum grade assignment NAME SUBMISSION... [--cmd CMD] [--jobs N] [--out DIR]

Exit status: 0 when every check passes (and, with ``--tests``, the tests pass on the
student's class), 1 when one fails, 2 for bad usage (one line on stderr).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from practicum.errors import PracticumError

EXIT_FAILED = 1

USAGE = """\
practicum grade --list
       practicum grade TASK TARGET [--tests PATH] [--json FILE] [--markdown FILE]
       practicum grade assignment NAME SUBMISSION... [--cmd CMD] [--jobs N] [--out DIR]"""


def add_grade_parser(sub: Any) -> None:
    """Register ``practicum grade`` on the top-level subparsers."""
    p = sub.add_parser(
        "grade",
        help="check a student's module against a task's properties; grade a class",
        usage=USAGE,
        description="TARGET is path/to/file.py:ClassName or package.module:ClassName. "
        "Submitted code runs only in a sandbox (see docs/grading.md).",
    )
    p.add_argument(
        "words",
        nargs="*",
        metavar="TASK TARGET | assignment NAME SUBMISSION...",
        help="a task (see --list) and file.py:Class or module:Class; or `assignment`, its "
        "name and the submission folders",
    )
    p.add_argument("--list", action="store_true", help="the tasks and their interfaces")
    p.add_argument("--tests", metavar="PATH", help="the student's pytest tests: mutation score")
    p.add_argument("--json", metavar="FILE", help="write the results as JSON")
    p.add_argument("--markdown", metavar="FILE", help="write feedback for the student")
    p.add_argument("--cmd", help='assignment: the command to run twice, e.g. "python main.py"')
    p.add_argument("--jobs", type=int, default=1, help="assignment: submissions at once")
    p.add_argument("--out", default="grades", help="assignment: output folder (default grades/)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per check (default 10)")
    p.add_argument("--memory", type=float, default=4.0, help="memory limit in GB (default 4)")
    p.set_defaults(func=cmd_grade)


def _limits(args: argparse.Namespace) -> Any:
    from practicum.grade.sandbox import GB, Limits

    if args.timeout <= 0 or args.memory <= 0:
        raise PracticumError("--timeout and --memory must be positive")
    return Limits(check_s=args.timeout, memory_bytes=int(args.memory * GB))


def cmd_grade(args: argparse.Namespace) -> int:
    if args.list:
        return cmd_list()
    words = args.words
    if words and words[0] == "assignment":
        return cmd_assignment(args, words[1:])
    if args.cmd or args.jobs != 1 or args.out != "grades":
        raise PracticumError("--cmd, --jobs and --out belong to `practicum grade assignment`")
    if len(words) != 2:
        raise PracticumError("give a TASK and a TARGET (see `practicum grade --list`)")
    return cmd_task(args, *words)


def cmd_list() -> int:
    from practicum.cli import wrap
    from practicum.grade.tasks import TASKS

    for name, task in TASKS.items():
        print(f"{name}  (reference {task.reference}, {len(task.checks)} checks)")
        for line in task.interface.strip().splitlines():
            print("\n".join(wrap(line, "    ", "      ")))
    return 0


def cmd_task(args: argparse.Namespace, task: str, target: str) -> int:
    from practicum.grade import feedback
    from practicum.grade.grading import grade_one
    from practicum.io import atomic_write_json, atomic_write_text

    for path in (args.json, args.markdown):
        if path and Path(path).is_dir():
            raise PracticumError(f"{path} is a folder; give a file name")
    rep = grade_one(task, target, args.tests, _limits(args))
    print(feedback.table(rep))
    # Written after the sandbox is gone, atomically: nothing the student's code wrote survives.
    if args.json:
        atomic_write_json(args.json, rep.to_json())
    if args.markdown:
        atomic_write_text(args.markdown, feedback.markdown(rep))
    return 0 if rep.passed else EXIT_FAILED


def cmd_assignment(args: argparse.Namespace, words: list[str]) -> int:
    from practicum.grade.assignment import find_assignment, grade_class

    if args.tests or args.json or args.markdown:
        raise PracticumError("--tests, --json and --markdown belong to `practicum grade TASK`")
    if len(words) < 2:
        raise PracticumError("give an assignment NAME and at least one SUBMISSION folder")
    assignment = find_assignment(words[0])
    out = Path(args.out)
    graded = grade_class(
        assignment,
        [Path(w) for w in words[1:]],
        out,
        cmd=args.cmd,
        jobs=args.jobs,
        limits=_limits(args),
        progress=sys.stderr.isatty(),
    )
    from practicum import format as fmt
    from practicum.grade.assignment import submission_name

    columns = [a.name for a in graded[0].attributes]
    rows = [
        [
            submission_name(g.submission),
            *(a.points for a in g.attributes),
            f"{g.total}/{g.max_total}",
        ]
        for g in graded
    ]
    print(fmt.text_table(rows, ["submission", *columns, "total"]))
    print(f"grades: {out / 'grades.csv'}; feedback: {out}/<submission>.md")
    return 0
