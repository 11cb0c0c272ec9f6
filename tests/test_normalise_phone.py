"""The vectorised phone fast path gives exactly what phonenumbers gives, row by row."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync.normalise import _phone, normalise_column
from sync.normalise_phone import phone_fast

# The fast paths run on these few values too, as on a large file's, to be held to the
# per-value normalisers.
pytestmark = pytest.mark.usefixtures("fast_paths_always")

SETTINGS = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
REGIONS = ["FI", "SE", "CZ"]
# Real leading digits (mobile, fixed, service, Åland, IDD-looking) and random ones.
PREFIXES = ["40", "44", "45", "50", "9", "91", "2", "20", "29", "18", "10", "13", "600",
            "70", "73", "8", "46", "602", "777", "420", "358", "99", "994", "0", "00", "1"]
CODES = ["358", "46", "420", "44", "49", "3", "35"]


@st.composite
def phone_cells(draw: st.DrawFn) -> str:
    """A phone as someone may type it: any form, separators, damage, rubbish."""
    body = draw(st.sampled_from(PREFIXES)) + draw(st.text("0123456789", max_size=10))
    form = draw(st.sampled_from(["plus", "idd", "trunk", "bare", "plus_trunk", "raw"]))
    code = draw(st.sampled_from(CODES))
    digits = {"plus": f"+{code}{body}", "idd": f"00{code}{body}", "trunk": f"0{body}",
              "bare": body, "plus_trunk": f"+{code}0{body}", "raw": body}[form]
    if form == "raw":
        return draw(st.text(alphabet="0123456789+-() ./xe#,E", max_size=16))
    separators = st.sampled_from(["", "", "", " ", "-", ".", "/", "(", ")", "  "])
    typed = "".join(ch + draw(separators) for ch in digits)
    if draw(st.booleans()) and form == "plus_trunk":
        typed = typed.replace("0", "(0)", 1)
    return typed.strip()


@st.composite
def lettered_cells(draw: st.DrawFn) -> str:
    """A phone with a letter typed for a digit or left beside it (O for 0, l for 1)."""
    cell = draw(phone_cells())
    at = draw(st.integers(0, len(cell)))
    letters = draw(st.text("OolISsBAxZÄ", min_size=1, max_size=4))
    replace = draw(st.booleans())
    return (cell[:at] + letters + cell[at + replace:]).strip()


def _slow(values: list[str | None], regions: list[str]) -> list[tuple[str | None, str | None]]:
    return [(None, None) if v is None or not v.strip() else _phone(v.strip(), r)[:2]
            for v, r in zip(values, regions, strict=True)]


@SETTINGS
@given(st.lists(st.tuples(st.one_of(phone_cells(), lettered_cells()), st.sampled_from(REGIONS)),
                min_size=1, max_size=30))
def test_phone_column_equals_phonenumbers(cells: list[tuple[str, str]]) -> None:
    values = [v for v, _ in cells]
    regions = [r for _, r in cells]
    result = normalise_column("phone", pl.Series(values), pl.Series(regions))
    assert list(zip(result["value"], result["code"], strict=True)) == _slow(values, regions)


@SETTINGS
@given(st.lists(st.tuples(phone_cells(), st.sampled_from(REGIONS)), min_size=1, max_size=30))
def test_fast_path_decides_only_valid_numbers(cells: list[tuple[str, str]]) -> None:
    frame = pl.DataFrame({"v": [v for v, _ in cells], "c": [r for _, r in cells]})
    fast = phone_fast(frame).to_list()
    for (value, region), decided in zip(cells, fast, strict=True):
        if decided is not None:
            assert _phone(value, region) == (decided, None, None)


def test_fast_path_decides_the_common_forms() -> None:
    values = ["+358 40 123 4567", "040-123 4567", "401234567", "00358401234567",
              "+358 (0)40 1234567", "070-123 45 67", "+46 8 123 456 78", "602 123 456",
              "+420602123456", "+46701234567"]
    regions = ["FI", "FI", "FI", "FI", "FI", "SE", "SE", "CZ", "FI", "FI"]
    frame = pl.DataFrame({"v": values, "c": regions})
    fast = phone_fast(frame).to_list()
    assert fast == ["+358401234567"] * 5 + ["+46701234567", "+46812345678", "+420602123456",
                                             "+420602123456", "+46701234567"]


def test_fast_path_leaves_other_regions_and_damage_to_phonenumbers() -> None:
    frame = pl.DataFrame({"v": ["3.58401E+11", "040 123 4567 ext 5", "+358 18 12345",
                                "0401234567", "12"],
                          "c": ["FI", "FI", "FI", "DE", "FI"]})
    fast = phone_fast(frame).to_list()
    assert fast == [None] * 5


@SETTINGS
@given(st.lists(st.tuples(lettered_cells(), st.sampled_from(REGIONS)), min_size=1, max_size=30))
def test_a_phone_with_a_letter_is_kept_as_typed(cells: list[tuple[str, str]]) -> None:
    # phonenumbers reads letters as keypad digits or drops them: another number than the
    # one typed. Neither path converts such a cell (a scientific-notation cell has its
    # own code).
    values = [v for v, _ in cells]
    result = normalise_column("phone", pl.Series(values), pl.Series([r for _, r in cells]))
    for value, (out, code) in zip(values, zip(result["value"], result["code"], strict=True),
                                  strict=True):
        if value.strip():
            assert out == value.strip() and code in ("invalid_phone", "scientific_notation")
