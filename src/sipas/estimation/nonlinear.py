"""Nonlinear functions of estimates (ratios of indices, relative change, logs) with their SE.

``g(theta)`` of some rows of an estimate gets its variance from the same design as the rows:

* by the delta method (default), ``var g = J V J'`` with the gradient ``J`` (given, or
  computed: a complex-step derivative, exact to rounding for smooth expressions, checked
  against central differences, which are used where the two disagree, e.g. ``abs``); the
  result keeps the rows' influence totals (or replicate estimates) times ``J``, so it has
  covariances with every other estimate of the design and can be contrasted again. This is
  what R ``svycontrast`` does for ``svyby(..., covmat=TRUE)`` on every design, replicate
  designs included;
* on replicate designs, with ``variance="replicates"``, by applying ``g`` to every
  replicate's estimates and taking their replicate variance (R does this only for results
  that carry their replicates, ``return.replicates=TRUE``).

Expressions given as text (``"log(a / b)"``) are parsed, not evaluated by Python: numbers,
names, ``+ - * / **`` and the functions in :data:`FUNCTIONS` only.

Examples
--------
>>> import sipas
>>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
>>> by = sipas.mean(d, "p03", by="urban")
>>> r = sipas.nonlinear_contrast(by, "a / b", operands={"a": (2.0, "p03"), "b": (1.0, "p03")})
>>> r.to_frame()["variable"][0]
'contrast'
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from sipas._validate import check_choice, check_df, check_level, message
from sipas.engine.basis import VarBasis
from sipas.engine.intervals import wald_interval
from sipas.engine.variance import ReplicateEngine
from sipas.errors import EstimationError
from sipas.estimation.estimate import Estimate, build_estimate

__all__ = ["FUNCTIONS", "Variance", "nonlinear_contrast", "parse_expression"]

Variance = Literal["delta", "replicates"]

#: functions a text expression may call (numpy's, so they take complex and array arguments)
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "log": np.log, "exp": np.exp, "sqrt": np.sqrt, "log10": np.log10, "log2": np.log2,
    "log1p": np.log1p, "expm1": np.expm1, "sin": np.sin, "cos": np.cos, "tan": np.tan,
    "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan, "sinh": np.sinh,
    "cosh": np.cosh, "tanh": np.tanh, "abs": np.abs,
}
_BINARY = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply,
           ast.Div: np.divide, ast.Pow: np.power}


def parse_expression(text: str) -> tuple[Callable[..., Any], list[str]]:
    """A text expression as a function of its names, and the names in order of appearance.

    Raises
    ------
    EstimationError
        The text is not an arithmetic expression of names, numbers and :data:`FUNCTIONS`.

    Examples
    --------
    >>> f, names = parse_expression("log(a / b)")
    >>> names, round(float(f(a=2.0, b=1.0)), 4)
    (['a', 'b'], 0.6931)
    """
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise EstimationError(message("expression", "an arithmetic expression such as "
                                      "'log(a / b)'", text)) from exc
    names: list[str] = []

    def check(node: ast.AST) -> None:
        if isinstance(node, ast.Expression):
            check(node.body)
        elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            check(node.left)
            check(node.right)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            check(node.operand)
        elif isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and \
                not isinstance(node.value, bool):
            pass
        elif isinstance(node, ast.Name):
            if node.id not in names:
                names.append(node.id)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                node.func.id in FUNCTIONS and len(node.args) == 1 and not node.keywords:
            check(node.args[0])
        else:
            raise EstimationError(
                f"expression {text!r} has {ast.unparse(node)!r}, which is not allowed: use "
                "names, numbers, + - * / ** and the functions "
                f"{sorted(FUNCTIONS)}.")

    check(tree)

    def evaluate(node: ast.AST, env: Mapping[str, Any]) -> Any:
        if isinstance(node, ast.Expression):
            return evaluate(node.body, env)
        if isinstance(node, ast.BinOp):
            return _BINARY[type(node.op)](evaluate(node.left, env), evaluate(node.right, env))
        if isinstance(node, ast.UnaryOp):
            value = evaluate(node.operand, env)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return env[node.id]
        call = node  # checked above: a call of a known function
        return FUNCTIONS[call.func.id](evaluate(call.args[0], env))  # type: ignore[attr-defined]

    return (lambda **env: evaluate(tree, env)), names


def nonlinear_contrast(estimate: Estimate, fun: str | Callable[..., Any], *,
                       operands: Mapping[str, Any] | None = None,
                       gradient: Callable[..., Any] | None = None,
                       name: str | Sequence[str] = "contrast", variance: Variance = "delta",
                       level: float | None = None, df: float | None = None) -> Estimate:
    """A nonlinear function of the rows of an estimate, with its SE (R ``svycontrast``
    with an expression).

    Parameters
    ----------
    estimate : Estimate
        The estimates (rows of one design: means, shares, indices, contrasts...).
    fun : str or callable
        Text such as ``"a / b"`` or ``"log(a / b)"`` whose names are ``operands``; or a
        function: with ``operands``, called with them as keyword arguments; without, called
        with the vector of all rows' estimates. It may return several values (one result
        row each) and must work element-wise on arrays (replicates are passed as arrays).
    operands : mapping, optional
        Name -> row key (``Estimate.keys``, e.g. ``(1.0, "p03")``; a one-part key may be
        given bare). Needed with a text expression.
    gradient : callable, optional
        The analytic gradient, called like ``fun``; returns one row of partial derivatives
        (per operand, or per row of ``estimate`` without operands) per value. Default: a
        complex-step derivative, checked by central differences.
    name : str or sequence of str
        Name(s) of the result row(s) (``variable`` column).
    variance : {"delta", "replicates"}
        ``delta``: the delta method on the rows' covariance (R, on every design);
        ``replicates`` (replicate designs only): ``fun`` applied to every replicate's
        estimates, with the replicate variance of the results.
    level : float, optional
        Confidence level; default that of ``estimate``.
    df : float, optional
        Default: the smallest df of the rows used.

    Returns
    -------
    Estimate
        One row per value of ``fun``; statistic ``contrast``, Wald-t intervals; it keeps a
        covariance, so it can be contrasted again. ``notes`` record the expression and how
        the variance was computed.

    Raises
    ------
    EstimationError
        ``estimate`` has no covariance; an operand is not a row; a text expression has
        something other than arithmetic, or a name without an operand; ``fun`` gives a
        non-finite value at the estimates; ``variance="replicates"`` on a linearization
        design.

    Notes
    -----
    Delta method: ``g(theta_hat)`` with ``var = J V J'``, ``J = dg/dtheta`` at
    ``theta_hat``; the influence totals (or replicate estimates) of the rows are mapped by
    ``J``. Replicates: ``g`` of every replicate's estimates, with the design's replicate
    variance (centred as the design says, ``mse``); it differs from the delta method by
    terms of second order.
    R equivalent: ``svycontrast(svyby(..., covmat=TRUE), quote(E / M))``.

    Examples
    --------
    >>> import sipas
    >>> d = sipas.Design.from_spec(sipas.datasets.load_demo())
    >>> by = sipas.mean(d, "p03", by="urban")
    >>> keys = {"a": (2.0, "p03"), "b": (1.0, "p03")}
    >>> ratio = sipas.nonlinear_contrast(by, "a / b", operands=keys, name="rural/urban")
    >>> same = sipas.nonlinear_contrast(by, lambda a, b: a / b, operands=keys,
    ...                                 gradient=lambda a, b: [1 / b, -a / b**2])
    >>> bool(abs(ratio.to_frame()["se"][0] - same.to_frame()["se"][0]) < 1e-12)
    True
    """
    if estimate.basis is None:
        raise EstimationError(f"{estimate.statistic} estimates have no covariance; nonlinear "
                              "contrasts need means, totals, proportions, ratios or indices.")
    check_choice("variance", variance, ("delta", "replicates"),
                 error=EstimationError)
    level = estimate.level if level is None else check_level(level)
    df = check_df(df)
    basis = estimate.basis
    replicated = isinstance(basis.engine, ReplicateEngine)
    if variance == "replicates" and not replicated:
        raise EstimationError("variance='replicates' needs an estimate from a replicate "
                              "design; this one is from a linearization design (use "
                              "variance='delta').")
    adapt, func, index, text = _callable(estimate, fun, operands)
    call = adapt(func)
    theta = basis.full[index]
    full = _values(call(theta))
    if not np.all(np.isfinite(full)):
        raise EstimationError(f"the function of the estimates is not finite at the "
                              f"estimates ({full.tolist()}); check the operands "
                              f"{estimate_keys(estimate, index)}.")
    q = len(full)
    names = [name] if isinstance(name, str) else list(name)
    if isinstance(name, str) and q > 1:
        names = [f"{name}_{i + 1}" for i in range(q)]
    if len(names) != q:
        raise EstimationError(message("name", f"{q} names (one per value)", list(names)))
    if variance == "replicates":
        reps = np.asarray(basis.values)[:, index]
        values = _replicate_values(call, reps, q)
        how, new = "replicates", VarBasis(values, full, basis.engine)
    else:
        jac, how = _jacobian(call, None if gradient is None else adapt(gradient), theta, q)
        mat = np.zeros((basis.k, q))
        mat[index] = jac.T
        lin = basis.combine(mat)
        values = lin.values
        if replicated:  # centre the linearised replicates on g(theta), for mse designs
            values = np.asarray(values) - lin.full[None, :] + full[None, :]
        new = VarBasis(values, full, basis.engine)
    se = np.sqrt(np.maximum(new.var(), 0))
    row_df = float(estimate.to_frame()["df"].to_numpy()[index].min()) if df is None else df
    dfs = np.full(q, row_df)
    return build_estimate(pd.DataFrame(index=range(1)), names, est=full, se=se,
                          ci=wald_interval(full, se, dfs, level), df=dfs, statistic="contrast",
                          level=level, ci_method="wald", basis=new,
                          notes={"expression": text, "variance": how,
                                 "operands": estimate_keys(estimate, index)})


def estimate_keys(estimate: Estimate, index: np.ndarray) -> list[tuple[Any, ...]]:
    """The keys of the rows at ``index``."""
    keys = estimate.keys
    return [keys[i] for i in index]


Adapter = Callable[[Callable[..., Any]], Callable[[np.ndarray], Any]]


def _callable(estimate: Estimate, fun: str | Callable[..., Any],
              operands: Mapping[str, Any] | None
              ) -> tuple[Adapter, Callable[..., Any], np.ndarray, str]:
    """How to call ``fun`` (and its gradient) on the vector of the rows it uses, ``fun``
    itself as a function, and those rows."""
    if isinstance(fun, str):
        func, names = parse_expression(fun)
        text = fun
        if operands is None:
            raise EstimationError(f"expression {fun!r} needs operands=, a row key for each "
                                  f"name {names}; rows are {estimate.keys}.")
        missing = [n for n in names if n not in operands]
        if missing:
            raise EstimationError(f"expression {fun!r} uses {missing}, which are not in "
                                  f"operands ({sorted(operands)}).")
    elif callable(fun):
        func, text = fun, getattr(fun, "__name__", "function")
        names = list(operands) if operands is not None else []
    else:
        raise EstimationError(message("fun", "a text expression or a function", fun))
    if operands is None:
        def whole(f: Callable[..., Any]) -> Callable[[np.ndarray], Any]:
            def call(theta: np.ndarray) -> Any:
                with np.errstate(all="ignore"):
                    return f(theta)
            return call
        return whole, func, np.arange(len(estimate)), text
    index = np.array([_position(estimate, operands[n]) for n in names], dtype=np.int64)

    def adapt(f: Callable[..., Any]) -> Callable[[np.ndarray], Any]:
        def call(theta: np.ndarray) -> Any:
            # a value outside the function's domain is reported once, as an error
            with np.errstate(all="ignore"):
                return f(**dict(zip(names, theta)))
        return call

    return adapt, func, index, text


def _position(estimate: Estimate, key: Any) -> int:
    keys = estimate.keys
    if isinstance(key, tuple) and key in keys:
        return keys.index(key)
    flat = [k[0] for k in keys] if keys and len(keys[0]) == 1 else []
    if not isinstance(key, tuple) and key in flat:
        return flat.index(key)
    raise EstimationError(f"operand {key!r} is not a row of the estimate; rows are {keys}.")


def _values(out: Any) -> np.ndarray:
    return np.atleast_1d(np.asarray(out, dtype="float64")).ravel()


def _replicate_values(call: Callable[[np.ndarray], Any], reps: np.ndarray, q: int
                      ) -> np.ndarray:
    """(R x q) values of the function at every replicate's estimates."""
    try:
        out = np.asarray(call(reps.T), dtype="float64")
        if out.size == q * reps.shape[0]:
            return out.reshape(q, reps.shape[0]).T
    except (TypeError, ValueError, IndexError):
        pass
    # not element-wise: one replicate at a time
    return np.vstack([_values(call(r)) for r in reps])


def _jacobian(call: Callable[[np.ndarray], Any], gradient: Callable[[np.ndarray], Any] | None,
              theta: np.ndarray, q: int) -> tuple[np.ndarray, str]:
    """(q x m) derivatives at ``theta`` and how they were obtained."""
    m = len(theta)
    if gradient is not None:
        jac = np.asarray(gradient(theta), dtype="float64").reshape(q, m)
        return jac, "delta method (gradient given)"
    central = np.empty((q, m))
    for j in range(m):
        h = np.finfo(float).eps ** (1 / 3) * max(abs(theta[j]), 1.0)
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        central[:, j] = (_values(call(up)) - _values(call(down))) / (2 * h)
    complex_step = np.empty((q, m))
    try:
        for j in range(m):
            h = 1e-30 * max(abs(theta[j]), 1.0)
            z = theta.astype(complex)
            z[j] += 1j * h
            complex_step[:, j] = np.imag(np.atleast_1d(np.asarray(call(z))).ravel()) / h
    except (TypeError, ValueError):
        return central, "delta method (central differences)"
    scale = np.maximum(np.abs(central), 1e-8 * (1 + np.abs(central).max()))
    if np.all(np.isfinite(complex_step)) and np.all(np.abs(complex_step - central)
                                                    <= 1e-5 * scale):
        return complex_step, "delta method (complex-step derivative)"
    return central, "delta method (central differences)"
