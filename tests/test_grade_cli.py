"""`practicum grade`: exit codes, the table, JSON and Markdown, mutation scores of a good and a
weak student test file, and every reference and planted bug graded through the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from practicum.cli import main
from practicum.grade.grading import Target, grade
from practicum.grade.mutants import MUTANTS
from practicum.grade.sandbox import Sandbox
from practicum.grade.tasks import TASKS

CLASS = Path(__file__).parent / "grade_fixtures" / "class"


def test_list_prints_every_task_with_its_interface(capsys):
    assert main(["grade", "--list"]) == 0
    out = capsys.readouterr().out
    for name, task in TASKS.items():
        assert f"{name}  (reference {task.reference}" in out
        assert task.interface.split()[0] in out
    assert max(len(line) for line in out.splitlines()) <= 100


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["grade", "no-such-task", "practicum.nn:MLP"], "unknown task 'no-such-task'"),
        (["grade", "mlp", "missing/mlp.py:MLP"], "no such file: missing/mlp.py"),
        (["grade", "mlp", "practicum.nn"], "must be path/to/file.py:ClassName"),
        (["grade", "mlp"], "give a TASK and a TARGET"),
        (["grade", "mlp", "practicum.nn:MLP", "--jobs", "2"], "belong to `practicum grade"),
        (["grade", "assignment", "9", "x"], "unknown assignment '9'"),
    ],
)
def test_bad_usage_is_one_line_and_status_2(argv, says, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1


def test_a_reference_passes_and_a_missing_class_is_a_usage_error(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out_json, out_md = tmp_path / "r.json", tmp_path / "r.md"
    argv = ["grade", "mlp", "practicum.nn:MLP", "--json", str(out_json), "--markdown", str(out_md)]
    assert main(argv) == 0
    table = capsys.readouterr().out
    n = len(TASKS["mlp"].checks)
    assert table.splitlines()[1].split() == ["check", "property", "passed", "reason"]
    assert f"{n} of {n} checks passed" in table
    data = json.loads(out_json.read_text())
    assert set(data) >= {"task", "target", "checks", "score", "max_score"}
    assert data["score"] == data["max_score"] == len(TASKS["mlp"].checks)
    assert set(data["checks"][0]) == {"name", "property", "passed", "message"}
    assert "property checks passed" in out_md.read_text()
    (tmp_path / "mine.py").write_text("class Other:\n    pass\n")
    assert main(["grade", "mlp", "mine.py:MLP"]) == 2
    assert "has no class 'MLP'" in capsys.readouterr().err


def test_mutation_scores_of_a_good_and_a_weak_test_file(tmp_path, capsys):
    """The example in docs/grading.md: one correct class, two students' test files."""
    target = f"{CLASS / 'good' / 'mlp.py'}:MLP"
    weak = tmp_path / "weak.json"
    argv = ["grade", "mlp", target, "--tests", str(CLASS / "buggy" / "test_mlp.py")]
    assert main([*argv, "--json", str(weak)]) == 0  # the checks pass and so do the tests
    m = json.loads(weak.read_text())["mutation"]
    # It counts parameters once, so it catches the bugs that change the count, and no other.
    by_count = {x.name for x in MUTANTS["mlp"] if x.check == "parameter-count"}
    assert m["own_class_passed"] and m["score"] == len(by_count) / len(MUTANTS["mlp"])
    assert set(m["caught"]) == by_count
    assert {s["name"] for s in m["survivors"]} == {x.name for x in MUTANTS["mlp"]} - by_count
    assert "survived: OutputActivationIgnored" in capsys.readouterr().out


def test_every_reference_passes_and_every_planted_bug_fails_in_the_sandbox(tmp_path):
    """All tasks' references and mutants through the sandbox child, in one process."""
    targets = [Target(name, task.reference) for name, task in TASKS.items()]
    targets += [Target(task, m.target) for task, ms in MUTANTS.items() for m in ms]
    with Sandbox(tmp_path) as box:
        reports = grade(box, targets)
    for t, rep in zip(targets, reports, strict=True):
        assert rep.usage is None, (t, rep.usage)
    n = len(TASKS)
    assert all(rep.passed for rep in reports[:n]), [r.target for r in reports[:n] if not r.passed]
    mutants = [m for ms in MUTANTS.values() for m in ms]
    for m, rep in zip(mutants, reports[n:], strict=True):
        failed = {c.name for c in rep.checks if not c.passed}
        assert m.check in failed, (m.name, failed)
