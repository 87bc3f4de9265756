"""The result of every design-based test: :class:`TestResult` (read-only).

A test has one statistic, its reference distribution's degrees of freedom and a p-value;
tests of a difference (t-test, two-group rank test) also have the estimate, its SE and an
interval. :meth:`TestResult.to_frame` has the same columns for every test, so results
concatenate: ``test, estimate, se, ci_low, ci_high, statistic, df_num, df, p_value``
(``df`` is the t df or the denominator df of F, ``inf`` for a chi-squared reference;
``df_num`` the numerator df of F or chi-squared, NaN for t).

Examples
--------
>>> r = TestResult("demo", "t", 2.0, df=10.0, p_value=0.07, estimate=1.0, se=0.5)
>>> r.to_frame()[["test", "statistic", "df"]].values.tolist()
[['demo', 2.0, 10.0]]
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

__all__ = ["COLUMNS", "TestResult"]

COLUMNS = ("test", "estimate", "se", "ci_low", "ci_high", "statistic", "df_num", "df",
           "p_value")


class TestResult:
    """A design-based test: statistic, degrees of freedom and p-value (read-only).

    Attributes
    ----------
    test : str
        What was tested, e.g. ``"Rao-Scott F (second order)"``.
    reference : str
        The reference distribution of ``statistic``: ``"t"``, ``"F"``, ``"chisq"``, or
        ``"quadratic form"`` (a weighted sum of chi-squares, saddlepoint or exact).
    statistic, df_num, df, p_value : float
        The statistic, numerator df (NaN for t), t or denominator df (``inf``: none), and
        the p-value.
    estimate, se, ci_low, ci_high : float
        The difference tested, its SE and interval (NaN for tests of association).
    level : float
        Confidence level of the interval.
    details : dict
        Further numbers (e.g. Pearson's X^2, the design effects of the table).
    """

    __test__ = False  # not a pytest test class, despite the name
    __slots__ = ("ci_high", "ci_low", "details", "df", "df_num", "estimate", "level",
                 "p_value", "reference", "se", "statistic", "test")

    test: str
    reference: str
    statistic: float
    df: float
    df_num: float
    p_value: float
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    level: float
    details: dict[str, Any]

    def __init__(self, test: str, reference: str, statistic: float, *,
                 df: float = math.inf, df_num: float = math.nan, p_value: float,
                 estimate: float = math.nan, se: float = math.nan,
                 ci: tuple[float, float] = (math.nan, math.nan), level: float = 0.95,
                 details: Mapping[str, Any] | None = None) -> None:
        values = {"test": test, "reference": reference, "statistic": float(statistic),
                  "df": float(df), "df_num": float(df_num), "p_value": float(p_value),
                  "estimate": float(estimate), "se": float(se), "ci_low": float(ci[0]),
                  "ci_high": float(ci[1]), "level": float(level),
                  "details": dict(details or {})}
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a TestResult cannot change; use to_frame() for a copy to edit.")

    def to_frame(self) -> pd.DataFrame:
        """One row with the fixed columns ``test, estimate, se, ci_low, ci_high, statistic,
        df_num, df, p_value``.

        Examples
        --------
        >>> TestResult("x", "F", 3.0, df_num=2.0, df=20.0, p_value=0.07).to_frame().shape
        (1, 9)
        """
        return pd.DataFrame([{c: getattr(self, c) for c in COLUMNS}], columns=list(COLUMNS))

    def summary(self) -> str:
        """The test as text, in the manner of R's ``htest`` print.

        Examples
        --------
        >>> print(TestResult("x", "F", 3.0, df_num=2.0, df=20.0, p_value=0.07).summary())
        x
        F = 3, df_num = 2, df = 20, p-value = 0.07
        """
        parts = [f"{self._name()} = {self.statistic:.6g}"]
        if not math.isnan(self.df_num):
            parts.append(f"df_num = {self.df_num:.6g}")
        if not math.isinf(self.df) or self.reference == "t":
            parts.append(f"df = {self.df:.6g}")
        parts.append(f"p-value = {self.p_value:.4g}")
        lines = [self.test, ", ".join(parts)]
        if not math.isnan(self.estimate):
            lines.append(f"estimate = {self.estimate:.6g}, se = {self.se:.6g}")
            if not math.isnan(self.ci_low):
                lines.append(f"{self.level:.0%} interval: [{self.ci_low:.6g}, "
                             f"{self.ci_high:.6g}]")
        return "\n".join(lines)

    def _name(self) -> str:
        return {"t": "t", "F": "F", "chisq": "X-squared"}.get(self.reference, "statistic")

    def __repr__(self) -> str:
        return f"<TestResult {self.summary()!s}>"

    def _repr_html_(self) -> str:
        table = self.to_frame().to_html(index=False, float_format=lambda v: f"{v:.6g}")
        start = table.index(">") + 1
        return f"{table[:start]}\n  <caption>{html.escape(self.test)}</caption>{table[start:]}"
