"""The vectorised business-id fast path gives exactly what python-stdnum gives."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdnum import luhn
from stdnum.cz.dic import calc_check_digit_legal
from stdnum.fi import alv

from sync.normalise import _business_id, normalise_column
from sync.normalise_business_id import business_id_fast

# The fast paths run on these few values too, as on a large file's, to be held to the
# per-value normalisers.
pytestmark = pytest.mark.usefixtures("fast_paths_always")

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def ids(draw: st.DrawFn) -> str:
    """Valid and invalid ids of the three countries, typed in many ways."""
    kind = draw(st.sampled_from(["fi", "se", "cz", "random", "rubbish"]))
    base = draw(st.text("0123456789", min_size=7, max_size=9))
    if kind == "fi":
        number = base[:7] + str(-alv.checksum(base[:7] + "0") % 11 % 10)
    elif kind == "se":
        number = base[:9] + luhn.calc_check_digit(base[:9])
        # The 12-digit forms: 16 before an organisation's, a century before a person's.
        number = draw(st.sampled_from(["", "", "16", "19", "20"])) + number
    elif kind == "cz":
        number = base[:7] + calc_check_digit_legal(base[:7])
    elif kind == "random":
        number = base
    else:
        return draw(st.text(alphabet="0123456789 -.FISECZfise/", max_size=14))
    if draw(st.booleans()):
        number = number.lstrip("0") or number  # a spreadsheet dropped leading zeros
    if draw(st.integers(0, 3)) == 0:
        number = draw(st.sampled_from(["FI", "SE", "CZ", "fi", "DE"])) + number + draw(
            st.sampled_from(["", "01"]))
    cut = draw(st.integers(0, len(number)))
    sep = draw(st.sampled_from(["", "-", " ", ".", " - ", "\u2013", "\u2011", "\u2212"]))
    return number[:cut] + sep + number[cut:]


COUNTRIES = st.sampled_from(["FI", "SE", "CZ", "DE"])


@SETTINGS
@given(st.lists(st.tuples(ids(), COUNTRIES), min_size=1, max_size=30))
def test_business_id_column_equals_stdnum(cells: list[tuple[str, str]]) -> None:
    values = [v for v, _ in cells]
    countries = [c for _, c in cells]
    result = normalise_column("business_id", pl.Series(values), pl.Series(countries))
    expected = [(None, None) if not v.strip() else _business_id(v.strip(), c)[:2]
                for v, c in cells]
    assert list(zip(result["value"], result["code"], strict=True)) == expected


@SETTINGS
@given(st.lists(st.tuples(ids(), COUNTRIES), min_size=1, max_size=30))
def test_fast_path_decides_only_valid_ids(cells: list[tuple[str, str]]) -> None:
    frame = pl.DataFrame({"v": [v.strip() for v, _ in cells], "c": [c for _, c in cells]})
    for (value, country), decided in zip(cells, business_id_fast(frame), strict=True):
        if decided is not None:
            assert _business_id(value.strip(), country) == (decided, None, None)


def test_fast_path_decides_the_common_forms() -> None:
    frame = pl.DataFrame({
        "v": ["0112038-9", "112038-9", "FI01120389", "556036-0793", "SE556036079301",
              "25596641", "1234567-8", "12345678", "2617416 4", "0112038\u20139",
              "0000000-0", "000000-0000"],
        "c": ["FI", "FI", "DE", "SE", "FI", "CZ", "FI", "DE", "FI", "FI", "FI", "SE"]})
    # A VAT prefix naming another country than the row's (rows 3 and 5) is left to the
    # python path, which reads it as the prefix says and warns (row 3), or rejects it on
    # a row whose country's ids are validated (row 5).
    assert business_id_fast(frame).to_list() == [
        "0112038-9", "0112038-9", None, "556036-0793", None, "25596641",
        None, None, "2617416-4", "0112038-9", None, None]
