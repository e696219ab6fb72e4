"""`practicum run --resume` after a SIGKILL continues char-lm, dqn and mnist-cnn bit for bit.

A real subprocess runs the lab's quick mode and is killed with SIGKILL between its first and
second checkpoints; `practicum run --resume` then finishes the run in the same folder, and its
summary and metrics log (wall-clock readings aside) must equal those of a run that was never
interrupted.

Timing decides nothing: the child is wrapped so that, when it reaches its second checkpoint
(all the work since the first one done, none of it saved), it announces that in a marker
file and waits. The kill always lands at that point, however loaded the machine is.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from metrics_logs import metrics_without_clocks
from practicum.cli import main
from practicum.launch import run_lab

# The child: `practicum ...` whose Run.checkpoint stops, before saving, at its second call.
CHILD = """
import pathlib, sys, time
from practicum.cli import main
from practicum.run import Run

save, calls = Run.checkpoint, []

def checkpoint(self, step, **objects):
    calls.append(step)
    if len(calls) == 2:
        pathlib.Path(sys.argv[1]).write_text(str(calls[0]))
        time.sleep(3600)  # killed here
    return save(self, step, **objects)

Run.checkpoint = checkpoint
sys.exit(main(sys.argv[2:]))
"""

CASES = {
    "char-lm": [],
    "dqn": [],
    "mnist-cnn": ["epochs=3"],  # a checkpoint per epoch; three are enough
}


@pytest.mark.parametrize(("lab", "settings"), CASES.items(), ids=list(CASES))
def test_sigkill_then_resume_gives_the_same_bits(tmp_path, lab, settings):
    sets = [a for s in settings for a in ("--set", s)]
    cut, marker = tmp_path / "cut", tmp_path / "at-second-checkpoint"
    log = (tmp_path / "child.log").open("w")
    cmd = [sys.executable, "-c", CHILD, str(marker), "run", lab, "--quick", "--quiet", *sets]
    proc = subprocess.Popen([*cmd, "--out", str(cut)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 600  # a generous bound for a loaded machine, never hit
        while not marker.exists():
            code = proc.poll()
            assert code is None, (
                f"{lab} ended (exit {code}) before its second checkpoint: "
                + (tmp_path / "child.log").read_text()[-2000:]
            )
            assert time.monotonic() < deadline, f"{lab} reached no second checkpoint in 600 s"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        log.close()
    assert proc.returncode == -signal.SIGKILL
    first = int(marker.read_text())
    assert [p.name for p in (cut / "checkpoints").glob("step-*.pt")] == [f"step-{first:08d}.pt"]
    assert not (cut / "summary.json").exists()

    code = main(["run", "--resume", str(cut), "--quiet"])
    whole, whole_dir = run_lab(
        lab,
        quick=True,
        quiet=True,
        overrides=dict(s.split("=", 1) for s in settings),
        out=tmp_path / "whole",
    )
    resumed = json.loads((cut / "summary.json").read_text())
    assert code == (0 if whole["passed"] else 1)
    assert resumed["metrics"] == whole["metrics"]
    assert resumed["param_hash"] == whole["param_hash"]
    log = metrics_without_clocks(cut / "metrics.jsonl")
    assert log == metrics_without_clocks(whole_dir / "metrics.jsonl")
    assert len(log) > 1
    assert resumed["wall_time_s"] > resumed["wall_time_this_process_s"] > 0
