"""Model formulas: from ``"y ~ x + C(g) + offset(log(n))"`` and a frame to the arrays a model
fits, with one readable name per coefficient.

formulaic builds the model matrix (numeric terms, categorical terms with treatment coding,
interactions), column by column (:class:`sipas.models.matrix.ColumnsMaterializer`); sipas
keeps it as dense columns and one-hot blocks (:class:`sipas.models.matrix.BlockMatrix`), so
a categorical of many levels costs no more than one numeric column. sipas adds what R's
``glm`` formulas have and formulaic lacks: ``offset(...)`` terms, the reference level of a
categorical (``reference={"stype": "M"}``), rows with a missing model variable left out as a
domain (R ``na.omit`` on a survey design), and the coefficient names of the oracle:
``(Intercept)``, ``meals``, ``stype=H``, ``stype=H:meals``.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"y": [1.0, 2.0, 4.0, 3.0], "x": [1.0, 2.0, 3.0, None],
...                       "g": ["a", "b", "a", "b"]})
>>> mf = model_frame(frame, "y ~ x + g", reference={"g": "b"})
>>> mf.names, mf.used.tolist()
(('(Intercept)', 'x', 'g=a'), [True, True, True, False])
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from formulaic import Formula, ModelSpec, model_matrix  # type: ignore[import-untyped]
from formulaic.errors import FormulaicError  # type: ignore[import-untyped]

from sipas._validate import plain, require_columns
from sipas.errors import DesignError, EstimationError
from sipas.models.matrix import BlockMatrix, ColumnsMaterializer

__all__ = ["ModelFrame", "canonical_term", "model_frame"]

_LEVEL = re.compile(r"C\(\s*([^,()]+?)\s*(?:,[^\[\]]*)?\)\[(?:T\.)?(.*?)\]"
                    r"|([A-Za-z_][\w.]*)\[(?:T\.)?(.*?)\]")
_WRAPPED = re.compile(r"^C\(\s*([^,()]+?)\s*(?:,.*)?\)$")


@dataclass(frozen=True, eq=False)
class ModelFrame:
    """The arrays of a model on every row of a design (zeros on rows left out).

    Attributes
    ----------
    formula : str
        The formula as given.
    response : str
        The response expression (left-hand side).
    y : numpy.ndarray
        Response per row.
    X : BlockMatrix
        (rows x coefficients) model matrix, zero on rows left out (``X.toarray()`` is the
        dense array).
    offset : numpy.ndarray
        Offset per row (zeros when the formula has none).
    used : numpy.ndarray of bool
        Rows with every model variable present.
    names : tuple of str
        Coefficient names (``(Intercept)``, ``x``, ``g=a``, ``g=a:x``).
    terms : dict
        Term name (``g``, ``g:x``, components sorted) to its coefficient positions.
    spec : formulaic.ModelSpec
        The right-hand side's spec, to rebuild the matrix on changed data (margins).
    data : pandas.DataFrame
        The model's variables (categoricals with their reference level first).
    """

    formula: str
    response: str
    y: np.ndarray
    X: BlockMatrix
    offset: np.ndarray
    used: np.ndarray
    names: tuple[str, ...]
    terms: dict[str, tuple[int, ...]]
    spec: ModelSpec
    data: pd.DataFrame

    def matrix(self, data: pd.DataFrame) -> BlockMatrix:
        """The model matrix of other data (same rows) with this model's coding (levels,
        reference), zero on the rows the model leaves out and where ``data`` has a missing
        factor."""
        cols = self.spec.get_model_matrix(data, na_action="ignore")
        return BlockMatrix.from_columns(cols, list(self.spec.term_indices.values()),
                                        self.used & ~cols.missing)

    def without(self, positions: tuple[int, ...]) -> ModelFrame:
        """The same model without some coefficients (the reduced model of a test)."""
        drop = set(positions)
        keep = [j for j in range(len(self.names)) if j not in drop]
        new = {old: i for i, old in enumerate(keep)}
        terms = {t: tuple(new[j] for j in idx if j in new) for t, idx in self.terms.items()}
        return ModelFrame(self.formula, self.response, self.y, self.X.without(positions),
                          self.offset, self.used, tuple(self.names[j] for j in keep),
                          {t: idx for t, idx in terms.items() if idx}, self.spec, self.data)


def canonical_term(term: str) -> str:
    """A term's name without ``C(...)`` wrappers, components sorted (R ``canonicalOrder``).

    Examples
    --------
    >>> canonical_term("meals:C(stype, contr.treatment('M'))")
    'meals:stype'
    """
    parts = []
    for part in str(term).split(":"):
        part = part.strip()
        m = _WRAPPED.match(part)
        parts.append(m.group(1).strip() if m else part)
    return ":".join(sorted(parts))


def model_frame(frame: pd.DataFrame, formula: str, *,
                reference: Mapping[str, Any] | None = None) -> ModelFrame:
    """Build a model's arrays from a formula (see the module docstring).

    Parameters
    ----------
    frame : pandas.DataFrame
        The design's data.
    formula : str
        ``"response ~ terms"`` in formulaic syntax, with optional ``offset(expr)`` terms.
    reference : mapping, optional
        Reference level per categorical column (default: the first sorted level).

    Returns
    -------
    ModelFrame

    Raises
    ------
    DesignError
        The formula is malformed, names a column that is not there, or a reference level
        that is not observed.
    """
    if not isinstance(formula, str) or formula.count("~") != 1:
        raise DesignError(f"formula must be a string 'response ~ terms'; got {formula!r}.")
    rhs_text, offsets = _split_offsets(formula)
    data = frame.reset_index(drop=True)
    names = _variables(rhs_text, offsets, data.columns)
    data = data[names]
    for var, level in dict(reference or {}).items():
        data[var] = _with_reference(data, var, level)
    try:
        # every row is kept (na_action="ignore"); the materializer marks the rows where a
        # factor is missing, which are left out below (R's na.omit)
        mm = model_matrix(rhs_text, data, na_action="ignore", output="sparse",
                          materializer=ColumnsMaterializer)
    except FormulaicError as exc:
        raise DesignError(f"formula {formula!r} cannot be read: {exc}") from exc
    if not mm.lhs.names:
        raise DesignError(f"formula {formula!r} has no response; write 'y ~ x'.")
    if len(mm.lhs.names) != 1:
        raise DesignError(f"the response of {formula!r} must be one numeric column; got "
                          f"{list(mm.lhs.names)}. Code a categorical response as 0/1 "
                          "(binomial) or use sipas.ordinal for ordered answers.")
    n = len(data)
    # an expression of a missing value can be a number (I(q == 1) is False for NaN): a row
    # missing any variable the formula reads is left out, as R's na.omit does
    used = ~mm.rhs.missing & data.notna().all(axis=1).to_numpy()
    off = np.zeros(n)
    for expr in offsets:
        values = np.asarray(model_matrix(f"0 + {expr}", data, na_action="ignore"),
                            dtype="float64")[:, 0]
        used &= np.isfinite(values)
        off += np.where(np.isfinite(values), values, 0.0)
    response = mm.lhs.columns[0]
    y = np.zeros(n)
    y[response.indices] = response.data
    y[~used] = 0.0
    spec = mm.rhs.model_spec
    x = BlockMatrix.from_columns(mm.rhs, list(spec.term_indices.values()), used)
    terms = {canonical_term(str(t)): tuple(idx) for t, idx in spec.term_indices.items()
             if str(t) != "1"}
    return ModelFrame(formula, mm.lhs.names[0], y, x, off, used,
                      tuple(_name(c) for c in mm.rhs.names), terms, spec, data)


def _split_offsets(formula: str) -> tuple[str, list[str]]:
    """The formula without its ``offset(...)`` terms, and their expressions."""
    offsets = []
    text = formula
    while (start := re.search(r"\boffset\s*\(", text)) is not None:
        depth, i = 1, start.end()
        while i < len(text) and depth:
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        if depth:
            raise DesignError(f"formula {formula!r} has an unclosed 'offset('.")
        offsets.append(text[start.end(): i - 1].strip())
        before = text[: start.start()].rstrip()
        if before.endswith("+"):
            before = before[:-1].rstrip()
        text = (before + " " + text[i:]).strip()
    lhs, rhs = text.split("~")
    rhs = rhs.strip().lstrip("+").strip() or "1"
    return f"{lhs.strip()} ~ {rhs}", offsets


def _variables(rhs_text: str, offsets: list[str], columns: pd.Index) -> list[str]:
    """The data columns the formula reads; a name that is not a column is refused."""
    try:
        needed = set(Formula(rhs_text).required_variables)
        for expr in offsets:
            needed |= set(Formula(f"~ 0 + {expr}").required_variables)
    except FormulaicError as exc:
        raise DesignError(f"formula {rhs_text!r} cannot be read: {exc}") from exc
    known = {"C", "log", "exp", "sqrt", "np", "I", "center", "scale", "poly", "bs", "abs",
             "contr", "Treatment", "TreatmentContrasts"}
    wanted = sorted(v.split(".")[0] if v not in columns else v for v in map(str, needed))
    missing = [v for v in wanted if v not in columns and v not in known]
    require_columns(columns, missing, "formula")
    return [v for v in wanted if v in columns]


def _with_reference(data: pd.DataFrame, var: str, level: Any) -> pd.Categorical:
    if var not in data:
        raise DesignError(f"reference names column {var!r}, which is not in the formula.")
    col = data[var]
    observed = sorted(pd.unique(col.dropna()), key=lambda v: (isinstance(v, str), v))
    if isinstance(col.dtype, pd.CategoricalDtype):
        observed = list(col.cat.categories)
    match = [v for v in observed if v == level or str(v) == str(level)]
    if not match:
        raise DesignError(f"reference level {plain(level)!r} of {var!r} is not observed; "
                          f"levels: {[plain(v) for v in observed][:20]}.")
    order = [match[0], *[v for v in observed if v is not match[0] and v != match[0]]]
    return pd.Categorical(col, categories=order)


def _name(column: str) -> str:
    """formulaic's column name as the oracle writes it: ``C(g)[T.a]:x`` -> ``g=a:x``."""
    if column == "Intercept":
        return "(Intercept)"
    def level(m: re.Match[str]) -> str:
        var, value = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        # codes stored as floats (2.0) read as the integers they are
        return f"{var}={value[:-2] if re.fullmatch(r'-?[0-9]+[.]0', value) else value}"

    return _LEVEL.sub(level, column)


def check_levels(mf: ModelFrame, w: np.ndarray) -> None:
    """Refuse a coefficient whose column is zero on every positive-weight row: a level with no
    respondents (or an interaction cell that is empty)."""
    active = (w > 0) & mf.used
    if not active.any():
        raise EstimationError("no row with positive weight has every model variable; check "
                              "the subset and the missing values of the model's columns.")
    empty = ~mf.X.nonzero_columns(active)
    for j in np.flatnonzero(empty):
        name = mf.names[j]
        raise EstimationError(f"coefficient {name!r} has no respondents (its column is zero "
                              "on every row with positive weight): drop the level (merge it "
                              "with another, or remove unused categories) or the subset that "
                              "leaves it empty.")
