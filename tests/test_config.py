"""Config values from the command line: parsed by the field's type, or one clear error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import hypothesis.strategies as st
import pytest
from hypothesis import given

from practicum.errors import PracticumError
from practicum.lab import Lab, Target, make_config


@dataclass
class Config:
    steps: int = 10
    rate: float = 0.1
    name: str = "a"
    flag: bool = False
    mode: Literal["x", "y"] = "x"
    widths: tuple[int, ...] = (4, 4)
    limit: int | None = None


LAB = Lab(
    name="t",
    title="t",
    source="t",
    config=Config,
    run=lambda c, r: {},
    targets=[Target("m", ">=", 0, "t")],
    quick={"steps": 2},
)


@given(st.integers(-(10**12), 10**12))
def test_integers_round_trip(n):
    assert make_config(LAB, overrides={"steps": str(n)}).steps == n


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_round_trip(x):
    assert make_config(LAB, overrides={"rate": repr(x)}).rate == x


def test_each_type():
    c = make_config(
        LAB,
        quick=True,
        overrides={"flag": "yes", "mode": "y", "widths": "8,16,32", "limit": "none", "name": "b"},
    )
    assert (c.steps, c.flag, c.mode, c.widths, c.limit, c.name) == (
        2,
        True,
        "y",
        (8, 16, 32),
        None,
        "b",
    )
    assert make_config(LAB, overrides={"limit": "5"}).limit == 5


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("flag", "maybe", "not a boolean"),
        ("mode", "z", "choose one of x, y"),
        ("widths", "8,a", "not an integer"),
        ("limit", "many", "not an integer"),
        ("rate", "inf", "not a finite number"),
        ("nope", "1", "valid keys: steps, rate, name, flag, mode, widths, limit"),
    ],
)
def test_bad_values(key, value, needle):
    with pytest.raises(PracticumError, match=needle):
        make_config(LAB, overrides={key: value})
