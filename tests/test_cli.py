"""The command line: every bad input is one line on stderr and exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from practicum.cli import main


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's own exits
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


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
        ("steps=0", "steps must be >= 1"),
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


def test_list_shows_every_lab(capsys):
    from practicum.lab import all_labs

    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    for name in all_labs():
        assert name in out
    assert "ECE472 assignment 1" in out


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
