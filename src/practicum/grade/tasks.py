"""The gradable tasks: the assignments' modules, each with its interface and property checks.

The interface of every task is that of the class of the same name in :mod:`practicum.nn`
(its reference); the checks test properties the interface implies, never our numbers. Sizes
are small and fixed, so a task's checks run in a fraction of a second and give the same
verdict on every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from practicum.errors import PracticumError
from practicum.grade import checks as c
from practicum.grade.adapters import Adapter
from practicum.grade.checks import Check, Setup


class InterfaceError(PracticumError):
    """The target cannot be graded at all: not found, not a module class, or it cannot be
    constructed with the interface's arguments (a usage error: exit status 2)."""


@dataclass(frozen=True)
class Task:
    """One gradable module: its reference class, interface and checks."""

    name: str
    reference: str
    interface: str
    checks: list[Check]
    example: tuple[tuple, dict[str, Any]]

    def probe(self, adapter: Adapter) -> None:
        """Construct the class once with the interface's arguments, or raise InterfaceError."""
        args, kwargs = self.example
        what = c.call_repr(adapter.cls.__name__, args, kwargs)
        try:
            model = adapter.build(*args, **kwargs)
        except Exception as error:
            detail = c.one_line(f"{type(error).__name__}: {error}", 200)
            raise InterfaceError(
                f"{what} cannot be constructed with the {self.name} interface's arguments: {detail}"
            ) from None
        if not adapter.is_module(model):
            raise InterfaceError(f"{what} is a {type(model).__name__}, not a module")


ROWS = "rows of a batch do not influence each other"
GRADS = "every parameter receives a gradient"
COUNT = "the parameter count is the one the interface implies"
SEED = "construction under one seed is deterministic: the same parameters and outputs"
SHAPES = "the output has the shape the interface implies, for many sizes"


def _linear() -> Task:
    cases = [((5, 3), {}, (4, 5), (4, 3)), ((1, 1), {}, (7, 1), (7, 1))]
    cases += [((3, 8), {}, (2, 6, 3), (2, 6, 8)), ((4, 2), {"bias": False}, (1, 4), (1, 2))]
    shapes = [(Setup(args, kw, (x,)), y) for args, kw, x, y in cases]
    counts = [
        (Setup((i, o), {} if bias else {"bias": False}), i * o + (o if bias else 0), formula)
        for i, o, bias, formula in [
            (5, 3, True, "in*out weights + out biases"),
            (1, 7, True, "in*out weights + out biases"),
            (6, 4, False, "in*out weights, no bias"),
        ]
    ]
    main = Setup((6, 4), {}, ((5, 6),))
    return Task(
        "linear",
        "practicum.nn:Linear",
        "Linear(num_inputs, num_outputs, bias=True); forward(x) maps (..., num_inputs) to "
        "(..., num_outputs) as y = x W^T + b, with weight W (num_outputs, num_inputs) and bias b "
        "(num_outputs,) as parameters (no bias when bias=False).",
        [
            Check("shapes", SHAPES, c.output_shapes(shapes)),
            Check("affine", "the map is affine", c.affine(main)),
            Check(
                "linear-without-bias",
                "without bias the map is linear and maps 0 to 0",
                c.affine(Setup((6, 4), {"bias": False}, ((5, 6),)), linear=True),
            ),
            Check("parameter-count", COUNT, c.parameter_count(counts)),
            Check("gradients", GRADS, c.gradients_flow([main])),
            Check("rows-independent", ROWS, c.rows_independent(main, changed=3, watched=(0, 4))),
            Check("deterministic", SEED, c.deterministic(main)),
        ],
        ((3, 2), {}),
    )


def _basis_expansion() -> Task:
    span = (-2.0, 3.0)
    shapes = [
        (Setup((m,), {}, (x,), low=0.0, high=1.0), y)
        for m, x, y in [(5, (8, 1), (8, 5)), (1, (3, 1), (3, 1)), (7, (6,), (6, 7))]
    ]
    counts = [(Setup((m,)), 2 * m, "a centre and a width per basis function") for m in (1, 4, 9)]
    main = Setup((6,), {}, ((7, 1),), low=0.0, high=1.0)
    return Task(
        "basis-expansion",
        "practicum.nn:BasisExpansion",
        "BasisExpansion(num_basis, span=(0.0, 1.0)); forward(x) maps (N, 1) or (N,) to "
        "(N, num_basis), phi_j(x) = exp(-(x - mu_j)^2 / sigma_j^2), with learned centres mu "
        "(starting evenly spread from span[0] to span[1]) and learned widths sigma.",
        [
            Check("shapes", SHAPES, c.output_shapes(shapes)),
            Check(
                "gaussian",
                "each output is a Gaussian bump of the input, with values in (0, 1]",
                c.gaussian_bumps(5, (0.0, 1.0)),
            ),
            Check(
                "centres",
                "the centres start evenly spread over the span",
                c.centres_spread(6, span),
            ),
            Check("parameter-count", COUNT, c.parameter_count(counts)),
            Check("gradients", GRADS, c.gradients_flow([main])),
            Check("rows-independent", ROWS, c.rows_independent(main, changed=2, watched=(0, 6))),
            Check("deterministic", SEED, c.deterministic(main)),
        ],
        ((4,), {}),
    )


def _mlp_count(n_in: int, n_out: int, depth: int, width: int) -> int:
    widths = [n_in] + [width] * depth + [n_out]
    return sum(a * b + b for a, b in zip(widths[:-1], widths[1:], strict=False))


def _mlp() -> Task:
    sizes = [(3, 2, 0, 5), (1, 1, 1, 1), (4, 3, 3, 6), (2, 5, 2, 3)]
    shapes = [(Setup(s, {}, ((5, s[0]),)), (5, s[1])) for s in sizes]
    shapes.append((Setup((4, 3, 2, 6), {}, ((2, 3, 4),)), (2, 3, 3)))
    counts = [
        (
            Setup(s),
            _mlp_count(*s),
            "weights and biases of every layer, widths in, width x depth, out",
        )
        for s in sizes
    ]
    tanh = {"hidden_activation": "tanh"}
    main = Setup((3, 2, 2, 5), {}, ((6, 3),))
    return Task(
        "mlp",
        "practicum.nn:MLP",
        "MLP(num_inputs, num_outputs, num_hidden_layers, hidden_layer_width, "
        "hidden_activation=identity, output_activation=identity); forward(x) maps "
        "(..., num_inputs) to (..., num_outputs): num_hidden_layers + 1 affine layers (weights "
        "and biases), hidden_activation after each hidden layer, output_activation at the end.",
        [
            Check("shapes", SHAPES, c.output_shapes(shapes)),
            Check(
                "affine",
                "with identity activations the network is affine",
                c.affine(Setup((4, 3, 2, 5), {}, ((6, 4),))),
            ),
            Check("parameter-count", COUNT, c.parameter_count(counts)),
            Check(
                "activation-calls",
                "each activation is called the number of times the interface implies",
                c.activation_calls([(3, 2, 0, 4), (2, 3, 1, 5), (4, 1, 3, 3)]),
            ),
            Check("gradients", GRADS, _with_activations(c.gradients_flow, main, tanh)),
            Check("rows-independent", ROWS, c.rows_independent(main, changed=3, watched=(0, 5))),
            Check("deterministic", SEED, c.deterministic(main)),
        ],
        ((3, 2, 1, 4), {}),
    )


def _with_activations(factory: Any, setup: Setup, names: dict[str, str]) -> c.CheckFn:
    """A check on ``setup`` built with the adapter's activations named in ``names``."""

    def check(a: Adapter, rng: Any) -> None:
        kwargs = {**setup.kwargs, **{k: a.activation(v) for k, v in names.items()}}
        real = Setup(setup.args, kwargs, setup.inputs, setup.forward)
        factory([real])(a, rng)

    return check


def _out_size(size: int, k: int, stride: int, padding: int | str) -> int:
    pad = k // 2 if padding == "same" else 0 if padding == "valid" else int(padding)
    return (size + 2 * pad - k) // stride + 1


def _conv2d() -> Task:
    cases = [
        (3, 4, 3, 1, "same", 8, 8),
        (2, 5, 3, 2, "same", 9, 7),
        (1, 2, 5, 1, "valid", 10, 9),
        (2, 3, 3, 3, 0, 11, 10),
        (3, 2, 1, 2, 1, 5, 6),
        (2, 2, 5, 2, 2, 12, 12),
    ]
    shapes = [
        (
            Setup((i, o, k), {"stride": s, "padding": p}, ((2, i, h, w),)),
            (2, o, _out_size(h, k, s, p), _out_size(w, k, s, p)),
        )
        for i, o, k, s, p, h, w in cases
    ]
    counts = [
        (Setup((i, o, k), kw), i * o * k * k + (o if kw.get("bias", True) else 0), formula)
        for i, o, k, kw, formula in [
            (3, 4, 3, {}, "out*in*k*k weights + out biases"),
            (1, 6, 5, {}, "out*in*k*k weights + out biases"),
            (4, 2, 1, {"bias": False}, "out*in*k*k weights, no bias"),
        ]
    ]
    main = Setup((2, 3, 3), {}, ((3, 2, 7, 7),))
    return Task(
        "conv2d",
        "practicum.nn:Conv2d",
        "Conv2d(in_channels, out_channels, kernel_size, stride=1, padding='same', bias=True); "
        "padding is 'same' (k // 2 on each side, odd k), 'valid' (0) or an int; forward(x) maps "
        "(N, in, H, W) to (N, out, (H + 2p - k) // stride + 1, ...) by cross-correlation with a "
        "weight (out, in, k, k) and a bias (out,) as parameters.",
        [
            Check(
                "stride-padding",
                "the output size follows the stride and padding arithmetic",
                c.output_shapes(shapes),
            ),
            Check(
                "linear-without-bias",
                "without bias the convolution is linear",
                c.affine(Setup((2, 3, 3), {"bias": False}, ((2, 2, 6, 6),)), linear=True),
            ),
            Check("affine", "the convolution is affine", c.affine(main)),
            Check(
                "translation-equivariant",
                "the convolution is translation equivariant away from the border",
                _all(c.translation_equivariant(1, (2, 1)), c.translation_equivariant(2, (2, 4))),
            ),
            Check(
                "local-window",
                "each output pixel sees only its kernel-sized window of the input",
                c.local_window([(3, 1, 1), (5, 2, 2), (3, 2, 0)]),
            ),
            Check("parameter-count", COUNT, c.parameter_count(counts)),
            Check("gradients", GRADS, c.gradients_flow([main])),
            Check("rows-independent", ROWS, c.rows_independent(main, changed=2)),
            Check("deterministic", SEED, c.deterministic(main)),
        ],
        ((2, 3, 3), {}),
    )


def _all(*fns: c.CheckFn) -> c.CheckFn:
    def check(a: Adapter, rng: Any) -> None:
        for fn in fns:
            fn(a, rng)

    return check


def _group_norm() -> Task:
    shapes = [
        (Setup((g, ch), {}, (shape,)), shape)
        for g, ch, shape in [(2, 4, (3, 4, 5, 5)), (1, 3, (1, 3, 2, 7)), (6, 6, (2, 6, 3, 3))]
    ]
    counts = [
        (Setup((g, ch), kw), 0 if kw else 2 * ch, formula)
        for g, ch, kw, formula in [
            (2, 4, {}, "a scale and a shift per channel"),
            (3, 12, {}, "a scale and a shift per channel"),
            (2, 4, {"affine": False}, "none without affine"),
        ]
    ]
    main = Setup((2, 6), {}, ((4, 6, 3, 3),))
    return Task(
        "group-norm",
        "practicum.nn:GroupNorm",
        "GroupNorm(num_groups, num_channels, eps=1e-5, affine=True); forward(x) maps (N, C, H, W) "
        "to the same shape: each sample's channels split into num_groups consecutive groups, each "
        "normalised to mean 0 and biased variance 1 over (channels, H, W) with eps added to the "
        "variance, then scaled and shifted per channel (parameters starting at 1 and 0).",
        [
            Check("shapes", SHAPES, c.output_shapes(shapes)),
            Check(
                "group-statistics",
                "each group of each sample has zero mean and unit (biased) variance",
                c.group_statistics([(3, (3, 6, 2, 2)), (2, (2, 4, 1, 3)), (4, (2, 8, 3, 3))]),
            ),
            Check(
                "affine-invariant",
                "the output is invariant to a per-sample, per-group affine change of the input",
                c.group_affine_invariant(3, (2, 6, 3, 3)),
            ),
            Check(
                "constant-input",
                "a constant input gives a finite output",
                c.constant_input_finite(2, (2, 4, 3, 3)),
            ),
            Check(
                "limits",
                "one group is layer norm over C, H, W and C groups is instance norm",
                c.group_limits((2, 4, 3, 3)),
            ),
            Check("parameter-count", COUNT, c.parameter_count(counts)),
            Check("gradients", GRADS, c.gradients_flow([main])),
            Check("rows-independent", ROWS, c.rows_independent(main, changed=1, watched=(0, 3))),
            Check("deterministic", SEED, c.deterministic(main)),
        ],
        ((2, 4), {}),
    )


def _residual_count(cin: int, cout: int | None = None, k: int = 3, stride: int = 1) -> int:
    cout = cout or cin
    shortcut = cin * cout if stride != 1 or cin != cout else 0
    return 2 * cin + cin * cout * k * k + 2 * cout + cout * cout * k * k + shortcut


def _residual_block() -> Task:
    cases = [((8,), {}, 6, 6), ((4, 8), {}, 5, 5), ((4, 8), {"stride": 2}, 7, 8)]
    cases += [((8, 4), {"kernel_size": 5, "stride": 2}, 9, 6)]
    shapes = [
        (
            Setup(args, kw, ((2, args[0], h, w),)),
            (2, args[-1], -(-h // kw.get("stride", 1)), -(-w // kw.get("stride", 1))),
        )
        for args, kw, h, w in cases
    ]
    formula = "two GroupNorms (scale, shift), two k x k convolutions without bias, 1x1 shortcut"
    counts = [
        (Setup((8,)), _residual_count(8), formula),
        (Setup((4, 8), {"stride": 2}), _residual_count(4, 8, stride=2), formula),
        (Setup((8, 4), {"kernel_size": 5}), _residual_count(8, 4, k=5), formula),
    ]
    grads = [
        Setup((4,), {"zero_init": False}, ((2, 4, 5, 5),)),
        Setup((4, 8), {"stride": 2, "zero_init": False}, ((2, 4, 6, 6),)),
    ]
    main = Setup((4,), {"zero_init": False}, ((4, 4, 5, 5),))
    return Task(
        "residual-block",
        "practicum.nn:ResidualBlock",
        "ResidualBlock(in_channels, out_channels=None, kernel_size=3, stride=1, num_groups=8, "
        "zero_init=True); forward(x) = skip + conv2(relu(norm2(conv1(relu(norm1(x)))))) maps "
        "(N, in, H, W) to (N, out, ceil(H / stride), ceil(W / stride)); norms are GroupNorm with "
        "min(num_groups, C) groups, the k x k convolutions ('same' padding, stride on conv1) "
        "have no bias; skip is x, or a 1x1 convolution (no bias) of relu(norm1(x)) when the width "
        "or stride changes; zero_init=True starts conv2 at zero.",
        [
            Check("shapes", SHAPES, c.output_shapes(shapes)),
            Check(
                "identity-path",
                "the shortcut is an identity path: with zero_init the block starts as the identity",
                c.identity_at_init(8, (2, 8, 5, 5)),
            ),
            Check(
                "residual-branch",
                "the residual branch is added to the shortcut",
                c.branch_contributes(4, (2, 4, 5, 5)),
            ),
            Check("parameter-count", COUNT, c.parameter_count(counts)),
            Check("gradients", GRADS, c.gradients_flow(grads)),
            Check("rows-independent", ROWS, c.rows_independent(main, changed=2, watched=(0, 3))),
            Check("deterministic", SEED, c.deterministic(main)),
        ],
        ((4,), {}),
    )


def _classifier_count(cin: int, depths: list[int], kernels: list[int], classes: int) -> int:
    chans = [cin, *depths]
    convs = sum(a * b * k * k + b for a, b, k in zip(chans[:-1], chans[1:], kernels, strict=True))
    return convs + chans[-1] * classes + classes


def _classifier() -> Task:
    shapes = [
        (Setup((3, [4, 8], [3, 3], 5), {}, ((2, 3, 16, 16),)), (2, 5)),
        (Setup((1, [6], [5], 10), {}, ((3, 1, 12, 20),)), (3, 10)),
        (
            Setup((3, [4, 4], [3, 3], 2), {"norm": "group", "num_groups": 2}, ((1, 3, 8, 8),)),
            (1, 2),
        ),
    ]
    formula = "each convolution's weights and biases, then the linear head's"
    counts = [
        (Setup(args), _classifier_count(*args), formula)
        for args in [(3, [4, 8], [3, 3], 5), (1, [6], [5], 10), (2, [3, 5, 7], [3, 1, 3], 4)]
    ]
    grouped = Setup((3, [4, 8], [3, 3], 5), {"norm": "group", "num_groups": 2}, ((3, 3, 8, 8),))
    with_block = Setup(
        (3, [4, 8], [3, 3], 5),
        {"norm": "group", "num_groups": 2, "residual_blocks": 1},
        ((3, 3, 8, 8),),
    )
    main = Setup((3, [4, 8], [3, 3], 5), {}, ((3, 3, 8, 8),))
    return Task(
        "classifier",
        "practicum.nn:Classifier",
        "Classifier(input_depth, layer_depths, layer_kernel_sizes, num_classes, *, pool=None, "
        "norm='none', num_groups=8, residual_blocks=0, head_pool=1, dropout=0.0); forward(x) maps "
        "(N, input_depth, H, W) to logits (N, num_classes): per stage a 'same' convolution (with "
        "bias when norm='none'), optional norm, ReLU, residual blocks and a 2x2 max-pool; then "
        "global average pooling, dropout and a linear head.",
        [
            Check("shapes", SHAPES, c.output_shapes(shapes)),
            Check("parameter-count", COUNT, c.parameter_count(counts)),
            Check("gradients", GRADS, c.gradients_flow([main, grouped])),
            Check("rows-independent", ROWS, c.rows_independent(with_block, changed=1)),
            Check(
                "dropout",
                "dropout acts in training mode only",
                c.dropout_only_in_training(
                    Setup((3, [4], [3], 5), {"dropout": 0.5}, ((2, 3, 8, 8),))
                ),
            ),
            Check("deterministic", SEED, c.deterministic(with_block)),
        ],
        ((3, [4], [3], 5), {}),
    )


def _attention_count(e: int, bias: bool = True) -> int:
    return 4 * (e * e + (e if bias else 0))


def _multi_head_attention() -> Task:
    e, h = 8, 2
    shapes = [
        (Setup((8, 2), {}, ((2, 5, 8),)), 0, (2, 5, 8)),
        (Setup((12, 3), {}, ((1, 3, 12), (1, 7, 12), (1, 7, 12))), 0, (1, 3, 12)),
        (Setup((4, 4), {}, ((3, 2, 4),), {"need_weights": True}), 1, (3, 4, 2, 2)),
        (Setup((6, 1), {}, ((2, 4, 6),), {"causal": True}), 0, (2, 4, 6)),
    ]
    shapes = [
        (Setup(s.args, s.kwargs, s.inputs, s.forward, output_index=i), y) for s, i, y in shapes
    ]
    counts = [
        (Setup((8, 2)), _attention_count(8), "query, key, value and output maps: weights, biases"),
        (
            Setup((12, 4)),
            _attention_count(12),
            "query, key, value and output maps: weights, biases",
        ),
        (Setup((6, 3), {"bias": False}), _attention_count(6, False), "four weight matrices"),
    ]
    main = Setup((e, h), {}, ((3, 4, e),), output_index=0)
    return Task(
        "multi-head-attention",
        "practicum.nn:MultiHeadAttention",
        "MultiHeadAttention(embed_dim, num_heads, dropout=0.0, bias=True); forward(query, "
        "key=None, value=None, *, causal=False, key_padding_mask=None, need_weights=False) -> "
        "(output (B, Tq, E), weights (B, heads, Tq, Tk) or None): separate query, key, value and "
        "output linear maps; key_padding_mask (B, Tk) is True at padding; causal lets query t "
        "see keys <= t.",
        [
            Check("shapes", SHAPES, c.output_shapes(shapes)),
            Check(
                "weights-sum-to-one",
                "the attention weights are nonnegative and sum to one over the keys",
                c.weights_sum_to_one(e, h),
            ),
            Check(
                "permutation-equivariant",
                "without positions attention is permutation equivariant",
                c.permutation_equivariant(e, h, block=False),
            ),
            Check(
                "causal",
                "with the causal mask no position sees a later one, and each sees itself",
                c.causal(e, h, block=False),
            ),
            Check(
                "key-padding",
                "changing a padded key changes nothing",
                c.key_padding(e, h, block=False),
            ),
            Check("parameter-count", COUNT, c.parameter_count(counts)),
            Check("gradients", GRADS, c.gradients_flow([main])),
            Check("rows-independent", ROWS, c.rows_independent(main, changed=1, watched=(0, 2))),
            Check("deterministic", SEED, c.deterministic(main)),
        ],
        ((8, 2), {}),
    )


def _block_count(e: int, ratio: int = 4) -> int:
    hidden = ratio * e
    return 4 * e + _attention_count(e) + e * hidden + hidden + hidden * e + e


def _transformer_block() -> Task:
    e, h = 8, 2
    shapes = [
        (Setup((8, 2), {}, ((2, 5, 8),)), (2, 5, 8)),
        (Setup((12, 3), {"mlp_ratio": 2}, ((1, 7, 12),)), (1, 7, 12)),
        (Setup((4, 1), {}, ((3, 2, 4),), {"causal": True}), (3, 2, 4)),
    ]
    formula = "two layer norms, four attention maps, two MLP layers, weights and biases"
    counts = [
        (Setup((8, 2)), _block_count(8), formula),
        (Setup((12, 3), {"mlp_ratio": 2}), _block_count(12, 2), formula),
    ]
    main = Setup((e, h), {}, ((3, 4, e),))
    return Task(
        "transformer-block",
        "practicum.nn:TransformerBlock",
        "TransformerBlock(embed_dim, num_heads, mlp_ratio=4, dropout=0.0); forward(x, *, "
        "causal=False, key_padding_mask=None) maps (B, T, E) to (B, T, E) as the pre-layer-norm "
        "block x + attention(LayerNorm(x)), then x + MLP(LayerNorm(x)) with the MLP "
        "Linear(E, mlp_ratio E) -> GELU -> Linear(mlp_ratio E, E).",
        [
            Check("shapes", SHAPES, c.output_shapes(shapes)),
            Check(
                "permutation-equivariant",
                "without positions the block is permutation equivariant",
                c.permutation_equivariant(e, h, block=True),
            ),
            Check(
                "causal",
                "with the causal mask no position sees a later one, and each sees itself",
                c.causal(e, h, block=True),
            ),
            Check(
                "key-padding",
                "changing a padded position changes no unpadded output",
                c.key_padding(e, h, block=True),
            ),
            Check("parameter-count", COUNT, c.parameter_count(counts)),
            Check("gradients", GRADS, c.gradients_flow([main])),
            Check("rows-independent", ROWS, c.rows_independent(main, changed=1, watched=(0, 2))),
            Check("deterministic", SEED, c.deterministic(main)),
        ],
        ((8, 2), {}),
    )


TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        _linear(),
        _basis_expansion(),
        _mlp(),
        _conv2d(),
        _classifier(),
        _group_norm(),
        _residual_block(),
        _multi_head_attention(),
        _transformer_block(),
    )
}
