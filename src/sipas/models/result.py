"""The result of a model on a design: :class:`ModelResult` (read-only).

One row per coefficient (and per threshold of an ordinal model) with the fixed columns
``term, estimate, se, ci_low, ci_high, df, statistic, p_value`` (ordinal models add ``kind``),
the design-based covariance (:meth:`ModelResult.vcov`) and a statsmodels-like summary.
Statistics are ``estimate / se``; p-values and intervals use Student's t on the model's
residual df (``design df + 1 - #coefficients``), as R ``summary.svyglm`` and ``confint``.

Examples
--------
>>> import sipas
>>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
>>> res = sipas.glm(d, "p03 ~ p01")
>>> res.to_frame().columns.tolist()
['term', 'estimate', 'se', 'ci_low', 'ci_high', 'df', 'statistic', 'p_value']
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sipas.engine.basis import VarBasis

__all__ = ["COLUMNS", "ModelResult", "ModelSummary", "build_model_result"]

COLUMNS = ("term", "estimate", "se", "ci_low", "ci_high", "df", "statistic", "p_value")


class ModelSummary:
    """A model's summary: ``str()`` gives the text table, notebooks show HTML.

    Examples
    --------
    >>> import sipas
    >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
    >>> print(sipas.glm(d, "p03 ~ p01").summary())  # doctest: +ELLIPSIS
    ==...
    """

    def __init__(self, header: list[tuple[str, str]], table: pd.DataFrame, title: str) -> None:
        self._header = header
        self._table = table
        self._title = title

    def as_text(self) -> str:
        """The summary as plain text (78 columns)."""
        rule = "=" * 78
        lines = [rule, self._title.center(78), rule]
        pairs = [f"{k + ':':<16}{v:>22}" for k, v in self._header]
        for i in range(0, len(pairs), 2):
            lines.append("  ".join(pairs[i: i + 2]))
        lines.append(rule)
        width = max([12, *(len(t) for t in self._table.index)])
        head = (f"{'':<{width}}{'coef':>11}{'std err':>11}{'t':>9}{'P>|t|':>9}"
                f"{'[low':>11}{'high]':>11}")
        lines += [head, "-" * max(78, len(head))]
        for term, row in self._table.iterrows():
            lines.append(f"{term:<{width}}{row['estimate']:>11.4g}{row['se']:>11.4g}"
                         f"{row['statistic']:>9.3f}{row['p_value']:>9.3f}"
                         f"{row['ci_low']:>11.4g}{row['ci_high']:>11.4g}")
        lines.append(rule)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.as_text()

    def __repr__(self) -> str:
        return self.as_text()

    def _repr_html_(self) -> str:
        head = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                       for k, v in self._header)
        return (f"<b>{html.escape(self._title)}</b><table>{head}</table>"
                + self._table.to_html(float_format=lambda v: f"{v:.4g}"))


class ModelResult:
    """Coefficients of a model on a design, their design-based covariance and tests.

    Built only by :func:`sipas.glm` and :func:`sipas.ordinal`; it cannot change.

    Attributes
    ----------
    model : str
        ``"glm"`` or ``"ordinal"``.
    formula : str
        The formula as given.
    family : str
        Error family (``"gaussian"``, ..., ``"ordinal"``) and ``link``.
    terms : tuple of str
        Coefficient names: ``(Intercept)``, ``x``, ``g=a``, ``g=a:x``, thresholds ``1|2``.
    df_residual : float
        Residual df: design df + 1 - #coefficients (R ``df.residual`` of ``svyglm``; for
        ordinal models design df - #coefficients without thresholds, as R ``svyolr``).
    level : float
        Confidence level of the intervals.
    n : int
        Rows used (positive weight, every model variable present).
    info : mapping
        Deviance, iterations and how the variance was made (read-only).

    Examples
    --------
    >>> import sipas
    >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
    >>> res = sipas.glm(d, "p03 ~ p01")
    >>> res.terms, res.df_residual
    (('(Intercept)', 'p01'), 29.0)
    """

    __slots__ = ("_basis", "_cov", "_estimate", "_kinds", "_model_frame", "df_residual",
                 "family", "formula", "info", "level", "link", "model", "n", "terms")
    _basis: VarBasis
    _cov: np.ndarray
    _estimate: np.ndarray
    _kinds: tuple[str, ...] | None
    _model_frame: Any
    df_residual: float
    family: str
    formula: str
    info: Mapping[str, Any]
    level: float
    link: str
    model: str
    n: int
    terms: tuple[str, ...]

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a ModelResult cannot be changed; fit a new model instead")

    @property
    def coef(self) -> pd.Series:
        """The estimates, indexed by term."""
        return pd.Series(self._estimate, index=list(self.terms), name="estimate")

    @property
    def basis(self) -> VarBasis:
        """The variance basis of the estimates (influence totals or replicate estimates)."""
        return self._basis

    def vcov(self) -> pd.DataFrame:
        """The design-based covariance of the estimates, labelled by term.

        Examples
        --------
        >>> import sipas
        >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
        >>> sipas.glm(d, "p03 ~ p01").vcov().shape
        (2, 2)
        """
        return pd.DataFrame(self._cov.copy(), index=list(self.terms), columns=list(self.terms))

    def to_frame(self) -> pd.DataFrame:
        """One row per coefficient: ``term, estimate, se, ci_low, ci_high, df, statistic,
        p_value`` (ordinal models add ``kind``: ``coefficient`` or ``threshold``).

        Examples
        --------
        >>> import sipas
        >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
        >>> sipas.glm(d, "p03 ~ p01").to_frame()["term"].tolist()
        ['(Intercept)', 'p01']
        """
        se = np.sqrt(np.diag(self._cov))
        df = float(self.df_residual)
        q = stats.t.ppf(0.5 + self.level / 2, df) if df > 0 else np.nan
        with np.errstate(divide="ignore", invalid="ignore"):
            t = self._estimate / se
        p = 2 * stats.t.sf(np.abs(t), df) if df > 0 else np.full(len(t), np.nan)
        out = pd.DataFrame({"term": list(self.terms), "estimate": self._estimate, "se": se,
                            "ci_low": self._estimate - q * se,
                            "ci_high": self._estimate + q * se, "df": df,
                            "statistic": t, "p_value": p})
        if self._kinds is not None:
            out["kind"] = list(self._kinds)
        return out

    def summary(self) -> ModelSummary:
        """A statsmodels-like summary table (``print(result.summary())``).

        Examples
        --------
        >>> import sipas
        >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
        >>> "p01" in str(sipas.glm(d, "p03 ~ p01").summary())
        True
        """
        header = [("Response", self.formula.split("~")[0].strip()),
                  ("Family", f"{self.family} ({self.link})"),
                  ("Rows used", str(self.n)), ("Residual df", f"{self.df_residual:g}"),
                  ("Level", f"{self.level:g}"),
                  ("Variance", str(self.info.get("variance", "")))]
        if "deviance" in self.info:
            header.append(("Deviance", f"{self.info['deviance']:.6g}"))
        title = ("Survey-weighted proportional-odds model" if self.model == "ordinal"
                 else "Survey-weighted generalised linear model")
        return ModelSummary(header, self.to_frame().set_index("term"), title)

    def __repr__(self) -> str:
        return (f"ModelResult({self.model}, {self.formula!r}, family={self.family!r}, "
                f"terms={len(self.terms)}, n={self.n}, df_residual={self.df_residual:g})")

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()


def build_model_result(*, model: str, formula: str, family: str, link: str,
                       terms: tuple[str, ...], basis: VarBasis, df_residual: float,
                       level: float, n: int, info: Mapping[str, Any],
                       model_frame: Any = None,
                       kinds: tuple[str, ...] | None = None) -> ModelResult:
    """The one place a :class:`ModelResult` is made."""
    res = object.__new__(ModelResult)
    cov = np.array(basis.cov(), dtype="float64")
    cov.setflags(write=False)
    est = np.array(basis.full, dtype="float64")
    est.setflags(write=False)
    for name, value in (("model", model), ("formula", formula), ("family", family),
                        ("link", link), ("terms", tuple(terms)), ("_basis", basis),
                        ("_cov", cov), ("_estimate", est), ("df_residual", float(df_residual)),
                        ("level", float(level)), ("n", int(n)),
                        ("info", MappingProxyType(dict(info))),
                        ("_model_frame", model_frame), ("_kinds", kinds)):
        object.__setattr__(res, name, value)
    return res
