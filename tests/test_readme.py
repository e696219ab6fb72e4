"""The README's lab table is generated from docs/results/ and must be current."""

from practicum.readme import project_root, render_readme


def test_readme_lab_table_and_notes_are_current():
    readme = (project_root() / "README.md").read_text()
    assert render_readme(readme) == readme, "run `practicum table --write` and commit README.md"


def test_every_result_of_record_is_a_full_run_of_a_known_lab():
    import json

    from practicum.lab import all_labs

    labs = all_labs()
    for path in (project_root() / "docs" / "results").glob("*.json"):
        summary = json.loads(path.read_text())
        assert summary["lab"] == path.stem and summary["lab"] in labs
        assert summary["quick"] is False


def test_every_benchmark_result_has_the_agreed_fields():
    import json
    import math

    results = sorted((project_root() / "benchmarks" / "results").glob("*.json"))
    assert results, "no benchmark results committed"
    need = {"benchmark", "machine", "versions", "results", "ratio", "ratio_meaning", "goal"}
    for path in results:
        data = json.loads(path.read_text())
        assert need <= set(data), f"{path.name} lacks {sorted(need - set(data))}"
        assert isinstance(data["ratio"], (int, float)) and math.isfinite(data["ratio"]), path.name
        assert data["ratio_meaning"].strip(), path.name


def test_table_names_the_gpu_when_a_record_ran_on_one(tmp_path, monkeypatch):
    import json

    from practicum import readme

    monkeypatch.setattr(readme, "results_dir", lambda: tmp_path)
    (tmp_path / "gpu-lab").mkdir()
    env = {"device": "cuda", "gpu": "NVIDIA H100 80GB HBM3"}
    (tmp_path / "gpu-lab" / "env.json").write_text(json.dumps(env))
    (tmp_path / "cpu-lab").mkdir()
    (tmp_path / "cpu-lab" / "env.json").write_text(json.dumps({"device": "cpu"}))
    assert readme._accelerator("gpu-lab") == " on H100"
    assert readme._accelerator("cpu-lab") == ""
    assert readme._accelerator("no-record") == ""


def test_committed_reproducibility_report_is_current():
    from practicum.lab import all_labs
    from practicum.readme import results_dir
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
    import json

    from practicum.lab import all_labs

    results = project_root() / "docs" / "results"
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
