"""The sequence labs stopped after a checkpoint and resumed end with the same bits as whole
runs: char-lm (two models training side by side) and agnews (nested cross-validation)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from practicum.cli import main
from practicum.run import Run


class _Interrupted(Exception):
    pass


def _log_without_times(run_dir: Path) -> list[dict]:
    """metrics.jsonl without its wall times, which differ from run to run."""
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [
        {k: v for k, v in json.loads(line).items() if k not in ("time_s", "train_time_s")}
        for line in lines
    ]


def _run(lab: str, out: Path, settings: list[str]) -> int:
    args = ["--quick", "--quiet"] + [a for s in settings for a in ("--set", s)]
    return main(["run", lab, *args, "--out", str(out)])


def _stopped_and_resumed(
    lab: str, out: Path, settings: list[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, list[int]]:
    """Run until the checkpoint of iteration 1 is written, stop, ``--resume``; returns the
    exit code and the iterations that were checkpointed on the way."""
    saved: list[int] = []
    save = Run.checkpoint

    def save_then_stop(self: Run, step: int, **objects: object) -> Path:
        path = save(self, step, **objects)
        saved.append(step)
        if step == 1:
            raise _Interrupted
        return path

    monkeypatch.setattr(Run, "checkpoint", save_then_stop)
    with pytest.raises(_Interrupted):
        _run(lab, out, settings)
    assert not (out / "summary.json").exists()
    resumed_from = len(saved)
    code = main(["run", "--resume", str(out), "--quiet"])
    monkeypatch.setattr(Run, "checkpoint", save)
    assert saved[resumed_from:] and min(saved[resumed_from:]) > 1  # it went on after step 1
    return code, saved


def _same_bits(a_dir: Path, b_dir: Path) -> None:
    a = json.loads((a_dir / "summary.json").read_text())
    b = json.loads((b_dir / "summary.json").read_text())
    assert a["param_hash"] == b["param_hash"]
    assert a["metrics"] == b["metrics"]


def test_char_lm_resumes_after_a_block_with_the_same_bits(tmp_path, monkeypatch):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    code = _run("char-lm", whole, [])
    assert code in (0, 1)
    resumed_code, saved = _stopped_and_resumed("char-lm", cut, [], monkeypatch)
    assert resumed_code == code
    assert saved == [0, 1, 2]  # quick mode: 150 steps in 3 blocks, a checkpoint after each
    _same_bits(cut, whole)
    assert _log_without_times(cut) == _log_without_times(whole)


@pytest.mark.slow
def test_char_lm_one_model_at_a_time_gives_the_same_bits(tmp_path):
    """Without dropout, the models do not share a generator: training them one after the
    other gives what training them side by side does."""
    assert _run("char-lm", tmp_path / "side", []) in (0, 1)
    assert _run("char-lm", tmp_path / "one", ["parallel=false"]) in (0, 1)
    _same_bits(tmp_path / "one", tmp_path / "side")


def test_agnews_resumes_after_an_outer_fold_with_the_same_bits(tmp_path, monkeypatch):
    settings = ["folds=3"]  # 2 models x 3 outer folds: six iterations
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    code = _run("agnews", whole, settings)
    assert code in (0, 1)
    resumed_code, _ = _stopped_and_resumed("agnews", cut, settings, monkeypatch)
    assert resumed_code == code
    _same_bits(cut, whole)
    assert _log_without_times(cut) == _log_without_times(whole)
    results = json.loads((cut / "cv_results.json").read_text())["results"]
    assert [len(r["accuracies"]) for r in results.values()] == [3, 3]
