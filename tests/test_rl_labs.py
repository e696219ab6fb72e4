"""The three CartPole labs: tiny runs are deterministic, save a loadable policy, reject bad
config values with a one-line error."""

from __future__ import annotations

import json

import numpy as np
import pytest

from practicum.errors import PracticumError
from practicum.lab import get_lab, make_config
from practicum.launch import run_lab
from practicum.rl.evaluate import TEST, eval_seed, evaluate_policy, greedy_policy
from practicum.rl.policy_io import load_policy

# A few hundred training steps and 5 evaluation episodes: enough to exercise every code path.
TINY = {
    "reinforce": {"total_steps": "300", "episodes_per_batch": "4"},
    "dqn": {
        "total_steps": "600",
        "learning_starts": "200",
        "q_probe_states": "50",
        "log_every": "100",
        "target_update_every": "100",
        "check_every": "300",
        "check_gate": "0",
        "check_episodes": "3",
        "width": "16",
        "batch_size": "16",
        "train_every": "4",
    },
    "es": {"generations": "2", "num_pairs": "3", "check_gate": "0", "check_episodes": "3"},
}


@pytest.mark.parametrize("name", sorted(TINY))
def test_lab_is_deterministic_and_saves_its_policy(name, tmp_path):
    overrides = {**TINY[name], "eval_episodes": "5"}
    first, dir1 = run_lab(name, seed=3, overrides=overrides, out=tmp_path / "a", quiet=True)
    second, _ = run_lab(name, seed=3, overrides=overrides, out=tmp_path / "b", quiet=True)
    assert first["metrics"] == second["metrics"]
    assert first["param_hash"] == second["param_hash"]
    other, _ = run_lab(name, seed=4, overrides=overrides, out=tmp_path / "c", quiet=True)
    assert other["param_hash"] != first["param_hash"]

    metrics = first["metrics"]
    assert metrics["train_env_steps"] > 0 and metrics["random_mean_return"] > 0
    assert (dir1 / "plots" / "learning_curve.png").stat().st_size > 10_000
    if name == "dqn":
        assert (dir1 / "plots" / "q_values.png").stat().st_size > 10_000
    timing = json.loads((dir1 / "timing.json").read_text())
    assert timing["steps_to_solve"] == metrics["steps_to_solve"]

    # The saved policy is the one that was scored: reloading it reproduces the test score.
    model, _, meta = load_policy(dir1 / "checkpoints" / "policy.pt")
    assert meta["eval_mean_return"] == pytest.approx(metrics["eval_mean_return"])
    again = evaluate_policy(greedy_policy(model), 5, eval_seed(3, TEST))
    assert float(np.mean(again)) == pytest.approx(metrics["eval_mean_return"])


@pytest.mark.parametrize(
    ("name", "key", "value"),
    [
        ("dqn", "tau", "0"),
        ("dqn", "end_epsilon", "2"),
        ("reinforce", "gamma", "1.5"),
        ("reinforce", "activation", "softsign"),
        ("es", "sigma", "0"),
        ("es", "workers", "0"),
    ],
)
def test_bad_config_values_raise_one_line_errors(name, key, value):
    with pytest.raises(PracticumError) as info:
        make_config(get_lab(name), overrides={key: value})
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", sorted(TINY))
def test_quick_preset_is_small(name):
    config = make_config(get_lab(name), quick=True)
    budget = getattr(config, "total_steps", None) or config.generations * config.num_pairs * 2
    assert budget <= 5_000  # steps, or episodes for ES: "a few thousand steps"
