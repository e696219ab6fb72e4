"""What every CartPole lab does at the end: stop when solved, test, compare, save, render."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from practicum.rl.env import SOLVED_RETURN
from practicum.rl.evaluate import (
    TEST,
    VALIDATION,
    episode_seeds,
    eval_seed,
    evaluate_policy,
    greedy_policy,
    random_policy,
    rollout_returns,
)
from practicum.rl.plots import frame_strip_figure, render_frames
from practicum.rl.policy_io import PolicySpec, save_policy
from practicum.run import Run


@dataclass
class SolveCheck:
    """Decides when training may stop: the greedy policy's mean return on the validation
    episodes reaches ``threshold``. Records the env steps and wall time when it first does.

    A check first plays only the first ``screen_episodes`` validation episodes and goes on to
    all ``episodes`` only if those already average ``threshold`` (a policy failing 10 of them
    cannot pass 100), so checks are cheap enough to make often. The reported score comes from
    separate test episodes (``final_report``): stopping on a lucky validation result does not
    inflate it.

    ``state_dict()`` / ``load_state_dict()`` carry the checks made so far over a resume (the
    wall time to solve counts the time before the checkpoint, as the run's wall time does).
    """

    run_seed: int
    episodes: int = 100
    screen_episodes: int = 10
    threshold: float = SOLVED_RETURN
    checks: int = 0
    solved_at_step: int | None = None
    solved_after_s: float | None = None
    history: list[tuple[int, float]] = field(default_factory=list)
    _t0: float = field(default_factory=time.perf_counter)

    def __call__(self, model: torch.nn.Module, env_steps: int, device: str = "cpu") -> bool:
        policy = greedy_policy(model, device)
        seeds = episode_seeds(eval_seed(self.run_seed, VALIDATION), self.episodes).tolist()
        self.checks += 1
        returns, _ = rollout_returns(policy, seeds[: min(self.screen_episodes, self.episodes)])
        if returns.mean() >= self.threshold and self.screen_episodes < self.episodes:
            returns, _ = rollout_returns(policy, seeds)
        self.history.append((env_steps, float(returns.mean())))
        if returns.mean() >= self.threshold and self.solved_at_step is None:
            self.solved_at_step = env_steps
            self.solved_after_s = time.perf_counter() - self._t0
        return self.solved_at_step is not None

    def state_dict(self) -> dict[str, Any]:
        return {
            "checks": self.checks,
            "solved_at_step": self.solved_at_step,
            "solved_after_s": self.solved_after_s,
            "history": [list(h) for h in self.history],
            "elapsed_s": time.perf_counter() - self._t0,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.checks = state["checks"]
        self.solved_at_step = state["solved_at_step"]
        self.solved_after_s = state["solved_after_s"]
        self.history = [(int(step), float(mean)) for step, mean in state["history"]]
        self._t0 = time.perf_counter() - state["elapsed_s"]


def final_report(
    run: Run,
    model: torch.nn.Module,
    spec: PolicySpec,
    check: SolveCheck,
    train_env_steps: int,
    train_episodes: int,
    title: str,
    eval_episodes: int = 100,
) -> dict[str, float]:
    """Test the greedy policy, compare with a random one, save it, draw a frame strip.

    Returns the metrics shared by all RL labs. Wall times go to ``timing.json``, not to the
    metrics, because metrics must be identical for the same seed.
    """
    model.eval()
    policy = greedy_policy(model, run.device)
    test_seed = eval_seed(run.seed, TEST)
    returns = evaluate_policy(policy, eval_episodes, test_seed)
    random_returns = evaluate_policy(
        random_policy(np.random.default_rng(test_seed)), eval_episodes, test_seed
    )
    solved = check.solved_at_step is not None
    metrics: dict[str, float] = {
        "eval_mean_return": float(returns.mean()),
        "eval_std_return": float(returns.std()),
        "eval_min_return": float(returns.min()),
        "random_mean_return": float(random_returns.mean()),
        "return_vs_random": float(returns.mean() / random_returns.mean()),
        "solved": int(solved),
        # Training steps used when the validation check first passed (the budget if never).
        "steps_to_solve": int(check.solved_at_step if solved else train_env_steps),
        "train_env_steps": int(train_env_steps),
        "train_episodes": int(train_episodes),
        "validation_checks": int(check.checks),
    }
    run.write_json(
        "timing.json",
        {
            "solved": solved,
            "steps_to_solve": metrics["steps_to_solve"],
            "wall_time_to_solve_s": round(check.solved_after_s, 3) if solved else None,
            "train_wall_time_s": round(run.elapsed(), 3),
        },
    )
    save_policy(
        run.checkpoints_dir / "policy.pt",
        model,
        spec,
        meta={"eval_mean_return": metrics["eval_mean_return"], "seed": run.seed},
    )
    every = 90  # six frames spread over a full 500-step episode
    frames = render_frames(policy, seed=test_seed, count=6, every=every)
    if frames:
        run.save_figure(frame_strip_figure(frames, every, title), "episode_frames")
    else:
        run.print("pygame is not installed: skipping the frame strip (pip install pygame)")
    return metrics
