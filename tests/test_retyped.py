"""Text a spreadsheet re-typed on a round trip (a day and month read as a date, `50%` as
0.5, `1e5` as 100000, `1:30` as a time, `true` as TRUE) keeps the register's value."""

from __future__ import annotations

import pytest

from sync.retyped import DATE, LOGICAL, NUMBER, PERCENTAGE, TIME, retyped_as


@pytest.mark.parametrize(("old", "new", "kind"), [
    # A day and month, with the year a spreadsheet adds, as the fi, sv, cs and en
    # locales write dates.
    ("1.12.", "01.12.26", DATE), ("1.12.", "2026-12-01", DATE), ("1.12", "1.12.2026", DATE),
    ("1.12.", "1. 12. 2026", DATE), ("1.12.", "01.12.2031", DATE),
    ("1/12", "2026-12-01", DATE), ("1/12", "1/12/26", DATE), ("1/12", "12/1/2026", DATE),
    ("12/1", "2026-12-01", DATE), ("1-12", "01.12.26", DATE),
    ("1.12.2026", "2026-12-01", DATE), ("1.12.2026", "01.12.26", DATE),
    ("29.2.", "29.02.28", DATE),
    ("50%", "0.5", PERCENTAGE), ("50 %", "0,5", PERCENTAGE), ("12,5%", "0.125", PERCENTAGE),
    ("1e5", "100000", NUMBER), ("1E5", "100 000", NUMBER), ("1,5e3", "1500", NUMBER),
    ("2.5e-2", "0,025", NUMBER), ("1e5", "1.00E+05", NUMBER),
    ("1:30", "01:30:00", TIME), ("1:30", "1:30:00 AM", TIME), ("13:05", "1:05:00 PM", TIME),
    ("TRUE", "true", LOGICAL), ("True", "TRUE", LOGICAL), ("false", "FALSE", LOGICAL),
    ("true", "TOSI", LOGICAL), ("false", "EPÄTOSI", LOGICAL), ("TRUE", "SANT", LOGICAL),
    ("false", "falskt", LOGICAL), ("true", "PRAVDA", LOGICAL), ("FALSE", "NEPRAVDA", LOGICAL),
    ("TRUE", "1", LOGICAL), ("false", "0", LOGICAL),
    # Not what a spreadsheet makes of the value: an edit, or another value.
    ("1.12.", "2.12.", None), ("1.12.", "02.12.26", None), ("1.12.", "2026-01-12", None),
    ("12.1", "1.12.26", None), ("1.12.2026", "2025-12-01", None), ("31.2.", "2026-03-03", None),
    ("1.12.", "1.12", None), ("1.12.", "1.12.", None), ("1/12", "2026-12-02", None),
    ("50%", "0.6", None), ("50%", "50", None), ("50%", "5", None),
    ("1e5", "100001", None), ("1e5", "1e6", None), ("1.5", "1,5", None),
    ("1:30", "01:31:00", None), ("1:30", "1:30:00 PM", None), ("1:30", "13:30:00", None),
    ("TRUE", "0", None), ("TRUE", "FALSE", None), ("pravda", "NEPRAVDA", None),
    ("Oy True Ab", "OY TRUE AB", None), ("1001", "1001.0", None),
])
def test_what_a_spreadsheet_makes_of_a_value(old, new, kind):
    assert retyped_as(old, new) == kind
