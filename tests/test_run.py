"""Run folders, summaries, atomic writes and determinism."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from practicum.io import atomic_write, atomic_write_json
from practicum.lab import Target, all_labs, make_config
from practicum.launch import run_lab
from practicum.repro import param_hash

SUMMARY_KEYS = {
    "lab",
    "seed",
    "quick",
    "metrics",
    "targets",
    "passed",
    "wall_time_s",
    "param_hash",
}


def quick_run(lab: str, seed: int, path) -> dict:
    summary, _ = run_lab(lab, quick=True, seed=seed, out=path, quiet=True)
    return summary


def test_summary_has_exactly_the_documented_shape(tmp_path):
    summary = quick_run("sine-basis", 0, tmp_path / "a")
    on_disk = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert on_disk == summary
    assert set(summary) == SUMMARY_KEYS
    assert isinstance(summary["lab"], str) and isinstance(summary["seed"], int)
    assert isinstance(summary["quick"], bool) and isinstance(summary["passed"], bool)
    assert all(isinstance(v, int | float) for v in summary["metrics"].values())
    assert len(summary["param_hash"]) == 64
    for t in summary["targets"]:
        assert set(t) == {"metric", "op", "value", "achieved", "passed", "source"}
        assert t["op"] in (">=", "<=")
    lines = (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) > 5 and all("step" in json.loads(line) for line in lines)


def test_another_seed_gives_another_hash(tmp_path):
    """The seed reaches the lab (same seed, same bits is checked for every lab in
    test_every_lab.py)."""
    a = quick_run("sine-basis", 7, tmp_path / "a")
    b = quick_run("sine-basis", 8, tmp_path / "b")
    assert a["param_hash"] != b["param_hash"]
    assert a["metrics"] != b["metrics"]


def test_param_hash_sees_every_bit_and_name():
    state = {"w": torch.ones(3), "b": torch.zeros(2)}
    h = param_hash(state)
    assert h == param_hash({"b": torch.zeros(2), "w": torch.ones(3)})  # order-free
    bumped = {"w": torch.ones(3), "b": torch.tensor([0.0, np.nextafter(0, 1, dtype=np.float32)])}
    assert param_hash(bumped) != h
    assert param_hash({"v": torch.ones(3), "b": torch.zeros(2)}) != h
    assert param_hash({"w": torch.ones(3).double(), "b": torch.zeros(2)}) != h
    assert param_hash({"w": np.ones(3, np.float32), "b": np.zeros(2, np.float32)}) == h


def test_target_judging():
    t = Target("acc", ">=", 0.9, "test")
    assert t.judge({"acc": 0.9})["passed"]
    assert not t.judge({"acc": 0.89})["passed"]
    assert not t.judge({})["passed"]
    assert not t.judge({"acc": float("nan")})["passed"]
    assert Target("loss", "<=", 1.0, "t").judge({"loss": 0.5})["passed"]
    with pytest.raises(ValueError):
        Target("x", "==", 1.0, "t")


def test_every_lab_has_a_valid_quick_preset_and_targets():
    for lab in all_labs().values():
        make_config(lab, quick=True)
        make_config(lab, quick=False)
        assert lab.targets and lab.source and lab.title and lab.summary, lab.name


def test_atomic_write_keeps_old_file_when_interrupted(tmp_path):
    path = tmp_path / "summary.json"
    atomic_write_json(path, {"ok": 1})

    def explode(f):
        f.write(b'{"half": ')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, explode)
    assert json.loads(path.read_text()) == {"ok": 1}
    assert os.listdir(tmp_path) == ["summary.json"]  # no temp file left behind


def test_atomic_json_refuses_nan_as_null(tmp_path):
    atomic_write_json(tmp_path / "x.json", {"a": float("nan"), "b": np.float32(2.5)})
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": None, "b": 2.5}


def test_sub_seed_is_the_seed_sequence_of_its_parts_and_separates_streams():
    import numpy as np

    from practicum.repro import sub_seed

    assert sub_seed(0, 1, 2) == int(np.random.SeedSequence([0, 1, 2]).generate_state(1)[0])
    seeds = {sub_seed(7, repeat, what) for repeat in range(20) for what in range(3)}
    assert len(seeds) == 60 and all(0 <= s < 2**32 for s in seeds)
    assert sub_seed(7, 1, 0) != sub_seed(7, 0, 1)  # order matters
