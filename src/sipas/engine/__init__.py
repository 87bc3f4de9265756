"""The statistics, written once: sums of rows, variance engines, calibration projections,
confidence intervals. Nothing here knows where the rows are (see :mod:`sipas.backends`) or
what a design is (see :mod:`sipas.design`).

Examples
--------
>>> from sipas.engine.intervals import t_quantile
>>> round(float(t_quantile(0.95, float("inf"))), 4)
1.96
"""
