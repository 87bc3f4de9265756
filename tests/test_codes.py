"""sorted_codes equals pandas.factorize(sort=True) on every kind of column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipas._codes import sorted_codes


def _check(values, na_level=False):
    codes, uniques = sorted_codes(values, na_level=na_level)
    ref_codes, ref_uniques = pd.factorize(values, sort=True, use_na_sentinel=not na_level)
    np.testing.assert_array_equal(codes, ref_codes)
    assert codes.dtype == np.int64
    assert pd.Index(uniques).equals(pd.Index(np.asarray(ref_uniques)))


@given(st.lists(st.integers(-40_000, 40_000), min_size=1, max_size=60),
       st.sampled_from(["int8", "int16", "int32", "int64", "uint16", "float64"]))
def test_integer_codes_any_range(values, dtype):
    arr = np.array(values)
    if dtype.startswith(("int8", "uint")):
        arr = np.abs(arr) % 100
    _check(arr.astype(dtype))


@pytest.mark.parametrize("values", [
    np.array([3, 1, 2**40, 1]),                      # a range too wide for a table
    np.array([1.5, 0.5, 1.5]),                      # non-integer floats
    np.array(["Hà Nội", "Cao Bằng", "Hà Nội"], dtype=object),
    pd.Series(pd.Categorical(["b", "a", "b"], categories=["b", "a"])),
    np.array([True, False, True]),
])
def test_other_columns_follow_pandas(values):
    _check(values)


def test_missing_values_as_a_level():
    _check(np.array([2.0, np.nan, 1.0, 2.0]), na_level=True)
    _check(np.array([2.0, np.nan, 1.0, 2.0]), na_level=False)
