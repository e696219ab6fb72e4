"""What a lab is: a name, a source, a typed config, targets, and a ``run`` function.

A lab lives in one module of a topic folder of ``practicum.labs`` (``labs/basics/``,
``labs/vision/``, ...) and declares a module-level ``LAB``::

    @dataclass
    class Config:
        steps: int = 5000        # full-run values are the defaults
        learning_rate: float = 0.1

    def run(config: Config, run: Run) -> dict[str, float]:
        ...                      # data, model, loss, loop, evaluation, plots
        run.set_params(model)    # what param_hash is computed from
        return {"rmse": 0.04}

    LAB = Lab(
        name="sine-basis", title="...", source="ECE472 assignment 1",
        courses=("ece472",), config=Config, quick={"steps": 500},
        targets=[Target("rmse", "<=", 0.10, "ECE472 assignment 1")],
        run=run,
    )

The registry (:func:`all_labs`) imports every module below ``practicum.labs`` and collects
their ``LAB`` objects, so adding a lab is adding a file. A lab's topic is the folder it sits
in; the courses it serves are named by the keys of :data:`COURSES`.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import math
import pkgutil
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from practicum.errors import PracticumError

Op = Literal[">=", "<="]

# The courses practicum serves: the short names a lab's ``courses`` uses, and what each is.
COURSES: dict[str, str] = {
    "ece472": "Cooper Union ECE472 Deep Learning: seven assignments on differentiable graphs, "
    "with a reading list",
    "dtu02456": "DTU 02456 Deep Learning: labs from hand-written backprop to RL and generative "
    "models",
    "ovgu": "OVGU Introduction to Deep Learning: lectures and exercises, with a speech project",
    "practitioners": "the practitioners' course: reproduce the papers, document what differs",
}


@dataclass(frozen=True)
class Target:
    """A published or chosen threshold a lab's metric must reach."""

    metric: str
    op: Op
    value: float
    source: str  # where the threshold comes from

    def __post_init__(self) -> None:
        if self.op not in (">=", "<="):
            raise ValueError(f"target op must be '>=' or '<=', got {self.op!r}")

    def judge(self, metrics: Mapping[str, float]) -> dict[str, Any]:
        """The summary.json entry for this target, given the run's metrics."""
        achieved = metrics.get(self.metric)
        if achieved is None or not math.isfinite(float(achieved)):
            passed = False
        elif self.op == ">=":
            passed = float(achieved) >= self.value
        else:
            passed = float(achieved) <= self.value
        return {
            "metric": self.metric,
            "op": self.op,
            "value": self.value,
            "achieved": None if achieved is None else float(achieved),
            "passed": bool(passed),
            "source": self.source,
        }

    def describe(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


@dataclass(frozen=True)
class Lab:
    """One registered, self-checking experiment."""

    name: str
    title: str
    source: str  # course, assignment or paper
    config: type  # a dataclass; its defaults are the full run
    run: Callable[..., dict[str, float]]
    targets: list[Target]
    quick: dict[str, Any] = field(default_factory=dict)  # overrides for --quick
    quick_targets: list[Target] | None = None  # relaxed targets for --quick (default: same)
    summary: str = ""  # one line: what the lab shows
    courses: tuple[str, ...] = ()  # keys of COURSES
    topic: str = ""  # set by the registry from the lab's folder
    time_full: str = "?"  # typical wall time on 2 CPU cores, measured
    time_quick: str = "?"

    def __post_init__(self) -> None:
        if not dataclasses.is_dataclass(self.config):
            raise TypeError(f"lab {self.name}: config must be a dataclass")
        make_config(self, quick=True)  # the quick preset must name real fields
        unknown = [c for c in self.courses if c not in COURSES]
        if unknown:
            raise ValueError(f"lab {self.name}: unknown course(s) {unknown}; see lab.COURSES")

    def targets_for(self, quick: bool) -> list[Target]:
        if quick and self.quick_targets is not None:
            return self.quick_targets
        return self.targets


def config_fields(lab: Lab) -> dict[str, Any]:
    """Field name -> resolved type of a lab's config."""
    hints = typing.get_type_hints(lab.config)
    return {f.name: hints[f.name] for f in dataclasses.fields(lab.config)}


def _parse_value(key: str, text: str, typ: Any) -> Any:
    """Parse ``--set key=text`` into ``typ``; PracticumError if it does not fit."""
    origin = typing.get_origin(typ)
    args = typing.get_args(typ)
    if origin in (typing.Union, types.UnionType):
        if text.lower() in ("none", "null") and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _parse_value(key, text, arg)
            except PracticumError as exc:
                errors.append(str(exc))
        raise PracticumError(errors[0] if errors else f"bad value for {key}: {text!r}")
    if origin is Literal:
        for choice in args:
            if str(choice) == text:
                return choice
        raise PracticumError(
            f"bad value for {key}: {text!r} (choose one of {', '.join(map(str, args))})"
        )
    if origin in (tuple, list):
        items = [t for t in text.replace("x", ",").split(",") if t.strip()] if text else []
        inner = args[0] if args else str
        values = [_parse_value(key, item.strip(), inner) for item in items]
        return tuple(values) if origin is tuple else values
    if typ is bool:
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise PracticumError(f"bad value for {key}: {text!r} is not a boolean (true/false)")
    if typ is int:
        try:
            return int(text)
        except ValueError:
            raise PracticumError(f"bad value for {key}: {text!r} is not an integer") from None
    if typ is float:
        try:
            value = float(text)
        except ValueError:
            raise PracticumError(f"bad value for {key}: {text!r} is not a number") from None
        if not math.isfinite(value):
            raise PracticumError(f"bad value for {key}: {text!r} is not a finite number")
        return value
    if typ is str:
        return text
    raise PracticumError(f"cannot set {key} from the command line (type {typ})")


def make_config(lab: Lab, quick: bool = False, overrides: Mapping[str, str] | None = None) -> Any:
    """Build a lab's config: defaults, then the quick preset, then ``--set`` overrides."""
    fields = config_fields(lab)
    values: dict[str, Any] = {}
    if quick:
        for key, value in lab.quick.items():
            if key not in fields:
                raise TypeError(f"lab {lab.name}: quick preset names unknown field {key!r}")
            values[key] = value
    for key, text in (overrides or {}).items():
        if key not in fields:
            raise PracticumError(
                f"unknown config key {key!r} for lab {lab.name}; valid keys: {', '.join(fields)}"
            )
        values[key] = _parse_value(key, text, fields[key])
    config = lab.config(**values)
    validate = getattr(config, "validate", None)
    if callable(validate):
        validate()  # labs may check ranges and raise PracticumError
    return config


def parse_sets(pairs: list[str]) -> dict[str, str]:
    """``["a=1", "b=x"]`` -> ``{"a": "1", "b": "x"}``."""
    out: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            raise PracticumError(f"--set expects key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        out[key.strip()] = value.strip()
    return out


_REGISTRY: dict[str, Lab] | None = None


def all_labs() -> dict[str, Lab]:
    """Every lab below ``practicum.labs``, by name: topics in ``labs.TOPICS`` order, then by name."""
    global _REGISTRY
    if _REGISTRY is None:
        import practicum.labs as package

        found: dict[str, Lab] = {}
        prefix = f"{package.__name__}."
        for info in pkgutil.walk_packages(package.__path__, prefix):
            parts = info.name.removeprefix(prefix).split(".")
            if info.ispkg or any(p.startswith("_") for p in parts):
                continue
            if len(parts) != 2:
                raise RuntimeError(f"{info.name}: a lab lives in a topic folder, labs/<topic>/")
            lab = getattr(importlib.import_module(info.name), "LAB", None)
            if isinstance(lab, Lab):
                if lab.name in found:
                    raise RuntimeError(f"two labs are named {lab.name!r}")
                found[lab.name] = dataclasses.replace(lab, topic=parts[0])
        _REGISTRY = dict(sorted(found.items(), key=lambda kv: _order_key(kv[1])))
    return _REGISTRY


def topics() -> dict[str, str]:
    """Topic folder -> its title (the first line of its docstring), in display order."""
    import practicum.labs as package

    names = {lab.topic for lab in all_labs().values()}
    out = {}
    for name in sorted(names, key=_topic_rank):
        doc = importlib.import_module(f"{package.__name__}.{name}").__doc__ or name
        out[name] = doc.strip().splitlines()[0].rstrip(".")
    return out


def _topic_rank(topic: str) -> tuple[int, str]:
    from practicum.labs import TOPICS

    return (TOPICS.index(topic) if topic in TOPICS else len(TOPICS), topic)


def _order_key(lab: Lab) -> tuple[tuple[int, str], str]:
    return (_topic_rank(lab.topic), lab.name)


def get_lab(name: str) -> Lab:
    labs = all_labs()
    if name in labs:
        return labs[name]
    close = difflib.get_close_matches(name, list(labs), n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    raise PracticumError(f"unknown lab {name!r}{hint} (see `practicum list`)")
