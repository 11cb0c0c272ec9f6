"""XLSX: a number in a time-only format (`hh:mm:ss`, `[hh]:mm:ss`) reads as the time
the sheet shows, on both readers; date and date-time formats keep their ISO text.

QA: a CSV with notes `0:00` and `25:00`, opened in LibreOffice and saved as XLSX, read
back as `1899-12-31` and `1900-01-01 01:00:00`, and its rows came back Modified."""

from __future__ import annotations

import pytest

from sync.readers import xlsx_book


@pytest.mark.parametrize(("code", "shown"), [
    ("hh:mm:ss", (False, 0)), ("[$-40B]HH:MM:SS", (False, 0)),
    ("hh:mm:ss\\ AM/PM", (False, 0)), ("[hh]:mm:ss.00", (True, 2)), ("[mm]:ss", (True, 0)),
    ("mm:ss.0", (False, 1)), ('"klo "hh:mm', (False, 0)), ("hh:mm;@", (False, 0)),
    # A year, month or day: a date, shown as before.
    ("d.m.yyyy", None), ("yyyy-mm-dd hh:mm:ss", None), ("m/d/yy h:mm", None),
    ("mm", None), ("mmm", None), ("aaa hh:mm", None), ("dd hh:mm", None),
])
def test_a_format_shows_a_time_only_with_hours_minutes_or_seconds_alone(
        code: str, shown: tuple[bool, int] | None) -> None:
    # (hours past a day shown, digits of a second's fraction shown)
    found = xlsx_book.time_format(code)
    assert (found and (found.elapsed, found.decimals)) == shown
