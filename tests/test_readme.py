"""The README is short, its lab table is generated from docs/results/ and must be current, and
its layout names every module; the results of record match the labs as they are."""

from __future__ import annotations

import json
import re
import shutil

from practicum.readme import BEGIN, END, render_readme
from practicum.records import project_root, results_dir


def readme_text() -> str:
    return (project_root() / "README.md").read_text()


def test_readme_lab_table_is_current():
    readme = readme_text()
    assert render_readme(readme) == readme, "run `practicum table --write` and commit README.md"


def test_readme_reads_in_five_minutes_and_keeps_lab_notes_in_docs():
    readme = readme_text()
    assert len(readme.splitlines()) <= 260, "README.md is meant to stay at about 250 lines"
    assert "lab-notes:begin" not in readme  # the notes live in docs/labs/ and on the report site
    for section in ("## Two commands", "## The command line", "## Labs", "## Adding a lab"):
        assert section in readme
    assert "## Layout" in readme


def test_readme_layout_names_every_package_and_module():
    """A module added to src/practicum/ without a line in the README's layout fails here."""
    readme = readme_text()
    layout = readme.split("## Layout", 1)[1]
    package = project_root() / "src" / "practicum"
    for path in sorted(package.iterdir()):
        if path.name.startswith((".", "_")) and path.name != "__main__.py":
            continue  # __init__.py, __pycache__
        if path.is_dir():
            assert f"{path.name}/" in layout, f"README layout omits {path.name}/"
        elif path.suffix == ".py":
            assert path.name in layout, f"README layout omits {path.name}"
    for topic in (p.name for p in (package / "labs").iterdir() if (p / "__init__.py").is_file()):
        assert topic in layout, f"README layout omits the topic folder labs/{topic}/"


def test_lab_table_is_grouped_by_topic_and_links_each_lab_to_its_notes():
    from practicum.lab import all_labs, topics

    table = readme_text().split(BEGIN, 1)[1].split(END, 1)[0]
    headings = re.findall(r"^### (.*) — `labs/(\w+)/`$", table, re.M)
    assert [topic for _, topic in headings] == list(topics())
    assert [title for title, _ in headings] == list(topics().values())
    sections = re.split(r"^### .*$", table, flags=re.M)[1:]
    for (_, topic), section in zip(headings, sections, strict=True):
        names = re.findall(r"^\| \[?`([a-z0-9-]+)`", section, re.M)
        assert names == [lab.name for lab in all_labs().values() if lab.topic == topic]
        for name in names:
            if (project_root() / "docs" / "labs" / f"{name}.md").is_file():
                assert f"[`{name}`](docs/labs/{name}.md)" in section


def test_table_shows_the_gpu_and_the_spread_over_seeds(tmp_path, monkeypatch):
    from practicum import readme

    monkeypatch.setattr(readme, "results_dir", lambda: tmp_path)
    # The committed record, with the time and values this test states (records get rerun).
    summary = json.loads((results_dir() / "mnist-cnn.json").read_text())
    summary["wall_time_s"] = 186.0
    for t in summary["targets"]:
        t["achieved"], t["passed"] = 0.9942, True
    (tmp_path / "mnist-cnn.json").write_text(json.dumps(summary))
    (tmp_path / "mnist-cnn").mkdir()
    env = {"device": "cuda", "gpu": "NVIDIA H100 80GB HBM3"}
    (tmp_path / "mnist-cnn" / "env.json").write_text(json.dumps(env))
    shutil.copy(results_dir() / "spirals.json", tmp_path / "spirals.json")
    (tmp_path / "spirals").mkdir()
    (tmp_path / "spirals" / "env.json").write_text(json.dumps({"device": "cpu"}))
    stats = {
        "test_accuracy": {"mean": 0.9936, "std": 0.00055, "min": 0.9931, "max": 0.9942, "n": 5}
    }
    (tmp_path / "mnist-cnn" / "seeds.json").write_text(json.dumps({"stats": stats}))

    lines = [r for r in readme.lab_table().splitlines() if r.startswith("| [")]
    rows = {re.match(r"\| \[`([a-z0-9-]+)`", r)[1]: r for r in lines}
    assert "3.1 min on H100" in rows["mnist-cnn"]
    assert "mean 0.9936 ± 0.00055 over 5 seeds" in rows["mnist-cnn"]
    assert "0.9942 ✅<br>0.9942 ✅ (seed 0)" in rows["mnist-cnn"]
    assert "on H100" not in rows["spirals"] and "seeds" not in rows["spirals"]
    assert "not yet run in full" in rows["sine-basis"]


def test_every_result_of_record_is_a_full_run_of_a_known_lab():
    from practicum.lab import all_labs

    labs = all_labs()
    for path in results_dir().glob("*.json"):
        summary = json.loads(path.read_text())
        assert summary["lab"] == path.stem and summary["lab"] in labs
        assert summary["quick"] is False


def test_every_benchmark_result_has_the_agreed_fields():
    import math

    results = sorted((project_root() / "benchmarks" / "results").glob("*.json"))
    assert results, "no benchmark results committed"
    need = {"benchmark", "machine", "versions", "results", "ratio", "ratio_meaning", "goal"}
    for path in results:
        data = json.loads(path.read_text())
        assert need <= set(data), f"{path.name} lacks {sorted(need - set(data))}"
        assert isinstance(data["ratio"], (int, float)) and math.isfinite(data["ratio"]), path.name
        assert data["ratio_meaning"].strip(), path.name


def test_committed_reproducibility_report_is_current():
    from practicum.lab import all_labs
    from practicum.report import load_records, render_markdown

    committed = (project_root() / "docs" / "reproducibility.md").read_text()
    fresh = render_markdown(load_records(results_dir()), all_labs(), of_record=True)
    assert committed == fresh, "run `practicum report --records` and commit docs/reproducibility.md"


# Options added after a lab's run of record, whose defaults reproduce what that run did.
ADDED_SINCE_RECORD: dict[str, set[str]] = {}


def test_every_run_of_record_ran_the_labs_current_defaults():
    """`practicum run LAB` reproduces the README's number: a changed default without a new
    record (or a record made with --set overrides) fails here."""
    import dataclasses

    from practicum.lab import all_labs

    results = results_dir()
    for path in sorted(results.glob("*.json")):
        lab = all_labs()[path.stem]
        recorded = json.loads((results / path.stem / "config.json").read_text())["config"]
        defaults = {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in dataclasses.asdict(lab.config()).items()
        }
        missing = set(defaults) - set(recorded) - ADDED_SINCE_RECORD.get(path.stem, set())
        assert not missing, f"{path.stem}: the record predates options {sorted(missing)}"
        changed = {k for k in recorded if k in defaults and recorded[k] != defaults[k]}
        assert not changed, f"{path.stem}: defaults differ from the run of record in {changed}"
        assert set(recorded) <= set(defaults), f"{path.stem}: the record has unknown options"


def _cells(row: str) -> list[str]:
    """The cells of one Markdown table row."""
    return [cell.strip() for cell in row.strip().strip("|").split(" | ")]


def test_a_labs_full_time_reads_the_same_everywhere():
    """One source for a lab's full-run time (the record's measured wall time with its GPU,
    else the lab's estimate marked ≈): the README, `practicum list`, `practicum info`, the
    report's index and docs/reproducibility.md all show it."""
    from practicum import format as fmt
    from practicum.cli import lab_info, lab_listing
    from practicum.lab import all_labs
    from practicum.records import ESTIMATE_MARK, full_time
    from practicum.report import load_records, render_index

    labs = all_labs()
    table = readme_text().split(BEGIN, 1)[1].split(END, 1)[0]
    readme = {
        re.match(r"\[?`([a-z0-9-]+)`", cells[0])[1]: cells[4]
        for cells in (_cells(r) for r in table.splitlines() if r.startswith("| ["))
    }
    listing = lab_listing(labs.values())
    column = listing[0].index("full")
    listed = {line.split()[0]: line[column:].strip() for line in listing[2:] if line[:2] == "  "}
    index = render_index(load_records(results_dir()), labs, "now", of_record=True)
    shown = {}
    for name, row in re.findall(
        r'<tr class="(?:run|not-run)" data-lab="([^"]+)">(.*?)</tr>', index, re.S
    ):
        cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        shown[name] = cells[7]
    md_rows = (project_root() / "docs" / "reproducibility.md").read_text().splitlines()
    md = {
        cells[0].strip("`"): cells[7]
        for cells in (_cells(r) for r in md_rows if r.startswith("| `"))
        if cells[0].strip("`") in labs
    }
    for name, lab in labs.items():
        time = full_time(lab)
        assert readme[name] == listed[name] == shown[name] == md[name] == time, name
        record = results_dir() / f"{name}.json"
        if record.is_file():
            measured = fmt.duration(json.loads(record.read_text())["wall_time_s"])
            assert time.startswith(measured) and not time.startswith(ESTIMATE_MARK), name
        else:
            assert time == ESTIMATE_MARK + lab.time_full, name
    info = "\n".join(lab_info(labs["cifar10-resnet"]))
    assert f"full {full_time(labs['cifar10-resnet'])}" in info


# A lab's estimate (Lab.time_full): one duration, and the GPU when it needs one.
SHORT_TIME = re.compile(r"(\d+(?:\.\d+)?) (s|min|h)(?: on ([A-Za-z0-9]+))?")
SECONDS = {"s": 1, "min": 60, "h": 3600}


def test_every_labs_estimate_is_short_and_near_its_record():
    """The estimate is what `practicum list` and the README show until a lab has a record, so
    it must fit there whole, and where a record exists it must not contradict it."""
    from practicum import format as fmt
    from practicum.lab import all_labs

    for name, lab in all_labs().items():
        match = SHORT_TIME.fullmatch(lab.time_full)
        assert match, f"{name}: time_full {lab.time_full!r} is not like '12 min' or '4 min on H100'"
        record = results_dir() / f"{name}.json"
        if not record.is_file():
            continue
        wall = json.loads(record.read_text())["wall_time_s"]
        estimate = float(match[1]) * SECONDS[match[2]]
        assert wall / 2 <= estimate <= wall * 2, f"{name}: {lab.time_full!r} against {wall:.0f} s"
        env = json.loads((results_dir() / name / "env.json").read_text())
        assert (match[3] or "") == fmt.accelerator(env).removeprefix(" on "), name


def test_the_two_commands_install_every_extra_a_lab_needs():
    """`make run` and `make test` install the extras that name every other extra, so after
    either command each lab's full run finds its optional packages."""
    import tomllib

    from practicum.lab import all_labs

    root = project_root()
    extras = tomllib.loads((root / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    make = (root / "Makefile").read_text()
    installs = re.findall(r"pip install [^\n]*-e '\.\[([\w,]+)\]'", make)
    assert len(installs) == 1, "one install line, shared by both commands"
    assert re.search(r"^run: .*\$\(STAMP\)", make, re.M)
    assert re.search(r"^lint: .*\$\(STAMP\)", make, re.M) and re.search(r"^test: lint", make, re.M)

    installed: set[str] = set()
    todo = installs[0].split(",")
    while todo:
        name = todo.pop()
        if name in installed:
            continue
        installed.add(name)
        for requirement in extras[name]:
            inner = re.fullmatch(r"practicum\[([\w,]+)\]", requirement.replace(" ", ""))
            if inner:
                todo += inner[1].split(",")
    assert set(extras) <= installed, f"not installed by make: {sorted(set(extras) - installed)}"
    for lab in all_labs().values():
        for extra in getattr(lab, "requires", ()):
            assert extra.name in extras, f"{lab.name} needs an extra pyproject.toml lacks"


def test_two_targets_on_one_metric_each_show_their_own_result():
    """a >= 0.35 passed and a <= 0.65 failed: the table must not show the first's tick twice."""
    from practicum.lab import Target
    from practicum.readme import _achieved

    summary = {
        "targets": [
            {"metric": "a", "op": ">=", "value": 0.35, "achieved": 0.83, "passed": True},
            {"metric": "a", "op": "<=", "value": 0.65, "achieved": 0.83, "passed": False},
        ]
    }
    assert _achieved(summary, Target("a", ">=", 0.35, "")) == "0.83 ✅"
    assert _achieved(summary, Target("a", "<=", 0.65, "")) == "0.83 ❌"
    assert _achieved(summary, Target("b", "<=", 1.0, "")) == "–"
