"""Guarantees that hold for every lab, whoever adds it.

* Same seed, same bits, and exact resume: each lab's quick mode is run twice in this process.
  When the first run checkpoints at least twice, the second is stopped right after its first
  checkpoint and continued with ``--resume``; either way the second gives the first's metrics,
  ``param_hash`` and metrics log (one pair of runs shows both properties, at half the cost of
  testing them apart). Every lab whose full run of record took over a minute must resume.
* Every torch model runs on ``run.device``: the second of those runs is given a ``run.device``
  that is the CPU but can be told apart wherever it is passed (``"cpu:0"``), and records
  which modules and tensors were sent there (see :class:`DeviceRecorder`).
* Labs never import labs, and every module under ``labs/`` is a lab in a topic folder
  (read from the source with ``ast``, function-level and ``importlib`` imports included).

The contract checks that need no run (ranges, sources, optional dependencies) are in
``test_lab_contract.py``: this file is the longest of the suite, the one ``-n 2`` waits for.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import importlib
import json
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import practicum.labs
from metrics_logs import metrics_without_clocks
from practicum import launch
from practicum.lab import Lab, Target, all_labs
from practicum.launch import resume_lab, run_lab
from practicum.run import Run

LABS_DIR = Path(practicum.labs.__file__).parent
PACKAGE = practicum.labs.__name__  # "practicum.labs"


# ---- run.device ----------------------------------------------------------------------------
RUN_DEVICE = torch.device("cpu", 0)  # the CPU; nothing but run.device names it with an index


class _RunDevice(str):
    """``run.device`` for the check: the string ``"cpu:0"``, equal to ``"cpu"`` as well, so
    that a lab that branches on ``run.device == "cpu"`` takes its CPU branch."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and str(other) in ("cpu", "cpu:0")

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = str.__hash__


def _is_run_device(value: Any) -> bool:
    if not isinstance(value, str | torch.device):
        return False
    try:
        return torch.device(value) == RUN_DEVICE
    except (RuntimeError, TypeError):
        return False


FACTORIES = (
    "arange",
    "as_tensor",
    "empty",
    "eye",
    "full",
    "linspace",
    "logspace",
    "ones",
    "rand",
    "randint",
    "randn",
    "randperm",
    "tensor",
    "zeros",
)


class DeviceRecorder:
    """Records what a lab sends to ``run.device`` and which modules run without going there.

    A module counts as placed once ``.to(run.device)`` was called on it or on a module that
    holds it, or when all its parameters were created on ``run.device`` or deep-copied from
    tensors there (a DQN's target network, a GAN's averaged generator). Every module that
    runs a forward pass with parameters of its own must be placed (a global forward
    pre-hook checks). Data counts as placed when a tensor is sent there (``tensor.to``) or
    created there (``torch.zeros(..., device=run.device)`` and the like). Recording changes
    no computation, so the recorded run must still give the same bits.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.moved: weakref.WeakSet[torch.nn.Module] = weakref.WeakSet()
        self.created_there: set[int] = set()  # storage addresses of tensors on run.device
        self.unplaced: dict[str, int] = {}  # module type -> forward calls off run.device
        self.forwards = 0  # forward calls of modules with parameters
        self.data_placed = 0
        self._in_module_to = 0
        self._handle: Any = None

    def __enter__(self) -> DeviceRecorder:
        mp = self.monkeypatch
        mp.setattr(launch, "resolve_device", lambda device: _RunDevice("cpu:0"))
        mp.setattr(torch.nn.Module, "to", self._wrap_module_to(torch.nn.Module.to))
        mp.setattr(torch.Tensor, "to", self._wrap_tensor_to(torch.Tensor.to))
        for name in FACTORIES:
            mp.setattr(torch, name, self._wrap_factory(getattr(torch, name)))
        for cls in (torch.Tensor, torch.nn.Parameter):
            mp.setattr(cls, "__deepcopy__", self._wrap_deepcopy(cls.__deepcopy__))
        self._handle = torch.nn.modules.module.register_module_forward_pre_hook(self._forward)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._handle.remove()
        self.monkeypatch.undo()

    def _remember(self, tensor: Any) -> None:
        if isinstance(tensor, torch.Tensor) and tensor.device.type != "meta":
            self.created_there.add(tensor.untyped_storage().data_ptr())

    def _is_there(self, tensor: torch.Tensor) -> bool:
        return tensor.untyped_storage().data_ptr() in self.created_there

    def _wrap_module_to(self, original: Any) -> Any:
        @functools.wraps(original)
        def to(module: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
            self._in_module_to += 1
            try:
                result = original(module, *args, **kwargs)
            finally:
                self._in_module_to -= 1
            if any(_is_run_device(a) for a in (*args, *kwargs.values())):
                self.moved.update(module.modules())
                for tensor in (*module.parameters(), *module.buffers()):
                    self._remember(tensor)
            return result

        return to

    def _wrap_deepcopy(self, original: Any) -> Any:
        @functools.wraps(original)
        def deepcopy(tensor: torch.Tensor, memo: dict) -> Any:
            result = original(tensor, memo)
            if self._is_there(tensor):
                self._remember(result)
            return result

        return deepcopy

    def _wrap_tensor_to(self, original: Any) -> Any:
        @functools.wraps(original)
        def to(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            result = original(tensor, *args, **kwargs)
            if any(_is_run_device(a) for a in (*args, *kwargs.values())):
                self._remember(result)
                if not self._in_module_to:
                    self.data_placed += 1
            return result

        return to

    def _wrap_factory(self, original: Any) -> Any:
        @functools.wraps(original)
        def factory(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            if _is_run_device(kwargs.get("device")):
                self._remember(result)
                self.data_placed += 1
            return result

        return factory

    def _forward(self, module: torch.nn.Module, args: Any) -> None:
        params = list(module.parameters(recurse=False))
        if not params:
            return
        self.forwards += 1
        if module in self.moved:
            return
        if all(self._is_there(p) for p in params):
            return
        name = type(module).__name__
        self.unplaced[name] = self.unplaced.get(name, 0) + 1

    def problems(self) -> list[str]:
        out = [
            f"{name} ran {n} forward pass(es) without being sent to run.device"
            for name, n in sorted(self.unplaced.items())
        ]
        if self.forwards and not self.data_placed:
            out.append("models ran, but no tensor was sent to or created on run.device")
        return out


RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"


def _recorded_wall_time(lab: str) -> float | None:
    """Seconds the lab's result of record took (its full run), None without a record."""
    path = RESULTS / f"{lab}.json"
    return float(json.loads(path.read_text())["wall_time_s"]) if path.is_file() else None


class _Stopped(Exception):
    """Raised right after a checkpoint is written: the run is cut there, as by a kill."""


@pytest.mark.parametrize("name", list(all_labs()))
def test_quick_mode_twice_gives_the_same_bits_resumes_exactly_and_runs_on_run_device(
    tmp_path, monkeypatch, capsys, name
):
    save = Run.checkpoint
    steps: list[int] = []

    def counted(self: Run, step: int, **objects: object):
        steps.append(step)
        return save(self, step, **objects)

    def save_then_stop(self: Run, step: int, **objects: object):
        save(self, step, **objects)
        raise _Stopped

    monkeypatch.setattr(Run, "checkpoint", counted)
    first, _ = run_lab(name, quick=True, quiet=True, out=tmp_path / "first")
    missed = [t["metric"] for t in first["targets"] if not t["passed"]]
    assert not missed, f"{name}'s quick mode misses {missed}: `make run` would fail"
    resumable = len(steps) >= 2
    wall = _recorded_wall_time(name)
    assert resumable or wall is None or wall <= 60, (
        f"{name}'s full run took {wall:.0f} s but its quick mode checkpoints {len(steps)} "
        "time(s): use run.loop (the training-loop contract)"
    )
    second_dir = tmp_path / "second"
    with DeviceRecorder(monkeypatch) as devices:  # the second run also records devices
        if resumable:
            monkeypatch.setattr(Run, "checkpoint", save_then_stop)
            with pytest.raises(_Stopped):
                run_lab(name, quick=True, quiet=True, out=second_dir)
            assert not (second_dir / "summary.json").exists()
            monkeypatch.setattr(Run, "checkpoint", save)
            capsys.readouterr()
            second, _ = resume_lab(second_dir, quiet=True)
            assert capsys.readouterr().err == ""  # no checkpoint unreadable, nothing restarted
        else:
            monkeypatch.setattr(Run, "checkpoint", save)
            second, _ = run_lab(name, quick=True, quiet=True, out=second_dir)
    assert second["metrics"] == first["metrics"]
    assert second["param_hash"] == first["param_hash"]
    log = metrics_without_clocks(second_dir / "metrics.jsonl")
    assert log == metrics_without_clocks(tmp_path / "first" / "metrics.jsonl")  # not doubled
    assert not devices.problems(), f"{name}: {'; '.join(devices.problems())}"


# ---- the device check can fail ---------------------------------------------------------------
def _fit(run: Run, move: bool) -> dict[str, float]:
    """A lab in the shape sine-basis had before it honoured run.device."""
    device = run.device if move else "cpu"
    model = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    model = model.to(device) if move else model
    x = torch.from_numpy(np.linspace(0, 1, 16, dtype=np.float32)).reshape(-1, 1)
    x = x.to(device) if move else x
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(3):
        loss = ((model(x) - torch.sin(x)) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    run.set_params(model)
    return {"loss": loss.item()}


@pytest.mark.parametrize("move", [False, True])
def test_the_device_check_fails_a_lab_that_ignores_run_device(tmp_path, monkeypatch, move):
    lab = Lab(
        name="fit",
        title="t",
        source="s",
        config=dataclasses.make_dataclass("Config", []),
        targets=[Target("loss", "<=", 10.0, "s")],
        summary="s",
        run=lambda config, run: _fit(run, move),
    )
    with DeviceRecorder(monkeypatch) as devices:
        run_lab(lab, quick=True, quiet=True, out=tmp_path)
    if move:
        assert devices.problems() == [] and devices.forwards == 6
    else:
        assert devices.problems() == [
            "Linear ran 6 forward pass(es) without being sent to run.device",
            "models ran, but no tensor was sent to or created on run.device",
        ]


# ---- labs never import labs; labs live in topic folders --------------------------------------
def _module_name(path: Path, root: Path = LABS_DIR) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE, *parts))


def _imports(path: Path, root: Path = LABS_DIR) -> Iterator[tuple[int, str]]:
    """(line, module) for every import in a file, wherever it stands; "?" for a dynamic one."""
    name = _module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from . import x, from ..vision import y
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"
        elif isinstance(node, ast.Call) and _is_dynamic_import(node.func):
            first = node.args[0] if node.args else None
            is_text = isinstance(first, ast.Constant) and isinstance(first.value, str)
            yield node.lineno, first.value if is_text else "?"


def _is_dynamic_import(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in ("__import__", "import_module")
    return isinstance(func, ast.Attribute) and func.attr in ("__import__", "import_module")


def _is_lab_module(module: str) -> bool:
    """practicum.labs.<topic>.<lab> or anything inside it."""
    return module.startswith(f"{PACKAGE}.") and module.count(".") >= 3


def _python_files() -> list[Path]:
    return sorted(LABS_DIR.rglob("*.py"))


def test_the_ast_reader_sees_every_kind_of_import(tmp_path):
    topic = tmp_path / "vision"
    topic.mkdir()
    source = topic / "probe.py"
    source.write_text(
        "import importlib\n"
        "from practicum.labs import TOPICS\n"
        "def f(name):\n"
        "    from ..generative import vae\n"
        "    from . import mnist_cnn\n"
        "    importlib.import_module('practicum.labs.rl.dqn')\n"
        "    __import__(name)\n"
    )
    found = list(_imports(source, root=tmp_path))
    lab_imports = [(line, m) for line, m in found if _is_lab_module(m)]
    assert lab_imports == [
        (4, "practicum.labs.generative.vae"),
        (5, "practicum.labs.vision.mnist_cnn"),
        (6, "practicum.labs.rl.dqn"),
    ]
    assert (7, "?") in found and (2, "practicum.labs.TOPICS") in found


def test_no_lab_imports_another_lab():
    offences = []
    for path in _python_files():
        own = _module_name(path)
        for line, module in _imports(path):
            if module == "?":
                offences.append(f"{path.relative_to(LABS_DIR)}:{line}: a dynamic import")
            elif _is_lab_module(module) and not module.startswith(own):
                offences.append(f"{path.relative_to(LABS_DIR)}:{line}: imports {module}")
    assert not offences, "labs never import labs; shared code goes into a library module:\n" + (
        "\n".join(offences)
    )


def test_every_module_under_labs_is_a_lab_in_a_topic_folder():
    labs = all_labs()
    files = {}  # lab file -> lab name
    for path in _python_files():
        relative = path.relative_to(LABS_DIR)
        if relative == Path("__init__.py"):
            continue
        assert len(relative.parts) == 2, f"{relative}: labs live in labs/<topic>/<lab>.py"
        topic = relative.parts[0]
        assert (LABS_DIR / topic / "__init__.py").is_file(), f"{topic}/ has no __init__.py"
        if relative.name == "__init__.py":
            continue
        lab = getattr(importlib.import_module(_module_name(path)), "LAB", None)
        assert isinstance(lab, Lab), f"{relative} defines no LAB: library code lives outside labs/"
        assert labs[lab.name].topic == topic
        files[relative] = lab.name
    assert sorted(files.values()) == sorted(labs)
