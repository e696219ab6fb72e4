"""A differentiable-graph engine in NumPy: reverse mode, forward mode, and enough to train.

    >>> from practicum import autodiff as ad
    >>> x = ad.Tensor([1.0, 2.0], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad.data
    array([2., 4.])

Modules: ``tensor`` (the Tensor, the graph, backward), ``ops`` (every operation with its vjp
and jvp rules), ``functional`` (grad, jvp, vjp, hvp), ``gradcheck``, ``dot`` (Graphviz text),
``nn`` (Module, Linear, MLP, Conv2d) and ``optim`` (SGD, AdaGrad, RMSProp, Adam, AdamW). See docs/autodiff.md.
"""

from practicum.autodiff.dot import to_dot
from practicum.autodiff.functional import grad, hvp, jvp, value_and_grad, vjp
from practicum.autodiff.gradcheck import GradcheckError, GradcheckReport, gradcheck
from practicum.autodiff.ops import (
    add,
    broadcast_to,
    concatenate,
    conv2d,
    cross_entropy,
    div,
    exp,
    fold,
    getitem,
    log,
    log_softmax,
    logsumexp,
    matmul,
    max,
    max_pool2d,
    mean,
    mul,
    neg,
    power,
    relu,
    reshape,
    sigmoid,
    softmax,
    stack,
    sub,
    sum,
    sum_to,
    tanh,
    transpose,
    unfold,
)
from practicum.autodiff.tensor import (
    ShapeError,
    Tensor,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
    topological_order,
)

__all__ = [
    "GradcheckError",
    "GradcheckReport",
    "ShapeError",
    "Tensor",
    "add",
    "broadcast_to",
    "concatenate",
    "conv2d",
    "cross_entropy",
    "div",
    "exp",
    "fold",
    "getitem",
    "grad",
    "gradcheck",
    "hvp",
    "is_grad_enabled",
    "jvp",
    "log",
    "log_softmax",
    "logsumexp",
    "matmul",
    "max",
    "max_pool2d",
    "mean",
    "mul",
    "neg",
    "no_grad",
    "power",
    "relu",
    "reshape",
    "set_grad_enabled",
    "sigmoid",
    "softmax",
    "stack",
    "sub",
    "sum",
    "sum_to",
    "tanh",
    "to_dot",
    "topological_order",
    "transpose",
    "unfold",
    "value_and_grad",
    "vjp",
]
