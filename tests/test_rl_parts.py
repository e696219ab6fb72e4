"""The RL building blocks against hand-computed values and statistical properties."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from practicum.errors import PracticumError
from practicum.rl.es import antithetic_noise, centered_ranks, es_gradient
from practicum.rl.evaluate import evaluate_policy, greedy_policy, random_policy
from practicum.rl.plots import render_frames, smooth
from practicum.rl.policy_io import PolicySpec, build_policy, load_policy, save_policy
from practicum.rl.population import (
    layer_sizes,
    parallel_population_returns,
    population_actions,
    population_returns,
)
from practicum.rl.replay import ReplayBuffer
from practicum.rl.returns import normalize_advantages, returns_to_go
from practicum.rl.targets import linear_schedule, q_learning_targets

# ---- returns-to-go and advantages ------------------------------------------------------------


def test_returns_to_go_by_hand():
    # G2 = 3, G1 = 2 + 0.5·3 = 3.5, G0 = 1 + 0.5·3.5 = 2.75
    np.testing.assert_allclose(returns_to_go([1.0, 2.0, 3.0], 0.5), [2.75, 3.5, 3.0])


def test_returns_to_go_restart_at_episode_ends():
    # Two episodes [1, 1] and [1, 1] back to back: each is [1 + 0.9, 1].
    out = returns_to_go([1, 1, 1, 1], 0.9, episode_ends=[False, True, False, True])
    np.testing.assert_allclose(out, [1.9, 1.0, 1.9, 1.0])


@given(
    st.lists(st.floats(-10, 10), min_size=1, max_size=30),
    st.floats(0.0, 1.0),
)
@settings(max_examples=50, deadline=None)
def test_returns_to_go_bellman_recursion(rewards, gamma):
    g = returns_to_go(rewards, gamma)
    np.testing.assert_allclose(g[:-1], np.asarray(rewards[:-1]) + gamma * g[1:], atol=1e-9)
    assert g[-1] == pytest.approx(rewards[-1])


def test_returns_to_go_undiscounted_is_reversed_cumsum():
    r = np.arange(1.0, 6.0)
    np.testing.assert_allclose(returns_to_go(r, 1.0), np.cumsum(r[::-1])[::-1])


def test_normalize_advantages_by_hand():
    # mean 2, population std sqrt(2/3)
    out = normalize_advantages([1.0, 2.0, 3.0])
    np.testing.assert_allclose(out, [-np.sqrt(1.5), 0.0, np.sqrt(1.5)], atol=1e-7)
    assert out.mean() == pytest.approx(0.0, abs=1e-12)
    assert out.std() == pytest.approx(1.0, abs=1e-6)


# ---- DQN targets ----------------------------------------------------------------------------


def _target_inputs():
    rewards = torch.tensor([1.0, 1.0, 0.5])
    terminated = torch.tensor([0.0, 1.0, 0.0])
    next_q_target = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 0.0]])
    return rewards, terminated, next_q_target


def test_dqn_target_by_hand():
    rewards, terminated, next_q_target = _target_inputs()
    y = q_learning_targets(rewards, terminated, 0.9, next_q_target)
    # 1 + 0.9·max(1, 2); terminal: just 1; 0.5 + 0.9·max(5, 0)
    torch.testing.assert_close(y, torch.tensor([2.8, 1.0, 5.0]))


def test_double_dqn_target_uses_online_argmax():
    rewards, terminated, next_q_target = _target_inputs()
    next_q_online = torch.tensor([[5.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    y = q_learning_targets(rewards, terminated, 0.9, next_q_target, next_q_online)
    # a* = (0, 1, 1) from the online net, valued by the target net: (1, 4, 0).
    torch.testing.assert_close(y, torch.tensor([1.0 + 0.9 * 1.0, 1.0, 0.5 + 0.9 * 0.0]))


def test_double_dqn_never_exceeds_dqn_target():
    gen = torch.Generator().manual_seed(0)
    q_target, q_online = torch.randn(64, 3, generator=gen), torch.randn(64, 3, generator=gen)
    r, done = torch.randn(64, generator=gen), torch.zeros(64)
    plain = q_learning_targets(r, done, 0.99, q_target)
    double = q_learning_targets(r, done, 0.99, q_target, q_online)
    assert torch.all(double <= plain + 1e-6) and torch.any(double < plain)


def test_linear_schedule():
    assert linear_schedule(1.0, 0.1, 100, 0) == 1.0
    assert linear_schedule(1.0, 0.1, 100, 50) == pytest.approx(0.55)
    assert linear_schedule(1.0, 0.1, 100, 1000) == pytest.approx(0.1)


# ---- replay buffer --------------------------------------------------------------------------


def _filled_buffer(capacity: int, count: int, seed: int = 0) -> ReplayBuffer:
    buf = ReplayBuffer(capacity, obs_dim=2, rng=np.random.default_rng(seed))
    for i in range(count):
        buf.add(np.full(2, i), i % 2, float(i), np.full(2, i + 1), terminated=False)
    return buf


def test_replay_buffer_samples_uniformly():
    buf = _filled_buffer(capacity=10, count=10)
    counts = np.bincount(buf.sample(50_000).rewards.astype(int), minlength=10)
    # Chi-square with 9 degrees of freedom: 27.9 is its 0.999 quantile.
    expected = 50_000 / 10
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 27.9, counts


def test_replay_buffer_samples_only_filled_slots():
    buf = _filled_buffer(capacity=10, count=3)
    assert set(buf.sample(1000).rewards.astype(int)) == {0, 1, 2}


def test_replay_buffer_overwrites_oldest_first():
    buf = _filled_buffer(capacity=3, count=3)
    buf.add(np.zeros(2), 0, 3.0, np.zeros(2), terminated=True)
    assert len(buf) == 3
    np.testing.assert_array_equal(buf.rewards, [3.0, 1.0, 2.0])  # transition 0 went first
    buf.add(np.zeros(2), 0, 4.0, np.zeros(2), terminated=False)
    np.testing.assert_array_equal(buf.rewards, [3.0, 4.0, 2.0])  # then transition 1
    np.testing.assert_array_equal(buf.terminated, [1.0, 0.0, 0.0])


def test_replay_buffer_sampling_is_seeded():
    a = _filled_buffer(10, 10, seed=3).sample(32)
    b = _filled_buffer(10, 10, seed=3).sample(32)
    np.testing.assert_array_equal(a.rewards, b.rewards)


# ---- evolution strategies -------------------------------------------------------------------


def _quadratic(dim: int = 5):
    rng = np.random.default_rng(0)
    m = rng.standard_normal((dim, dim))
    a = m @ m.T / dim + np.eye(dim)  # positive definite
    best = rng.standard_normal(dim)

    def fitness(theta: np.ndarray) -> np.ndarray:  # to maximise; rows are parameter vectors
        d = np.atleast_2d(theta) - best
        return -0.5 * np.einsum("pi,ij,pj->p", d, a, d)

    return fitness, a, best


def test_centered_ranks_by_hand():
    np.testing.assert_allclose(centered_ranks([10.0, -1.0, 3.0]), [0.5, -0.5, 0.0])


def test_es_gradient_mean_matches_true_gradient():
    fitness, a, best = _quadratic()
    theta = np.zeros(5)
    true_grad = -a @ (theta - best)
    eps = antithetic_noise(np.random.default_rng(1), 20_000, 5)
    sigma = 0.1
    g = es_gradient(
        eps, fitness(theta + sigma * eps), fitness(theta - sigma * eps), sigma, rank_shaping=False
    )
    # Standard error ≈ |∇F| sqrt(d / n) ≈ 1.6 %: 5 % is a 3-sigma band.
    assert np.linalg.norm(g - true_grad) < 0.05 * np.linalg.norm(true_grad)


def test_es_rank_shaped_gradient_points_downhill():
    fitness, a, best = _quadratic()
    theta = np.zeros(5)
    true_grad = -a @ (theta - best)
    sigma = 0.1
    eps = antithetic_noise(np.random.default_rng(2), 200, 5)
    g = es_gradient(eps, fitness(theta + sigma * eps), fitness(theta - sigma * eps), sigma)
    cosine = g @ true_grad / (np.linalg.norm(g) * np.linalg.norm(true_grad))
    assert cosine > 0.8
    step = 0.01 * g / np.linalg.norm(g)
    assert fitness(theta + step)[0] > fitness(theta)[0]  # the loss -F goes down


def test_es_gradient_rejects_mismatched_shapes():
    with pytest.raises(ValueError):
        es_gradient(np.zeros((3, 2)), np.zeros(3), np.zeros(2), 0.1)


# ---- policies: population layout, evaluation, save/load -------------------------------------


def test_population_actions_match_torch_mlp():
    torch.manual_seed(0)
    spec = PolicySpec(4, 2, hidden_layers=1, width=16, activation="tanh")
    models = [build_policy(spec) for _ in range(3)]
    thetas = np.stack(
        [
            torch.nn.utils.parameters_to_vector(m.parameters()).detach().double().numpy()
            for m in models
        ]
    )
    obs = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    got = population_actions(thetas, obs, layer_sizes(4, 2, 1, 16), "tanh")
    with torch.no_grad():
        want = [int(m(torch.as_tensor(obs[i : i + 1])).argmax()) for i, m in enumerate(models)]
    np.testing.assert_array_equal(got, want)


def test_parallel_population_returns_equal_serial():
    thetas = np.random.default_rng(0).standard_normal((4, 4 * 2 + 2))
    sizes, seeds = layer_sizes(4, 2, 0, 1), [5, 6, 5, 7]
    serial = population_returns(thetas, seeds, sizes, "tanh")
    with ThreadPoolExecutor(2) as pool:
        parallel = parallel_population_returns(pool, 2, thetas, seeds, sizes, "tanh")
    np.testing.assert_array_equal(serial[0], parallel[0])
    np.testing.assert_array_equal(serial[1], parallel[1])


def test_random_policy_scores_like_random_play():
    returns = evaluate_policy(random_policy(np.random.default_rng(0)), 200, seed=0)
    assert 15 < returns.mean() < 30  # ≈ 22 for uniformly random actions on CartPole-v1


def test_saved_policy_reloads_and_scores_the_same(tmp_path):
    torch.manual_seed(0)
    spec = PolicySpec(4, 2, hidden_layers=1, width=8, activation="tanh")
    model = build_policy(spec)
    with torch.no_grad():  # a hand-made decent controller: push towards the falling pole
        for p in model.parameters():
            p.zero_()
        model.layers[0].weight[0] = torch.tensor([0.0, 0.0, 1.0, 1.0])
        model.layers[1].weight[:, 0] = torch.tensor([-1.0, 1.0])
    before = evaluate_policy(greedy_policy(model), 5, seed=1)
    path = save_policy(tmp_path / "policy.pt", model, spec, meta={"note": "test"})
    raw = torch.load(path, weights_only=True)  # plain tensors and dicts: safe to load
    assert raw["spec"]["width"] == 8
    loaded, loaded_spec, meta = load_policy(path)
    assert loaded_spec == spec and meta == {"note": "test"}
    after = evaluate_policy(greedy_policy(loaded), 5, seed=1)
    np.testing.assert_array_equal(before, after)
    assert before.mean() > 100  # the controller is far better than random


def test_load_policy_reports_bad_files(tmp_path):
    with pytest.raises(PracticumError, match="no policy file"):
        load_policy(tmp_path / "missing.pt")
    spec = PolicySpec(4, 2, 1, 8, "tanh")
    path = save_policy(tmp_path / "p.pt", build_policy(spec), spec)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(PracticumError, match="not a readable policy file"):
        load_policy(path)


def test_smooth_is_trailing_mean():
    np.testing.assert_allclose(smooth([1.0, 2.0, 3.0, 4.0], 2), [1.0, 1.5, 2.5, 3.5])


def test_frames_are_skipped_without_pygame(monkeypatch):
    monkeypatch.setitem(sys.modules, "pygame", None)  # makes `import pygame` fail
    assert render_frames(random_policy(np.random.default_rng(0)), seed=0) == []
