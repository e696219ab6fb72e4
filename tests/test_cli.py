"""The command line: every bad input is one line on stderr and exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cli_calls import one_line, run_cli


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    one_line(err, *needles)


def test_unknown_lab_suggests_close_names(capsys):
    code, _, err = run_cli(capsys, "run", "sine-basi")
    assert_one_line_error(code, err, "unknown lab 'sine-basi'", "did you mean sine-basis")


def test_unknown_lab_in_a_real_process():
    # The installed console entry point, as a user types it.
    proc = subprocess.run(
        [sys.executable, "-m", "practicum", "run", "no-such-lab"], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "unknown lab 'no-such-lab'" in proc.stderr
    assert proc.stdout == ""


def test_unknown_set_key_lists_valid_keys(capsys):
    code, _, err = run_cli(capsys, "run", "sine-basis", "--set", "stepz=3")
    assert_one_line_error(code, err, "unknown config key 'stepz'", "valid keys:", "steps")


@pytest.mark.parametrize(
    ("setting", "needle"),
    [
        ("steps=many", "is not an integer"),
        ("learning_rate=fast", "is not a number"),
        ("learning_rate=nan", "not a finite number"),
        ("steps=0", "steps=0 is out of range"),
        ("steps", "expects key=value"),
    ],
)
def test_bad_values_are_one_line(capsys, setting, needle):
    code, _, err = run_cli(capsys, "run", "sine-basis", "--set", setting)
    assert_one_line_error(code, err, needle)


def test_bad_choice_value(capsys):
    code, _, err = run_cli(capsys, "run", "spirals", "--set", "activation=gelu")
    assert_one_line_error(code, err, "activation must be one of")


def test_missing_run_folder(capsys, tmp_path):
    for command in ("show", "check", "record"):
        code, _, err = run_cli(capsys, command, str(tmp_path / "nope"))
        assert_one_line_error(code, err, "no such run folder")


def test_unfinished_run_folder(capsys, tmp_path):
    code, _, err = run_cli(capsys, "show", str(tmp_path))
    assert_one_line_error(code, err, "has no summary.json")
    (tmp_path / "summary.json").write_text("{not json")
    code, _, err = run_cli(capsys, "check", str(tmp_path))
    assert_one_line_error(code, err, "is not valid JSON")


def test_usage_errors_are_one_line(capsys):
    for argv in (["run", "--seed", "x"], ["frobnicate"], ["run", "sine-basis", "--bogus"]):
        code, _, err = run_cli(capsys, *argv)
        assert_one_line_error(code, err, "error")
    code, _, err = run_cli(capsys, "run")
    assert_one_line_error(code, err, "name a lab")
    code, _, err = run_cli(capsys, "run", "sine-basis", "--seed", "-1")
    assert_one_line_error(code, err, "--seed")
    code, _, err = run_cli(capsys, "run", "sine-basis", "--device", "tpu")
    assert_one_line_error(code, err, "bad device")
    code, _, err = run_cli(capsys, "run", "sine-basis", "--threads", "0")
    assert_one_line_error(code, err, "--threads")


def assert_fits(out: str, width: int = 100) -> None:
    for line in out.splitlines():
        assert len(line) <= width, f"{len(line)} columns: {line}"


def test_list_groups_every_lab_by_topic_in_100_columns(capsys):
    from practicum.lab import all_labs, topics

    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    assert_fits(out)
    lines = out.splitlines()
    headings = [i for i, line in enumerate(lines) if not line.startswith(" ") and " — " in line]
    assert [lines[i].split(" — ")[0] for i in headings] == list(topics())
    assert [lines[i].split(" — ", 1)[1] for i in headings] == list(topics().values())
    # Each lab's line sits under its own topic's heading.
    for lab in all_labs().values():
        (row,) = [i for i, line in enumerate(lines) if line.split()[:1] == [lab.name]]
        heading = max(i for i in headings if i < row)
        assert lines[heading].startswith(f"{lab.topic} — "), (lab.name, lines[heading])
        assert lab.time_quick.split("(")[0].strip() in lines[row]


def test_list_shortens_long_summaries_and_times(capsys, monkeypatch):
    import dataclasses

    import practicum.lab as lab_module

    real = lab_module.get_lab("sine-basis")
    wordy = dataclasses.replace(
        real,
        name="a-lab-with-a-rather-long-name",
        summary="word " * 60,
        time_full="12 min on an accelerator shared by three other runs (about 4 min alone)",
    )
    monkeypatch.setattr(lab_module, "_REGISTRY", {real.name: real, wordy.name: wordy})
    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    assert_fits(out)
    (row,) = [line for line in out.splitlines() if "a-lab-with-a-rather-long-name" in line]
    assert "word…" in row and "12 min on" in row and "about 4 min" not in row


def test_list_filters_by_topic_and_course(capsys):
    from practicum.lab import all_labs

    def listed(*argv: str) -> set[str]:
        code, out, err = run_cli(capsys, "list", *argv)
        assert code == 0, err
        return {name for name in all_labs() if f"  {name} " in out}

    assert listed("--topic", "rl") == {"dqn", "es", "reinforce"}
    ece472 = {lab.name for lab in all_labs().values() if "ece472" in lab.courses}
    assert listed("--course", "ece472") == ece472 and "dqn" not in ece472
    assert listed("--topic", "generative", "--course", "ovgu") == {"autoencoder"}


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["--topic", "poetry"], ["unknown topic 'poetry'", "basics", "rl"]),
        (["--course", "cs101"], ["unknown course 'cs101'", "ece472", "dtu02456"]),
        (["--topic", "rl", "--course", "ece472"], ["no lab is in topic rl and course ece472"]),
    ],
)
def test_list_filter_errors_are_one_line(capsys, argv, needles):
    code, _, err = run_cli(capsys, "list", *argv)
    assert_one_line_error(code, err, *needles)


def test_info_shows_sources_config_comments_and_record(capsys):
    code, out, _ = run_cli(capsys, "info", "mnist-cnn")
    assert code == 0
    assert_fits(out)
    assert "ECE472 assignment 3" in out  # the source, and the provenance of a full target
    assert "test_accuracy >= 0.993  from practicum (ours)" in out
    assert "from quick mode on 8x8 digits" in out  # the quick target's provenance
    assert "peak of the one-cycle schedule" in out  # the comment beside learning_rate
    assert "epochs: int = 8   (--quick: 12)" in out
    assert "ece472: Cooper Union ECE472" in out
    assert "src/practicum/labs/vision/mnist_cnn.py" in out
    assert "docs/labs/mnist-cnn.md" in out
    assert "run of record: seed 0" in out


def test_info_of_every_lab_fits_100_columns(capsys):
    from practicum.lab import all_labs

    for name in all_labs():
        code, out, _ = run_cli(capsys, "info", name)
        assert code == 0
        assert_fits(out)
        assert "targets (full run):" in out and "config (" in out


def test_info_unknown_lab(capsys):
    code, _, err = run_cli(capsys, "info", "mnist-cn")
    assert_one_line_error(code, err, "unknown lab 'mnist-cn'", "did you mean mnist-cnn")


def test_config_comments_come_from_the_class_and_its_bases():
    import dataclasses
    from typing import Literal

    from practicum.cli import config_comments, type_name

    @dataclasses.dataclass
    class Base:
        steps: int = 10  # optimiser steps
        # The rate at the start;
        # it decays linearly.
        rate: float = 0.1
        width: int = 3

    @dataclasses.dataclass
    class Child(Base):
        steps: int = 20
        width: int = 5  # units per layer

        def validate(self) -> None:
            x = 1  # noqa: F841 -- not a field
            return None

    assert config_comments(Child) == {
        "steps": "optimiser steps",
        "rate": "The rate at the start; it decays linearly.",
        "width": "units per layer",
    }
    assert "width" not in config_comments(Base)

    assert type_name(tuple[int, ...]) == "tuple[int, ...]"
    assert type_name(Literal["a", "b"]) == "'a' | 'b'"
    assert type_name(int | None) == "int | None"


def test_run_show_check_record_roundtrip(capsys, tmp_path, monkeypatch):
    out_dir = tmp_path / "run"
    code, out, err = run_cli(
        capsys, "run", "sine-basis", "--quick", "--quiet", "--out", str(out_dir)
    )
    assert code == 0, err
    assert "rmse_to_sine" in out and "pass" in out
    for name in ("config.json", "env.json", "metrics.jsonl", "summary.json"):
        assert (out_dir / name).is_file(), name
    assert sorted(p.name for p in (out_dir / "plots").iterdir()) == [
        "basis_functions.png",
        "fit.png",
    ]
    assert (out_dir / "checkpoints").is_dir()
    env = json.loads((out_dir / "env.json").read_text())
    for key in ("python", "torch", "numpy", "git_commit", "cpu", "num_threads", "device"):
        assert key in env
    config = json.loads((out_dir / "config.json").read_text())
    assert config["seed"] == 0 and config["config"]["steps"] == 600

    code, out, _ = run_cli(capsys, "show", str(out_dir))
    assert code == 0 and "rmse_to_sine" in out and "param_hash" in out
    code, out, _ = run_cli(capsys, "check", str(out_dir))
    assert code == 0 and "all targets met" in out

    # A tampered metric is judged again and fails.
    summary = json.loads((out_dir / "summary.json").read_text())
    summary["metrics"]["rmse_to_sine"] = 0.5
    (out_dir / "summary.json").write_text(json.dumps(summary))
    code, out, _ = run_cli(capsys, "check", str(out_dir))
    assert code == 1 and "FAIL" in out

    # A quick run is not a result of record.
    code, _, err = run_cli(capsys, "record", str(out_dir))
    assert_one_line_error(code, err, "is a --quick run")

    # A finished run folder is never overwritten.
    code, _, err = run_cli(capsys, "run", "sine-basis", "--quick", "--out", str(out_dir))
    assert_one_line_error(code, err, "already holds a finished run")


def test_missed_target_exits_one(capsys, tmp_path):
    code, out, err = run_cli(
        capsys,
        "run",
        "sine-basis",
        "--quiet",
        "--set",
        "steps=1",
        "--set",
        "learning_rate=1e-6",
        "--out",
        str(tmp_path / "r"),
    )
    assert code == 1
    assert "FAIL" in out and "targets missed: sine-basis" in err


def test_run_all_prints_a_results_table_and_fails_on_a_missed_target(capsys, tmp_path, monkeypatch):
    import dataclasses

    import practicum.lab as lab_module

    real = lab_module.get_lab("sine-basis")
    # A second lab whose quick preset cannot reach the target.
    doomed = dataclasses.replace(real, name="doomed", quick={"steps": 1, "learning_rate": 1e-6})
    monkeypatch.setattr(lab_module, "_REGISTRY", {"sine-basis": real, "doomed": doomed})
    code, out, err = run_cli(capsys, "run", "--all", "--quick", "--quiet", "--out", str(tmp_path))
    assert code == 1
    assert out.count("rmse_to_sine") == 2
    assert "1 of 2 labs passed their targets" in out
    assert "targets missed: doomed" in err
    assert (tmp_path / "sine-basis" / "summary.json").is_file()
    assert (tmp_path / "doomed" / "summary.json").is_file()
    code, _, err = run_cli(capsys, "run", "--all", "--set", "steps=3")
    assert_one_line_error(code, err, "--set applies to one lab")


def test_run_all_filters_by_topic_and_course(capsys, tmp_path, monkeypatch):
    import dataclasses

    import practicum.lab as lab_module

    real = lab_module.get_lab("sine-basis")
    # A lab in another topic and course that would fail if it ran.
    other = dataclasses.replace(
        real, name="elsewhere", topic="rl", courses=("dtu02456",), quick={"steps": 1}
    )
    monkeypatch.setattr(lab_module, "_REGISTRY", {real.name: real, other.name: other})
    for argv in (["--topic", "basics"], ["--course", "ece472"]):
        out_dir = tmp_path / argv[1]
        code, out, err = run_cli(
            capsys, "run", "--all", *argv, "--quick", "--quiet", "--out", str(out_dir)
        )
        assert code == 0, err
        assert "1 of 1 labs passed their targets" in out
        assert sorted(p.name for p in out_dir.iterdir()) == ["sine-basis"]
    code, _, err = run_cli(capsys, "run", "--all", "--topic", "vision")
    assert_one_line_error(code, err, "unknown topic 'vision'", "basics, rl")
    code, _, err = run_cli(capsys, "run", "--topic", "basics")
    assert_one_line_error(code, err, "add --all")
    code, _, err = run_cli(capsys, "run", "sine-basis", "--course", "ece472")
    assert_one_line_error(code, err, "add --all")


def _fake_run(root, seed, value, commit="0123456789abcdef0123456789abcdef01234567"):
    from practicum.lab import get_lab

    run = root / f"s{seed}-{commit[-6:]}"
    run.mkdir(parents=True)
    metrics = {"rmse_to_sine": value}
    summary = {
        "lab": "sine-basis",
        "seed": seed,
        "quick": False,
        "metrics": metrics,
        "targets": [t.judge(metrics) for t in get_lab("sine-basis").targets],
        "passed": True,
        "wall_time_s": 3.0,
        "param_hash": "h",
    }
    (run / "summary.json").write_text(json.dumps(summary))
    (run / "config.json").write_text(json.dumps({"seed": seed, "config": {"steps": 5000}}))
    (run / "env.json").write_text(json.dumps({"git_commit": commit, "cpu": "X"}))
    return run


@pytest.fixture
def results(tmp_path, monkeypatch):
    """docs/results/ in a temporary folder; the README and docs/reproducibility.md untouched."""
    import practicum.readme
    import practicum.records
    import practicum.report

    dest = tmp_path / "results"
    regenerated = []
    monkeypatch.setattr(practicum.records, "results_dir", lambda: dest)
    monkeypatch.setattr(practicum.readme, "write_readme_table", lambda: regenerated.append(1))
    monkeypatch.setattr(practicum.report, "write_records_markdown", lambda: regenerated.append(2))
    return dest, regenerated


def test_record_several_seeds_from_the_command_line(capsys, tmp_path, results):
    dest, regenerated = results
    runs = [str(_fake_run(tmp_path / "runs", s, v)) for s, v in ((0, 0.03), (1, 0.05), (2, 0.04))]
    code, out, err = run_cli(capsys, "record", *runs)
    assert code == 0, err
    assert "recorded sine-basis" in out and "3 seeds" in out
    assert regenerated == [1, 2]
    seeds = json.loads((dest / "sine-basis" / "seeds.json").read_text())
    assert seeds["stats"]["rmse_to_sine"]["mean"] == pytest.approx(0.04)
    assert seeds["stats"]["rmse_to_sine"]["std"] == pytest.approx(0.01)


def test_record_refuses_a_dirty_run_and_a_mismatched_seed_set(capsys, tmp_path, results):
    dest, regenerated = results
    runs = tmp_path / "runs"
    dirty = _fake_run(runs, 0, 0.03, commit="0123456789abcdef0123456789abcdef01234567+dirty")
    code, _, err = run_cli(capsys, "record", str(dirty))
    assert_one_line_error(code, err, "uncommitted changes", "commit, rerun the lab, then record")
    clean = _fake_run(runs, 0, 0.03)
    twin = _fake_run(runs, 0, 0.04, commit="f" * 40)
    code, _, err = run_cli(capsys, "record", str(clean), str(twin))
    assert_one_line_error(code, err, "both have seed 0")
    assert not dest.exists() and regenerated == []
