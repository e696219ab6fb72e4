"""What the command line guarantees on bad input (docs/design.md): one line, the right exit
status, and nothing written or lost — for run folders, resume, summaries, threads, memory,
Ctrl-C and help. Everything runs in-process on sine-basis's quick mode (about a second a run).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
from pathlib import Path

import pytest
import torch

from cli_calls import one_line
from cli_calls import run_cli as cli
from practicum.cli import build_parser, main
from practicum.run import Run, new_run_dir

CHECKPOINTED = ["--set", "checkpoint_every=200"]  # 600 quick steps: checkpoints at 199, 399, 599


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for a folder)."""
    return {
        str(p.relative_to(root)): None if p.is_dir() else p.read_bytes()
        for p in sorted(root.rglob("*"))
    }


def sine(capsys, out: Path, *more: str) -> tuple[int, str, str]:
    return cli(
        capsys, "run", "sine-basis", "--quick", "--quiet", *CHECKPOINTED, "--out", str(out), *more
    )


# ---- --out ---------------------------------------------------------------------------
def test_a_bad_out_is_one_line_and_writes_nothing(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("afile").write_text("mine")
    Path("notes").mkdir()
    Path("notes", "todo.txt").write_text("mine too")
    Path("other-lab").mkdir()
    Path("other-lab", "config.json").write_text(json.dumps({"lab": "spirals"}))
    Path("unfinished").mkdir()
    Path("unfinished", "config.json").write_text(json.dumps({"lab": "sine-basis"}))
    Path("finished").mkdir()
    Path("finished", "summary.json").write_text("{}")
    before = snapshot(tmp_path)
    cases = {
        "": "--out is empty",
        "afile": "--out afile is a file",
        "afile/run": "is a file",
        "notes": "holds other files (todo.txt), not a run of sine-basis",
        "other-lab": "not a run of sine-basis",
        "unfinished": "continue it with `practicum run --resume unfinished`",
        "finished": "already holds a finished run",
    }
    if Path("/proc/self").is_dir():
        cases["/proc/practicum-test/run"] = "--out /proc/practicum-test/run cannot be created"
    for out, needle in cases.items():
        code, _, err = cli(capsys, "run", "sine-basis", "--quick", "--out", out)
        assert code == 2, out
        one_line(err, needle)
    for out in ("", "afile", "afile/run", "notes"):  # `practicum debug --out` alike
        code, _, err = cli(capsys, "debug", "sine-basis", "--quick", "--out", out)
        assert code == 2, out
        one_line(err, cases[out].replace("sine-basis", "sine-basis-debug"))
    code, _, err = cli(capsys, "run", "--all", "--topic", "basics", "--quick", "--out", "afile")
    assert code == 2
    one_line(err, "afile/", "is a file")
    assert snapshot(tmp_path) == before  # nothing written, nothing changed


def test_an_empty_folder_is_fine_and_the_default_is_always_fresh(capsys, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = sine(capsys, empty)
    assert code == 0, err
    assert (empty / "summary.json").is_file()
    # Many runs started in the same second still get folders of their own, made afresh.
    made = [new_run_dir("sine-basis", 0, tmp_path / "runs") for _ in range(5)]
    assert len(set(made)) == 5
    assert all(p.is_dir() and not any(p.iterdir()) for p in made)


# ---- resume --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def whole(tmp_path_factory) -> Path:
    """An uninterrupted quick sine-basis run with checkpoints every 200 steps."""
    out = tmp_path_factory.mktemp("whole") / "run"
    assert main(["run", "sine-basis", "--quick", "--quiet", *CHECKPOINTED, "--out", str(out)]) == 0
    return out


def stop_at_checkpoint(monkeypatch, calls: int) -> None:
    """Ctrl-C at the ``calls``-th checkpoint, before it is saved."""
    save, seen = Run.checkpoint, []

    def checkpoint(self: Run, step: int, **objects: object) -> Path:
        seen.append(step)
        if len(seen) == calls:
            raise KeyboardInterrupt
        return save(self, step, **objects)

    monkeypatch.setattr(Run, "checkpoint", checkpoint)


def resume_as_told(capsys, err: str) -> tuple[int, str, str]:
    """Run the `practicum run --resume ...` command that the interrupt message names."""
    command = one_line(err).split("`")[1]
    words = shlex.split(command)
    assert words[:3] == ["practicum", "run", "--resume"]
    return cli(capsys, *words[1:])


def test_ctrl_c_before_the_first_checkpoint_then_resume_starts_over(
    capsys, tmp_path, monkeypatch, whole
):
    cut = tmp_path / "cut"
    stop_at_checkpoint(monkeypatch, calls=1)
    code, _, err = sine(capsys, cut, "--threads", "1")
    assert code == 130
    one_line(err, f"practicum: interrupted: the run in {cut} is unfinished")
    assert f"`practicum run --resume {cut} --threads 1`" in err
    assert (cut / "metrics.jsonl").read_text()  # logged before the interrupt
    assert not list((cut / "checkpoints").iterdir())
    monkeypatch.undo()

    code, _, err = resume_as_told(capsys, err)
    assert code == 0
    line = one_line(err, "stopped before its first checkpoint", "starting the run over")
    assert "previous one" not in line
    # Exactly the log of the uninterrupted run: the old lines are not kept twice.
    assert (cut / "metrics.jsonl").read_bytes() == (whole / "metrics.jsonl").read_bytes()
    a, b = (json.loads((d / "summary.json").read_text()) for d in (cut, whole))
    assert a["metrics"] == b["metrics"] and a["param_hash"] == b["param_hash"]

    # A finished run is not resumed; the line says so and how to run it again.
    code, _, err = cli(capsys, "run", "--resume", str(cut))
    assert code == 2
    one_line(err, "holds a finished run of sine-basis: nothing to resume", "--out NEW_DIR")
    assert "choose another --out" not in err


def test_resume_when_every_checkpoint_is_truncated_starts_over(
    capsys, tmp_path, monkeypatch, whole
):
    cut = tmp_path / "cut"
    stop_at_checkpoint(monkeypatch, calls=3)  # two checkpoints saved, the third never
    assert sine(capsys, cut)[0] == 130
    monkeypatch.undo()
    files = sorted((cut / "checkpoints").glob("step-*.pt"))
    assert [p.name for p in files] == ["step-00000199.pt", "step-00000399.pt"]
    for p in files:
        p.write_bytes(p.read_bytes()[:100])

    code, _, err = cli(capsys, "run", "--resume", str(cut), "--quiet")
    assert code == 0
    line = one_line(
        err, "every checkpoint is unreadable", "step-00000399.pt", "starting the run over"
    )
    assert "previous one" not in line
    assert (cut / "metrics.jsonl").read_bytes() == (whole / "metrics.jsonl").read_bytes()
    # The unreadable files are set aside, not pruned in favour of, nor mixed with, new ones.
    kept = sorted(p.name for p in (cut / "checkpoints").iterdir())
    assert kept == [
        "step-00000199.pt.unreadable",
        "step-00000399.pt",
        "step-00000399.pt.unreadable",
        "step-00000599.pt",
    ]


def test_resume_of_a_folder_with_a_bad_config_is_one_line(capsys, tmp_path):
    folder = tmp_path / "r"
    folder.mkdir()
    cases = {
        "": "not a run folder (no config.json)",
        "{not json": "config.json is corrupt",
        "[1, 2]": "config.json is corrupt (not a JSON object)",
        json.dumps({"lab": "sine-basis", "seed": 0, "quick": True}): "'config' is not a dict",
        json.dumps(
            {"lab": "sine-basis", "seed": 0, "quick": True, "config": {"steps": [1]}}
        ): "steps=(1,) is not of type int",
        json.dumps({"lab": "nope", "seed": 0, "quick": True, "config": {}}): "unknown lab 'nope'",
    }
    for text, needle in cases.items():
        (folder / "config.json").unlink(missing_ok=True)
        if text:
            (folder / "config.json").write_text(text)
        before = snapshot(tmp_path)
        code, _, err = cli(capsys, "run", "--resume", str(folder))
        assert code == 2, text
        one_line(err, needle)
        assert snapshot(tmp_path) == before
    code, _, err = cli(capsys, "run", "--resume", str(tmp_path / "missing"))
    assert code == 2
    one_line(err, "no such run folder")
    code, _, err = cli(capsys, "run", "--resume", "")
    assert code == 2
    one_line(err, "--resume is empty")


# ---- summaries -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("metrics", "needle"),
    [
        ({}, "targets missed: the summary holds no metrics"),
        ({"train_rmse": 0.01}, "targets missed: no value for rmse_to_sine"),
        ({"rmse_to_sine": 0.5}, "targets missed"),
        ({"rmse_to_sine": 0.05}, "all targets met"),
    ],
)
def test_show_and_check_agree(capsys, tmp_path, metrics, needle):
    # The saved verdict claims a pass whatever the metrics: both commands judge them again.
    target = {"metric": "rmse_to_sine", "op": "<=", "value": 0.1, "achieved": 0.05}
    summary = {
        "lab": "sine-basis",
        "quick": False,
        "metrics": metrics,
        "targets": [{**target, "passed": True, "source": "s"}],
        "passed": True,
    }
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    code_show, shown, _ = cli(capsys, "show", str(tmp_path))
    code_check, checked, _ = cli(capsys, "check", str(tmp_path))
    assert code_show == 0
    assert code_check == (0 if needle == "all targets met" else 1)
    for out in (shown, checked):
        verdicts = [line for line in out.splitlines() if line.startswith(("targets", "all"))]
        assert len(verdicts) == 1 and verdicts[0].startswith(needle), out
        assert ("FAIL" in out) == (needle != "all targets met")


def test_a_summary_of_the_wrong_shape_is_one_line(capsys, tmp_path):
    for text, needle in (
        ("[]", "not a JSON object"),
        ('{"lab": "x", "metrics": [], "targets": []}', "'metrics' is not a JSON dict"),
    ):
        (tmp_path / "summary.json").write_text(text)
        for command in ("show", "check"):
            code, _, err = cli(capsys, command, str(tmp_path))
            assert code == 2
            one_line(err, needle)


# ---- threads -------------------------------------------------------------------------
@pytest.mark.parametrize("threads", ["0", "-3", str(10**6)])
def test_absurd_threads_name_what_the_user_set(capsys, tmp_path, monkeypatch, threads):
    out = tmp_path / "r"
    code, _, err = cli(
        capsys, "run", "sine-basis", "--quick", "--threads", threads, "--out", str(out)
    )
    assert code == 2
    one_line(err, "--threads must be between 1 and", f"got {threads}")
    monkeypatch.setenv("PRACTICUM_THREADS", threads)
    code, _, err = cli(capsys, "run", "sine-basis", "--quick", "--out", str(out))
    assert code == 2
    line = one_line(err, "PRACTICUM_THREADS must be between 1 and", f"got {threads}")
    assert "--threads" not in line
    assert not out.exists()


def test_threads_env_that_is_not_an_integer(capsys, monkeypatch, whole):
    monkeypatch.setenv("PRACTICUM_THREADS", "two")
    code, _, err = cli(capsys, "run", "sine-basis", "--quick")
    assert code == 2
    one_line(err, "PRACTICUM_THREADS must be an integer, got 'two'")
    # --resume --threads 0 is refused too (it does not fall back on env.json's count).
    code, _, err = cli(capsys, "run", "--resume", str(whole), "--threads", "0")
    assert code == 2


def test_resume_names_an_absurd_thread_count_from_env_json(capsys, tmp_path):
    (tmp_path / "config.json").write_text(
        json.dumps({"lab": "sine-basis", "seed": 0, "quick": True, "config": {}})
    )
    (tmp_path / "env.json").write_text(json.dumps({"num_threads": 10**6}))
    code, _, err = cli(capsys, "run", "--resume", str(tmp_path))
    assert code == 2
    one_line(err, "num_threads in", "env.json (give --threads N) must be between 1 and")


# ---- memory --------------------------------------------------------------------------
def hungry_lab(monkeypatch, allocate) -> None:
    """Register, for this test only, a lab whose run asks for more memory than exists."""
    import practicum.lab as lab_module

    real = lab_module.get_lab("sine-basis")

    def run(config, run):
        allocate()

    hungry = dataclasses.replace(real, name="hungry", run=run)
    monkeypatch.setattr(lab_module, "_REGISTRY", {"hungry": hungry})


def test_running_out_of_memory_is_one_line_naming_the_lab_and_config(capsys, tmp_path, monkeypatch):
    # 1 PiB: more than any address space, so the allocator refuses it at once.
    hungry_lab(monkeypatch, lambda: torch.empty(2**50, dtype=torch.uint8))
    code, _, err = cli(
        capsys,
        "run",
        "hungry",
        "--quick",
        "--quiet",
        "--set",
        "num_basis=7",
        "--out",
        str(tmp_path / "r"),
    )
    assert code == 2
    one_line(
        err,
        "lab hungry ran out of memory with --quick --set num_basis=7",
        "can't allocate memory: you tried to allocate 1125899906842624 bytes",
        "--set",
    )
    assert "enforce fail" not in err

    def numpy_says_no():
        raise MemoryError("Unable to allocate 8.00 PiB for an array")

    monkeypatch.undo()
    hungry_lab(monkeypatch, numpy_says_no)
    code, _, err = cli(capsys, "run", "hungry", "--quiet", "--out", str(tmp_path / "s"))
    assert code == 2
    one_line(err, "lab hungry ran out of memory with the default config (Unable to allocate")


def test_only_allocation_failures_count_as_out_of_memory(tmp_path, monkeypatch):
    from practicum.launch import is_out_of_memory, run_lab

    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"))
    assert is_out_of_memory(MemoryError())
    assert not is_out_of_memory(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))

    def broken():
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    hungry_lab(monkeypatch, broken)
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):  # a bug stays a bug
        run_lab("hungry", quick=True, quiet=True, out=tmp_path / "r")


# ---- Ctrl-C under --all --------------------------------------------------------------
def test_ctrl_c_under_all_prints_what_finished(capsys, tmp_path, monkeypatch):
    import practicum.lab as lab_module

    real = lab_module.get_lab("sine-basis")

    def run(config, run):
        raise KeyboardInterrupt

    stopped = dataclasses.replace(real, name="stopped", run=run)
    monkeypatch.setattr(lab_module, "_REGISTRY", {real.name: real, stopped.name: stopped})
    code, out, err = cli(
        capsys, "run", "--all", "--quick", "--quiet", "--device", "cpu", "--out", str(tmp_path)
    )
    assert code == 130
    assert "rmse_to_sine" in out and "1 of 2 labs finished before the interrupt" in out
    one_line(
        err,
        f"the run in {tmp_path / 'stopped'} is unfinished",
        f"`practicum run --resume {tmp_path / 'stopped'} --device cpu`",
    )


# ---- help and version ----------------------------------------------------------------
def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_every_argument_of_every_command_has_help(capsys):
    parser = build_parser()
    for name, sub in _subparsers(parser).items():
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help not in (None, argparse.SUPPRESS), (name, action.dest)
    code, out, _ = cli(capsys, "run", "--help")
    assert code == 0 and "--device DEVICE" in out and "DEVICE_GIVEN" not in out
    code, out, _ = cli(capsys, "record", "--help")
    assert code == 0 and "--allow-quick" in out


def test_version_names_the_package_and_the_commit(capsys):
    from importlib.metadata import version

    from practicum.repro import git_commit

    code, out, _ = cli(capsys, "--version")
    assert code == 0
    assert out.startswith(f"practicum {version('practicum')}")
    commit = git_commit()
    assert (f"(commit {commit[:10]}" in out) if commit else ("commit" not in out)
