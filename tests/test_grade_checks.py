"""The autograder's property checks, in process: every reference class passes its task, every
planted bug fails the check named for it, other correct implementations pass too, and the
checks themselves behave on tricky cases (exceptions, bad targets, determinism)."""

from __future__ import annotations

import math
import textwrap

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from practicum.grade import tasks as task_module
from practicum.grade.checks import CheckResult
from practicum.grade.conformance import load_target, run_task
from practicum.grade.mutants import MUTANTS
from practicum.grade.tasks import TASKS, InterfaceError
from practicum.nn import MLP, BasisExpansion, Classifier, ResidualBlock, TransformerBlock

ALL_MUTANTS = [(task, m) for task, ms in MUTANTS.items() for m in ms]


def failures(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.name: r for r in results if not r.passed}


@pytest.mark.parametrize("task", list(TASKS))
def test_every_reference_passes_its_task(task):
    results = run_task(task, load_target(TASKS[task].reference))
    assert [r.name for r in results] == [c.name for c in TASKS[task].checks]
    assert failures(results) == {}
    assert all(r.message == "ok" for r in results)


@pytest.mark.parametrize(("task", "mutant"), ALL_MUTANTS, ids=[m.target for _, m in ALL_MUTANTS])
def test_every_mutant_fails_the_check_named_for_it(task, mutant):
    failed = failures(run_task(task, mutant.load()))
    assert mutant.check in failed, f"{mutant.target} passed {mutant.check}"
    result = failed[mutant.check]
    assert result.property == mutant.property
    assert result.message and "\n" not in result.message and len(result.message) <= 300


def test_the_planted_bugs_cover_every_task_and_the_issues_list():
    assert len(ALL_MUTANTS) >= 25
    assert set(MUTANTS) == set(TASKS)
    assert all(len(ms) >= 3 for ms in MUTANTS.values())
    for task, ms in MUTANTS.items():
        properties = {c.name: c.property for c in TASKS[task].checks}
        assert len(set(properties.values())) == len(properties)  # a property names one check
        assert len({m.name for m in ms}) == len(ms)
        for m in ms:
            assert m.target.startswith(f"practicum.grade.mutants.{task.replace('-', '_')}:")
            assert m.bug and "\n" not in m.bug and m.bug == m.load().__doc__.strip()
            assert properties[m.check] == m.property
    # The bugs issue 25 lists by name, each planted at least once.
    named = {m.target.split(":")[1] for _, m in ALL_MUTANTS}
    listed = {
        "SoftmaxOverQueries",  # wrong softmax axis
        "CausalMaskHidesSelf",  # causal mask off by one (both ways)
        "CausalMaskShowsNext",
        "HeadsWithoutTranspose",  # heads reshaped without transposing
        "KeyPaddingIgnored",  # padding ignored
        "NormalisesOverBatch",  # normalising over the batch
        "UnbiasedVariance",
        "MissingEpsilon",
        "ExtraHiddenLayer",  # an extra or missing layer
        "MissingHiddenLayer",
        "OutputActivationIgnored",
        "BiasWithoutBias",  # bias added when bias=False
        "StrideIgnored",
        "LayersInPlainList",  # parameters that are not registered
        "UnregisteredWeight",
    }
    assert listed <= named


def test_results_are_deterministic_and_leave_the_callers_random_state_alone():
    torch.manual_seed(123)
    state = torch.get_rng_state()
    first = [r.to_json() for r in run_task("group-norm", load_target("practicum.nn:GroupNorm"))]
    assert torch.equal(torch.get_rng_state(), state)
    again = [r.to_json() for r in run_task("group-norm", load_target("practicum.nn:GroupNorm"))]
    assert first == again
    assert set(first[0]) == {"name", "property", "passed", "message"}
    # A bug that shows on some seeds only still gets the same verdict on every run.
    mutant = next(m for m in MUTANTS["basis-expansion"] if m.name == "UnseededCentres")
    verdicts = [[r.passed for r in run_task("basis-expansion", mutant.load())] for _ in range(2)]
    assert verdicts[0] == verdicts[1]


def test_callbacks_bracket_every_check_in_order():
    events = []
    results = run_task(
        "linear",
        load_target("practicum.nn:Linear"),
        on_start=lambda name: events.append(("start", name)),
        on_result=lambda r: events.append(("result", r.name)),
    )
    names = [r.name for r in results]
    assert events == [(kind, n) for n in names for kind in ("start", "result")]


class NotAModule:
    def __init__(self, *args):
        pass


class WrongSignature(nn.Module):
    def __init__(self, sizes: list[int]):  # MLP(sizes) instead of the interface's arguments
        super().__init__()


def test_targets_that_cannot_be_graded_are_interface_errors():
    with pytest.raises(InterfaceError, match="not a torch.nn.Module class"):
        run_task("mlp", NotAModule)
    with pytest.raises(InterfaceError, match=r"WrongSignature\(3, 2, 1, 4\) cannot be constructed"):
        run_task("mlp", WrongSignature)
    with pytest.raises(InterfaceError, match="unknown task 'lstm'"):
        run_task("lstm", MLP)

    class ReturnsNothing(nn.Module):
        def __new__(cls, *args):  # "construction" gives something that is not a module
            return 3

    with pytest.raises(InterfaceError, match="not a module"):
        run_task("linear", ReturnsNothing)


class Exploding(nn.Module):
    def __init__(self, num_inputs, num_outputs, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(num_outputs, num_inputs))
        self.bias = nn.Parameter(torch.zeros(num_outputs)) if bias else None

    def forward(self, x):
        raise RuntimeError("boom\non two lines")


class Quits(Exploding):
    def forward(self, x):
        raise SystemExit(3)


class Constant(Exploding):
    """Ignores its input: affine (trivially), but rows cannot be told apart."""

    def forward(self, x):
        return self.weight.sum() * 0 + torch.zeros(*x.shape[:-1], self.weight.shape[0])


def test_an_exception_is_a_failed_check_whose_one_line_names_the_property():
    for cls in (Exploding, Quits):
        results = {r.name: r for r in run_task("linear", cls)}
        assert results.pop("parameter-count").passed  # the one check that never calls forward
        for r in results.values():
            assert not r.passed and "\n" not in r.message
            assert r.message.startswith(f"expected that {r.property}, but the check raised")
    assert "RuntimeError: boom on two lines" in run_task("linear", Exploding)[0].message
    rows = {r.name: r for r in run_task("linear", Constant)}["rows-independent"]
    assert not rows.passed and "to change with its input" in rows.message


def test_load_target_reads_files_and_modules_and_says_what_is_missing(tmp_path):
    (tmp_path / "helpers.py").write_text("WIDTH = 7\n")
    (tmp_path / "student_mlp.py").write_text(
        textwrap.dedent(
            """
            from helpers import WIDTH  # a sibling module, as students write it
            from practicum.nn import MLP

            class MyMLP(MLP):
                width = WIDTH

            not_a_class = 3
            """
        )
    )
    (tmp_path / "broken.py").write_text("raise ValueError('at import')\n")
    cls = load_target(f"{tmp_path / 'student_mlp.py'}:MyMLP")
    assert cls.width == 7 and issubclass(cls, MLP)
    assert load_target("practicum.nn:ResidualBlock") is ResidualBlock
    bad = {
        f"{tmp_path}/missing.py:X": "no such file",
        f"{tmp_path / 'student_mlp.py'}:Other": "has no class 'Other'",
        f"{tmp_path / 'student_mlp.py'}:not_a_class": "is a int, not a class",
        f"{tmp_path / 'broken.py'}:X": "raised ValueError: at import",
        "practicum.nope:MLP": "cannot import 'practicum.nope'",
        "no-colon": "must be path/to/file.py:ClassName",
    }
    for spec, message in bad.items():
        with pytest.raises(InterfaceError, match=message):
            load_target(spec)


# --- other correct implementations pass: the checks test properties, not our numbers -----


class TransposedLinear(nn.Module):
    """Stores W as (in, out), initialises it uniformly and writes x @ W."""

    def __init__(self, num_inputs, num_outputs, bias=True):
        super().__init__()
        bound = 1 / math.sqrt(num_inputs)
        self.w = nn.Parameter(torch.empty(num_inputs, num_outputs).uniform_(-bound, bound))
        self.b = nn.Parameter(torch.full((num_outputs,), 0.1)) if bias else None

    def forward(self, x):
        y = torch.einsum("...i,io->...o", x, self.w)
        return y if self.b is None else y + self.b


class SequentialMLP(nn.Module):
    """torch's own nn.Linear layers in a Sequential."""

    def __init__(self, num_inputs, num_outputs, num_hidden_layers, hidden_layer_width, **acts):
        super().__init__()
        widths = [num_inputs] + [hidden_layer_width] * num_hidden_layers + [num_outputs]
        self.net = nn.Sequential(
            *(nn.Linear(a, b) for a, b in zip(widths, widths[1:], strict=False))
        )
        self.hidden = acts.get("hidden_activation", lambda x: x)
        self.output = acts.get("output_activation", lambda x: x)

    def forward(self, x):
        *hidden, last = self.net
        for layer in hidden:
            x = self.hidden(layer(x))
        return self.output(last(x))


class StdPlusEpsGroupNorm(nn.Module):
    """Divides by std + eps (not sqrt(var + eps)) and stores the affine parameters as a pair."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True):
        super().__init__()
        self.g, self.eps = num_groups, eps
        self.affine = (
            nn.Parameter(torch.stack([torch.ones(num_channels), torch.zeros(num_channels)]))
            if affine
            else None
        )

    def forward(self, x):
        n = x.shape[0]
        groups = x.reshape(n, self.g, -1)
        centred = groups - groups.mean(-1, keepdim=True)
        y = (centred / (centred.pow(2).mean(-1, keepdim=True).sqrt() + self.eps)).reshape(x.shape)
        if self.affine is None:
            return y
        scale, shift = (p.view(1, -1, *([1] * (x.ndim - 2))) for p in self.affine)
        return y * scale + shift


class TwoSigmaBasis(nn.Module):
    """exp(-(x - mu)^2 / (2 s^2)) with s stored directly."""

    def __init__(self, num_basis, span=(0.0, 1.0)):
        super().__init__()
        self.centres = nn.Parameter(torch.linspace(*span, num_basis))
        self.s = nn.Parameter(torch.full((num_basis,), (span[1] - span[0]) / 3))

    def forward(self, x):
        x = x.reshape(-1, 1) if x.ndim == 1 else x
        return torch.exp(-((x - self.centres) ** 2) / (2 * self.s**2))


class TorchAttention(nn.Module):
    """The interface wrapped around torch's nn.MultiheadAttention."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True):
        super().__init__()
        self.mha = nn.MultiheadAttention(embed_dim, num_heads, dropout, bias, batch_first=True)

    def forward(
        self,
        query,
        key=None,
        value=None,
        *,
        causal=False,
        key_padding_mask=None,
        need_weights=False,
    ):
        key = query if key is None else key
        value = key if value is None else value
        mask = None
        if causal:
            mask = torch.ones(query.shape[1], key.shape[1], dtype=torch.bool).triu(1)
        return self.mha(
            query,
            key,
            value,
            key_padding_mask=key_padding_mask,
            attn_mask=mask,
            need_weights=need_weights,
            average_attn_weights=False,
        )


@pytest.mark.parametrize(
    ("task", "cls"),
    [
        ("linear", TransposedLinear),
        ("mlp", SequentialMLP),
        ("group-norm", StdPlusEpsGroupNorm),
        ("basis-expansion", TwoSigmaBasis),
        ("multi-head-attention", TorchAttention),
    ],
)
def test_other_correct_implementations_pass(task, cls):
    assert failures(run_task(task, cls)) == {}


# --- the arithmetic the checks expect, against PyTorch and the reference ------------------


@settings(max_examples=30, deadline=None)
@given(
    st.integers(1, 5),
    st.integers(1, 3),
    st.sampled_from(["same", "valid", 0, 1, 2]),
    st.integers(5, 12),
)
def test_expected_conv_sizes_match_torch(k, stride, padding, size):
    k = 2 * k - 1  # 'same' needs an odd kernel
    pad = k // 2 if padding == "same" else 0 if padding == "valid" else padding
    if size + 2 * pad < k:
        return
    seen = F.conv2d(
        torch.zeros(1, 1, size, size), torch.zeros(1, 1, k, k), stride=stride, padding=pad
    )
    assert seen.shape[-1] == task_module._out_size(size, k, stride, padding)


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@settings(max_examples=15, deadline=None)
@given(
    st.integers(1, 6),
    st.integers(1, 6),
    st.integers(0, 3),
    st.integers(1, 6),
    st.integers(1, 6),
    st.sampled_from([4, 8, 16]),  # ResidualBlock's min(8, C) groups must divide C
    st.sampled_from([4, 8, 16]),
)
def test_expected_parameter_counts_match_the_reference(n_in, n_out, depth, width, basis, cin, cout):
    assert count(MLP(n_in, n_out, depth, width)) == task_module._mlp_count(
        n_in, n_out, depth, width
    )
    assert count(BasisExpansion(basis)) == 2 * basis
    for stride in (1, 2):
        block = ResidualBlock(cin, cout, kernel_size=2 * depth + 1, stride=stride)
        assert count(block) == task_module._residual_count(cin, cout, 2 * depth + 1, stride)
    depths, kernels = [width, n_out + 1], [1, 2 * depth + 1]
    classifier = Classifier(n_in, depths, kernels, basis + 1)
    assert count(classifier) == task_module._classifier_count(n_in, depths, kernels, basis + 1)
    block = TransformerBlock(4 * width, 2, mlp_ratio=depth + 1)
    assert count(block) == task_module._block_count(4 * width, depth + 1)


def test_skipped_checks_are_not_run_and_the_rest_run_in_order():
    """What a restarted grading process uses: the checks a dead one already reported are
    skipped, the others run as before (same results, same order)."""
    from practicum.grade.conformance import run_task
    from practicum.grade.tasks import TASKS
    from practicum.nn import Linear

    every = run_task("linear", Linear)
    skip = {TASKS["linear"].checks[0].name, TASKS["linear"].checks[2].name}
    started: list[str] = []
    rest = run_task("linear", Linear, skip=skip, on_start=started.append)
    assert [r.name for r in rest] == started == [r.name for r in every if r.name not in skip]
    assert [r.to_json() for r in rest] == [r.to_json() for r in every if r.name not in skip]
