"""What a grading says: the report of one task on one class, as a table, JSON or Markdown.

:func:`report` turns the sandbox's job results into a :class:`Report`: one
:class:`~practicum.grade.checks.CheckResult` per check of the task (a check the child died in,
or never reached, is a failed result that says why) and, with ``--tests``, the
:class:`~practicum.grade.mutation.Mutation` of the student's tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from practicum import format as fmt
from practicum.grade.checks import CheckResult, one_line
from practicum.grade.mutation import Mutation
from practicum.grade.runner import JobResult

PROPERTY_WIDTH = 30  # the property column of the terminal table; the reason takes the rest


@dataclass
class Report:
    """One task graded on one class."""

    task: str
    target: str
    checks: list[CheckResult]
    mutation: Mutation | None = None
    notes: list[str] = field(default_factory=list)  # what the sandbox could not do here
    usage: str | None = None  # the class is missing or does not follow the interface

    @property
    def score(self) -> int:
        return sum(r.passed for r in self.checks)

    @property
    def max_score(self) -> int:
        return len(self.checks)

    @property
    def passed(self) -> bool:
        tests_ok = self.mutation is None or (self.mutation.own_passed and not self.mutation.note)
        return self.score == self.max_score and tests_ok

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "task": self.task,
            "target": self.target,
            "checks": [r.to_json() for r in self.checks],
            "score": self.score,
            "max_score": self.max_score,
        }
        if self.mutation is not None:
            out["mutation"] = self.mutation.to_json()
        out["notes"] = self.notes
        return out


def check_results(result: JobResult) -> list[CheckResult]:
    """Every check of the task, in order: what the child reported, else why it is missing."""
    from practicum.grade.tasks import TASKS

    out = []
    for check in TASKS[result.job["task"]].checks:
        item = result.items.get(check.name)
        if item is not None and "died" in item:
            message = f"expected that {check.property}, but the check {item['died']}"
            out.append(CheckResult(check.name, check.property, False, one_line(message)))
        elif item is not None:
            out.append(
                CheckResult(check.name, check.property, bool(item["passed"]), item["message"])
            )
        else:
            why = result.usage or result.failure or "the grader stopped before it"
            out.append(CheckResult(check.name, check.property, False, one_line(f"not run: {why}")))
    return out


def report(
    task: str,
    target: str,
    checks: JobResult,
    tests: Mutation | None = None,
    notes: list[str] | None = None,
) -> Report:
    return Report(task, target, check_results(checks), tests, list(notes or []), checks.usage)


# ---- rendering ------------------------------------------------------------------------
def table(rep: Report) -> str:
    """The terminal table: check, property, passed, one-line reason; then the totals."""
    from practicum.cli import WIDTH, wrap

    name_w = max([5, *(len(r.name) for r in rep.checks)])
    prop_w = min(PROPERTY_WIDTH, max([8, *(len(r.property) for r in rep.checks)]))
    reason_w = max(20, WIDTH - name_w - prop_w - 6 - 3 * 2)
    rows = [
        [
            r.name,
            fmt_short(r.property, prop_w),
            "yes" if r.passed else "NO",
            "" if r.passed else fmt_short(r.message, reason_w),
        ]
        for r in rep.checks
    ]
    lines = [
        f"{rep.task}: {rep.target}",
        fmt.text_table(rows, ["check", "property", "passed", "reason"]),
    ]
    lines.append(f"{rep.score} of {rep.max_score} checks passed")
    for r in rep.checks:  # the table cuts reasons short; here they are whole
        if not r.passed:
            lines += wrap(f"{r.name}: {r.message}", "  ", "    ")
    if rep.mutation is not None:
        lines += [w for line in mutation_lines(rep.mutation) for w in wrap(line, "", "    ")]
    lines += [w for n in rep.notes for w in wrap(f"note: {n}")]
    return "\n".join(lines)


def fmt_short(text: str, width: int) -> str:
    from practicum.cli import shorten

    return shorten(text, width)


def mutation_lines(m: Mutation) -> list[str]:
    """The tests' verdict in plain lines (the table's footer and the Markdown's section)."""
    lines = [f"your tests ({m.tests}): {m.summary()}"]
    if not m.note and not m.own_passed:
        lines.append("  they fail on your own class: " + "; ".join(m.own_failures[:3]))
    for s in m.survivors:
        lines.append(f"  survived: {s.name}: {s.bug} (a test of: {s.property})")
    for failure in m.over_specified[:5]:
        lines.append(f"  over-specified (fails on the reference): {failure}")
    return lines


def markdown(rep: Report) -> str:
    """Feedback a student can read: what passed, what failed and why, what to test next."""
    failed = [r for r in rep.checks if not r.passed]
    out = [f"# Feedback: `{rep.task}` — `{rep.target}`", ""]
    out.append(f"**{rep.score} of {rep.max_score} property checks passed.**")
    out.append("")
    if failed:
        out += ["## What to fix", ""]
        for r in failed:
            out.append(f"- **{r.name}** — the property: *{r.property}*. {r.message}")
        out.append("")
    out += ["## Every check", "", "| check | property | passed |", "|---|---|---|"]
    out += [f"| {r.name} | {r.property} | {'yes' if r.passed else '**no**'} |" for r in rep.checks]
    out.append("")
    if rep.mutation is not None:
        m = rep.mutation
        out += ["## Your tests", ""]
        if m.note:
            out.append(f"Your tests could not be scored: {m.note}.")
        else:
            out.append(
                f"Your tests caught {len(m.caught)} of the {m.total} planted bugs "
                f"(mutation score {m.score:.0%})."
            )
            if not m.own_passed:
                out.append("")
                out.append("They fail on your own class, which they must pass:")
                out += [f"- `{f}`" for f in m.own_failures[:10]]
            if m.survivors:
                out += ["", "Bugs your tests did not catch (write a test for each property):"]
                out += [f"- {s.bug} — a test of *{s.property}* would catch it" for s in m.survivors]
            if m.over_specified:
                out += ["", "Over-specified tests (they fail on a correct implementation):"]
                out += [f"- `{f}`" for f in m.over_specified[:10]]
        out.append("")
    if rep.notes:
        out += ["## Notes", ""] + [f"- {n}" for n in rep.notes] + [""]
    return "\n".join(out)
