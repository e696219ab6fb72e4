"""Reinforcement learning: policy gradients, deep Q-learning and evolution strategies on CartPole."""
