"""Back ends: where the rows are, and how they are turned into sums.

:class:`~sipas.backends.memory.MemoryBackend` (a pandas frame) and
:class:`~sipas.backends.dask.DaskBackend` (a Dask frame, ``pip install 'sipas[dask]'``) both
implement :class:`~sipas.backends.base.Backend`; a design picks one from the type of its
frame, and nothing else in sipas asks which.

Examples
--------
>>> import pandas as pd
>>> from sipas.backends.dask import is_dask
>>> is_dask(pd.DataFrame())
False
"""
