"""Results of record: only rerunnable runs, several seeds with their statistics, nothing
half-written on bad input."""

from __future__ import annotations

import json
import statistics
import subprocess
from pathlib import Path

import numpy as np
import pytest

from practicum import records
from practicum.errors import PracticumError
from practicum.lab import get_lab
from practicum.repro import git_commit

CLEAN = "0123456789abcdef0123456789abcdef01234567"


def make_run(
    root: Path,
    seed: int,
    rmse: float,
    *,
    commit: str | None = CLEAN,
    lab: str = "sine-basis",
    steps: int = 5000,
    quick: bool = False,
    cpu: str = "AMD EPYC",
) -> Path:
    """A finished run folder as `practicum run` leaves it (summary, config, env, plots)."""
    run = root / f"{lab}-s{seed}-{steps}-{commit}-{cpu.replace(' ', '_')}"
    (run / "plots").mkdir(parents=True)
    metrics = {"rmse_to_sine": rmse, "steps": steps}
    targets = [t.judge(metrics) for t in get_lab(lab).targets]
    summary = {
        "lab": lab,
        "seed": seed,
        "quick": quick,
        "metrics": metrics,
        "targets": targets,
        "passed": all(t["passed"] for t in targets),
        "wall_time_s": 3.0 + seed,
        "param_hash": f"hash{seed}",
    }
    (run / "summary.json").write_text(json.dumps(summary))
    config = {"lab": lab, "quick": quick, "seed": seed, "config": {"steps": steps}}
    (run / "config.json").write_text(json.dumps(config))
    (run / "env.json").write_text(json.dumps({"git_commit": commit, "cpu": cpu}))
    (run / "plots" / "fit.png").write_bytes(b"png" + bytes([seed]))
    return run


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_is_clean():
    assert records.is_clean({"git_commit": CLEAN})
    assert not records.is_clean({"git_commit": CLEAN + "+dirty"})
    assert not records.is_clean({"git_commit": None})
    assert not records.is_clean({})
    assert not records.is_clean(None)
    assert records.is_dirty({"git_commit": CLEAN + "+dirty"})
    assert not records.is_dirty({"git_commit": CLEAN}) and not records.is_dirty({})


def test_one_run_is_recorded_as_before(tmp_path):
    run = make_run(tmp_path / "runs", 0, 0.03)
    results = tmp_path / "results"
    done = records.record([run], results=results)
    assert done == records.Recorded(lab="sine-basis", plots=1, seeds=1)
    assert (results / "sine-basis.json").read_bytes() == (run / "summary.json").read_bytes()
    for name in ("config.json", "env.json"):
        assert (results / "sine-basis" / name).read_bytes() == (run / name).read_bytes()
    assert (results / "sine-basis" / "fit.png").read_bytes() == (run / "plots/fit.png").read_bytes()
    assert records.load_seeds("sine-basis", results) is None


def test_audio_examples_are_recorded_and_stale_ones_removed(tmp_path):
    """A run's audio/*.wav (a separation lab's estimates) travel with the record, like plots."""
    run = make_run(tmp_path / "runs", 0, 0.03)
    (run / "audio").mkdir()
    (run / "audio" / "01-mixture.wav").write_bytes(b"RIFF-mixture")
    results = tmp_path / "results"
    (results / "sine-basis" / "audio").mkdir(parents=True)
    (results / "sine-basis" / "audio" / "old.wav").write_bytes(b"RIFF-old")
    records.record([run], results=results)
    clips = sorted(p.name for p in (results / "sine-basis" / "audio").iterdir())
    assert clips == ["01-mixture.wav"]
    assert (results / "sine-basis" / "audio" / "01-mixture.wav").read_bytes() == b"RIFF-mixture"


def test_three_seeds_write_seeds_json_with_sample_statistics(tmp_path):
    values = [0.031, 0.047, 0.0255]
    runs = [make_run(tmp_path / "runs", s, v) for s, v in zip((0, 1, 2), values, strict=True)]
    results = tmp_path / "results"
    (results / "sine-basis").mkdir(parents=True)
    (results / "sine-basis" / "old.png").write_bytes(b"stale")  # a plot no longer drawn
    (results / "sine-basis" / "notes.md").write_text("kept")
    done = records.record(runs, results=results)
    assert done.seeds == 3
    assert not (results / "sine-basis" / "old.png").exists()
    assert (results / "sine-basis" / "notes.md").read_text() == "kept"
    # The run of record is the first folder.
    assert (results / "sine-basis.json").read_bytes() == (runs[0] / "summary.json").read_bytes()

    seeds = records.load_seeds("sine-basis", results)
    assert seeds is not None
    assert seeds["lab"] == "sine-basis" and seeds["config"] == {"steps": 5000}
    assert [r["seed"] for r in seeds["runs"]] == [0, 1, 2]
    assert [r["record"] for r in seeds["runs"]] == [True, False, False]
    first = seeds["runs"][0]
    assert first["metrics"]["rmse_to_sine"] == values[0]
    assert first["param_hash"] == "hash0" and first["wall_time_s"] == 3.0
    assert first["git_commit"] == CLEAN and first["cpu"] == "AMD EPYC"
    assert set(seeds["stats"]) == {"rmse_to_sine"}  # the metric of each full target
    stats = seeds["stats"]["rmse_to_sine"]
    assert stats["n"] == 3
    assert stats["mean"] == pytest.approx(statistics.fmean(values), rel=1e-15)
    assert stats["std"] == pytest.approx(statistics.stdev(values), rel=1e-12)
    assert stats["std"] == pytest.approx(float(np.std(values, ddof=1)), rel=1e-12)
    assert (stats["min"], stats["max"]) == (min(values), max(values))

    # Recording one seed again removes the seeds.json that described the earlier set.
    records.record([runs[1]], results=results)
    assert records.load_seeds("sine-basis", results) is None


def test_seed_stats_of_one_value_has_zero_spread():
    assert records.seed_stats([0.5]) == {"mean": 0.5, "std": 0.0, "min": 0.5, "max": 0.5, "n": 1}


@pytest.mark.parametrize(
    ("kind", "needle"),
    [
        ("dirty", "uncommitted changes"),
        ("no-commit", "names no git commit"),
        ("other-config", "another config"),
        ("other-lab", "is a run of spirals"),
        ("same-seed", "both have seed 0"),
        ("quick", "is a --quick run"),
    ],
)
def test_bad_seed_sets_are_refused_before_anything_is_written(tmp_path, kind, needle):
    runs = tmp_path / "runs"
    first = make_run(runs, 0, 0.03)
    other = {
        "dirty": lambda: make_run(runs, 1, 0.04, commit=CLEAN + "+dirty"),
        "no-commit": lambda: make_run(runs, 1, 0.04, commit=None),
        "other-config": lambda: make_run(runs, 1, 0.04, steps=4000),
        "other-lab": lambda: make_run(runs, 1, 0.04, lab="spirals"),
        "same-seed": lambda: make_run(runs, 0, 0.04, cpu="other"),
        "quick": lambda: make_run(runs, 1, 0.04, quick=True),
    }[kind]()
    results = tmp_path / "results"
    records.record([first], results=results)  # an existing record stays untouched
    before = snapshot(results)
    with pytest.raises(PracticumError, match=needle) as info:
        records.record([first, make_run(runs, 2, 0.05), other], results=results)
    assert "\n" not in str(info.value)
    assert snapshot(results) == before


def test_a_dirty_run_of_record_says_what_to_do(tmp_path):
    run = make_run(tmp_path, 0, 0.03, commit=CLEAN + "+dirty")
    with pytest.raises(PracticumError, match="commit, rerun the lab, then record"):
        records.record([run], results=tmp_path / "results")
    assert not (tmp_path / "results").exists()


def test_quick_runs_need_allow_quick(tmp_path):
    run = make_run(tmp_path, 0, 0.03, quick=True)
    with pytest.raises(PracticumError, match="is a --quick run"):
        records.record([run], results=tmp_path / "results")
    assert records.record([run], allow_quick=True, results=tmp_path / "results").seeds == 1


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def test_git_commit_is_dirty_for_tracked_changes_only(tmp_path):
    _git(tmp_path, "init", "-q")
    (tmp_path / "lab.py").write_text("x = 1\n")
    _git(tmp_path, "add", "lab.py")
    _git(tmp_path, "commit", "-q", "-m", "one")
    sha = git_commit(tmp_path)
    assert sha is not None and len(sha) == 40 and records.is_clean({"git_commit": sha})
    (tmp_path / "scratch.txt").write_text("an untracked file does not change what ran")
    assert git_commit(tmp_path) == sha
    (tmp_path / "lab.py").write_text("x = 2\n")
    assert git_commit(tmp_path) == sha + "+dirty"
    assert not records.is_clean({"git_commit": git_commit(tmp_path)})
    assert git_commit(tmp_path / "scratch.txt") is None  # not a folder in a clone


def test_results_dir_is_the_projects_docs_results():
    assert records.results_dir() == records.project_root() / "docs" / "results"
    assert (records.project_root() / "pyproject.toml").is_file()


def test_full_time_is_the_records_wall_time_else_the_labs_estimate(tmp_path):
    lab = get_lab("sine-basis")
    assert records.full_time(lab, tmp_path) == records.ESTIMATE_MARK + lab.time_full
    assert records.record([make_run(tmp_path / "runs", 0, 0.03)], results=tmp_path).seeds == 1
    assert records.full_time(lab, tmp_path) == "3.0 s"  # make_run's wall time, on a CPU
    env = {"git_commit": CLEAN, "device": "cuda", "gpu": "NVIDIA H200"}
    (tmp_path / "sine-basis" / "env.json").write_text(json.dumps(env))
    assert records.full_time(lab, tmp_path) == "3.0 s on H200"
