"""The diy-backprop and diy-vs-torch labs in short quick runs: targets, determinism, errors."""

from __future__ import annotations

import json

import pytest

from practicum.errors import PracticumError
from practicum.lab import get_lab, make_config
from practicum.launch import run_lab


def test_diy_backprop_quick_learns_and_is_deterministic(tmp_path) -> None:
    overrides = {"epochs": "4"}
    first, folder = run_lab(
        "diy-backprop", quick=True, seed=3, overrides=overrides, out=tmp_path / "a", quiet=True
    )
    second, _ = run_lab(
        "diy-backprop", quick=True, seed=3, overrides=overrides, out=tmp_path / "b", quiet=True
    )
    assert first["metrics"] == second["metrics"]
    assert first["param_hash"] == second["param_hash"]
    assert first["metrics"]["test_accuracy"] >= 0.9  # 4 epochs on 8x8 digits
    assert (folder / "plots" / "loss_curves.png").is_file()
    assert (folder / "plots" / "misclassified.png").is_file()
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3, 4]


def test_diy_vs_torch_quick_agrees_in_float64(tmp_path) -> None:
    overrides = {"steps": "25", "hidden_sizes": "16,16"}
    summary, folder = run_lab(
        "diy-vs-torch", quick=True, seed=0, overrides=overrides, out=tmp_path, quiet=True
    )
    assert summary["passed"]
    assert summary["metrics"]["max_rel_loss_diff"] < 1e-10  # float64: only rounding differs
    assert summary["metrics"]["max_param_diff"] < 1e-10
    assert (folder / "plots" / "agreement.png").is_file()


@pytest.mark.parametrize(
    "lab,key,value",
    [
        ("diy-backprop", "dataset", "cifar"),
        ("diy-backprop", "activation", "gelu"),
        ("diy-backprop", "epochs", "0"),
        ("diy-vs-torch", "sgd_momentum", "1.5"),
    ],
)
def test_bad_config_is_a_one_line_error(lab: str, key: str, value: str) -> None:
    with pytest.raises(PracticumError) as info:
        make_config(get_lab(lab), overrides={key: value})
    assert "\n" not in str(info.value)
