"""The deep-clustering lab's quick mode: it separates the toy voices, writes its plots and
its audio, and passes its quick targets (the library's mathematics is tests/test_separation.py)."""

from __future__ import annotations

import math

import pytest

from practicum.launch import run_lab


def test_quick_run_separates_the_toy_voices(tmp_path) -> None:
    pytest.importorskip("mir_eval")
    summary, folder = run_lab("deep-clustering", quick=True, out=tmp_path / "dc", quiet=True)
    metrics = summary["metrics"]
    assert all(math.isfinite(v) for v in metrics.values())
    assert metrics["oracle_ibm_si_sdri"] > metrics["dc_si_sdri"]
    for name in ("training", "si_sdri", "masks"):
        assert (folder / "plots" / f"{name}.png").is_file()
    assert (folder / "audio" / "01-mixture.wav").is_file()
    assert summary["passed"], summary["targets"]
