"""The text calamine (the engine `read_xlsx` uses for small sheets) gives XLSX values,
so that the streamed reader reads a workbook the same way: string runs with XML and
OOXML escapes undone, integral numbers without `.0` and with all their digits, other
numbers in plain decimal notation, dates as `YYYY-MM-DD HH:MM:SS[.fff]`. The streamed
reader shows a number in a time-only format (`hh:mm:ss`, `[h]:mm:ss`) as the sheet
does (`time_text`), which calamine can't (it sees no cell's format). Numbers of 16
digits or more are the exception (see IMPRECISE_NUMBERS): calamine prints digits a
spreadsheet did not keep; here they keep the scientific form a spreadsheet shows
(`1.23456789012346E+15`, `1.23456789012345E+18`).
"""

from __future__ import annotations

import re

import polars as pl

from sync.readers.table import IMPRECISE_NUMBERS, imprecise_number_text

_EPS = 2.220446049250313e-16
_ENTITY = re.compile(r"&(#x[0-9A-Fa-f]+|#[0-9]+|amp|lt|gt|quot|apos);")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_OOXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_TEXT_RUN = r"<t(?:\s[^>]*)?>[^<]*</t>"
_ONE_RUN = r"<t(?:\s[^>]*)?>([^<]*)</t>"
_EMPTY_RUN = r"<t(?:\s[^>]*)?/>"
_PRESERVE = 'xml:space="preserve"'
_PHONETIC = r"(?s)<rPh\b.*?</rPh>"


def _unescape_one(text: str) -> str:
    def entity(match: re.Match[str]) -> str:
        name = match.group(1)
        if name[0] == "#":
            return chr(int(name[2:], 16) if name[1] in "xX" else int(name[1:]))
        return _NAMED[name]

    text = _ENTITY.sub(entity, text) if "&" in text else text
    if "_x" in text:
        text = _OOXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    return text


def newlines(raw: pl.Expr) -> pl.Expr:
    """XML's line-end normalisation: CR LF and CR read as LF (an escaped CR stays)."""
    return raw.str.replace_all("\r\n", "\n", literal=True).str.replace_all("\r", "\n",
                                                                            literal=True)


def unescaped(text: pl.Series) -> pl.Series:
    """`text` with XML entities and OOXML's _xHHHH_ escapes undone (Python only for the
    few values that hold one)."""
    mask = (text.str.contains("&", literal=True) | text.str.contains("_x", literal=True)
            ).fill_null(False)
    if not mask.any():
        return text
    fixed = [_unescape_one(value) for value in text.filter(mask).to_list()]
    return text.scatter(mask.arg_true(), fixed)


def runs_text(xml: pl.Series) -> pl.Series:
    """The text of string elements (`<si>`, `<is>`): their `<t>` runs joined, phonetic
    runs left out. One plain `<t>` (the usual form) is read by one pattern; the rest
    (rich text) run by run. A run without xml:space="preserve" loses its leading and
    trailing whitespace, as calamine reads it."""
    rich = (xml.str.contains("<r>", literal=True) | xml.str.contains("<r ", literal=True)
            | xml.str.contains("<rPh", literal=True)).fill_null(False)
    text = pl.select(_trimmed(xml.str.extract(_ONE_RUN, 1),
                              xml.str.contains(_PRESERVE, literal=True))).to_series()
    if rich.any():
        run = pl.element()
        runs = (xml.filter(rich).str.replace_all(_PHONETIC, "").str.extract_all(_TEXT_RUN)
                .list.eval(_trimmed(run.str.replace(r"^<t(?:\s[^>]*)?>", "")
                                    .str.strip_suffix("</t>"),
                                    run.str.contains(_PRESERVE, literal=True)))
                .list.join(""))
        text = text.scatter(rich.arg_true(), runs)
    empty = xml.str.contains(_EMPTY_RUN).fill_null(False) & text.is_null()
    if empty.any():
        text = text.set(empty, "")
    return pl.select(newlines(pl.lit(text))).to_series()


def _trimmed(text: pl.Expr | pl.Series, preserved: pl.Expr | pl.Series) -> pl.Expr:
    if isinstance(text, pl.Series):
        text = pl.lit(text)
    if isinstance(preserved, pl.Series):
        preserved = pl.lit(preserved)
    return pl.when(preserved).then(text).otherwise(text.str.strip_chars(" \t\r\n"))


def number_text(number: pl.Series) -> pl.Series:
    """Numbers as calamine's text (see module doc); text that is no number stays as is."""
    value = number.cast(pl.Float64, strict=False)
    plain = ((value - value.round()).abs() < _EPS) & (value.abs() < IMPRECISE_NUMBERS)
    out = pl.select(pl.when(plain & (value == 0) & number.str.starts_with("-"))
                    .then(pl.lit("-0"))
                    .when(plain).then(value.round().cast(pl.Int64, strict=False).cast(pl.String))
                    .otherwise(number)).to_series()
    other = (value.is_not_null() & ~plain).fill_null(False)
    if other.any():
        out = out.scatter(other.arg_true(), [_float_text(x) for x in value.filter(other)])
    return out.alias("text")


def _float_text(value: float) -> str:
    """`value` as Rust prints an f64: shortest round-trip digits, never an exponent;
    except a number of at least IMPRECISE_NUMBERS, whose last digits can't be trusted:
    it is shown in scientific form (where this reader parts from calamine, on purpose)."""
    if value != value or value in (float("inf"), float("-inf")):
        return {"nan": "NaN", "inf": "inf", "-inf": "-inf"}[repr(value)]
    if abs(value) >= IMPRECISE_NUMBERS:
        return imprecise_number_text(value)
    # The 15 significant digits a spreadsheet shows: =0.1+0.2 is saved as
    # 0.30000000000000004 and shown as 0.3 (QA); the digits past them are the double's.
    value = float(f"{value:.15g}")
    if abs(value - round(value)) < _EPS:
        return str(int(round(value))) if value or str(value)[0] != "-" else "-0"
    text = repr(value)
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    sign = "-" if mantissa.startswith("-") else ""
    digits = mantissa.lstrip("-").replace(".", "")
    point = mantissa.lstrip("-").find(".")
    point = (point if point >= 0 else len(mantissa.lstrip("-"))) + int(exponent)
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


def date_text(number: pl.Series, date1904: bool) -> pl.Series:
    """Date cells' serial numbers as calamine's text: `YYYY-MM-DD HH:MM:SS[.fff]`; null
    for a negative number or a date past 9999: Excel shows ######## for them (QA: -1
    read as 1899-12-30; LibreOffice would show 1899-12-29, so no date is the safe one)."""
    serial = number.cast(pl.Float64, strict=False)
    frame = pl.DataFrame({"serial": serial, "number": number})
    days = pl.col("serial")
    if date1904:
        epoch = pl.datetime(1904, 1, 1)
    else:  # serial 1 is 1900-01-01; Excel's invented 1900-02-29 (serial 60) reads as the 28th
        epoch = pl.datetime(1899, 12, 30)
        days = pl.when(days < 60).then(days + 1).otherwise(days)
    millis = (days * 86_400_000).round()
    moment = epoch + pl.duration(milliseconds=millis.cast(pl.Int64, strict=False))
    in_range = (pl.col("serial") >= 0) & millis.abs().lt(1e15) & moment.is_between(
        pl.datetime(1, 1, 1), pl.datetime(9999, 12, 31, 23, 59, 59, 999_999))
    whole = moment.dt.strftime("%Y-%m-%d %H:%M:%S")
    fraction = moment.dt.millisecond()
    shown = pl.when(fraction == 0).then(whole).otherwise(
        pl.format("{}.{}", whole, fraction.cast(pl.String).str.zfill(3)))
    return frame.select(pl.when(in_range).then(shown)
                        .when(pl.col("serial").is_null()).then(pl.col("number"))
                        .alias("text")).to_series()


def time_text(number: pl.Series, elapsed: pl.Series, decimals: pl.Series) -> pl.Series:
    """Serial numbers (days, none negative) in time-only formats as the time the sheet
    shows: `HH:MM:SS`, rounded to the second, or to the `decimals` digits of a second
    the format shows (`01:30:45.50`); hours past a day kept where the format is
    `elapsed` (`[h]`: 1.0416667 is `25:00:00`), else taken within the day (`hh`:
    `01:00:00`)."""
    scale = decimals.replace_strict({0: 1, 1: 10, 2: 100, 3: 1000}, return_dtype=pl.Int64)
    frame = pl.DataFrame({"serial": number.cast(pl.Float64, strict=False),
                          "elapsed": elapsed, "decimals": decimals, "scale": scale})
    per_second = pl.col("scale")
    units = (pl.col("serial") * 86_400 * per_second).round().cast(pl.Int64)
    units = pl.when(pl.col("elapsed")).then(units).otherwise(units % (86_400 * per_second))
    seconds = units // per_second
    fraction = pl.when(pl.col("decimals") > 0).then(
        pl.lit(".") + (units % per_second).cast(pl.String).str.zfill(pl.col("decimals"))
    ).otherwise(pl.lit(""))
    return frame.select(pl.concat_str(_two_digits(seconds // 3600), pl.lit(":"),
                                      _two_digits(seconds // 60 % 60), pl.lit(":"),
                                      _two_digits(seconds % 60), fraction)
                        .alias("text")).to_series()


def _two_digits(number: pl.Expr) -> pl.Expr:
    """A non-negative integer as text of at least two digits (`07`, `25`, `100`)."""
    return number.cast(pl.String).str.zfill(2)
