"""The mutation score of a student's tests: the fraction of planted bugs their tests catch.

The tests run in the sandbox (:func:`practicum.grade.child.student_tests`) against the
student's own class (they must pass), the reference class (a test that fails there is
over-specified: it demands something the interface does not) and every mutant of the task
(:data:`practicum.grade.mutants.MUTANTS`) in place of the student's class. A mutant is caught
when a test fails on it; the over-specified tests are left out of the mutant runs, so that a
test that fails on everything catches nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from practicum.grade.child import REFERENCE, STUDENT
from practicum.grade.runner import JobResult

# pytest's exit codes: 0 all passed, 5 no tests were collected.
PASSED, NO_TESTS = 0, 5


@dataclass
class Survivor:
    name: str
    bug: str
    property: str


@dataclass
class Mutation:
    """The verdict on a student's tests for one task."""

    task: str
    tests: str
    own_passed: bool
    own_failures: list[str] = field(default_factory=list)
    over_specified: list[str] = field(default_factory=list)
    caught: list[str] = field(default_factory=list)
    survivors: list[Survivor] = field(default_factory=list)
    note: str = ""  # why the tests could not be scored, if they could not

    @property
    def total(self) -> int:
        return len(self.caught) + len(self.survivors)

    @property
    def score(self) -> float:
        return len(self.caught) / self.total if self.total else 0.0

    def summary(self) -> str:
        """One line: ``mutation score 5/6 (83%); survived: ExtraHiddenLayer``."""
        if self.note:
            return f"tests not scored: {self.note}"
        line = f"mutation score {len(self.caught)}/{self.total} ({self.score:.0%})"
        if self.survivors:
            line += "; survived: " + ", ".join(s.name for s in self.survivors)
        return line

    def to_json(self) -> dict[str, Any]:
        return {
            "tests": self.tests,
            "score": self.score,
            "caught": self.caught,
            "survivors": [vars(s) for s in self.survivors],
            "own_class_passed": self.own_passed,
            "own_class_failures": self.own_failures,
            "over_specified": self.over_specified,
            "note": self.note,
        }


def _failed(item: dict[str, Any]) -> list[str]:
    if "died" in item:
        return [item["died"]]
    return list(item.get("failed", [])) or [f"pytest ended with status {item.get('code')}"]


def score(result: JobResult) -> Mutation:
    """The :class:`Mutation` of a finished ``tests`` job."""
    from practicum.grade.mutants import MUTANTS

    task, items = result.job["task"], result.items
    out = Mutation(task=task, tests=result.job["tests"], own_passed=False)
    if result.usage or (result.failure and STUDENT not in items):
        out.note = result.usage or result.failure or ""
        return out
    own = items.get(STUDENT, {})
    if own.get("code") == NO_TESTS:
        out.note = "no tests were found"
        return out
    out.own_passed = own.get("code") == PASSED
    if not out.own_passed:
        out.own_failures = _failed(own)
    reference = items.get(REFERENCE, {})
    if "died" in reference:
        out.note = f"the tests did not finish on the reference class: {reference['died']}"
        return out
    out.over_specified = [] if reference.get("code") == PASSED else _failed(reference)
    for mutant in MUTANTS.get(task, []):
        item = items.get(mutant.name)
        if item is not None and ("died" in item or item.get("code") not in (PASSED, NO_TESTS)):
            out.caught.append(mutant.name)
        else:
            out.survivors.append(Survivor(mutant.name, mutant.bug, mutant.property))
    return out
