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

Ranges. Every number in a config has a range, declared with the field::

    steps: int = bounded(5000, "[1, 1e6]")          # inclusive
    learning_rate: float = bounded(0.1, "(0, 10]")  # open at 0: rates are positive
    widths: tuple[int, ...] = bounded((64, 64), "[1, 65536]")  # each element

The contract enforces them, so no lab checks a range by hand: :class:`Lab` refuses a config
whose int, float or tuple-of-numbers fields lack one (a subclass that only changes a default
inherits its base's range) and whose defaults or quick values lie outside theirs, and
:func:`make_config` refuses a ``--set`` value outside its range in one line that names the
field, the value and the range. A config's ``validate()`` is for what one range cannot say
(``width`` a multiple of ``heads``, a choice among strings).

Memory. A lab whose sizes multiply declares ``footprint(config) -> bytes``, a rough estimate
of the run's peak memory (helpers in :mod:`practicum.footprint`); :func:`make_config`
refuses a config that needs more than the machine has available, naming
``PRACTICUM_ALLOW_LARGE=1`` as the override.

Optional dependencies. A lab that imports a package of an extra (``pip install -e
'.[text]'``) declares it as an :class:`Extra` in ``requires`` and imports it through
:meth:`Extra.load`, which stops with one line naming the install command when it is missing;
:meth:`Lab.check_requirements` loads every extra a config needs, at the start of a run.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import math
import pkgutil
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from practicum import footprint as _footprint
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
    # For a paper reproduction: what the paper itself reports for this claim, as it reports it
    # ("0.77 MSE (Li et al. 2017, Table 2)", "63% for CNN+MLP"); shown on the report's Papers page.
    paper: str = ""

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
            **({"paper": self.paper} if self.paper else {}),
        }

    def describe(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


_INTERVAL = re.compile(r"^\s*([\[(])\s*([^,\s]+)\s*,\s*([^,\s]+)\s*([\])])\s*$")


@dataclass(frozen=True)
class Range:
    """An interval of allowed values, written as in mathematics: ``"[1, 1e6]"``, ``"(0, 1)"``.

    ``inf`` and ``-inf`` stand for no bound. A value is inside when it lies between the ends,
    an end included where its bracket is square.
    """

    text: str
    lo: float
    hi: float
    lo_open: bool
    hi_open: bool

    @classmethod
    def parse(cls, text: str) -> Range:
        match = _INTERVAL.match(text)
        if match is None:
            raise ValueError(f"range {text!r} is not an interval like '[1, 100]' or '(0, 1]'")
        left, lo_text, hi_text, right = match.groups()
        try:
            lo, hi = float(lo_text), float(hi_text)
        except ValueError:
            raise ValueError(f"range {text!r}: its ends must be numbers") from None
        if math.isnan(lo) or math.isnan(hi) or lo > hi:
            raise ValueError(f"range {text!r} is empty")
        return cls(f"{left}{lo_text}, {hi_text}{right}", lo, hi, left == "(", right == ")")

    def __contains__(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        above = value > self.lo if self.lo_open else value >= self.lo
        below = value < self.hi if self.hi_open else value <= self.hi
        return above and below

    def __str__(self) -> str:
        return self.text


def bounded(default: Any, interval: str) -> Any:
    """A config field with a default and the range its values must lie in (each element, for
    a tuple): ``steps: int = bounded(5000, "[1, 1e6]")``."""
    return field(default=default, metadata={"range": Range.parse(interval)})


def field_range(config: type, name: str) -> Range | None:
    """The range declared for a config field, by its class or the nearest base class that
    declares one (so a subclass that only changes a default keeps its base's range)."""
    for cls in config.__mro__:
        declared = getattr(cls, "__dataclass_fields__", {}).get(name)
        if declared is not None and "range" in declared.metadata:
            return declared.metadata["range"]
    return None


def _is_number(typ: Any) -> bool:
    return typ in (int, float)


def needs_range(typ: Any) -> bool:
    """Whether a config field of this type must declare a range: numbers, tuples of numbers,
    and either of those or None."""
    origin, args = typing.get_origin(typ), typing.get_args(typ)
    if origin in (typing.Union, types.UnionType):
        return any(needs_range(a) for a in args if a is not type(None))
    if origin in (tuple, list):
        return bool(args) and _is_number(args[0])
    return _is_number(typ)


@dataclass(frozen=True)
class Extra:
    """Optional dependencies a lab imports: the pip extra that installs them, and when a run
    needs them (``when(config)``; always, if not given)."""

    name: str  # the extra in pyproject.toml: pip install -e '.[name]'
    modules: tuple[str, ...]  # importable names, in the order the lab imports them
    what: str = ""  # what needs them, for the message ("model (a)")
    unless: str = ""  # how to run without them, for the message ("--set embedder=none")
    when: Callable[[Any], bool] | None = None

    def needed(self, config: Any) -> bool:
        return self.when is None or bool(self.when(config))

    def load(self) -> dict[str, types.ModuleType]:
        """Import the modules; one line naming the install command when one is missing."""
        loaded = {}
        for module in self.modules:
            try:
                loaded[module] = importlib.import_module(module)
            except ImportError:
                who = f"{self.what} needs" if self.what else "needs"
                unless = f" (or run with {self.unless})" if self.unless else ""
                raise PracticumError(
                    f"{who} the optional '{self.name}' dependencies ({module} is missing): "
                    f"pip install -e '.[{self.name}]'{unless}"
                ) from None
        return loaded


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
    # Rough peak memory of a run in bytes, for labs whose sizes multiply (practicum.footprint).
    footprint: Callable[[Any], int] | None = None
    requires: tuple[Extra, ...] = ()  # optional dependencies, imported through Extra.load
    # Opt-in for `practicum debug`'s sanity checks (practicum.sanity): (config, run) ->
    # SanityProblem, a freshly initialised classifier and one batch of real data on run.device.
    sanity: Callable[[Any, Any], Any] | None = None

    def __post_init__(self) -> None:
        if not dataclasses.is_dataclass(self.config):
            raise TypeError(f"lab {self.name}: config must be a dataclass")
        for name, typ in config_fields(self).items():
            declared = field_range(self.config, name)
            if declared is None and needs_range(typ):
                raise TypeError(
                    f"lab {self.name}: config field {name!r} has no range; declare it as "
                    f"`{name}: ... = bounded(default, '[lo, hi]')` (practicum.lab.bounded)"
                )
            if declared is not None and not needs_range(typ):
                raise TypeError(f"lab {self.name}: config field {name!r} is not a number")
        for quick in (False, True):  # the quick preset names real fields; values in range
            try:
                make_config(self, quick=quick, check_memory=False)
            except PracticumError as exc:
                preset = "quick preset" if quick else "defaults"
                raise ValueError(f"lab {self.name}: its {preset} fail: {exc}") from None
        unknown = [c for c in self.courses if c not in COURSES]
        if unknown:
            raise ValueError(f"lab {self.name}: unknown course(s) {unknown}; see lab.COURSES")

    def check_requirements(self, config: Any) -> None:
        """Import every optional dependency this config needs; one line if one is missing."""
        for extra in self.requires:
            if extra.needed(config):
                extra.load()

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
        inner = args[0] if args else str
        # "8x16" is a pair of numbers; in a tuple of names an "x" is a letter ("exclusive").
        separated = text.replace("x", ",") if inner in (int, float) else text
        items = [t for t in separated.split(",") if t.strip()] if text else []
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


def make_config(
    lab: Lab,
    quick: bool = False,
    overrides: Mapping[str, str] | None = None,
    check_memory: bool = True,
) -> Any:
    """Build a lab's config: defaults, then the quick preset, then ``--set`` overrides.

    Every number must lie in its field's range, then the config's own ``validate()`` runs,
    then (with ``check_memory``) the lab's memory estimate must fit this machine: each
    failure is one PracticumError line, before anything is written.
    """
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
    check_config(lab, config, check_memory)
    return config


def check_config(lab: Lab, config: Any, check_memory: bool = True) -> None:
    """The checks every config passes before a run starts or resumes: ranges, the config's own
    ``validate()``, then (with ``check_memory``) the memory estimate against this machine."""
    check_ranges(lab, config)
    validate = getattr(config, "validate", None)
    if callable(validate):
        validate()  # what ranges cannot say: relations between fields, choices among strings
    if check_memory and lab.footprint is not None:
        _footprint.check_fits(lab.name, lab.footprint(config), _footprint.available_memory())


def check_ranges(lab: Lab, config: Any) -> None:
    """PracticumError naming the first field whose value (or an element of it) lies outside
    the field's range."""
    for f in dataclasses.fields(config):
        declared = field_range(type(config), f.name)
        value = getattr(config, f.name)
        if declared is None or value is None:
            continue
        for item in value if isinstance(value, tuple | list) else (value,):
            if item not in declared:
                shown = ",".join(map(str, value)) if isinstance(value, tuple | list) else value
                raise PracticumError(
                    f"{f.name}={shown} is out of range for lab {lab.name}: "
                    f"{f.name} must lie in {declared}"
                )


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
