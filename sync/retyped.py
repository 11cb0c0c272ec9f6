"""Text a spreadsheet re-types when it opens a CSV with its default column types: a
day and month (`1.12.`, `1/12`, `Jan 5`) becomes a date (`01.12.26`, `2026-12-01`),
`50%` the number `0.5`, `1e5` `100000`, `1 000` `1000`, `(100)` `-100`, `5 kr` the
amount `5,00 kr`, `1 1/4` the fraction `1.25`, `1:30` the time `01:30:00`, `true` the
logical value `TRUE` (`TOSI`, `SANT`, `PRAVDA` in fi, sv, cs), and it is saved so, as
a CSV or an XLSX (QA: LibreOffice round trips in fi, sv, cs and en locales).

Only the text here: `RETYPED_LOOK` marks the values a spreadsheet may re-type (a cheap
column test, and what `regsync export --spreadsheet-safe` guards), and `retyped_as`
decides, for one value and what came back, whether a spreadsheet made the one of the
other.
"""

from __future__ import annotations

import calendar
import datetime
import re
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import NamedTuple

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
# Currencies as the en, fi, sv and cs locales write them, by symbol or code.
_CURRENCIES = {"€": "EUR", "eur": "EUR", "$": "USD", "usd": "USD", "£": "GBP",
               "gbp": "GBP", "kr": "SEK", "kr.": "SEK", "sek": "SEK", "kč": "CZK",
               "czk": "CZK"}

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
# What a spreadsheet writes for a value it re-typed (a number, amount, date, time,
# percentage or TRUE/FALSE): a superset of the texts `retyped_as` takes for one, so the
# cheap test on the file's side (most edits, `12 Main St` -> `12 Main St B`, fail it).
WRITTEN_LOOK = (rf"^(?:[\s(+\-]*(?:{_UNIT_LOOK}[\s(+\-]*)?[0-9.,][0-9.,:/\s\-+eET]*"
                rf"(?:\s?(?i:[ap])\.?\s?(?i:m)\.?)?\s*{_UNIT_LOOK}?[\s)\-%]*"
                rf"|(?i:{'|'.join(_TRUTH_WORDS)}))$")

# What the spreadsheet read a value as, in a row's note: "a spreadsheet read it as ...".
DATE, PERCENTAGE, NUMBER, AMOUNT, FRACTION, TIME, LOGICAL = (
    "a date", "a percentage", "a number", "an amount", "a fraction", "a time",
    "TRUE or FALSE")


def retyped_as(old: str, new: str) -> str | None:
    """What a spreadsheet read the text `old` as (DATE, PERCENTAGE, NUMBER, AMOUNT,
    FRACTION, TIME or LOGICAL) where `new` is what it then writes for it, in any of the
    forms the spreadsheets of the fi, sv, cs and en locales write, to a CSV or an XLSX;
    None where `new` is not that (an edit, or another value), and where the two are
    equal.

    A date keeps `old`'s day and month, in either order where `old` is written with `/`
    or `-` (`1/12` is 1 December or 12 January) and day first where with dots; any year
    where `old` has none (a spreadsheet adds the current one), else `old`'s (a year of
    one to three digits read as the spreadsheet's two- or four-digit one: `1.2.3` is
    `01.02.03` or `01.02.2003`); and its time, if any. A number is `old` read under any
    of the locales' conventions (decimal `,` or `.`; thousands set off by spaces, `.`
    or `,`; `-5`, `(5)`, `5-`; `5,-` for whole units; a currency before or after),
    written plain, with two decimals or in scientific notation, with its currency if it
    had one; a number of more than 15 significant digits as a spreadsheet keeps it, its
    first 15 (rounded). A number with leading zeros (`007`) is not taken as one: a
    value without them is an edit in free text.
    """
    if old == new:
        return None
    try:
        if _same_date(old, new):
            return DATE
        if _same_percentage(old, new):
            return PERCENTAGE
        if kind := _same_number(old, new):
            return kind
        for kind, test in ((TIME, _same_time), (LOGICAL, _same_truth)):
            if test(old, new):
                return kind
    except (InvalidOperation, ValueError, OverflowError):
        # A value past what decimal arithmetic or int() takes (thousands of digits): no
        # spreadsheet reads it as a number, so it is no re-typing.
        return None
    return None


# Dates as a register may hold them as text: a day and month, or a whole date.
_DOTTED = re.compile(r"^(\d{1,2})\.\s?(\d{1,2})\.?(?:\s?(\d{1,4}))?$")
_SLASHED = re.compile(r"^(\d{1,2})([/-])(\d{1,2})(?:\2(\d{1,4}))?$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_MONTH_FIRST = re.compile(r"^([^\W\d_]+)\.?[\s-]*(\d{1,2})\.?(?:,?[\s-]*(\d{1,4}))?$")
_DAY_FIRST = re.compile(r"^(\d{1,2})\.?[\s-]*([^\W\d_]+)\.?(?:,?[\s-]*(\d{1,4}))?$")
# A date with a time after it (`2026-12-01T10:00`, `01.12.26 10:00:00`).
_WITH_TIME = re.compile(r"^(.*?\d\.?)(?:T|\s+)(\d{1,2}:.*)$")
# (day, month, year or None)
_Date = tuple[int, int, int | None]


def _same_date(old: str, new: str) -> bool:
    """Whether `new` is a date (and time) a spreadsheet writes for the date it read
    `old` as."""
    (old_day, old_time), (new_day, new_time) = _with_time(old), _with_time(new)
    if old_time is None or old_time != new_time:
        return False
    read = _dates(old_day, year_needed=False) + _named_dates(old_day)
    if not read:
        return False
    written = _dates(new_day, year_needed=True) + _serial_date(new_day)
    return any(d == d2 and m == m2 and _same_year(y, y2)
               for d, m, y in read for d2, m2, y2 in written)


def _with_time(text: str) -> tuple[str, tuple[int, int, int] | None]:
    """`text` as a date's text and its time (midnight where it has none); None for the
    time where what follows the date is no time."""
    if (match := _WITH_TIME.match(text)) is None:
        return text, (0, 0, 0)
    return match[1], _clock(match[2])


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
    return _valid(found, year_needed)


# A date as a spreadsheet stores it, days since 30 December 1899, shown so where the
# cell's format became General or Number (`46357` for 1.12.2026). Only five digits from
# 1990 on: a spreadsheet gives a day and month the current year, and a small number is
# more likely an edit (a shelf `3.4` edited to `94`, which is 3 April 1900; review).
_SERIAL = re.compile(r"^[0-9]{5}$")
_SERIAL_EPOCH = datetime.date(1899, 12, 30)
_FIRST_SERIAL = (datetime.date(1990, 1, 1) - _SERIAL_EPOCH).days


def _serial_date(text: str) -> list[_Date]:
    """The date `text` is as a spreadsheet's serial number, if it is one."""
    if not _SERIAL.match(text) or int(text) < _FIRST_SERIAL:
        return []
    date = _SERIAL_EPOCH + datetime.timedelta(days=int(text))
    return [(date.day, date.month, date.year)]


def _named_dates(text: str) -> list[_Date]:
    """The dates `text` may be read as where it names the month (`Jan 5`, `5 maj 2026`,
    `5. ledna`)."""
    found: list[_Date] = []
    if match := _MONTH_FIRST.match(text):
        found.append((int(match[2]), _MONTHS.get(match[1].casefold(), 0), _year(match[3])))
    elif match := _DAY_FIRST.match(text):
        found.append((int(match[1]), _MONTHS.get(match[2].casefold(), 0), _year(match[3])))
    return _valid(found, year_needed=False)


def _valid(dates: list[_Date], year_needed: bool) -> list[_Date]:
    return [(d, m, y) for d, m, y in dates
            if 1 <= m <= 12 and 1 <= d <= calendar.monthrange(2000, m)[1]
            and (y is not None or not year_needed)]


def _year(text: str | None) -> int | None:
    return None if text is None else int(text)


def _same_year(read: int | None, written: int | None) -> bool:
    """Any year is the one a spreadsheet adds to a day and month; a year of one to three
    digits is the one of two or four it writes (19xx or 20xx: compared modulo 100), as is
    a year of two it shortens one of four to."""
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


class _Number(NamedTuple):
    """One reading of a text as a number."""

    value: Decimal
    shown: int | None  # the significant digits of a scientific mantissa; None if plain
    as_written: bool  # in a form a spreadsheet writes (no trailing zeros but two decimals)
    padded: bool = False  # two decimals ending in 0 (`2.10`, `3,00`): an amount's format


_UNIT = "|".join(re.escape(u) for u in sorted(_CURRENCIES, key=len, reverse=True))
# An amount: a number, and around it a sign, `(...)`, a trailing `-` and a currency.
_AMOUNT = re.compile(rf"""
    (?P<open>\(\s*)?
    (?P<sign>[-+]\s*)?
    (?:(?P<before>{_UNIT})\s*)?
    (?P<sign2>[-+]\s*)?
    (?P<body>[0-9.,](?:[0-9.,\s]*[0-9.,])?(?:[eE][-+]?[0-9]{{1,3}})?)
    (?P<minus>-)?
    (?:\s*(?P<after>{_UNIT}))?
    (?P<trail>\s*-)?
    (?P<close>\s*\))?
    """, re.VERBOSE | re.IGNORECASE)
# Bounded: a spreadsheet reads no longer ones, and int() refuses 4,300 digits (review).
_FRACTION = re.compile(r"([-+]?)(\d{1,15})\s+(\d{1,15})/(\d{1,15})")
_SPACES = "\\s\u00a0\u202f"
# A number's body under each convention: its decimal point and its thousands separators.
_BODIES = tuple(re.compile(
    rf"(?P<whole>\d{{1,3}}(?P<sep>[{seps}])\d{{3}}(?:(?P=sep)\d{{3}})*|\d*)"
    rf"(?:{re.escape(point)}(?P<fraction>\d*))?(?:[eE](?P<exponent>[-+]?\d{{1,3}}))?")
    for point, seps in ((",", _SPACES + "."), (".", _SPACES + ",")))
# A spreadsheet keeps a number's first 15 significant digits: a longer one is written
# with its first 15 (rounded) and then zeros.
SPREADSHEET_DIGITS = 15


def _same_number(old: str, new: str) -> str | None:
    """AMOUNT, NUMBER or FRACTION where `new` is what a spreadsheet writes for a number
    it read `old` as (see `retyped_as`); else None."""
    read, written = _amount(old), _amount(new)
    if written is None:
        return None
    new_unit, written_values = written
    if (fraction := _fraction(old)) is not None:
        old_unit, read_values, kind = None, [fraction], FRACTION
    elif read is not None:
        old_unit, read_values, kind = read[0], [n.value for n in read[1]], NUMBER
    else:
        return None
    if new_unit is not None and new_unit != old_unit:
        return None  # a spreadsheet keeps the currency it read
    if new.lstrip().startswith("+"):
        return None  # a spreadsheet writes no plus sign: `+5` for `5` is an edit
    # Two decimals with zeros added (`2.1` -> `2.10`, `3` -> `3,00`) only in an amount's
    # format: a plain number is written as it reads (QA: a version `2.1` edited to `2.10`
    # was kept as re-typed).
    amount = old_unit is not None or new_unit is not None
    if not any(_equal(value, number) for value in read_values
               for number in written_values if number.as_written
               and (amount or not number.padded)):
        return None
    return AMOUNT if old_unit or new_unit else kind


def _amount(text: str) -> tuple[str | None, list[_Number]] | None:
    """`text` as an amount: its currency (None without one) and the numbers it may be
    read as; None where it is no number."""
    match = _AMOUNT.fullmatch(text.strip())
    if match is None or bool(match["open"]) != bool(match["close"]) \
            or (match["before"] and match["after"]):
        return None
    body = match["body"]
    minus = [bool(match["open"]), (match["sign"] or "").startswith("-"),
             (match["sign2"] or "").startswith("-"), bool(match["minus"]), bool(match["trail"])]
    if sum(minus) > 1:
        return None
    numbers = _numbers(body)
    if not numbers:
        return None
    signs = [-1] if any(minus) else [1]
    if body.endswith(",") and match["minus"]:  # `5,-`: whole units, or `5,` and a minus
        signs = [1, -1]
    unit = match["before"] or match["after"]
    return (None if unit is None else _CURRENCIES[unit.casefold()],
            [number._replace(value=number.value * sign) for number in numbers
             for sign in signs])


def _numbers(body: str) -> list[_Number]:
    """The numbers the body of an amount may be read as, under each convention."""
    found = []
    for pattern in _BODIES:
        match = pattern.fullmatch(body.strip())
        if match is None:
            continue
        whole, fraction, exponent = (re.sub(r"\D", "", match["whole"]), match["fraction"] or "",
                                     match["exponent"])
        if not (whole or fraction) or (len(whole) > 1 and whole.startswith("0")):
            continue  # no digits; leading zeros (`007`): not a number here
        value = Decimal(f"{whole}.{fraction}" + ("" if exponent is None else f"e{exponent}"))
        shown = None if exponent is None else len((whole + fraction).lstrip("0") or "0")
        written = (exponent is not None or not fraction.endswith("0") or len(fraction) == 2)
        padded = exponent is None and len(fraction) == 2 and fraction.endswith("0")
        found.append(_Number(value, shown, written, padded))
    return found


def _fraction(text: str) -> Decimal | None:
    """A mixed fraction (`1 1/4`) as its value; None where `text` is not one."""
    match = _FRACTION.fullmatch(text.strip())
    if match is None or int(match[4]) == 0:
        return None
    with localcontext() as context:
        context.prec = 40
        value = int(match[2]) + Decimal(int(match[3])) / int(match[4])
    return -value if match[1] == "-" else value


def _equal(value: Decimal, number: _Number) -> bool:
    """Whether `number`, as a spreadsheet writes it, is the number `value`: the same,
    or rounded to the significant digits a spreadsheet keeps (15), or shows in
    scientific notation (`1.23456789012346E+19`, `1.23E+19`)."""
    if value == number.value:
        return True
    if number.shown is not None:
        return number.value in _rounded(value, number.shown)
    if (_significant(number.value) > SPREADSHEET_DIGITS  # a double's digits (an XLSX's)
            and number.value != number.value.to_integral_value()):
        # A fraction only: two whole numbers of 17 digits or more may share a double
        # (review: `...567891` for `...567890` was kept as re-typed); a long whole
        # number a spreadsheet wrote has its 15 digits then zeros, or an exponent.
        return float(value) == float(number.value)
    return (_significant(value) > SPREADSHEET_DIGITS
            and number.value in _rounded(value, SPREADSHEET_DIGITS))


def _significant(value: Decimal) -> int:
    return len(value.normalize().as_tuple().digits)


def _rounded(value: Decimal, digits: int) -> set[Decimal]:
    """`value` rounded to `digits` significant digits, a tie either way."""
    if value == 0:
        return {value}
    step = Decimal(1).scaleb(value.adjusted() - digits + 1)
    with localcontext() as context:
        context.prec = max(context.prec, len(value.as_tuple().digits) + 2)
        return {value.quantize(step, rounding) for rounding in (ROUND_HALF_UP,
                                                                ROUND_HALF_EVEN)}


# A time of day as a spreadsheet reads and writes it (`10:`, `1:30`, `13:05:00`,
# `12:00:00 PM`).
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})?(?::(\d{2}))?(?:\s?([AaPp])\.?\s?[Mm]\.?)?$")


def _same_time(old: str, new: str) -> bool:
    """`1:30` written as `01:30:00` (or `1:30:00 AM`), `10:` as `10:00:00`."""
    read = _clock(old)
    return read is not None and read == _clock(new)


def _clock(text: str) -> tuple[int, int, int] | None:
    """`text` as a time of day (hours 0-23, minutes, seconds); None where it is none."""
    match = _CLOCK.match(text)
    if match is None:
        return None
    hours, minutes, seconds = (int(part or 0) for part in match.group(1, 2, 3))
    if half := match[4]:
        if not 1 <= hours <= 12:
            return None
        hours = hours % 12 + (12 if half in "Pp" else 0)
    return (hours, minutes, seconds) if minutes < 60 and seconds < 60 else None


def _same_truth(old: str, new: str) -> bool:
    """`true` written as `TRUE`, `TOSI`, `SANT`, `PRAVDA` (any case) or `1`."""
    value = _TRUTH_WORDS.get(old.casefold())
    if value is None:
        return False
    return _TRUTH_WORDS.get(new.casefold()) is value or new == ("1" if value else "0")
