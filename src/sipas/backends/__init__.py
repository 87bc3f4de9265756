"""Back ends of the reduction: in memory (numpy, the default) and Dask (optional extra).

Examples
--------
>>> import pandas as pd
>>> is_dask(pd.DataFrame())
False
"""

from __future__ import annotations

from typing import Any

__all__ = ["is_dask"]


def is_dask(obj: Any) -> bool:
    """Whether ``obj`` is a Dask collection (checked without importing Dask).

    Parameters
    ----------
    obj : object
        Anything (usually a design's frame).

    Returns
    -------
    bool
        True when the type comes from the ``dask`` or ``dask_expr`` packages.

    Examples
    --------
    >>> import pandas as pd
    >>> is_dask(pd.DataFrame()), is_dask([1, 2])
    (False, False)
    """
    return type(obj).__module__.split(".")[0] in ("dask", "dask_expr")
