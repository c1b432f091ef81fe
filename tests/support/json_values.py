"""Hypothesis strategies for values JSON can hold (decoded JSON, or what encoders are given)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st


def json_values(*, non_finite: bool) -> st.SearchStrategy[Any]:
    """Nested lists and dicts of None, bools, ints beyond 64 bits, floats (NaN and ±Infinity
    when ``non_finite``) and any text, lone surrogates included."""
    return st.recursive(
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**70), max_value=2**70)
        | st.floats(allow_nan=non_finite, allow_infinity=non_finite)
        | st.text(st.characters(codec=None)),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=5), children, max_size=4)
        ),
        max_leaves=12,
    )
