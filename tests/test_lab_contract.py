"""Guarantees of the lab contract that hold for every lab and need no run.

* Every number in every config has a range that ``--set`` cannot leave.
* Every target names where its threshold comes from in human terms: a course and its
  assignment or week, or a paper, never the number of the issue that asked for it.
* Every optional dependency a lab declares imports through the path the lab uses (what the
  lab's full run needs is installed with the tests), and its absence stops the lab at once
  in one line naming the install command.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import sys

import pytest

from practicum.errors import PracticumError
from practicum.lab import all_labs, field_range, make_config


def _just_outside(value: float, end: float, open_end: bool, step: float) -> float | None:
    """A value a little beyond one end of a range (None for an infinite end)."""
    if end in (float("inf"), float("-inf")):
        return None
    if isinstance(value, int) and float(end).is_integer():
        return int(end) if open_end else int(end + step)
    return end if open_end else end + step * max(abs(end), 1e-3) * 1e-3


@pytest.mark.parametrize("name", list(all_labs()))
def test_every_number_has_a_range_that_set_cannot_leave(name):
    lab = all_labs()[name]
    defaults = make_config(lab, check_memory=False)
    checked = 0
    for field in dataclasses.fields(defaults):
        declared = field_range(lab.config, field.name)
        value = getattr(defaults, field.name)
        if declared is None:
            continue
        sample = value[0] if isinstance(value, tuple) and value else value
        if sample is None or isinstance(value, tuple) and not value:
            continue
        for end, open_end, step in (
            (declared.lo, declared.lo_open, -1),
            (declared.hi, declared.hi_open, 1),
        ):
            bad = _just_outside(sample, end, open_end, step)
            if bad is None:
                continue
            text = ",".join([str(bad)] * len(value)) if isinstance(value, tuple) else str(bad)
            with pytest.raises(PracticumError) as info:
                make_config(lab, overrides={field.name: text}, check_memory=False)
            assert f"{field.name} must lie in {declared}" in str(info.value)
            checked += 1
    assert checked, f"{name}: no ranged field was checked"


ISSUE = re.compile(r"\bissues?\b|#\d", re.IGNORECASE)


def test_the_source_pattern_finds_issue_numbers():
    assert ISSUE.search("issue 6 (DTU 02456 week 7)") and ISSUE.search("see #27")
    assert not ISSUE.search("DTU 02456 week 7; ECE472 assignment 6; Kingma et al. 2014")


@pytest.mark.parametrize("name", list(all_labs()))
def test_sources_name_courses_and_papers_not_issues(name):
    lab = all_labs()[name]
    sources = [lab.source, *(t.source for t in [*lab.targets, *(lab.quick_targets or [])])]
    assert all(s.strip() for s in sources), f"{name}: a target without a source"
    named = [s for s in sources if ISSUE.search(s)]
    assert not named, f"{name}: say which course, assignment or paper, not the issue: {named}"


REQUIRING = [(name, extra) for name, lab in all_labs().items() for extra in lab.requires]


def test_labs_declare_their_optional_dependencies():
    assert {("agnews", "text"), ("siren", "images")} <= {(n, e.name) for n, e in REQUIRING}


@pytest.mark.parametrize(("name", "extra"), REQUIRING, ids=[f"{n}-{e.name}" for n, e in REQUIRING])
def test_optional_dependencies_import_through_the_labs_own_path(name, extra):
    """What `make test` installs is what the labs' full runs need (every extra)."""
    modules = extra.load()
    assert sorted(modules) == sorted(extra.modules)


@pytest.mark.parametrize(("name", "extra"), REQUIRING, ids=[f"{n}-{e.name}" for n, e in REQUIRING])
def test_a_missing_optional_dependency_is_one_line_naming_the_install(monkeypatch, name, extra):
    monkeypatch.setitem(sys.modules, extra.modules[-1], None)  # import now raises ImportError
    with pytest.raises(PracticumError) as info:
        extra.load()
    message = str(info.value)
    assert "\n" not in message and f"pip install -e '.[{extra.name}]'" in message
    assert f"{extra.modules[-1]} is missing" in message


def test_agnews_stops_at_once_without_the_text_extra(monkeypatch, tmp_path):
    from practicum.launch import run_lab

    lab = all_labs()["agnews"]
    module = importlib.import_module("practicum.labs.sequence.agnews")
    monkeypatch.setitem(sys.modules, "transformers", None)
    out = tmp_path / "run"
    with pytest.raises(PracticumError, match=r"pip install -e '\.\[text\]' \(or run with --set"):
        run_lab(lab, out=out, quiet=True)  # the launcher checks before anything is written
    assert not out.exists()
    with pytest.raises(PracticumError, match="transformers is missing"):
        module.minilm_model_dir()
    lab.check_requirements(make_config(lab, overrides={"embedder": "none"}))  # not needed
