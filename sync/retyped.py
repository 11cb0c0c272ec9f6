"""Text a spreadsheet re-types when it opens a CSV with its default column types: a
day and month (`1.12.`, `1/12`) becomes a date (`01.12.26`, `2026-12-01`), `50%` the
number `0.5`, `1e5` `100000`, `1:30` the time `01:30:00`, `true` the logical value
`TRUE` (`TOSI`, `SANT`, `PRAVDA` in fi, sv, cs), and it is saved so (QA: LibreOffice
round trips in fi, sv and cs locales).

Only the text here: `RETYPED_LOOK` marks the values a spreadsheet may re-type (a cheap,
broad column test, and what `regsync export --spreadsheet-safe` guards), and `retyped_as`
decides, for one value and what came back, whether a spreadsheet made the one of the
other.
"""

from __future__ import annotations

import calendar
import re
from decimal import Decimal, InvalidOperation

_TRUTH_WORDS = {"true": True, "tosi": True, "sant": True, "pravda": True,
                "false": False, "epätosi": False, "falskt": False, "nepravda": False}
# Month names and their short forms as the en, sv, fi and cs locales read them in a date
# (`Jan 5`, `5 maj`, `5. ledna`).
_MONTH_WORDS = (
    "january february march april may june july august september october november december",
    "jan feb mar apr may jun jul aug sep oct nov dec",
    "januari februari mars april maj juni juli augusti september oktober november december",
    "jan feb mar apr maj jun jul aug sep okt nov dec",
    "tammikuu helmikuu maaliskuu huhtikuu toukokuu kesäkuu heinäkuu elokuu syyskuu lokakuu "
    "marraskuu joulukuu",
    "tammikuuta helmikuuta maaliskuuta huhtikuuta toukokuuta kesäkuuta heinäkuuta elokuuta "
    "syyskuuta lokakuuta marraskuuta joulukuuta",
    "tammi helmi maalis huhti touko kesä heinä elo syys loka marras joulu",
    "leden únor březen duben květen červen červenec srpen září říjen listopad prosinec",
    "ledna února března dubna května června července srpna září října listopadu prosince",
    "led úno bře dub kvě čvn čvc srp zář říj lis pro",
)
_MONTHS = {word: month for names in _MONTH_WORDS
           for month, word in enumerate(names.split(), start=1)} | {"sept": 9}

# The texts a spreadsheet may read as something else than text (as a polars regex: no
# back-references). Broad on purpose: a superset of what `retyped_as` accepts, so a
# cheap first test; and what an export guards, where guarding too much is harmless (the
# readers unwrap a guard exactly) and too little is not. A value that, after spaces,
# signs, `(` or a currency, starts with a digit or a decimal separator (numbers, amounts,
# dates, times, fractions, `100-`), a month name and a day, or TRUE/FALSE.
_UNIT_LOOK = r"(?:[€$£]|(?i:kr|kč|eur|sek|czk|usd|gbp)\.?)"
_NUMBER_LOOK = rf"^[\s(+\-]*(?:{_UNIT_LOOK}[\s(+\-]*)?[.,]?[0-9]"
_MONTH_LOOK = rf"^(?i:{'|'.join(sorted(_MONTHS, key=len, reverse=True))})\.?[\s,./\-]*[0-9]"
RETYPED_LOOK = (rf"{_NUMBER_LOOK}|{_MONTH_LOOK}"
                rf"|^(?i:{'|'.join(_TRUTH_WORDS)})$")

# What the spreadsheet read a value as, in a row's note: "a spreadsheet read it as ...".
DATE, PERCENTAGE, NUMBER, TIME, LOGICAL = (
    "a date", "a percentage", "a number", "a time", "TRUE or FALSE")


def retyped_as(old: str, new: str) -> str | None:
    """What a spreadsheet read the text `old` as (DATE, PERCENTAGE, NUMBER, TIME or
    LOGICAL) where `new` is what it then writes for it, in any of the forms the
    spreadsheets of the fi, sv, cs and en locales write; None where `new` is not that
    (an edit, or another value), and where the two are equal.

    A date keeps `old`'s day and month, in either order where `old` is written with `/`
    or `-` (`1/12` is 1 December or 12 January) and day first where with dots; any year
    where `old` has none (a spreadsheet adds the current one), else `old`'s.
    """
    if old == new:
        return None
    for kind, test in ((DATE, _same_date), (PERCENTAGE, _same_percentage),
                       (NUMBER, _same_number), (TIME, _same_time),
                       (LOGICAL, _same_truth)):
        if test(old, new):
            return kind
    return None


# Dates as a register may hold them as text: a day and month, or a whole date.
_DOTTED = re.compile(r"^(\d{1,2})\.\s?(\d{1,2})\.?(?:\s?(\d{4}|\d{2}))?$")
_SLASHED = re.compile(r"^(\d{1,2})([/-])(\d{1,2})(?:\2(\d{4}|\d{2}))?$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?: 00:00:00)?$")
# (day, month, year or None)
_Date = tuple[int, int, int | None]


def _same_date(old: str, new: str) -> bool:
    """Whether `new` is a date a spreadsheet writes for the date it read `old` as."""
    read = _dates(old, year_needed=False)
    if not read:
        return False
    written = _dates(new, year_needed=True)
    return any(d == d2 and m == m2 and _same_year(y, y2)
               for d, m, y in read for d2, m2, y2 in written)


def _dates(text: str, year_needed: bool) -> list[_Date]:
    """The valid dates `text` may be read as; with `year_needed`, only whole dates."""
    found: list[_Date] = []
    if match := _DOTTED.match(text):
        day, month, year = match.group(1, 2, 3)
        if year is None or text.count(".") == 2:  # `1.12.2026`, not `1.122026`
            found.append((int(day), int(month), _year(year)))
    elif match := _SLASHED.match(text):
        first, second, year = int(match[1]), int(match[3]), _year(match[4])
        found += [(first, second, year), (second, first, year)]
    elif match := _ISO.match(text):
        found.append((int(match[3]), int(match[2]), int(match[1])))
    return [(d, m, y) for d, m, y in found
            if 1 <= m <= 12 and 1 <= d <= calendar.monthrange(2000, m)[1]
            and (y is not None or not year_needed)]


def _year(text: str | None) -> int | None:
    return None if text is None else int(text)


def _same_year(read: int | None, written: int | None) -> bool:
    """Any year is the one a spreadsheet adds to a day and month; a year of two digits
    is the one of four it shortens."""
    if read is None or written is None:
        return True
    if read >= 100 and written >= 100:
        return read == written
    return read % 100 == written % 100


_PERCENT = re.compile(r"^([+-]?\d+(?:[.,]\d+)?)\s?%$")


def _same_percentage(old: str, new: str) -> bool:
    """`50%` written as `0.5`, `0,5` (or `50 %`)."""
    read = _PERCENT.match(old)
    if read is None:
        return False
    value = _decimal(read[1])
    if (written := _PERCENT.match(new)) is not None:
        return value is not None and _decimal(written[1]) == value
    return value is not None and _decimal(new) == value / 100


_SCIENTIFIC = re.compile(r"^[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d{1,3}$")


def _same_number(old: str, new: str) -> bool:
    """`1e5` written as `100000` (or `1.00E+05`, `1,5e3` as `1500`, `1 500`)."""
    if not _SCIENTIFIC.match(old):
        return False
    value = _decimal(old)
    return value is not None and _decimal(new) == value


_PLAIN_NUMBER = re.compile(r"^[+-]?\d+(?:[.,]\d+)?(?:[eE][+-]?\d{1,3})?$")


def _decimal(text: str) -> Decimal | None:
    """`text` as a number, with `.` or `,` for the decimal point (and thousands set off
    by spaces, as fi, sv and cs write them); None where it is not one."""
    compact = re.sub(r"(?<=\d)[\s\u00a0\u202f](?=\d{3}\b)", "", text)
    if not _PLAIN_NUMBER.match(compact):
        return None
    try:
        return Decimal(compact.replace(",", "."))
    except InvalidOperation:
        return None


_TIME_READ = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_TIME_WRITTEN = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s?([AaPp])\.?\s?[Mm]\.?)?$")


def _same_time(old: str, new: str) -> bool:
    """`1:30` written as `01:30:00` (or `1:30:00 AM`)."""
    read, written = _TIME_READ.match(old), _TIME_WRITTEN.match(new)
    if read is None or written is None:
        return False
    hours, minutes, seconds = (int(part or 0) for part in written.group(1, 2, 3))
    if half := written[4]:
        if not 1 <= hours <= 12:
            return False
        hours = hours % 12 + (12 if half in "Pp" else 0)
    return (minutes < 60 and seconds < 60
            and (int(read[1]), int(read[2]), int(read[3] or 0)) == (hours, minutes, seconds))


def _same_truth(old: str, new: str) -> bool:
    """`true` written as `TRUE`, `TOSI`, `SANT`, `PRAVDA` (any case) or `1`."""
    value = _TRUTH_WORDS.get(old.casefold())
    if value is None:
        return False
    return _TRUTH_WORDS.get(new.casefold()) is value or new == ("1" if value else "0")
