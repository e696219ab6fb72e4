"""The recorded graph as Graphviz text: nodes are operations, edges are operands.

Render it with ``dot -Tpng graph.dot -o graph.png`` (Graphviz is not a dependency).
"""

from __future__ import annotations

from practicum.autodiff.tensor import Tensor


def _shape(t: Tensor) -> str:
    return "×".join(str(n) for n in t.shape) or "scalar"


def to_dot(root: Tensor, title: str | None = None) -> str:
    """Graphviz ``digraph`` of everything ``root`` was computed from.

    Leaves (inputs, parameters) are boxes, grey if they require grad; operations are
    ellipses labelled with the operation and the shape of its result. Edges point from an
    operand to the operation that used it, so the graph reads in the direction of the
    forward pass. A value computed without recording (no operand required grad, or under
    ``no_grad``) is drawn as a leaf: its history was never recorded.
    """
    ids: dict[int, str] = {}
    lines = [
        "digraph autodiff {",
        '  rankdir=LR; fontname="Helvetica";',
        '  node [fontname="Helvetica", fontsize=11];',
    ]
    if title:
        lines.append(f'  labelloc="t"; label="{title}";')
    stack, seen = [root], set()
    order: list[Tensor] = []
    while stack:  # iterative, like backward: deep graphs must not recurse
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        order.append(node)
        stack.extend(node._parents)
    for node in reversed(order):
        ids[id(node)] = f"n{len(ids)}"
    for node in reversed(order):
        nid = ids[id(node)]
        if node.is_leaf:
            if node.name is None and node.size == 1 and not node.requires_grad:
                label = f"{node.item():.4g}"  # a number in the formula, e.g. 1/N in a mean
            else:
                what = node.name or ("input" if node.op == "leaf" else f"constant ({node.op})")
                label = f"{what}\\n{_shape(node)}"
            fill = ', style=filled, fillcolor="#dddddd"' if node.requires_grad else ""
            lines.append(f'  {nid} [shape=box, label="{label}"{fill}];')
        else:
            label = f"{node.op}\\n{_shape(node)}"
            lines.append(f'  {nid} [shape=ellipse, label="{label}"];')
        for parent in node._parents:
            lines.append(f"  {ids[id(parent)]} -> {nid};")
    lines.append("}")
    return "\n".join(lines) + "\n"
