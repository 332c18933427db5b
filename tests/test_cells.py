"""Formula escaping: every formula-looking text stays text and round-trips."""

from __future__ import annotations

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from allocator.cells import (
    FORMULA_START,
    escape_formula,
    escape_frame,
    unescape_formula,
    unescape_frame,
)


@given(st.text())
def test_round_trip_is_lossless(s):
    assert unescape_formula(escape_formula(s)) == s


@given(st.text())
def test_escaped_text_never_starts_a_formula(s):
    assert not str(escape_formula(s)).startswith(FORMULA_START)


def test_numbers_and_plain_text_are_untouched():
    df = pd.DataFrame({"donor": ["=cmd|' /C calc'!A0", "Red Cross", "-x"], "quantity": [-5, 3, 0]})
    out = escape_frame(df)
    assert out["donor"].tolist() == ["'=cmd|' /C calc'!A0", "Red Cross", "'-x"]
    assert out["quantity"].tolist() == [-5, 3, 0]
    pd.testing.assert_frame_equal(unescape_frame(out), df)
