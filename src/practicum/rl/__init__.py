"""Reinforcement-learning pieces shared by the CartPole labs (``reinforce``, ``dqn``, ``es``).

Each module does one job and is tested on its own:

- ``env``: make a seeded CartPole-v1 environment (gymnasium is an optional dependency).
- ``returns``: discounted returns-to-go and advantage normalisation (policy gradients).
- ``replay``: a uniform replay buffer that overwrites its oldest transitions (DQN).
- ``targets``: the Bellman target of DQN and Double DQN, and the ε schedule.
- ``es``: antithetic Gaussian perturbations, rank shaping and the ES gradient estimate.
- ``evaluate``: run many episodes in lockstep with one batched policy call per step.
- ``population``: a whole ES population of MLPs acting at once, in NumPy.
- ``policy_io``: build a policy network from a plain spec, save it and load it back safely.
- ``plots``: the learning curve and a strip of rendered frames.
- ``report``: the validation check that stops training, and the final test and save.
"""

# No re-exports on purpose: ``population`` runs in ES worker processes, which should not
# pay for importing torch. Import from the submodules: ``from practicum.rl.replay import ...``.
