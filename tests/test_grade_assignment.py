"""`practicum grade assignment`: a fixture class of six submissions (good, buggy, no tests,
notebook, not reproducible, hostile) graded with the rubric into grades.csv and feedback."""

from __future__ import annotations

import csv
import json
import re
import shutil
import socket
from pathlib import Path

import pytest

from practicum.cli import main
from practicum.grade.assignment import (
    ASSIGNMENTS,
    class_names,
    find_assignment,
    find_class,
    has_tests,
)

CLASS = Path(__file__).parent / "grade_fixtures" / "class"
SUBMISSIONS = ["good", "buggy", "no_tests", "notebook", "nonrepro", "hostile"]


def test_the_assignments_are_the_labs_of_the_course():
    labs = Path(__file__).parents[1] / "src" / "practicum" / "labs"
    for number, a in ASSIGNMENTS.items():
        (file,) = labs.glob(f"*/{a.lab.replace('-', '_')}.py")
        assert re.search(rf'source="[^"]*ECE472 assignment {number}\b', file.read_text())
    assert find_assignment("2") is find_assignment("assignment-2") is find_assignment("spirals")
    assert ASSIGNMENTS[2].tasks == ("mlp",)


def test_classes_are_found_by_reading_not_importing(tmp_path):
    (tmp_path / "test_norm.py").write_text("class GroupNorm:\n    pass\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "layers.py").write_text(
        "import sys\nsys.exit(1)\n\nclass Group_Norm:\n    pass\n\nclass MLP:\n    pass\n"
    )
    (tmp_path / "broken.py").write_text("class Conv2d(:\n")
    assert "groupnorm" in class_names("group-norm")
    assert find_class(tmp_path, "group-norm") == "pkg/layers.py:Group_Norm"  # not the test
    assert find_class(tmp_path, "mlp") == "pkg/layers.py:MLP"
    assert find_class(tmp_path, "conv2d") is None  # a syntax error is no class
    assert has_tests(tmp_path)


@pytest.fixture
def graded_class(tmp_path, capsys):
    """The class graded once through the CLI; the hostile student tries to overwrite
    grades.csv and to reach a server on 127.0.0.1."""
    for name in SUBMISSIONS:
        shutil.copytree(CLASS / name, tmp_path / name)
    out = tmp_path / "grades"
    out.mkdir()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.setblocking(False)
    plan = {"paths": [str(out / "grades.csv")], "port": server.getsockname()[1]}
    (tmp_path / "hostile" / "hostile.json").write_text(json.dumps(plan))
    argv = ["grade", "assignment", "2", *(str(tmp_path / n) for n in SUBMISSIONS)]
    argv += ["--cmd", "python main.py", "--out", str(out), "--jobs", "2", "--timeout", "3"]
    code = main(argv)
    try:
        server.accept()
        connected = True
    except BlockingIOError:
        connected = False
    server.close()
    return code, out, capsys.readouterr().out, connected


def test_a_class_is_graded_with_the_rubric(graded_class):
    code, out, printed, connected = graded_class
    assert code == 0
    with open(out / "grades.csv") as f:
        rows = {row["submission"]: row for row in csv.DictReader(f)}
    assert list(rows) == SUBMISSIONS  # the hostile student's forgery did not survive
    columns = ["conformance:mlp", "tests", "ruff", "no-notebooks", "reproducible"]
    points = {name: [int(rows[name][c]) for c in columns] for name in SUBMISSIONS}
    assert points["good"] == [2, 2, 2, 2, 2]
    assert points["buggy"][:2] == [1, 1]  # the output activation is ignored; weak tests
    assert points["buggy"][2] == 1  # an unused import and a long line
    assert points["no_tests"][:2] == [2, 0]
    assert points["notebook"][3] == 0
    assert points["nonrepro"][4] == 1  # runs, but two runs differ
    assert points["hostile"][0] == 0
    assert int(rows["good"]["total"]) == 10 == int(rows["good"]["max"])
    for name in SUBMISSIONS:
        assert (out / f"{name}.md").is_file()
    assert not connected
    feedback = {name: (out / f"{name}.md").read_text() for name in SUBMISSIONS}
    assert "mutation score 6/6 (100%)" in feedback["good"]
    assert "the output activation" in feedback["buggy"].lower()
    assert "no test files" in feedback["no_tests"]
    assert "experiment.ipynb" in feedback["notebook"]
    assert "differ in: stdout, results.txt" in feedback["nonrepro"]
    assert "printed more than 1 MB (the output limit)" in feedback["hostile"]
    assert "good" in printed and "10/10" in printed
