"""Config values from the command line: parsed by the field's type, or one clear error; every
number has a range the lab contract enforces; a run too big for the machine is refused."""

from __future__ import annotations

from dataclasses import dataclass, make_dataclass
from typing import Literal

import hypothesis.strategies as st
import pytest
from hypothesis import given

from practicum import footprint
from practicum.errors import PracticumError
from practicum.lab import Lab, Range, Target, bounded, field_range, get_lab, make_config


@dataclass
class Config:
    steps: int = bounded(10, "[-inf, inf]")  # parsing is tested over all integers
    rate: float = bounded(0.1, "[-inf, inf]")
    name: str = "a"
    flag: bool = False
    mode: Literal["x", "y"] = "x"
    widths: tuple[int, ...] = bounded((4, 4), "[1, 64]")
    limit: int | None = bounded(None, "[0, 100]")


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


def test_x_separates_numbers_but_not_the_letters_of_names():
    @dataclass
    class Names:
        widths: tuple[int, ...] = bounded((4, 4), "[1, 64]")
        names: tuple[str, ...] = ("a",)

    lab = Lab(name="n", title="n", source="n", config=Names, run=lambda c, r: {},
              targets=[Target("m", ">=", 0, "t")])  # fmt: skip
    c = make_config(lab, overrides={"widths": "8x16", "names": "exclusive-gating,axis"})
    assert c.widths == (8, 16)
    assert c.names == ("exclusive-gating", "axis")


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


# ---- ranges ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "inside", "outside"),
    [
        ("[1, 10]", [1, 5, 10, 1.0], [0, 11, 0.999, True]),
        ("(0, 1)", [1e-300, 0.5, 0.999], [0, 1, -1, False]),
        ("(0, 1]", [1, 0.25], [0, 1.0001]),
        ("[-inf, 0]", [-1e300, 0], [1e-9]),
        ("[0, 1e6]", [0, 10**6], [10**6 + 1]),
    ],
)
def test_range_contains_what_its_brackets_say(text, inside, outside):
    r = Range.parse(text)
    assert all(v in r for v in inside) and not any(v in r for v in outside)
    assert str(r) == text


@pytest.mark.parametrize("text", ["1, 10", "[1 10]", "[a, 10]", "[10, 1]", "[1, nan]", "{1, 2}"])
def test_bad_interval_text_fails_where_the_field_is_declared(text):
    with pytest.raises(ValueError, match="range"):
        bounded(1, text)


def _lab(fields: list, quick: dict | None = None, base: type | None = None) -> Lab:
    config = make_dataclass("Config", fields, bases=(base,) if base else ())
    return Lab(
        name="probe",
        title="t",
        source="s",
        config=config,
        run=lambda c, r: {},
        targets=[Target("m", ">=", 0, "s")],
        quick=quick or {},
    )


@pytest.mark.parametrize(
    ("typ", "default"), [(int, 1), (float, 0.5), (tuple[float, ...], (1.0,)), (int | None, None)]
)
def test_the_contract_refuses_a_number_without_a_range(typ, default):
    with pytest.raises(TypeError, match="config field 'size' has no range"):
        _lab([("size", typ, default)])


def test_the_contract_refuses_defaults_or_quick_values_outside_their_ranges():
    field = ("width", int, bounded(8, "[1, 64]"))
    _lab([field], quick={"width": 64})  # the ends are inside
    with pytest.raises(ValueError, match="quick preset fail: width=65 is out of range"):
        _lab([field], quick={"width": 65})
    with pytest.raises(ValueError, match="defaults fail: width=0 is out of range"):
        _lab([("width", int, bounded(0, "[1, 64]"))])
    with pytest.raises(TypeError, match="'name' is not a number"):
        _lab([("name", str, bounded("a", "[1, 2]"))])


def test_a_subclass_that_changes_a_default_keeps_its_base_range():
    base = make_dataclass("Base", [("epochs", int, bounded(5, "[1, 100]"))])
    lab = _lab([("epochs", int, 7)], base=base)  # redeclared without a range
    assert field_range(lab.config, "epochs") == Range.parse("[1, 100]")
    with pytest.raises(PracticumError, match=r"epochs=0 is out of range .*\[1, 100\]"):
        make_config(lab, overrides={"epochs": "0"})


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("widths", "8,0", "widths=8,0 is out of range for lab t: widths must lie in [1, 64]"),
        ("widths", "65", "widths=65 is out of range for lab t: widths must lie in [1, 64]"),
        ("limit", "101", "limit=101 is out of range for lab t: limit must lie in [0, 100]"),
    ],
)
def test_a_value_out_of_range_is_one_line_naming_field_value_and_range(key, value, message):
    with pytest.raises(PracticumError) as info:
        make_config(LAB, overrides={key: value})
    assert str(info.value) == message
    assert make_config(LAB, overrides={"limit": "none"}).limit is None  # None is not a number


# ---- memory --------------------------------------------------------------------------------------
def test_available_memory_reads_meminfo(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:  2000 kB\nMemFree:  100 kB\nMemAvailable:  1500 kB\n")
    assert footprint.available_memory(meminfo) == 1500 * 1024
    assert footprint.available_memory(tmp_path / "absent") is None
    meminfo.write_text("MemTotal:  2000 kB\n")
    assert footprint.available_memory(meminfo) is None


def test_estimates_count_what_they_say():
    assert footprint.mlp_parameters([2, 3, 1]) == (2 + 1) * 3 + (3 + 1) * 1
    assert footprint.training_bytes(10, 100, data=7) == 4 * (4 * 10 + 2 * 100 + 7)
    # Two stages of 3x3 convolutions on a 4x4 map of 1 channel: 4x4 then 2x2 before pooling.
    stack = footprint.conv_stack_bytes(4, 1, [2, 3], batch=5, before_pool=1, after_pool=0)
    assert stack == footprint.training_bytes(9 * (2 * 1 + 3 * 2), 5 * (2 * 16 + 3 * 4))
    assert [footprint.size_text(n) for n in (999, 1000, 2.5e9)] == ["999 B", "1.0 kB", "2.5 GB"]


def test_a_zero_or_absurd_width_is_refused_in_one_line_and_the_override_works(monkeypatch):
    monkeypatch.delenv(footprint.ALLOW_LARGE, raising=False)
    spirals = get_lab("spirals")
    with pytest.raises(PracticumError) as info:
        make_config(spirals, overrides={"hidden_layer_width": "0"})
    assert str(info.value) == (
        "hidden_layer_width=0 is out of range for lab spirals: "
        "hidden_layer_width must lie in [1, 65536]"
    )
    absurd = {"hidden_layer_width": "65536", "num_hidden_layers": "256"}  # 1.1e12 weights
    with pytest.raises(PracticumError) as info:
        make_config(spirals, overrides=absurd)
    message = str(info.value)
    assert "\n" not in message and message.startswith("lab spirals: this config needs about ")
    assert message.endswith("set PRACTICUM_ALLOW_LARGE=1 to run it anyway")
    assert make_config(spirals, overrides=absurd, check_memory=False).num_hidden_layers == 256
    monkeypatch.setenv(footprint.ALLOW_LARGE, "1")
    assert make_config(spirals, overrides=absurd).hidden_layer_width == 65536


def test_the_memory_check_compares_the_estimate_with_what_is_available(monkeypatch):
    monkeypatch.delenv(footprint.ALLOW_LARGE, raising=False)
    footprint.check_fits("x", 10, 10)  # equal fits; unknown memory is not refused
    footprint.check_fits("x", 10**15, None)
    with pytest.raises(PracticumError, match="needs about 11 B of memory and 10 B is available"):
        footprint.check_fits("x", 11, 10)
