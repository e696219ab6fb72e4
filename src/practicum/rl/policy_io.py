"""Policy networks described by a plain spec, saved and reloaded without unpickling code."""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from practicum.errors import PracticumError
from practicum.io import atomic_write
from practicum.nn import MLP

ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh}
FORMAT = "practicum-policy-v1"


@dataclass(frozen=True)
class PolicySpec:
    """Everything needed to rebuild a policy network: sizes and activation, no code."""

    obs_dim: int = 4
    num_actions: int = 2
    hidden_layers: int = 2
    width: int = 64
    activation: str = "relu"

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise PracticumError(
                f"unknown activation {self.activation!r} (choose {', '.join(ACTIVATIONS)})"
            )
        if self.hidden_layers < 0 or self.width < 1:
            raise PracticumError(
                f"bad network size: hidden_layers={self.hidden_layers}, width={self.width}"
            )


def build_policy(spec: PolicySpec) -> MLP:
    """An MLP from observations to one output per action (logits or Q-values)."""
    act = ACTIVATIONS[spec.activation]
    return MLP(spec.obs_dim, spec.num_actions, spec.hidden_layers, spec.width, act)


def save_policy(
    path: str | Path, model: torch.nn.Module, spec: PolicySpec, meta: dict[str, Any] | None = None
) -> Path:
    """Write spec + weights (+ numeric/str ``meta``) atomically with ``torch.save``."""
    payload = {
        "format": FORMAT,
        "spec": dataclasses.asdict(spec),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "meta": dict(meta or {}),
    }
    return atomic_write(path, lambda f: torch.save(payload, f))


def load_policy(path: str | Path) -> tuple[MLP, PolicySpec, dict[str, Any]]:
    """Rebuild a saved policy. ``weights_only=True``: the file cannot run code on load."""
    path = Path(path)
    if not path.is_file():
        raise PracticumError(f"no policy file at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, ValueError) as exc:
        raise PracticumError(f"{path} is not a readable policy file ({exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise PracticumError(f"{path} is not a {FORMAT} file")
    spec = PolicySpec(**payload["spec"])
    model = build_policy(spec)
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise PracticumError(f"{path}: weights do not fit the saved spec ({first})") from None
    model.eval()
    return model, spec, payload.get("meta", {})
