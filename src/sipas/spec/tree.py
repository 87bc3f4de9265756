"""Index trees: item -> sub-index -> component -> overall, as nodes with items or children.

A node combines either items (its item indices) or other nodes (their indices) with weights;
every node is a linear combination of item ratio estimators, so the estimation layer gives
every node its SE and interval by one linearization (:mod:`sipas.indices.tree`). The
2017-2020 five-factor spec is the two-level tree :func:`factor_tree` builds from its factors.

Examples
--------
>>> t = IndexTree((IndexNode("a", items=("q1", "q2")), IndexNode("b", items=("q3",)),
...                IndexNode("all", children=("a", "b"), weights=(2.0, 1.0))))
>>> t.roots, t.depth("a"), t.parent("q1"), t.weights_of("all").tolist()
(('all',), 1, 'a', [0.6666666666666666, 0.3333333333333333])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from sipas.errors import SpecError

__all__ = ["IndexNode", "IndexTree", "factor_tree"]


@dataclass(frozen=True)
class IndexNode:
    """One node of an index tree: a named index of items or of other nodes.

    Attributes
    ----------
    name : str
        The node's name (the ``name`` column of result tables).
    items : tuple of str
        Items combined by the node (a node has items or children, not both).
    children : tuple of str
        Nodes combined by the node.
    weights : tuple of float
        One weight per item or child (normalised to sum 1 when used); empty means equal.
    measure : str or None
        Item measure of the node's items (``top_box``, ``mean``, ``pct_of_max``,
        ``pct_of_range``); None takes the spec's ``[index] measure``.
    label : mapping
        Language -> label.
    part : str or None
        What the node reports on (``perception``, ``satisfaction``, ``needs``...), free text.

    Examples
    --------
    >>> IndexNode("access", items=("q01", "q02")).members
    ('q01', 'q02')
    """

    name: str
    items: tuple[str, ...] = ()
    children: tuple[str, ...] = ()
    weights: tuple[float, ...] = ()
    measure: str | None = None
    label: Mapping[str, str] = field(default_factory=dict)
    part: str | None = None

    @property
    def members(self) -> tuple[str, ...]:
        """The items or children the node combines, in order."""
        return self.items or self.children


@dataclass(frozen=True)
class IndexTree:
    """Nodes of one or more index trees, checked: no cycle, no empty node, one parent each.

    Parameters
    ----------
    nodes : tuple of IndexNode
        The nodes, in any order; :attr:`order` lists them children first.

    Raises
    ------
    SpecError
        A node without items or children, with both, naming an unknown child, a child of
        two nodes, weights not one non-negative number per member with a positive sum, or
        nodes forming a cycle; the message names the node.

    Examples
    --------
    >>> try:
    ...     IndexTree((IndexNode("a", children=("b",)), IndexNode("b", children=("a",))))
    ... except SpecError as exc:
    ...     print(exc)
    index tree: nodes 'a' -> 'b' -> 'a' form a cycle; a node cannot contain itself.
    """

    nodes: tuple[IndexNode, ...]
    order: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        by_name: dict[str, IndexNode] = {}
        for n in self.nodes:
            if n.name in by_name:
                raise SpecError(f"index tree: node {n.name!r} is defined twice.")
            by_name[n.name] = n
        parent: dict[str, str] = {}
        for n in self.nodes:
            _check_node(n, by_name)
            for c in n.children:
                if c in parent:
                    raise SpecError(f"index tree: node {c!r} is a child of both {parent[c]!r} "
                                    f"and {n.name!r}; a node has one parent.")
                parent[c] = n.name
        object.__setattr__(self, "order", _children_first(by_name))

    def node(self, name: str) -> IndexNode:
        """The node called ``name``."""
        for n in self.nodes:
            if n.name == name:
                return n
        raise SpecError(f"index tree: no node {name!r}; nodes are {list(self.order)}.")

    @property
    def names(self) -> tuple[str, ...]:
        """Node names, in definition order."""
        return tuple(n.name for n in self.nodes)

    @property
    def roots(self) -> tuple[str, ...]:
        """Nodes that are no node's child (one per tree)."""
        inner = {c for n in self.nodes for c in n.children}
        return tuple(n.name for n in self.nodes if n.name not in inner)

    def top_down(self) -> tuple[str, ...]:
        """Nodes from each root down, every node followed by its children (reading order).

        Examples
        --------
        >>> t = IndexTree((IndexNode("a", items=("q1",)), IndexNode("b", items=("q2",)),
        ...                IndexNode("all", children=("a", "b"))))
        >>> t.top_down()
        ('all', 'a', 'b')
        """
        def walk(name: str) -> list[str]:
            return [name, *(n for c in self.node(name).children for n in walk(c))]

        return tuple(n for root in self.roots for n in walk(root))

    def parent(self, name: str) -> str | None:
        """The node that combines node or item ``name`` (the first, for a shared item)."""
        for n in self.nodes:
            if name in n.members:
                return n.name
        return None

    def depth(self, name: str) -> int:
        """Steps from a root down to node ``name`` (roots have depth 0)."""
        up = self.parent(name)
        return 0 if up is None or name not in self.names else 1 + self.depth(up)

    def weights_of(self, name: str) -> np.ndarray:
        """The node's weights normalised to sum 1 (equal without weights)."""
        n = self.node(name)
        k = len(n.members)
        a = np.asarray(n.weights, dtype="float64") if n.weights else np.ones(k)
        return a / a.sum()


def factor_tree(factors: Sequence[tuple[str, Mapping[str, str], tuple[str, ...], str | None]],
                overall: str, overall_item: str | None,
                factor_weights: Mapping[str, float]) -> IndexTree:
    """The two-level tree of a five-factor spec: factors of items under ``overall``.

    With ``overall="item"`` the root ``overall`` is the separately asked item and the factors
    are trees of their own. A factor's ``rescale`` (the fourth element) becomes the measure
    of its node.

    Examples
    --------
    >>> t = factor_tree([("f1", {}, ("q1",), None), ("f2", {}, ("q2", "q3"), None)],
    ...                 "mean_of_factors", None, {})
    >>> t.order, t.node("overall").children
    (('f1', 'f2', 'overall'), ('f1', 'f2'))
    """
    nodes = [IndexNode(name, items=items, label=label, measure=rescale)
             for name, label, items, rescale in factors]
    label = {"vi": "Chỉ số hài lòng chung", "en": "Overall satisfaction index"}
    if overall == "item" and overall_item is not None:
        nodes.append(IndexNode("overall", items=(overall_item,), label=label))
    elif nodes:
        names = tuple(n.name for n in nodes)
        weights = tuple(float(factor_weights[f]) for f in names) \
            if overall == "weighted_factors" else ()
        nodes.append(IndexNode("overall", children=names, weights=weights, label=label))
    return IndexTree(tuple(nodes))


def _check_node(n: IndexNode, by_name: Mapping[str, IndexNode]) -> None:
    where = f"index tree: node {n.name!r}"
    if not n.items and not n.children:
        raise SpecError(f"{where} is empty; give it items = [...] or children = [...].")
    if n.items and n.children:
        raise SpecError(f"{where} has both items and children; a node combines one or the "
                        "other (put the items in a child node).")
    unknown = [c for c in n.children if c not in by_name]
    if unknown:
        raise SpecError(f"{where} names unknown child node(s) {unknown}; nodes are "
                        f"{list(by_name)}.")
    dup = sorted({m for m in n.members if n.members.count(m) > 1})
    if dup:
        raise SpecError(f"{where} lists {dup} more than once.")
    if n.weights and (len(n.weights) != len(n.members) or min(n.weights) < 0
                      or not sum(n.weights) > 0):
        raise SpecError(f"{where}: weights must be one non-negative number per item or child "
                        f"({len(n.members)}) with a positive sum; got {list(n.weights)}.")
    if n.measure is not None and n.children:
        raise SpecError(f"{where}: measure applies to a node's items; a node of children "
                        "combines their indices as they are.")


def _children_first(by_name: Mapping[str, IndexNode]) -> tuple[str, ...]:
    """Nodes ordered so that every child comes before its parent; a cycle is an error."""
    done: dict[str, None] = {}
    path: list[str] = []

    def visit(name: str) -> None:
        if name in done:
            return
        if name in path:
            cycle = [*path[path.index(name):], name]
            raise SpecError("index tree: nodes " + " -> ".join(repr(c) for c in cycle)
                            + " form a cycle; a node cannot contain itself.")
        path.append(name)
        for c in by_name[name].children:
            visit(c)
        path.pop()
        done[name] = None

    for name in by_name:
        visit(name)
    return tuple(done)
