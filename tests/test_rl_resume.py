"""Stopped after a checkpoint and resumed, the RL labs end with the same bits as a whole run;
and the pieces of their state (replay buffer, environments, validation checks) round-trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from practicum.checkpoint import load_into, state_of
from practicum.cli import main
from practicum.rl.env import CartPoleStates, _time_limit, make_env
from practicum.rl.replay import ReplayBuffer
from practicum.rl.report import SolveCheck
from practicum.run import Run


class _Interrupted(Exception):
    pass


def _through_a_checkpoint(value: object) -> object:
    """What a checkpoint saves and loads: ``state_of``, ``torch.save``, weights-only load."""
    import io

    buffer = io.BytesIO()
    torch.save(state_of(value), buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


# ---- the replay buffer ---------------------------------------------------------------------


def _filled_buffer(capacity: int, n: int, seed: int = 0) -> ReplayBuffer:
    data = np.random.default_rng(100 + seed)
    buffer = ReplayBuffer(capacity, 3, np.random.default_rng(seed))
    for _ in range(n):
        buffer.add(data.normal(size=3), int(data.integers(2)), 1.0, data.normal(size=3), False)
    return buffer


@pytest.mark.parametrize("n", [0, 5, 12, 31])  # empty, part filled, full, wrapped around
def test_replay_buffer_round_trip_continues_identically(n):
    original = _filled_buffer(12, n)
    restored = ReplayBuffer(12, 3, np.random.default_rng(99))  # another generator state
    restored.add(np.ones(3), 1, 5.0, np.ones(3), True)  # and stale contents
    load_into(restored, _through_a_checkpoint(original))

    assert (restored.position, len(restored)) == (original.position, len(original))
    for name in ReplayBuffer._FIELDS:
        np.testing.assert_array_equal(getattr(restored, name), getattr(original, name))
    # Both go on alike: the same writes land in the same slots, the same batches come out.
    for buffer in (original, restored):
        buffer.add(np.full(3, 7.0), 0, 2.0, np.full(3, 8.0), True)
    a, b = original.sample(16), restored.sample(16)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_replay_buffer_state_is_plain_and_small():
    state = _filled_buffer(1000, 10).state_dict()
    assert state["obs"].shape == (10, 3)  # only the filled part is saved
    assert isinstance(state["obs"], torch.Tensor) and state["size"] == 10


def test_replay_buffer_refuses_a_state_of_another_shape():
    with pytest.raises(ValueError, match="does not fit"):
        ReplayBuffer(8, 3, np.random.default_rng(0)).load_state_dict(
            _filled_buffer(12, 4).state_dict()
        )


# ---- CartPole environments and the validation check ----------------------------------------


def _play(env, actions: list[int]) -> list[tuple]:
    """Step through ``actions``, resetting at episode ends; everything the lab sees."""
    seen = []
    for a in actions:
        obs, reward, terminated, truncated, _ = env.step(a)
        seen.append((obs.tolist(), reward, terminated, truncated))
        if terminated or truncated:
            seen.append(env.reset()[0].tolist())
    return seen


def test_cartpole_state_continues_mid_episode_and_across_resets():
    actions = np.random.default_rng(0).integers(0, 2, size=200).tolist()
    env = make_env(seed=5)
    env.reset()
    _play(env, actions[:7])  # mid-episode
    saved = _through_a_checkpoint(CartPoleStates([env]))
    expected = _play(env, actions)  # several episodes: resets draw from the env's generator

    other = make_env(seed=123)
    load_into(CartPoleStates([other]), saved)
    assert _play(other, actions) == expected
    assert any(len(s) == 4 and s[2] for s in expected)  # the run did cross episode ends


def test_cartpole_state_keeps_the_time_limit_count():
    env = make_env(seed=1)
    _time_limit(env)._elapsed_steps = 499  # one step before CartPole-v1's 500-step limit
    other = make_env(seed=1)
    load_into(CartPoleStates([other]), _through_a_checkpoint(CartPoleStates([env])))
    assert other.step(0)[3]  # truncated, as the saved environment would be
    assert not make_env(seed=1).step(0)[3]


def test_solve_check_state_round_trip():
    check = SolveCheck(run_seed=0, episodes=3)
    check.checks, check.solved_at_step, check.history = 2, 300, [(100, 20.0), (300, 480.0)]
    check.solved_after_s = 1.5
    again = SolveCheck(run_seed=0, episodes=3)
    load_into(again, _through_a_checkpoint(check))
    assert (again.checks, again.solved_at_step, again.history, again.solved_after_s) == (
        2,
        300,
        [(100, 20.0), (300, 480.0)],
        1.5,
    )


# ---- whole runs against stopped-and-resumed ones ---------------------------------------------


def _stop_after_a_checkpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the first checkpoint after iteration 0 raise once it is written."""
    save = Run.checkpoint

    def save_then_stop(self: Run, step: int, **objects: object) -> Path:
        path = save(self, step, **objects)
        if step >= 1:
            monkeypatch.setattr(Run, "checkpoint", save)
            raise _Interrupted
        return path

    monkeypatch.setattr(Run, "checkpoint", save_then_stop)


def assert_resume_gives_the_same_bits(
    lab: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cut_settings: tuple = ()
) -> list[int]:
    """Run ``lab``'s quick mode whole; again, stopped after a checkpoint mid-run, then
    ``--resume``: the same metrics, param_hash and metrics.jsonl. Returns the iterations
    the whole run checkpointed."""
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    args = ["--quick", "--quiet"]
    saved: list[int] = []
    save = Run.checkpoint

    def count(self: Run, step: int, **objects: object) -> Path:
        saved.append(step)
        return save(self, step, **objects)

    monkeypatch.setattr(Run, "checkpoint", count)
    code = main(["run", lab, *args, "--out", str(whole)])
    assert code in (0, 1)
    monkeypatch.setattr(Run, "checkpoint", save)

    _stop_after_a_checkpoint(monkeypatch)
    cut_args = [a for s in cut_settings for a in ("--set", s)]
    with pytest.raises(_Interrupted):
        main(["run", lab, *args, *cut_args, "--out", str(cut)])
    assert not (cut / "summary.json").exists()
    assert main(["run", "--resume", str(cut), "--quiet"]) == code
    a = json.loads((cut / "summary.json").read_text())
    b = json.loads((whole / "summary.json").read_text())
    assert a["param_hash"] == b["param_hash"]
    assert a["metrics"] == b["metrics"]
    assert (cut / "metrics.jsonl").read_text() == (whole / "metrics.jsonl").read_text()
    return saved


def test_dqn_resumes_mid_run_with_the_same_bits(tmp_path, monkeypatch):
    saved = assert_resume_gives_the_same_bits("dqn", tmp_path, monkeypatch)
    # Checkpoints all through the run, so a run killed after its first one dies mid-run.
    assert len(saved) >= 3 and saved[0] < saved[-1] / 3


def test_es_resumes_with_the_same_bits_whatever_the_workers(tmp_path, monkeypatch):
    # Stopped while evaluating in two worker processes, resumed (with two again): the same
    # bits as the whole run in this process.
    assert_resume_gives_the_same_bits("es", tmp_path, monkeypatch, cut_settings=("workers=2",))


def test_reinforce_resumes_with_the_same_bits(tmp_path, monkeypatch):
    assert_resume_gives_the_same_bits("reinforce", tmp_path, monkeypatch)
