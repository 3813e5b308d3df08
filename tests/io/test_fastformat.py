"""Vectorised table formatting against Python's own number formatting."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqem.io.fastformat import Fixed, Int, Text, format_rows, text_matrix


def python_fixed(value: float, decimals: int) -> str:
    if not np.isfinite(value):
        return "NA"
    scaled = int(np.rint(abs(value) * 10**decimals))
    whole, frac = divmod(scaled, 10**decimals)
    text = f"{whole}.{frac:0{decimals}d}" if decimals else str(whole)
    return ("-" if value < 0 and scaled > 0 else "") + text


finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(finite, st.sampled_from([np.nan, np.inf, -np.inf, -0.0])), min_size=1),
    st.integers(min_value=0, max_value=8),
)
def test_fixed_equals_python(values, decimals):
    x = np.array(values)
    lines = format_rows([Fixed(x, decimals)]).decode().split("\n")[:-1]
    assert lines == [python_fixed(v, decimals) for v in values]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=-(10**15), max_value=10**15), min_size=1))
def test_int_equals_python(values):
    lines = format_rows([Int(np.array(values, dtype=np.int64))]).decode().split("\n")[:-1]
    assert lines == [str(v) for v in values]


def test_rows_join_text_and_numbers():
    names = text_matrix(["rs1", "rs22", "chr1:12345"])
    pick = np.array([2, 0, 1])
    body = format_rows(
        [Text(names[pick]), Int(np.array([5, -12, 0])), Fixed(np.array([0.25, -1e-9, np.nan]))]
    )
    assert body.decode() == "chr1:12345\t5\t0.250000\nrs1\t-12\t0.000000\nrs22\t0\tNA\n"
    assert format_rows([]) == b""


def test_bad_columns():
    with pytest.raises(ValueError, match="different lengths"):
        format_rows([Int(np.arange(3)), Int(np.arange(2))])
    with pytest.raises(ValueError, match="NUL"):
        text_matrix(["a\0b"])
