"""Hypothesis strategies for arbitrary JSON, shared by the models' property tests."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

#: Every JSON scalar, and the strings the API's quirks are made of.
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["", " ", "0", "1", "true", "FALSE", "12", " -3 ", "2.5", "1e400"])
    | st.sampled_from(["nan", "2014-06-06T12:31:00Z", "9999-12-31T23:59:59-01:00", "inclusion"])
)
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def mutated(record: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """*record* with some fields replaced by arbitrary JSON and some removed."""
    keys = sorted(record)
    return st.builds(
        lambda replaced, removed: {
            **{key: value for key, value in record.items() if key not in removed},
            **replaced,
        },
        st.dictionaries(st.sampled_from(keys), JSON, max_size=4),
        st.sets(st.sampled_from(keys), max_size=2),
    )
