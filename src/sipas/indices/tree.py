"""Every node of an index tree as one linear combination of ratio estimators.

With ``aggregate="items"`` the ratios are the item indices (one column per item and measure):
a node of items puts its weights on its items' columns, a node of children adds its
children's loadings times its weights, so the overall index of a three-level tree is still
``L' R`` for one loading vector ``L`` and the SE of every node comes from the same
linearization (:meth:`sipas.indices.build.IndexBuild.combine`). With
``aggregate="respondents"`` the ratios are the respondents' scores of each node of items and
the nodes above combine those.

Examples
--------
>>> from sipas.spec import IndexNode, IndexTree
>>> t = IndexTree((IndexNode("a", items=("q1", "q2")), IndexNode("b", items=("q3",)),
...                IndexNode("all", children=("a", "b"))))
>>> plan = plan_tree(t, ("q1", "q2", "q3"), "top_box", "items")
>>> plan.load.round(3).tolist()
[[0.5, 0.0, 0.25], [0.5, 0.0, 0.25], [0.0, 1.0, 0.5]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sipas.spec import IndexTree, Spec

__all__ = ["TreePlan", "column_name", "extra_columns", "plan_tree"]


def column_name(item: str, measure: str) -> str:
    """Name of the score column of ``item`` under a node's own ``measure``.

    Examples
    --------
    >>> column_name("q01", "mean")
    'q01@mean'
    """
    return f"{item}@{measure}"


def extra_columns(spec: Spec) -> tuple[tuple[str, str], ...]:
    """(item, measure) pairs a node scores under a measure other than ``[index] measure``.

    Yes/no items are shares under every measure, so they never need a second column.

    Examples
    --------
    >>> import sipas
    >>> extra_columns(sipas.load_spec("demo"))
    ()
    """
    out: dict[tuple[str, str], None] = {}
    for node in spec.tree.nodes:
        if node.measure in (None, spec.index.measure):
            continue
        for it in node.items:
            if len(spec.scale_of(it).codes) > 2:
                out[(it, node.measure)] = None
    return tuple(out)


@dataclass(frozen=True)
class TreePlan:
    """The loadings of every node on the ratios it is built from.

    Attributes
    ----------
    names : tuple of str
        Nodes, children before parents (the columns of ``load``).
    load : numpy.ndarray
        (ratios x nodes) weights: the node index is ``load[:, k]' R``.
    groups, group_weights : tuple
        For ``aggregate="respondents"``: the score columns and weights of each node of items
        (the respondent scores are the ratios); empty for ``aggregate="items"``.
    uses_mean : numpy.ndarray of bool
        Per node: it combines scores on the answer scale (``measure="mean"``), so it is not
        in [0, 1] and gets a Wald interval.
    """

    names: tuple[str, ...]
    load: np.ndarray
    groups: tuple[tuple[int, ...], ...]
    group_weights: tuple[tuple[float, ...], ...]
    uses_mean: np.ndarray

    def columns(self, names: Sequence[str]) -> np.ndarray:
        """The loadings of the nodes ``names``, in that order."""
        return self.load[:, [self.names.index(n) for n in names]]


def plan_tree(tree: IndexTree, columns: Sequence[str], measure: str, aggregate: str,
              binary: Sequence[str] = ()) -> TreePlan:
    """Loadings of every node of ``tree`` on the score columns (or the respondent scores).

    Parameters
    ----------
    tree : IndexTree
        The nodes.
    columns : sequence of str
        Score columns: item names (the ``[index]`` measure), then ``item@measure`` columns
        for nodes with a measure of their own (:func:`extra_columns`).
    measure : str
        The ``[index]`` measure.
    aggregate : {"items", "respondents"}
        Whether the ratios are the item indices or the respondent scores of nodes of items.
    binary : sequence of str
        Yes/no items (shares under every measure; they have no ``@measure`` column).

    Returns
    -------
    TreePlan
    """
    col = {c: i for i, c in enumerate(columns)}
    leaves = [n for n in tree.order if tree.node(n).items]
    size = len(columns) if aggregate == "items" else len(leaves)
    loads: dict[str, np.ndarray] = {}
    groups, group_weights, uses_mean = [], [], {}
    for name in tree.order:
        node, a = tree.node(name), tree.weights_of(name)
        vec = np.zeros(size)
        if node.items:
            m = node.measure or measure
            idx = [col[it if m == measure or it in binary else column_name(it, m)]
                   for it in node.items]
            uses_mean[name] = m == "mean" and any(it not in binary for it in node.items)
            if aggregate == "items":
                vec[idx] = a
            else:
                vec[leaves.index(name)] = 1.0
                groups.append(tuple(idx))
                group_weights.append(tuple(float(x) for x in a))
        else:
            for child, w in zip(node.children, a):
                vec += w * loads[child]
            # a child on the answer scale with weight 0 is reported but not part of the value
            uses_mean[name] = any(uses_mean[c] for c, w in zip(node.children, a) if w > 0)
        loads[name] = vec
    names = tuple(tree.order)
    load = np.column_stack([loads[n] for n in names]) if names else np.zeros((size, 0))
    return TreePlan(names, load, tuple(groups), tuple(group_weights),
                    np.array([uses_mean[n] for n in names], dtype=bool))
