"""Grade a class: ``practicum grade assignment NAME SUBMISSION...`` with the course's rubric.

The seven assignments of the ECE472 course (the labs whose ``source`` is "ECE472 assignment
N") name the modules each asks for (:data:`ASSIGNMENTS`). For every submission folder the
grader finds each module's class by reading the folder's ``.py`` files with :mod:`ast` (it
never imports them), grades them and the student's tests in one sandboxed child, runs ``ruff
check``, looks for notebooks and, with ``--cmd``, runs the command twice in fresh sandboxes
and compares what it printed and wrote. Every rubric attribute scores 0, 1 or 2 points
(:func:`rubric`). Writes ``grades.csv`` (a row per submission, a column per attribute) and
``<submission>.md`` feedback per submission.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import io
import re
import shlex
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from practicum.errors import PracticumError
from practicum.grade.feedback import Report, markdown
from practicum.grade.grading import Target, grade
from practicum.grade.runner import MAX_DEATHS
from practicum.grade.sandbox import Limits, Outcome, Sandbox
from practicum.io import atomic_write_text


@dataclass(frozen=True)
class Assignment:
    number: int
    lab: str  # the lab that is the assignment's experiment
    tasks: tuple[str, ...]  # the modules it asks for


# The ECE472 assignments (the labs' `source` fields) and the modules each asks for.
# Assignment 5 (AG News) asks for a classifier of the student's choosing: no module to check.
ASSIGNMENTS = {
    1: Assignment(1, "sine-basis", ("linear", "basis-expansion")),
    2: Assignment(2, "spirals", ("mlp",)),
    3: Assignment(3, "mnist-cnn", ("conv2d", "classifier")),
    4: Assignment(4, "cifar10-resnet", ("group-norm", "residual-block", "classifier")),
    5: Assignment(5, "agnews", ()),
    6: Assignment(6, "char-lm", ("multi-head-attention", "transformer-block")),
    7: Assignment(7, "siren", ("mlp",)),
}

POINTS = (0, 1, 2)  # the course's rubric: each attribute scores 0, 1 or 2
LINT_SELECT = "E,F,W,I"  # flake8 (pycodestyle, pyflakes) and isort, as the course asks
LINT_FEW = 10  # at most this many findings still earn 1 point


def find_assignment(name: str) -> Assignment:
    """``2``, ``assignment-2`` or the lab name ``spirals``; PracticumError otherwise."""
    digits = re.fullmatch(r"(?:assignment[-_ ]?|a)?([1-7])", name.strip().lower())
    if digits:
        return ASSIGNMENTS[int(digits.group(1))]
    for a in ASSIGNMENTS.values():
        if a.lab == name:
            return a
    names = ", ".join(f"{n} ({a.lab})" for n, a in ASSIGNMENTS.items())
    raise PracticumError(f"unknown assignment {name!r}; the assignments are {names}")


# ---- reading a submission without running it -------------------------------------------
def _normal(name: str) -> str:
    return name.lower().replace("_", "")


def class_names(task: str) -> set[str]:
    """Class names that count as the task's module: the reference's, in any case, with or
    without underscores (``GroupNorm``, ``Group_Norm``, ``groupnorm``)."""
    from practicum.grade.tasks import TASKS

    ref = TASKS[task].reference.rpartition(":")[2]
    return {_normal(ref), _normal(task.replace("-", ""))}


def python_files(folder: Path) -> list[Path]:
    skip = {".git", ".venv", "venv", "__pycache__", ".ipynb_checkpoints"}
    return sorted(
        p for p in folder.rglob("*.py") if not skip.intersection(p.relative_to(folder).parts)
    )


def is_test_file(path: Path) -> bool:
    return (
        path.name.startswith("test_")
        or path.name.endswith("_test.py")
        or (path.name == "conftest.py")
    )


# CPython 3.11's parser is not safe to run from several threads at once: grading a class in
# parallel failed with "SystemError: AST constructor recursion depth mismatch" (a fresh clone's
# make test, once). Parsing is quick; the submissions' runs stay parallel.
_PARSE_LOCK = threading.Lock()


def find_class(folder: Path, task: str) -> str | None:
    """``relative/file.py:ClassName`` of the task's class in ``folder`` (non-test files
    first, then in path order), found by parsing; None if there is none."""
    wanted = class_names(task)
    files = sorted(python_files(folder), key=lambda p: (is_test_file(p), str(p)))
    for path in files:
        try:
            source = path.read_bytes()
            with _PARSE_LOCK:
                tree = ast.parse(source, filename=str(path))
        except (SyntaxError, ValueError):
            continue
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and _normal(node.name) in wanted:
                return f"{path.relative_to(folder)}:{node.name}"
    return None


def has_tests(folder: Path) -> bool:
    return any(is_test_file(p) and p.name != "conftest.py" for p in python_files(folder))


def notebooks(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*.ipynb"))


# ---- what the grader finds -----------------------------------------------------------
@dataclass
class Attribute:
    """One rubric line: points out of 2 and why."""

    name: str
    points: int
    why: str


@dataclass
class Graded:
    """A submission graded: its rubric and the reports behind it."""

    submission: Path
    attributes: list[Attribute] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)
    lint_output: str = ""

    @property
    def total(self) -> int:
        return sum(a.points for a in self.attributes)

    @property
    def max_total(self) -> int:
        return max(POINTS) * len(self.attributes)


def conformance_points(rep: Report | None) -> Attribute:
    name = f"conformance:{rep.task}" if rep else "conformance"
    if rep is None or rep.usage:
        return Attribute(name, 0, rep.usage if rep else "no class found")
    share = rep.score / rep.max_score if rep.max_score else 0.0
    points = 2 if share == 1 else 1 if share >= 0.5 else 0
    failed = [c.name for c in rep.checks if not c.passed]
    why = f"{rep.score}/{rep.max_score} checks passed"
    return Attribute(name, points, why + (f"; failed: {', '.join(failed)}" if failed else ""))


def tests_points(reports: Sequence[Report], found: bool) -> Attribute:
    if not found:
        return Attribute("tests", 0, "no test files (test_*.py) found")
    scored = [r.mutation for r in reports if r.mutation is not None]
    if not scored:
        return Attribute("tests", 0, "no module to test them against was found")
    if any(m.note for m in scored):
        return Attribute("tests", 0, "; ".join(m.summary() for m in scored if m.note))
    if not all(m.own_passed for m in scored):
        return Attribute("tests", 0, "the tests fail on the submission's own classes")
    score = sum(m.score for m in scored) / len(scored)
    points = 2 if score >= 0.8 else 1 if score >= 0.5 else 0
    return Attribute("tests", points, "; ".join(f"{m.task}: {m.summary()}" for m in scored))


def lint_points(outcome: Outcome) -> tuple[Attribute, str]:
    text = outcome.stdout.decode(errors="replace")
    if outcome.timed_out or outcome.returncode not in (0, 1):
        return Attribute("ruff", 0, f"ruff check did not run: {outcome.death()}"), text
    findings = [line for line in text.splitlines() if re.match(r"\S+:\d+:\d+: ", line)]
    n = len(findings)
    points = 2 if n == 0 else 1 if n <= LINT_FEW else 0
    what = "1 finding" if n == 1 else f"{n} findings"
    return Attribute("ruff", points, f"{what} of ruff check --select {LINT_SELECT}"), text


def notebook_points(found: list[str]) -> Attribute:
    if found:
        return Attribute("no-notebooks", 0, f"notebooks are not allowed: {', '.join(found)}")
    return Attribute("no-notebooks", 2, "no notebooks")


def _tree_digest(folder: Path) -> dict[str, str]:
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not path.is_symlink() and "__pycache__" not in rel.parts:
            out[str(rel)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def reproducibility_points(folder: Path, cmd: str, limits: Limits) -> Attribute:
    """Run ``cmd`` twice, each in a fresh private copy: 2 points when both succeed with
    byte-identical stdout and files, 1 when both succeed but differ, 0 when one fails."""
    argv = shlex.split(cmd)
    runs = []
    for _ in range(2):
        with Sandbox(folder, limits) as box:
            outcome = box.run(argv)
            runs.append((outcome, _tree_digest(box.workdir)))
    for outcome, _ in runs:
        if not outcome.ok:
            return Attribute("reproducible", 0, f"`{cmd}` failed: {outcome.death()}")
    (first, files1), (second, files2) = runs
    differ = [k for k in sorted(set(files1) | set(files2)) if files1.get(k) != files2.get(k)]
    if first.stdout != second.stdout:
        differ.insert(0, "stdout")
    if differ:
        return Attribute("reproducible", 1, f"two runs of `{cmd}` differ in: {', '.join(differ)}")
    return Attribute("reproducible", 2, f"two runs of `{cmd}` gave identical output and files")


def grade_submission(
    folder: Path,
    assignment: Assignment,
    *,
    cmd: str | None = None,
    limits: Limits | None = None,
    max_deaths: int = MAX_DEATHS,
) -> Graded:
    """Grade one submission folder with the rubric (see the module docstring)."""
    limits = limits or Limits()
    out = Graded(folder)
    specs = {task: find_class(folder, task) for task in assignment.tasks}
    tested = has_tests(folder)
    targets = [Target(t, s, "." if tested else None) for t, s in specs.items() if s is not None]
    with Sandbox(folder, limits) as box:
        lint = box.run(
            ["ruff", "check", "--isolated", "--no-cache", "--select", LINT_SELECT]
            + ["--output-format", "concise", "."]
        )
        out.reports = grade(box, targets, max_deaths=max_deaths) if targets else []
    by_task = {r.task: r for r in out.reports}
    for task in assignment.tasks:
        attr = conformance_points(by_task.get(task))
        if specs[task] is None:
            attr = Attribute(f"conformance:{task}", 0, f"no class for {task} found")
        out.attributes.append(attr)
    if assignment.tasks:
        out.attributes.append(tests_points(out.reports, tested))
    lint_attr, out.lint_output = lint_points(lint)
    out.attributes += [lint_attr, notebook_points(notebooks(folder))]
    if cmd:
        out.attributes.append(reproducibility_points(folder, cmd, limits))
    return out


# ---- writing the grades ------------------------------------------------------------------
def submission_name(folder: Path) -> str:
    return folder.name or str(folder)


def grades_csv(graded: Sequence[Graded]) -> str:
    columns = [a.name for a in graded[0].attributes] if graded else []
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["submission", *columns, "total", "max"])
    for g in graded:
        points = {a.name: a.points for a in g.attributes}
        writer.writerow(
            [submission_name(g.submission), *(points[c] for c in columns), g.total, g.max_total]
        )
    return buf.getvalue()


def feedback_markdown(g: Graded, assignment: Assignment) -> str:
    out = [
        f"# ECE472 assignment {assignment.number} — {submission_name(g.submission)}",
        "",
        f"**{g.total} of {g.max_total} points.**",
        "",
        "| attribute | points | why |",
        "|---|---|---|",
    ]
    out += [f"| {a.name} | {a.points}/2 | {a.why} |" for a in g.attributes]
    out.append("")
    for rep in g.reports:
        # Each module's own feedback, its headings one level down.
        out += [re.sub(r"^#", "##", line) for line in markdown(rep).splitlines()] + [""]
    if g.lint_output.strip():
        lines = g.lint_output.strip().splitlines()
        out += ["## ruff check", "", "```", *lines[:40], "```", ""]
    return "\n".join(out) + "\n"


def grade_class(
    assignment: Assignment,
    submissions: Sequence[Path],
    out: Path,
    *,
    cmd: str | None = None,
    jobs: int = 1,
    limits: Limits | None = None,
    max_deaths: int = MAX_DEATHS,
    progress: bool = True,
    on_done: Callable[[Graded], None] | None = None,
) -> list[Graded]:
    """Grade every submission (``jobs`` at a time) and write ``out/grades.csv`` and
    ``out/<submission>.md``; returns the grades in the order of ``submissions``."""
    from tqdm import tqdm

    missing = [str(s) for s in submissions if not Path(s).is_dir()]
    if missing:
        raise PracticumError(f"not a submission folder: {', '.join(missing)}")
    names = [submission_name(Path(s).resolve()) for s in submissions]
    if len(set(names)) != len(names):
        raise PracticumError(
            "two submissions have the same folder name; their feedback would clash"
        )
    if jobs < 1:
        raise PracticumError(f"--jobs must be at least 1, got {jobs}")
    folders = [Path(s).resolve() for s in submissions]
    done: dict[Path, Graded] = {}
    with (
        ThreadPoolExecutor(max_workers=jobs) as pool,
        tqdm(total=len(folders), desc="grading", unit="submission", disable=not progress) as bar,
    ):
        futures = {
            pool.submit(
                grade_submission, f, assignment, cmd=cmd, limits=limits, max_deaths=max_deaths
            ): f
            for f in folders
        }
        for future in as_completed(futures):
            graded = future.result()
            done[futures[future]] = graded
            atomic_write_text(
                out / f"{submission_name(graded.submission)}.md",
                feedback_markdown(graded, assignment),
            )
            if on_done is not None:
                on_done(graded)
            bar.update(1)
    graded_all = [done[f] for f in folders]
    atomic_write_text(out / "grades.csv", grades_csv(graded_all))
    return graded_all
