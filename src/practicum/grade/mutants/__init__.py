"""Planted-bug variants of the reference classes: one module per task, one bug per class.

Each variant is the reference with one mistake students make, named by the class's
docstring. They are the grader's own test fixtures (every one must fail the check named
here, and the reference must pass all) and the mutants a student's tests are scored
against. ``MUTANTS`` maps a task to its variants; each names the check (and so the
property) that must catch it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from practicum.grade.tasks import TASKS


@dataclass(frozen=True)
class Mutant:
    """One planted bug: where its class lives, what is wrong, which property catches it."""

    name: str
    target: str  # "practicum.grade.mutants.mlp:OutputActivationIgnored"
    bug: str
    property: str
    check: str = ""

    def load(self) -> type:
        """The mutant class (our own code: safe to import in the grader)."""
        module, _, name = self.target.partition(":")
        return getattr(importlib.import_module(module), name)


# task -> (class name, name of the check that must catch it)
_PLANTED: dict[str, list[tuple[str, str]]] = {
    "linear": [
        ("BiasWithoutBias", "parameter-count"),
        ("ReshapeInsteadOfTranspose", "rows-independent"),
        ("UnregisteredWeight", "parameter-count"),
        ("ReluInside", "affine"),
        ("DetachedBias", "gradients"),
    ],
    "basis-expansion": [
        ("UnregisteredWidth", "parameter-count"),
        ("MissingSquare", "gaussian"),
        ("SpanIgnored", "centres"),
        ("UnseededCentres", "deterministic"),
        ("BatchStandardised", "rows-independent"),
        ("DetachedCentres", "gradients"),
    ],
    "mlp": [
        ("OutputActivationIgnored", "activation-calls"),
        ("ExtraHiddenLayer", "parameter-count"),
        ("MissingHiddenLayer", "parameter-count"),
        ("LayersInPlainList", "parameter-count"),
        ("ReluHardWired", "affine"),
        ("HiddenActivationOnOutput", "activation-calls"),
    ],
    "conv2d": [
        ("StrideIgnored", "stride-padding"),
        ("PaddingIgnored", "stride-padding"),
        ("ChannelsLastReshape", "translation-equivariant"),
        ("Dilated", "local-window"),
        ("BiasWithoutBias", "parameter-count"),
    ],
    "classifier": [
        ("MissingStage", "parameter-count"),
        ("ExtraStage", "parameter-count"),
        ("BatchNormForGroupNorm", "rows-independent"),
        ("DropoutInEval", "dropout"),
    ],
    "group-norm": [
        ("NormalisesOverBatch", "rows-independent"),
        ("UnbiasedVariance", "group-statistics"),
        ("MissingEpsilon", "constant-input"),
        ("DividesByVariance", "affine-invariant"),
        ("InterleavedGroups", "group-statistics"),
        ("InstanceNormAlways", "limits"),
        ("UnregisteredAffine", "parameter-count"),
    ],
    "residual-block": [
        ("NoSkip", "identity-path"),
        ("ZeroInitIgnored", "identity-path"),
        ("SkipAfterActivation", "identity-path"),
        ("BranchNotAdded", "residual-branch"),
        ("MissingSecondNorm", "parameter-count"),
    ],
    "multi-head-attention": [
        ("SoftmaxOverQueries", "weights-sum-to-one"),
        ("CausalMaskHidesSelf", "causal"),
        ("CausalMaskShowsNext", "causal"),
        ("HeadsWithoutTranspose", "permutation-equivariant"),
        ("KeyPaddingIgnored", "key-padding"),
        ("PaddingMasksQueries", "key-padding"),
        ("KeyMapReused", "gradients"),
    ],
    "transformer-block": [
        ("CausalIgnored", "causal"),
        ("PaddingIgnored", "key-padding"),
        ("MissingSecondNorm", "parameter-count"),
        ("NormOverSequence", "causal"),
        ("HeadsMixedUp", "permutation-equivariant"),
    ],
}


def _mutants(task: str) -> list[Mutant]:
    module = f"{__name__}.{task.replace('-', '_')}"
    properties = {check.name: check.property for check in TASKS[task].checks}
    out = []
    for name, check in _PLANTED[task]:
        cls = getattr(importlib.import_module(module), name)
        bug = (cls.__doc__ or name).strip().splitlines()[0]
        out.append(Mutant(name, f"{module}:{name}", bug, properties[check], check))
    return out


MUTANTS: dict[str, list[Mutant]] = {task: _mutants(task) for task in TASKS}
