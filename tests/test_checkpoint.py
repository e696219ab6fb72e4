"""Checkpoint and resume: exact continuation, corrupt files, no pickled code, SIGKILL."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from practicum.cli import main
from practicum.launch import resume_lab, run_lab
from practicum.run import Run


def _train(run: Run, steps: int, stop_at: int | None = None) -> torch.nn.Module:
    """A loop that uses every kind of randomness: NumPy batches, a torch generator, dropout."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 16), torch.nn.Dropout(0.3), torch.nn.Linear(16, 1)
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.9)
    rng = np.random.default_rng(1)
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(64, 4, generator=torch.Generator().manual_seed(3))
    y = x.sum(1, keepdim=True)
    resumed = run.restore(model=model, opt=opt, sched=sched, rng=rng, gen=gen)
    start = resumed["step"] + 1 if resumed else 0
    for step in range(start, steps):
        idx = torch.from_numpy(rng.choice(64, 16, replace=False))
        noise = 0.01 * torch.randn(16, 1, generator=gen)
        loss = ((model(x[idx]) - y[idx] - noise) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        run.log(step=step, loss=loss.item())
        if step % 4 == 3:
            run.checkpoint(step, model=model, opt=opt, sched=sched, rng=rng, gen=gen)
        if step == stop_at:
            break
    return model


def test_resume_continues_exactly(tmp_path):
    full = _train(Run(tmp_path / "full", quiet=True), steps=30)
    interrupted = Run(tmp_path / "cut", quiet=True)
    _train(interrupted, steps=30, stop_at=17)  # dies between checkpoints (15 and 19)
    again = Run(tmp_path / "cut", quiet=True)
    again.resuming = True
    resumed = _train(again, steps=30)
    for a, b in zip(full.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    log_full = (tmp_path / "full" / "metrics.jsonl").read_text()
    assert (tmp_path / "cut" / "metrics.jsonl").read_text() == log_full


def test_numpy_arrays_anywhere_in_a_state_come_back_bit_for_bit(tmp_path):
    """Arrays at the top, inside lists and dicts, and inside an object's state_dict."""

    class Engine:  # like the NumPy engine's modules: a state dict of arrays
        def __init__(self, value: float) -> None:
            self.w = np.full(3, value, dtype=np.float32)

        def state_dict(self) -> dict:
            return {"w": self.w.copy(), "shape": (3,)}

        def load_state_dict(self, state: dict) -> None:
            assert isinstance(state["w"], np.ndarray)
            self.w = state["w"].copy()

    special = np.array([np.nan, -0.0, np.inf, np.nextafter(0, 1)], dtype=np.float64)
    ints = np.arange(6, dtype=np.int64).reshape(2, 3)[:, ::2]  # not contiguous
    module = torch.nn.Linear(2, 2)
    engine, array = Engine(1.5), special.copy()
    best = {"acc": 0.5, "state": {"w": np.float32([1, 2])}, "ints": ints.copy(), "n": [np.ones(2)]}
    run = Run(tmp_path, quiet=True)
    run.checkpoint(3, engine=engine, array=array, best=best, module=module)

    engine.w[:] = 0
    array[:] = 0
    best.clear()
    saved_module = {k: v.clone() for k, v in module.state_dict().items()}
    with torch.no_grad():
        module.weight.zero_()
    run.resuming = True
    run.restore(engine=engine, array=array, best=best, module=module)
    np.testing.assert_array_equal(engine.w, np.full(3, 1.5, dtype=np.float32))
    assert array.tobytes() == special.tobytes()  # NaN, the sign of zero, subnormals
    assert best["state"]["w"].dtype == np.float32 and best["acc"] == 0.5
    assert best["ints"].tobytes() == np.ascontiguousarray(ints).tobytes()
    assert best["ints"].dtype == np.int64 and isinstance(best["n"][0], np.ndarray)
    for k, v in module.state_dict().items():
        assert torch.equal(v, saved_module[k])


def test_a_torch_state_dict_is_saved_as_it_is(tmp_path):
    """No arrays in it: the very same object, metadata and all, goes into the checkpoint."""
    from practicum.checkpoint import state_of

    module = torch.nn.BatchNorm1d(3)
    state = state_of(module)
    assert hasattr(state, "_metadata") and set(state) == set(module.state_dict())
    optimizer = torch.optim.Adam(module.parameters())
    assert state_of(optimizer) == optimizer.state_dict()


def test_keeps_two_and_skips_a_corrupt_newest(tmp_path, capsys):
    run = Run(tmp_path, quiet=True)
    model = torch.nn.Linear(2, 2)
    for step in (0, 1, 2):
        with torch.no_grad():
            model.weight.fill_(step)
        run.checkpoint(step, model=model)
    files = sorted(p.name for p in run.checkpoints_dir.iterdir())
    assert files == ["step-00000001.pt", "step-00000002.pt"]
    newest = run.checkpoints_dir / files[-1]
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # truncated

    run.resuming = True
    resumed = run.restore(model=model)
    assert resumed["step"] == 1
    assert torch.all(model.weight == 1)
    # One line, even with --quiet, naming the file skipped and the one used.
    (line,) = capsys.readouterr().err.splitlines()
    assert "unreadable checkpoint(s) step-00000002.pt (" in line and "set aside" in line
    assert line.endswith("resuming " + str(run.checkpoints_dir / "step-00000001.pt (step 1)"))
    # Set aside, so that the next checkpoint saved is not pruned in its favour.
    assert sorted(p.name for p in run.checkpoints_dir.iterdir()) == [
        "step-00000001.pt",
        "step-00000002.pt.unreadable",
    ]


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_loading_never_executes_pickled_code(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    run = Run(tmp_path / "r", quiet=True)
    model = torch.nn.Linear(2, 2)
    run.checkpoint(0, model=model)
    evil = run.checkpoints_dir / "step-00000009.pt"
    torch.save({"step": 9, "objects": {"model": _Exploit()}}, evil, pickle_module=pickle)
    run.resuming = True
    resumed = run.restore(model=model)
    assert not (tmp_path / "pwned").exists()
    assert resumed["step"] == 0 and "step-00000009.pt (UnpicklingError)" in capsys.readouterr().err


def test_sigkill_mid_run_then_resume_gives_the_same_bits(tmp_path):
    args = ["--quiet", "--set", "steps=6000", "--set", "checkpoint_every=300"]
    cut, whole = tmp_path / "cut", tmp_path / "whole"
    cmd = [sys.executable, "-m", "practicum", "run", "sine-basis", *args]
    proc = subprocess.Popen([*cmd, "--out", str(cut)])
    deadline = time.monotonic() + 120
    while not list((cut / "checkpoints").glob("*.pt")):
        assert proc.poll() is None, "the run ended before its first checkpoint"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.2)  # well past the checkpoint, mid-way to the next one
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (cut / "summary.json").exists(), "the run finished before it was killed"

    assert main(["run", "--resume", str(cut), "--quiet"]) == 0
    subprocess.run([*cmd, "--out", str(whole)], check=True, capture_output=True)
    a = json.loads((cut / "summary.json").read_text())
    b = json.loads((whole / "summary.json").read_text())
    assert a["metrics"] == b["metrics"]
    assert a["param_hash"] == b["param_hash"]
    assert (cut / "metrics.jsonl").read_text() == (whole / "metrics.jsonl").read_text()
    assert a["wall_time_s"] > a["wall_time_this_process_s"] > 0  # both processes counted


def test_wall_time_carries_over_a_resume(tmp_path):
    """A resumed run's wall time counts the earlier process up to its checkpoint."""
    run = Run(tmp_path / "r", quiet=True)
    model = torch.nn.Linear(2, 2)
    run._t0 -= 100.0  # as if the first process had worked 100 s before checkpointing
    run.checkpoint(0, model=model)
    later = Run(tmp_path / "r", quiet=True)
    later.resuming = True
    later.restore(model=model)
    assert 100.0 <= later.elapsed_before_resume < 110.0
    later.checkpoint(1, model=model)  # and keeps counting from there
    again = Run(tmp_path / "r", quiet=True)
    again.resuming = True
    again.restore(model=model)
    assert again.elapsed_before_resume >= later.elapsed_before_resume


def test_nan_loss_is_one_line_naming_the_step(tmp_path, capsys):
    out = tmp_path / "nan"
    code = main(["run", "sine-basis", "--quiet", "--set", "learning_rate=100", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "non-finite at optimiser step" in err and "BasisRegression." in err
    assert not (out / "summary.json").exists()
    assert (out / "metrics.jsonl").exists()  # what was logged is kept


def test_resume_errors(tmp_path, capsys):
    assert main(["run", "--resume", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err
    assert main(["run", "sine-basis", "--resume", str(tmp_path)]) == 2
    assert "--resume takes" in capsys.readouterr().err


class _Interrupted(Exception):
    pass


# Every lab's plain quick mode is resumed in test_every_lab.py; here one run sets every option
# cifar10-resnet has: the whitening filters and the weight average must come back too, with a
# full-resolution first stage as in the full defaults (long runs are resumed across sessions).
CASES = [
    pytest.param(
        "cifar10-resnet",
        ["epochs=3", "val_size=100", "whiten=true", "ema_decay=0.9", "pool=false,true"]
        + ["standardize_weights=true", "tta_shift=1"],
        id="cifar10-resnet-every-option",
    )
]


@pytest.mark.parametrize(("lab", "settings"), CASES)
def test_long_labs_resume_from_their_epoch_checkpoints(
    tmp_path, monkeypatch, capsys, lab, settings
):
    """Stopped right after its first checkpoint, --resume gives the same bits and metrics as a
    run that was never stopped (test_resume.py compares the metrics logs line by line)."""
    overrides = dict(s.split("=", 1) for s in settings)
    save = Run.checkpoint
    steps: list[int] = []

    def counted(self: Run, step: int, **objects: object):
        steps.append(step)
        return save(self, step, **objects)

    monkeypatch.setattr(Run, "checkpoint", counted)
    whole, _ = run_lab(lab, quick=True, quiet=True, overrides=overrides, out=tmp_path / "whole")
    assert len(steps) >= 2, f"only {len(steps)} checkpoint(s): nothing to resume"

    def save_then_stop(self: Run, step: int, **objects: object):
        save(self, step, **objects)
        raise _Interrupted

    cut = tmp_path / "cut"
    monkeypatch.setattr(Run, "checkpoint", save_then_stop)
    with pytest.raises(_Interrupted):
        run_lab(lab, quick=True, quiet=True, overrides=overrides, out=cut)
    assert not (cut / "summary.json").exists()
    monkeypatch.setattr(Run, "checkpoint", save)
    capsys.readouterr()
    resumed, _ = resume_lab(cut, quiet=True)
    assert capsys.readouterr().err == ""  # no checkpoint unreadable, nothing started over
    assert resumed["param_hash"] == whole["param_hash"]
    assert resumed["metrics"] == whole["metrics"]
    lines = (cut / "metrics.jsonl").read_text().splitlines()  # cut back, not doubled
    assert len(lines) == len((tmp_path / "whole" / "metrics.jsonl").read_text().splitlines())
