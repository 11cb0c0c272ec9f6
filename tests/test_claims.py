"""Claimed keys (spec section 4): the set-based answer equals the row-by-row walk."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.claims import CONFLICT_SCHEMA, _walk, claim_conflicts

key = st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d"]))
SAID = {"match": "customer", "customer_number": "customer_number",
        "business_id": "business_id"}


def _frame(keys: list[tuple[str | None, str | None]],
           matches: list[str | None] | None = None) -> pl.DataFrame:
    return pl.DataFrame({"_row": list(range(2, 2 + len(keys))),
                         "match": matches or [None] * len(keys),
                         "customer_number": [k[0] for k in keys],
                         "business_id": [k[1] for k in keys]},
                        schema={"_row": pl.Int64, "match": pl.String,
                                "customer_number": pl.String, "business_id": pl.String})


def _reference(claimants: pl.DataFrame) -> dict[int, str]:
    # The rule as the spec words it, one row at a time, in row order.
    claimed: dict[tuple[str, str], int] = {}
    out: dict[int, str] = {}
    for row, match, number, business_id in claimants.sort("_row").select(
            "_row", "match", "customer_number", "business_id").iter_rows():
        keys = [(k, v) for k, v in (("match", match), ("customer_number", number),
                                    ("business_id", business_id)) if v is not None]
        hit = next(((k, claimed[(k, v)]) for k, v in keys if (k, v) in claimed), None)
        if hit:
            out[row] = f"same {SAID[hit[0]]} as row {hit[1]}"
        else:
            claimed.update({k: row for k in keys})
    return out


def _as_dict(found: pl.DataFrame) -> dict[int, str]:
    return dict(found.select("_row", "why").iter_rows())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(key, key, key), max_size=14))
def test_conflicts_equal_the_row_by_row_rule(keys) -> None:
    claimants = _frame([k[1:] for k in keys], [k[0] for k in keys])
    expected = _reference(claimants)
    assert _as_dict(claim_conflicts(claimants)) == expected
    assert _as_dict(_walk(claimants.sort("_row"))) == expected


def test_a_row_that_conflicts_claims_nothing() -> None:
    # Row 3 loses number a to row 2, so its business id x stays free for row 4.
    found = claim_conflicts(_frame([("a", None), ("a", "x"), (None, "x")]))
    assert _as_dict(found) == {3: "same customer_number as row 2"}


def test_a_row_that_loses_its_business_id_claims_no_customer() -> None:
    # Row 3 reaches customer 1002 but sets a business id New row 2 brings: a Conflict,
    # so row 4, for the same customer, is handled normally (QA: it was "same customer
    # as row 3", a row that was never applied).
    found = claim_conflicts(_frame([(None, "x"), (None, "x"), (None, None)],
                                   [None, "1002", "1002"]))
    assert _as_dict(found) == {3: "same business_id as row 2"}


def test_a_long_chain_past_the_round_cap_gives_the_same_answer(monkeypatch) -> None:
    # a-b, b-c, c-d, ...: each row's fate depends on the one before.
    keys = [(f"n{i}", f"n{i + 1}") for i in range(12)]
    claimants = _frame([(None, None)]).clear().vstack(
        pl.DataFrame({"_row": list(range(2, 14)), "match": [None] * 12,
                      "customer_number": [k[1] for k in keys],
                      "business_id": [k[0] for k in keys]}).cast(
            {"match": pl.String, "customer_number": pl.String, "business_id": pl.String}))
    expected = _reference(claimants)
    monkeypatch.setattr("sync.claims._ROUNDS", 2)
    assert _as_dict(claim_conflicts(claimants)) == expected
    assert set(CONFLICT_SCHEMA) == {"_row", "why"}
