"""A property check and its result: the unit the grader runs, reports and scores.

A check is a function of a framework adapter (see :mod:`practicum.grade.adapters`) and a
seeded NumPy generator that returns normally when the property holds and raises :class:`CheckFailed` with one line
saying what was expected and what was seen when it does not. :meth:`Check.run` turns any
other exception into a failed result too, so a crashing ``forward`` is a failed check, not
a crashed grader.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from practicum.grade.adapters import Adapter

# One line of feedback is a line, not a traceback: long messages are cut.
MAX_MESSAGE = 300


class CheckFailed(Exception):
    """The property does not hold; the message is one line: expected ..., saw ...."""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check on one class."""

    name: str
    property: str
    passed: bool
    message: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "property": self.property,
            "passed": self.passed,
            "message": self.message,
        }


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` on a single line of at most ``limit`` characters."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


@dataclass(frozen=True)
class Check:
    """A named property (one plain sentence) and the function that tests it."""

    name: str
    property: str
    fn: Callable[[Adapter, np.random.Generator], None]

    def rng(self) -> np.random.Generator:
        """The check's own random numbers: the same for every class and every run."""
        return np.random.default_rng(zlib.crc32(self.name.encode()))

    def run(self, adapter: Adapter) -> CheckResult:
        """Run the check; every failure, including an exception, is a one-line result."""
        try:
            with adapter.seeded(0):
                self.fn(adapter, self.rng())
        except CheckFailed as failure:
            return CheckResult(self.name, self.property, False, one_line(str(failure)))
        except (Exception, SystemExit) as error:  # the student's code may raise anything
            detail = one_line(f"{type(error).__name__}: {error}", 200)
            message = f"expected that {self.property}, but the check raised {detail}"
            return CheckResult(self.name, self.property, False, one_line(message))
        return CheckResult(self.name, self.property, True, "ok")


# --- building blocks shared by the checks -------------------------------------------------


@dataclass(frozen=True)
class Setup:
    """One way to use the class: constructor arguments, input shapes, forward keywords.

    Inputs are standard normal, or uniform on [low, high) when both are given; every input
    has the batch on axis 0. ``output_index`` picks one output when forward returns a tuple.
    """

    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    inputs: tuple[tuple[int, ...], ...] = ()
    forward: dict[str, Any] = field(default_factory=dict)
    output_index: int | None = None
    low: float | None = None
    high: float | None = None

    def build(self, a: Adapter) -> Any:
        return a.build(*self.args, **self.kwargs)

    def sample(self, rng: np.random.Generator) -> list[np.ndarray]:
        if self.low is not None and self.high is not None:
            return [rng.uniform(self.low, self.high, shape) for shape in self.inputs]
        return [rng.standard_normal(shape) for shape in self.inputs]

    def run(self, a: Adapter, model: Any, inputs: Sequence[np.ndarray]) -> np.ndarray:
        return pick(a.forward(model, *inputs, **self.forward), self.output_index)

    def describe(self, a: Adapter) -> str:
        return call_repr(a.cls.__name__, self.args, self.kwargs)


def call_repr(name: str, args: Sequence[Any], kwargs: dict[str, Any]) -> str:
    """``Name(1, 2, bias=False)``: how a module was constructed, for messages."""
    parts = [repr(v) for v in args] + [
        f"{k}={getattr(v, '__name__', v)!r}" for k, v in kwargs.items()
    ]
    return f"{name}({', '.join(parts)})".replace("'", "")


def pick(output: Any, index: int | None) -> np.ndarray:
    """One output of a forward pass, checked to be an array."""
    if index is not None:
        if not isinstance(output, tuple) or len(output) <= index:
            raise CheckFailed(
                f"expected forward to return a tuple with output {index}; saw {kind(output)}"
            )
        output = output[index]
    if not isinstance(output, np.ndarray):
        raise CheckFailed(f"expected forward to return one tensor; saw {kind(output)}")
    return output


def kind(value: Any) -> str:
    if isinstance(value, tuple):
        return f"a tuple of {len(value)}"
    return "None" if value is None else type(value).__name__


def error(seen: np.ndarray, expected: np.ndarray) -> float:
    """Largest difference relative to the expected values' scale (inf on shape or NaN)."""
    seen, expected = np.asarray(seen), np.asarray(expected)
    if seen.shape != expected.shape:
        return float("inf")
    gap = float(np.max(np.abs(seen - expected), initial=0.0))
    return (
        gap / (1.0 + float(np.max(np.abs(expected), initial=0.0)))
        if np.isfinite(gap)
        else float("inf")
    )


def amount(gap: float) -> str:
    """A difference for a message: NaN and inf read as such, not as a size."""
    return f"{gap:.2g}" if np.isfinite(gap) else "NaN or inf (or a change of shape)"


def shape_of(value: Any) -> str:
    return str(tuple(value.shape)) if isinstance(value, np.ndarray) else kind(value)


# A float32 forward pass agrees with itself on other data to ~1e-6; properties that hold
# exactly in real arithmetic are tested to TOL.
TOL = 1e-4


# --- checks that apply to many tasks ------------------------------------------------------

CheckFn = Callable[["Adapter", np.random.Generator], None]


def output_shapes(cases: Sequence[tuple[Setup, tuple[int, ...]]]) -> CheckFn:
    """The output has the shape the interface implies, for every case."""

    def check(a: Adapter, rng: np.random.Generator) -> None:
        for setup, expected in cases:
            model = setup.build(a)
            out = a.forward(model, *setup.sample(rng), **setup.forward)
            out = (
                out[setup.output_index]
                if setup.output_index is not None and isinstance(out, tuple)
                else out
            )
            if not isinstance(out, np.ndarray) or out.shape != expected:
                inputs = ", ".join(str(s) for s in setup.inputs)
                raise CheckFailed(
                    f"expected an output of shape {expected} from {setup.describe(a)} on input "
                    f"{inputs}{forward_repr(setup.forward)}; saw {shape_of(out)}"
                )

    return check


def forward_repr(kwargs: dict[str, Any]) -> str:
    shown = {k: ("mask" if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
    return "".join(f" with {k}={v}" for k, v in shown.items())


def parameter_count(cases: Sequence[tuple[Setup, int, str]]) -> CheckFn:
    """The number of trainable parameters is the one the interface implies (case: setup,
    count, the formula in words)."""

    def check(a: Adapter, rng: np.random.Generator) -> None:
        for setup, expected, formula in cases:
            params = a.parameters(setup.build(a))
            seen = sum(int(p.size) for p in params.values())
            if seen != expected:
                raise CheckFailed(
                    f"expected {expected} trainable parameters for {setup.describe(a)} "
                    f"({formula}); saw {seen} in {len(params)} registered tensors"
                )

    return check


def gradients_flow(setups: Sequence[Setup]) -> CheckFn:
    """Every parameter gets a finite, nonzero gradient from a loss of the output."""

    def check(a: Adapter, rng: np.random.Generator) -> None:
        for setup in setups:
            model = setup.build(a)
            inputs = setup.sample(rng)
            shape = setup.run(a, model, inputs).shape
            _, grads = a.vjp(
                model, inputs, rng.standard_normal(shape), setup.output_index, **setup.forward
            )
            if not grads:
                raise CheckFailed(f"expected trainable parameters in {setup.describe(a)}; saw none")
            for name, grad in grads.items():
                if grad is None:
                    raise CheckFailed(
                        f"expected a gradient for every parameter of {setup.describe(a)}; saw none for {name!r}"
                    )
                if not np.all(np.isfinite(grad)):
                    raise CheckFailed(
                        f"expected finite gradients in {setup.describe(a)}; saw NaN or inf for {name!r}"
                    )
                if not np.any(grad):
                    raise CheckFailed(
                        f"expected a nonzero gradient for every parameter of {setup.describe(a)}; saw zero for {name!r}"
                    )

    return check


def rows_independent(setup: Setup, changed: int, watched: Sequence[int] = (0,)) -> CheckFn:
    """Changing one sample of a batch leaves every other sample's output as it was."""

    def check(a: Adapter, rng: np.random.Generator) -> None:
        model = setup.build(a)
        inputs = setup.sample(rng)
        before = setup.run(a, model, inputs)
        altered = [x.copy() for x in inputs]
        for x in altered:
            x[changed] = rng.standard_normal(x[changed].shape) * 3 + 1
        after = setup.run(a, model, altered)
        for row in watched:
            gap = error(after[row], before[row])
            if gap > 1e-5:
                raise CheckFailed(
                    f"rows of a batch influence each other: the output of row {row} changed "
                    f"(by {amount(gap)}) when row {changed} changed"
                )
        if error(after[changed], before[changed]) == 0:
            raise CheckFailed(
                f"expected the output of row {changed} to change with its input; saw no change"
            )

    return check


def deterministic(setup: Setup) -> CheckFn:
    """Constructed twice under the same seed: the same parameters, the same outputs."""

    def check(a: Adapter, rng: np.random.Generator) -> None:
        inputs = setup.sample(rng)
        built = []
        for _ in range(2):
            with a.seeded(0):
                model = setup.build(a)
                built.append((a.parameters(model), setup.run(a, model, inputs)))
        (p1, y1), (p2, y2) = built
        if list(p1) != list(p2):
            raise CheckFailed(
                f"expected the same parameters under one seed; saw {list(p1)} then {list(p2)}"
            )
        for name in p1:
            if not np.array_equal(p1[name], p2[name]):
                raise CheckFailed(
                    f"expected the same parameters when {setup.describe(a)} is built twice under "
                    f"manual_seed(0); saw {name!r} differ"
                )
        if not np.array_equal(y1, y2, equal_nan=True):
            raise CheckFailed(
                f"expected the same outputs from two {setup.describe(a)} built under "
                f"manual_seed(0) on the same input; saw a difference of {amount(error(y1, y2))}"
            )
        if not np.all(np.isfinite(y1)):
            raise CheckFailed(f"expected finite outputs from {setup.describe(a)}; saw NaN or inf")

    return check


def affine(setup: Setup, linear: bool = False) -> CheckFn:
    """f(αx + βy) = αf(x) + βf(y) with α + β = 1 (affine), or for all α, β and f(0) = 0
    (linear)."""

    def check(a: Adapter, rng: np.random.Generator) -> None:
        model = setup.build(a)
        (x,), (y,) = setup.sample(rng), setup.sample(rng)
        fx, fy = setup.run(a, model, [x]), setup.run(a, model, [y])
        pairs = [(0.3, 1.2), (-1.5, 0.5)] if linear else [(0.3, 0.7), (-1.5, 2.5)]
        word = "linear" if linear else "affine"
        for alpha, beta in pairs:
            seen = setup.run(a, model, [alpha * x + beta * y])
            gap = error(seen, alpha * fx + beta * fy)
            if gap > TOL:
                raise CheckFailed(
                    f"expected {setup.describe(a)} to be {word}: f({alpha}x + {beta}y) = "
                    f"{alpha}f(x) + {beta}f(y); saw a difference of {amount(gap)}"
                )
        if linear:
            zero = setup.run(a, model, [np.zeros_like(x)])
            if error(zero, np.zeros_like(zero)) > 1e-6:
                raise CheckFailed(
                    f"expected {setup.describe(a)} to map 0 to 0; saw up to {np.abs(zero).max():.2g}"
                )

    return check


# --- basis expansion ------------------------------------------------------------------------


def _log_bumps(a: Adapter, model: Any, grid: np.ndarray) -> np.ndarray:
    out = pick(a.forward(model, grid[:, None]), None)
    if out.ndim != 2 or out.shape[0] != len(grid):
        raise CheckFailed(f"expected an output of shape ({len(grid)}, M); saw {out.shape}")
    return out


def gaussian_bumps(num_basis: int, span: tuple[float, float]) -> CheckFn:
    """Each output is exp(−(x − μ)² / s) of the input: in (0, 1], with a log that is a
    concave quadratic of x (constant negative second differences on a grid)."""

    def check(a: Adapter, rng: np.random.Generator) -> None:
        model = a.build(num_basis, span=span)
        lo, hi = span
        grid = np.linspace(lo, hi, 41)
        out = _log_bumps(a, model, grid)
        if not np.all(np.isfinite(out)) or out.min() < 0 or out.max() > 1 + 1e-6:
            raise CheckFailed(
                f"expected Gaussian basis functions with values in (0, 1]; saw values from "
                f"{np.nanmin(out):.3g} to {np.nanmax(out):.3g}"
            )
        for j in range(out.shape[1]):
            keep = out[:, j] > 1e-4
            logs = np.log(out[keep, j])
            if keep.sum() < 5 or not np.all(
                keep[np.argmax(keep) : len(keep) - np.argmax(keep[::-1])]
            ):
                raise CheckFailed(
                    f"expected basis function {j} to be a Gaussian bump over {span}; saw it vanish"
                )
            second = np.diff(logs, 2)
            if second.max() >= 0 or np.ptp(second) > 1e-2 * abs(second.mean()) + 1e-5:
                raise CheckFailed(
                    f"expected basis function {j} to be exp(-(x - mu)^2 / s): its log a concave "
                    f"quadratic of x; saw second differences from {second.min():.3g} to {second.max():.3g}"
                )

    return check


def centres_spread(num_basis: int, span: tuple[float, float]) -> CheckFn:
    """The bumps start centred at evenly spaced points from span[0] to span[1]."""

    def check(a: Adapter, rng: np.random.Generator) -> None:
        model = a.build(num_basis, span=span)
        lo, hi = span
        grid = np.linspace(lo - 0.5 * (hi - lo), hi + 0.5 * (hi - lo), 201)
        out = _log_bumps(a, model, grid)
        centres = []
        for j in range(out.shape[1]):
            keep = out[:, j] > 1e-4
            if keep.sum() < 3:
                raise CheckFailed(
                    f"expected basis function {j} to be a bump inside {span}; saw it vanish"
                )
            c2, c1, _ = np.polyfit(grid[keep], np.log(out[keep, j]), 2)
            centres.append(-c1 / (2 * c2) if c2 < 0 else np.nan)
        expected = np.linspace(lo, hi, num_basis)
        if error(np.array(centres), expected) > 1e-3 * (hi - lo):
            shown = ", ".join(f"{c:.3g}" for c in centres)
            raise CheckFailed(
                f"expected the centres of {a.cls.__name__}({num_basis}, span={span}) evenly spread "
                f"from {lo} to {hi}; saw centres at {shown}"
            )

    return check


# --- the multilayer perceptron --------------------------------------------------------------


class Counting:
    """A wrapped activation that counts its calls and remembers its last result."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn, self.calls, self.last = fn, 0, None

    def __call__(self, x: Any) -> Any:
        self.calls += 1
        self.last = self.fn(x)
        return self.last


def activation_calls(sizes: Sequence[tuple[int, int, int, int]]) -> CheckFn:
    """Per forward pass the hidden activation runs once per hidden layer and the output
    activation once, and the network's output is what the output activation returned."""

    def check(a: Adapter, rng: np.random.Generator) -> None:
        for n_in, n_out, depth, width in sizes:
            hidden, output = Counting(a.activation("tanh")), Counting(a.activation("relu"))
            model = a.build(
                n_in, n_out, depth, width, hidden_activation=hidden, output_activation=output
            )
            hidden.calls = output.calls = 0  # a constructor may try its activations once
            y = a.forward(model, rng.standard_normal((4, n_in)))
            what = f"{a.cls.__name__}({n_in}, {n_out}, {depth}, {width})"
            if (hidden.calls, output.calls) != (depth, 1):
                raise CheckFailed(
                    f"expected {what} to call hidden_activation {depth} times (once per hidden "
                    f"layer) and output_activation once per forward pass; saw {hidden.calls} "
                    f"and {output.calls}"
                )
            if not isinstance(y, np.ndarray) or error(y, a.array(output.last)) > 0:
                raise CheckFailed(
                    f"expected the output of {what} to be what output_activation returned; saw something else"
                )

    return check


# --- convolution ----------------------------------------------------------------------------


def translation_equivariant(stride: int, shift: tuple[int, int]) -> CheckFn:
    """Shifting the input by ``shift`` (a multiple of the stride) shifts the output by
    shift / stride, away from the border."""

    def check(a: Adapter, rng: np.random.Generator) -> None:
        k, size = 3, 16
        model = a.build(2, 3, k, stride=stride, padding=1)
        x = rng.standard_normal((1, 2, size, size))
        dy, dx = shift
        moved = np.roll(x, (dy, dx), axis=(2, 3))
        y, y_moved = (pick(a.forward(model, v), None) for v in (x, moved))
        oy, ox = dy // stride, dx // stride
        # Output pixels whose windows avoid the border and the wrapped-around rows/columns.
        margin = (max(dy, dx) + k) // stride + 1
        inner = slice(margin, y.shape[2] - margin)
        gap = error(
            y_moved[:, :, inner.start + oy : inner.stop + oy, inner.start + ox : inner.stop + ox],
            y[:, :, inner, inner],
        )
        if gap > TOL:
            raise CheckFailed(
                f"expected {a.cls.__name__}(2, 3, 3, stride={stride}) to be translation equivariant: an input "
                f"shifted by {shift} gives an output shifted by {(oy, ox)} away from the border; "
                f"saw a difference of {amount(gap)}"
            )

    return check


def local_window(cases: Sequence[tuple[int, int, int]]) -> CheckFn:
    """Each output pixel depends on exactly its k x k window of the input (kernel, stride,
    padding): the gradient of one output pixel is zero outside that window."""

    def check(a: Adapter, rng: np.random.Generator) -> None:
        for k, stride, padding in cases:
            model = a.build(2, 2, k, stride=stride, padding=padding)
            x = rng.standard_normal((1, 2, 11, 11))
            y = pick(a.forward(model, x), None)
            i, j = y.shape[2] // 2, y.shape[3] // 2
            cot = np.zeros(y.shape)
            cot[0, :, i, j] = 1.0
            (grad,), _ = a.vjp(model, [x], cot)
            seen = np.argwhere(np.abs(grad).sum(axis=(0, 1)) > 0)
            r0, c0 = i * stride - padding, j * stride - padding
            window = f"rows {r0}..{r0 + k - 1}, columns {c0}..{c0 + k - 1}"
            what = f"{a.cls.__name__}(2, 2, {k}, stride={stride}, padding={padding})"
            if len(seen) == 0:
                raise CheckFailed(
                    f"expected output pixel ({i}, {j}) of {what} to see {window}; saw no input"
                )
            rows, cols = seen[:, 0], seen[:, 1]
            if (
                rows.min() < r0
                or rows.max() > r0 + k - 1
                or cols.min() < c0
                or cols.max() > c0 + k - 1
            ):
                raise CheckFailed(
                    f"expected output pixel ({i}, {j}) of {what} to see only {window} of the input; "
                    f"saw rows {rows.min()}..{rows.max()}, columns {cols.min()}..{cols.max()}"
                )

    return check


# --- group normalisation --------------------------------------------------------------------


def _groups(x: np.ndarray, num_groups: int) -> np.ndarray:
    return x.reshape(x.shape[0], num_groups, -1)


def group_statistics(cases: Sequence[tuple[int, tuple[int, ...]]]) -> CheckFn:
    """Every group of every sample comes out with mean 0 and biased variance 1 (the affine
    parameters start as scale 1, shift 0)."""

    def check(a: Adapter, rng: np.random.Generator) -> None:
        for g, shape in cases:
            model = a.build(g, shape[1])
            x = 3 * rng.standard_normal(shape) + 2
            y = pick(a.forward(model, x), None)
            if y.shape != shape:
                raise CheckFailed(f"expected an output of shape {shape}; saw {y.shape}")
            groups = _groups(y, g)
            mean, var = groups.mean(axis=-1), groups.var(axis=-1)
            what = f"{a.cls.__name__}({g}, {shape[1]}) on input {shape}"
            if np.abs(mean).max() > 1e-4 or not np.all(np.isfinite(mean)):
                raise CheckFailed(
                    f"expected each group of each sample to have mean 0 from {what}; saw means up to {np.abs(mean).max():.3g}"
                )
            if np.abs(var - 1).max() > 1e-3:
                raise CheckFailed(
                    f"expected each group of each sample to have (biased) variance 1 from {what}; "
                    f"saw variances from {var.min():.4g} to {var.max():.4g}"
                )

    return check


def group_affine_invariant(g: int, shape: tuple[int, ...]) -> CheckFn:
    """x -> a x + b with one a > 0 and one b per sample and group leaves the output as it is."""

    def check(a: Adapter, rng: np.random.Generator) -> None:
        model = a.build(g, shape[1])
        x = rng.standard_normal(shape)
        scale = rng.uniform(0.5, 3.0, (shape[0], g, 1))
        shift = rng.uniform(-5.0, 5.0, (shape[0], g, 1))
        moved = (_groups(x, g) * scale + shift).reshape(shape)
        gap = error(pick(a.forward(model, moved), None), pick(a.forward(model, x), None))
        if gap > 1e-3:
            raise CheckFailed(
                f"expected {a.cls.__name__}({g}, {shape[1]}) to be invariant to a per-sample, per-group "
                f"affine change a*x + b of its input; saw the output change by {amount(gap)}"
            )

    return check


def constant_input_finite(g: int, shape: tuple[int, ...]) -> CheckFn:
    """A constant input (zero variance) gives a finite output: epsilon is in the square root."""

    def check(a: Adapter, rng: np.random.Generator) -> None:
        model = a.build(g, shape[1])
        y = pick(a.forward(model, np.full(shape, 2.5)), None)
        if not np.all(np.isfinite(y)):
            raise CheckFailed(
                f"expected a finite output from {a.cls.__name__}({g}, {shape[1]}) on a constant input "
                f"(zero variance, so epsilon matters); saw {np.sum(~np.isfinite(y))} NaN or inf values"
            )

    return check


def normalise(x: np.ndarray, axes: tuple[int, ...], eps: float = 1e-5) -> np.ndarray:
    mean = x.mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)


def group_limits(shape: tuple[int, ...]) -> CheckFn:
    """One group is layer norm over (C, H, W); C groups is instance norm over (H, W)."""

    def check(a: Adapter, rng: np.random.Generator) -> None:
        c = shape[1]
        x = rng.standard_normal(shape) * 2 - 1
        for g, name, axes in (
            (1, "layer norm over C, H, W", (1, 2, 3)),
            (c, "instance norm over H, W", (2, 3)),
        ):
            y = pick(a.forward(a.build(g, c), x), None)
            gap = error(y, normalise(x, axes))
            if gap > 1e-3:
                raise CheckFailed(
                    f"expected {a.cls.__name__}({g}, {c}) to be {name}; saw a difference of {amount(gap)}"
                )

    return check


# --- residual blocks ------------------------------------------------------------------------


def identity_at_init(channels: int, shape: tuple[int, ...]) -> CheckFn:
    """With zero_init=True and the same width and stride 1, the block is the identity: the
    shortcut carries x unchanged and the residual branch starts at zero."""

    def check(a: Adapter, rng: np.random.Generator) -> None:
        model = a.build(channels, zero_init=True)
        x = rng.standard_normal(shape)
        gap = error(pick(a.forward(model, x), None), x)
        if gap > 1e-6:
            raise CheckFailed(
                f"expected {a.cls.__name__}({channels}, zero_init=True) to be the identity at "
                f"initialisation (x + a zero branch); saw the output differ from x by {amount(gap)}"
            )

    return check


def branch_contributes(channels: int, shape: tuple[int, ...]) -> CheckFn:
    """With zero_init=False the residual branch is added: the output is x plus something."""

    def check(a: Adapter, rng: np.random.Generator) -> None:
        model = a.build(channels, zero_init=False)
        x = rng.standard_normal(shape)
        y = pick(a.forward(model, x), None)
        if y.shape != x.shape or error(y, x) < 1e-3:
            raise CheckFailed(
                f"expected {a.cls.__name__}({channels}, zero_init=False) to add a nonzero residual "
                f"branch to x; saw {'the input unchanged' if y.shape == x.shape else y.shape}"
            )

    return check


# --- dropout --------------------------------------------------------------------------------


def dropout_only_in_training(setup: Setup) -> CheckFn:
    """In evaluation mode dropout is off (two passes agree); in training mode it is on."""

    def check(a: Adapter, rng: np.random.Generator) -> None:
        model = setup.build(a)
        inputs = setup.sample(rng)
        a.set_training(model, False)
        y1, y2 = setup.run(a, model, inputs), setup.run(a, model, inputs)
        if not np.array_equal(y1, y2):
            raise CheckFailed(
                f"expected {setup.describe(a)} in evaluation mode to give the same output twice; saw a difference of {amount(error(y1, y2))}"
            )
        a.set_training(model, True)
        y3, y4 = setup.run(a, model, inputs), setup.run(a, model, inputs)
        if np.array_equal(y3, y4):
            raise CheckFailed(
                f"expected {setup.describe(a)} in training mode to drop out at random; saw two equal outputs"
            )

    return check


# --- attention ------------------------------------------------------------------------------


def padding_mask(batch: int, time: int) -> np.ndarray:
    """True where a key is padding: sample 0 pads its last two keys, sample 1 its first."""
    mask = np.zeros((batch, time), dtype=bool)
    mask[0, -2:] = True
    if batch > 1:
        mask[1, 0] = True
    return mask


def weights_sum_to_one(embed: int, heads: int) -> CheckFn:
    """The attention weights (batch, heads, time_q, time_k) are nonnegative and sum to one over
    the keys, for self- and cross-attention, with and without masks."""

    def check(a: Adapter, rng: np.random.Generator) -> None:
        model = a.build(embed, heads)
        b, tq, tk = 2, 4, 6
        cases = [
            ("self-attention", [(b, tq, embed)], {}, tq),
            ("cross-attention", [(b, tq, embed), (b, tk, embed), (b, tk, embed)], {}, tk),
            ("causal self-attention", [(b, tq, embed)], {"causal": True}, tq),
            (
                "self-attention with key padding",
                [(b, tq, embed)],
                {"key_padding_mask": padding_mask(b, tq)},
                tq,
            ),
        ]
        for name, shapes, kwargs, keys in cases:
            out = a.forward(
                model, *(rng.standard_normal(s) for s in shapes), need_weights=True, **kwargs
            )
            w = pick(out, 1)
            if w.shape != (b, heads, tq, keys):
                raise CheckFailed(
                    f"expected attention weights of shape {(b, heads, tq, keys)} for {name}; saw {w.shape}"
                )
            sums = w.sum(axis=-1)
            if not np.all(np.isfinite(w)) or w.min() < -1e-6 or np.abs(sums - 1).max() > 1e-4:
                raise CheckFailed(
                    f"expected attention weights that sum to one over the keys for {name}; saw sums "
                    f"from {np.nanmin(sums):.4g} to {np.nanmax(sums):.4g} and a smallest weight of {np.nanmin(w):.3g}"
                )

    return check


def permutation_equivariant(embed: int, heads: int, block: bool) -> CheckFn:
    """Without positions or a causal mask, permuting the sequence permutes the output
    (self-attention); permuting keys with their values changes nothing (cross-attention)."""

    def check(a: Adapter, rng: np.random.Generator) -> None:
        model = a.build(embed, heads)
        index = None if block else 0
        name = a.cls.__name__
        x = rng.standard_normal((2, 5, embed))
        perm = np.array([3, 0, 4, 1, 2])
        y = pick(a.forward(model, x), index)
        gap = error(pick(a.forward(model, x[:, perm]), index), y[:, perm])
        if gap > TOL:
            raise CheckFailed(
                f"expected {name}({embed}, {heads}) to be permutation equivariant: permuting the "
                f"positions of the input permutes the output; saw a difference of {amount(gap)}"
            )
        if block:
            return
        kv = rng.standard_normal((2, 6, embed))
        perm = np.array([5, 2, 0, 4, 1, 3])
        y = pick(a.forward(model, x, kv, kv), 0)
        gap = error(pick(a.forward(model, x, kv[:, perm], kv[:, perm]), 0), y)
        if gap > TOL:
            raise CheckFailed(
                f"expected {name}({embed}, {heads}) to be invariant to permuting the keys together "
                f"with their values; saw a difference of {amount(gap)}"
            )

    return check


def causal(embed: int, heads: int, block: bool) -> CheckFn:
    """With causal=True the output at position t has no gradient from any later position and
    does depend on position t itself (and on the earlier ones)."""

    def check(a: Adapter, rng: np.random.Generator) -> None:
        model = a.build(embed, heads)
        time = 5
        x = rng.standard_normal((2, time, embed))
        # Attention: keys and values are a separate input, so "sees itself" means the key and
        # value at t, not the query (which always reaches its own output).
        inputs = [x] if block else [x, x.copy(), x.copy()]
        index = None if block else 0
        y = pick(a.forward(model, *inputs, causal=True), index)
        if not np.all(np.isfinite(y)):
            rows = sorted({int(t) for t in np.argwhere(~np.isfinite(y))[:, 1]})
            raise CheckFailed(
                f"expected every position to see at least itself under the causal mask; saw NaN "
                f"outputs at positions {rows} (every key masked?)"
            )
        for t in range(time):
            cot = np.zeros(y.shape)
            cot[:, t] = rng.standard_normal((2, embed))
            grads, _ = a.vjp(model, inputs, cot, index, causal=True)
            # Per position of the input (block) or of the keys and values (attention).
            seen = np.zeros(time)
            for g in grads if block else grads[1:]:
                seen += 0 if g is None else np.abs(g).sum(axis=(0, 2))
            later = [s for s in range(t + 1, time) if seen[s] > 0]
            if later:
                raise CheckFailed(
                    f"expected no gradient from a later position under the causal mask; saw the "
                    f"output at position {t} depend on position {later[0]}"
                )
            blind = [s for s in range(t + 1) if seen[s] == 0]
            if blind:
                raise CheckFailed(
                    f"expected a position to see itself and every earlier one under the causal mask; "
                    f"saw the output at position {t} not depend on position {blind[0]}"
                )

    return check


def key_padding(embed: int, heads: int, block: bool) -> CheckFn:
    """Changing a padded key (and its value) changes no output that is not itself padding."""

    def check(a: Adapter, rng: np.random.Generator) -> None:
        model = a.build(embed, heads)
        b, time = 2, 5
        mask = padding_mask(b, time)
        x = rng.standard_normal((b, time, embed))
        changed = x.copy()
        changed[mask] = rng.standard_normal((int(mask.sum()), embed)) * 3
        index = None if block else 0
        if block:
            before = pick(a.forward(model, x, key_padding_mask=mask), None)
            after = pick(a.forward(model, changed, key_padding_mask=mask), None)
        else:  # the queries stay; only the keys and values at padded positions change
            before = pick(a.forward(model, x, x, x, key_padding_mask=mask), index)
            after = pick(a.forward(model, x, changed, changed, key_padding_mask=mask), index)
        keep = ~mask if block else np.ones_like(mask)
        gap = error(after[keep], before[keep])
        if gap > TOL:
            raise CheckFailed(
                f"expected a key-padding mask to hide the padded keys: changing a padded key and its "
                f"value changed the output at unpadded positions by {amount(gap)}"
            )
        if error(pick(a.forward(model, x), index), before) == 0:
            raise CheckFailed("expected the key-padding mask to change the output; saw it ignored")

    return check
