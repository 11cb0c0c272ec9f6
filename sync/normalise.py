"""Field normalisers and validators (spec section 2).

Every normaliser turns a text column into a frame of canonical ``value``, issue ``code``
and human ``detail``. Simple kinds are pure polars expressions; kinds that need a
library (stdnum, phonenumbers, babel) call Python once per distinct (value, country)
pair and join the answers back, so cost follows the number of distinct values.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import Any

import phonenumbers
import polars as pl
from babel import Locale
from babel.core import get_global
from babel.languages import get_official_languages
from stdnum.cz.dic import calc_check_digit_legal
from stdnum.fi import ytunnus
from stdnum.se import orgnr, personnummer

from sync.namekey import name_key
from sync.normalise_business_id import DASHES, business_id_fast
from sync.normalise_phone import phone_fast
from sync.readers.table import composed

__all__ = ["DEFAULT_CUSTOMER_TYPES", "ISSUE_CODES", "LOST_INFORMATION_CODES", "NORMALISERS",
           "OPTION_KEYS", "customer_type_aliases", "name_key", "normalise_column"]

# (value, code, detail) for one distinct input.
_Result = tuple[str, str | None, str | None]
# frame of value v, country c -> canonical value, or null where the slow path decides.
_FastPath = Callable[[pl.DataFrame], pl.Series]

_EXPR_KINDS = frozenset({"key", "text", "collapse", "compact", "vat_id", "email",
                         "einvoice"})
_LIBRARY_KINDS = frozenset(
    {"customer_type", "business_id", "phone", "postal_code", "country", "language"}
)
NORMALISERS: frozenset[str] = _EXPR_KINDS | _LIBRARY_KINDS

# What each normaliser can say and what it reads, declared beside the code so the rules
# check and the normalisers can't drift apart: the issue codes it emits (a rule file's
# `severity` table names only these, with the codes of other stages, see sync/rules.py)
# and the `options` keys it reads. tests/test_normalise.py runs every normaliser over
# damaged values and holds it to its codes.
ISSUE_CODES: Mapping[str, frozenset[str]] = {
    "key": frozenset({"scientific_notation", "line_break"}),
    "text": frozenset(),
    "collapse": frozenset(),
    "compact": frozenset(),
    "vat_id": frozenset({"scientific_notation"}),
    "email": frozenset({"invalid_email"}),
    "einvoice": frozenset({"scientific_notation"}),
    "customer_type": frozenset({"unknown_customer_type"}),
    "business_id": frozenset({"invalid_business_id", "business_id_country",
                              "scientific_notation"}),
    "phone": frozenset({"scientific_notation", "invalid_phone"}),
    "postal_code": frozenset({"invalid_postal_code"}),
    "country": frozenset({"unknown_country"}),
    "language": frozenset({"unknown_language", "language_country_code"}),
}
OPTION_KEYS: Mapping[str, frozenset[str]] = {
    kind: frozenset({"values"}) if kind == "customer_type" else frozenset()
    for kind in NORMALISERS
}
# The codes that say a cell lost information (a long number a spreadsheet wrote in
# scientific notation: its digits are gone), not merely that it looks wrong. A field
# whose severity table does not name one reads it as the default rules read it on the
# built-in fields of its normaliser (see sync/rules.py).
LOST_INFORMATION_CODES: frozenset[str] = frozenset({"scientific_notation"})

DEFAULT_CUSTOMER_TYPES: Mapping[str, tuple[str, ...]] = {
    "company": ("company", "Yritys", "Företag", "Firma"),
    "person": ("person", "Henkilö", "Privatperson", "Fyzická osoba"),
}

_NAME_LANGUAGES = ("fi", "sv", "cs", "en")
# Two-letter CLDR territories that are not countries (unions, pseudo-locales, and
# ISO "exceptionally reserved" codes).
_NOT_COUNTRIES = frozenset(
    {"EU", "EZ", "UN", "QO", "ZZ", "XA", "XB", "AC", "CP", "CQ", "DG", "EA", "IC", "TA"}
)
# Long forms CLDR no longer lists but that old exports still carry.
_EXTRA_COUNTRY_NAMES = {"Czech Republic": "CZ", "Česká republika": "CZ", "UK": "GB"}

# Countries none of whose postal codes starts with 0.
_NO_LEADING_ZERO = frozenset({"SE", "CZ", "EE", "AT", "CH", "BE", "HU"})
_POSTAL_WIDTH = {
    **dict.fromkeys(("FI", "SE", "CZ", "SK", "DE", "FR", "ES", "IT", "EE", "US"), 5),
    **dict.fromkeys(("NO", "DK", "AT", "CH", "BE", "HU"), 4),
}

# Unicode White_Space, as polars' strip_chars and regex \s see it (Python's \s adds \x1c-\x1f).
_WS_CHARS = r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_WHITESPACE = re.compile(f"[{_WS_CHARS}]+")
_SEPARATORS = re.compile(rf"[{_WS_CHARS}.\-]+")
# What an address can't hold outside a quoted local part (RFC 5322's specials, which a
# pasted address brings along: <a@b.fi>, mailto:a@b.fi, a,b@c.fi), nor anywhere
# (control and format characters). Such a value fails the check: it is never repaired.
_NOT_IN_ADDRESS = r'@\s<>()\[\],;:"\\\p{Cc}\p{Cf}'
_EMAIL = (rf"^([^{_NOT_IN_ADDRESS}]+)@"
          rf"([^{_NOT_IN_ADDRESS}.]+(?:\.[^{_NOT_IN_ADDRESS}.]+)+)$")
# A number in scientific notation, as any program may write it (3.58401e11, 3,58401E+11):
# a phone or an e-invoice address so written lost its digits.
_SCIENTIFIC = re.compile(r"[+-]?\d+(?:[.,]\d*)?[eE][+-]?\d+")
# How a spreadsheet writes a number too long for its cell (1E+11, 3,72617E+15): stricter
# than _SCIENTIFIC, since a key such as 12e5 may be a real customer number.
_EXCEL_SCIENTIFIC = r"^\d+(?:[.,]\d+)?E\+\d+$"
_VAT_FORM = re.compile(r"([A-Z]{2})(\d[0-9A-Z]*)")
# Any EU or other VAT number as a cell holds it, separators removed: two letters, then
# letters and digits, a digit among them (ATU12345678, NO123456789MVA, CHE123456789MWST).
_ANY_VAT_FORM = re.compile(r"([A-Z]{2})([0-9A-Z]*\d[0-9A-Z]*)")
# VAT prefixes that are no ISO country code: Greece's, Northern Ireland's.
_VAT_ONLY_PREFIXES = frozenset({"EL", "XI"})
_POSTAL_PREFIX = re.compile(r"([A-Za-z]{1,2})(-?)(\d+)")
# The older European prefixes of postal codes, the countries' vehicle codes (S-114 55,
# D-10115, SF-00100), where they are not the ISO code.
_OLD_POSTAL_PREFIXES = {"S": "SE", "D": "DE", "A": "AT", "N": "NO", "F": "FR", "I": "IT",
                        "E": "ES", "B": "BE", "H": "HU", "SF": "FI", "CS": "CZ"}
# A US ZIP+4 code: the 5-digit ZIP code and 4 more digits.
_ZIP_PLUS_4 = re.compile(r"\d{5}-\d{4}")


# The normalisers that take characters out of a value or change their case.
_RECOMPOSED_KINDS = frozenset({"compact", "einvoice", "vat_id", "business_id", "phone",
                               "postal_code"})
# The normalisers that read a value by its row's country.
COUNTRY_KINDS = frozenset({"business_id", "phone", "postal_code"})


def normalise_column(
    kind: str,
    values: pl.Series,
    countries: pl.Series | None = None,
    options: Mapping[str, Any] | None = None,
) -> pl.DataFrame:
    """Normalise a text column with the normaliser ``kind`` (one of ``NORMALISERS``).

    Returns a frame of the same length and order as ``values`` with String columns
    ``value`` (canonical form; null for null/empty/whitespace-only input, the trimmed
    input when there is an issue), ``code`` (issue code or null) and ``detail`` (short
    message naming the offending value, or null). ``countries`` holds each row's ISO
    alpha-2 country (null where unknown) and is used by phone, postal_code and
    business_id. Raises ``ValueError`` for an unknown kind or mismatched lengths.
    """
    if kind not in NORMALISERS:
        raise ValueError(f"unknown normaliser {kind!r}; expected one of {sorted(NORMALISERS)}")
    if countries is not None and len(countries) != len(values):
        raise ValueError("countries must have the same length as values")
    frame = pl.DataFrame({"v": values.cast(pl.String)})
    if kind in _EXPR_KINDS:
        if kind in _PREPARED:
            # A column first: the issue expressions read it three times, and repeating
            # what makes it in each took a 5-row column 15 ms, not 4.
            frame = frame.select(_PREPARED[kind](pl.col("v")).alias("v"))
        out = frame.select(_EXPR_BUILDERS[kind](pl.col("v")))
    else:
        trimmed = frame.select(_blank_to_null(pl.col("v").str.strip_chars())).to_series()
        if kind == "customer_type":
            aliases = customer_type_aliases(
                (options or {}).get("values") or DEFAULT_CUSTOMER_TYPES)
            return _per_distinct(trimmed, None, lambda v, _c: _customer_type(v, aliases))
        uses_country = kind in COUNTRY_KINDS
        out = _per_distinct(trimmed, countries if uses_country else None,
                            _ROW_FUNCTIONS[kind], _FAST_PATHS.get(kind))
    if kind in _RECOMPOSED_KINDS:
        # Taking out spaces or changing case can leave a letter and a combining mark
        # that NFC composes (`E ́` compacted, `ı́` upper case: `É`, `Í`). The readers
        # compose what they read, so a value stored so came back from an export as an
        # edit (QA): it is stored composed.
        out = out.with_columns(composed(pl.col("value")).alias("value"))
    return out


# --- expression kinds -------------------------------------------------------------------


def _blank_to_null(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr == "").then(None).otherwise(expr)


def _no_issue(value: pl.Expr) -> list[pl.Expr]:
    none = pl.lit(None, dtype=pl.String)
    return [value.alias("value"), none.alias("code"), none.alias("detail")]


def _key(v: pl.Expr) -> list[pl.Expr]:
    value, code, detail = _flag_scientific(_blank_to_null(v.str.strip_chars()),
                                           _EXCEL_SCIENTIFIC)
    # A key holding a line break (a cell's two lines): a spreadsheet keeps CR LF as LF
    # and CR as LF, so the key would come back from any round trip as another key
    # (QA: every edit of that customer's rows then a Conflict). No number has one.
    broken = value.str.contains("[\r\n]") & code.is_null()
    return [value,
            pl.when(broken).then(pl.lit("line_break")).otherwise(code).alias("code"),
            pl.when(broken).then(pl.format("holds a line break, which no key has: '{}'", value))
            .otherwise(detail).alias("detail")]


def _flag_scientific(value: pl.Expr, pattern: str) -> list[pl.Expr]:
    """`value` as it is, with the issue `scientific_notation` where `pattern` (anchored)
    finds a long number written so (1E+11, 3,72617E+15): its digits are lost, it is no
    key or code."""
    lost = value.str.contains(pattern)
    return [value.alias("value"),
            pl.when(lost).then(pl.lit("scientific_notation")).alias("code"),
            pl.when(lost).then(pl.format("a number in scientific notation lost digits: '{}'",
                                         value)).alias("detail")]


def _einvoice_repaired(v: pl.Expr) -> pl.Expr:
    # A Finnish e-invoice address or operator code in OVT form is 0037, a Y-tunnus's 8
    # digits and up to 5 more; a spreadsheet that took it for a number dropped the zeros
    # (3701120389). Repaired only when those 8 digits are a valid Y-tunnus: a 37... of
    # another kind (a French GLN 376...) is left as it is.
    compact = _blank_to_null(v.str.replace_all(r"\s+", ""))
    lost = compact.str.contains(r"^37\d{8,13}$") & _ytunnus_digits_valid(
        compact.str.slice(2, 8))
    return pl.when(lost).then(pl.concat_str(pl.lit("00"), compact)).otherwise(compact)


def _einvoice(repaired: pl.Expr) -> list[pl.Expr]:
    """The issues of an e-invoice address `_einvoice_repaired` gave."""
    return _flag_scientific(repaired, f"^(?:{_SCIENTIFIC.pattern})$")


def _ytunnus_digits_valid(digits: pl.Expr) -> pl.Expr:
    """Whether 8 ASCII digits are a Y-tunnus without its hyphen (weights 7 9 10 5 8 4 2,
    modulo 11), as a vectorised check; null where they are not 8 digits."""
    total = pl.sum_horizontal(
        digits.str.slice(i, 1).cast(pl.Int32, strict=False) * weight
        for i, weight in enumerate((7, 9, 10, 5, 8, 4, 2)))
    rest = total % 11
    check = digits.str.slice(7, 1).cast(pl.Int32, strict=False)
    return (rest != 1) & (pl.when(rest == 0).then(0).otherwise(11 - rest) == check)


def _text(v: pl.Expr) -> list[pl.Expr]:
    return _no_issue(_blank_to_null(v.str.replace_all(r"\r\n?", "\n").str.strip_chars()))


def _collapse(v: pl.Expr) -> list[pl.Expr]:
    return _no_issue(_blank_to_null(v.str.replace_all(r"\s+", " ").str.strip_chars()))


def _compact(v: pl.Expr) -> list[pl.Expr]:
    return _no_issue(_blank_to_null(v.str.replace_all(r"\s+", "")))


def _vat_id(v: pl.Expr) -> list[pl.Expr]:
    # A VAT number of digits only (Sweden's, Czechia's without their prefix) that a
    # spreadsheet took for a number is shown and saved as 5,56036E+11 (QA): its digits
    # are gone. Looked for before compacting, which would take out its `.`.
    compact = _blank_to_null(v.str.replace_all(r"[\s.\-]+", "").str.to_uppercase())
    typed = v.str.strip_chars()
    lost = typed.str.contains(_EXCEL_SCIENTIFIC)
    return [compact.alias("value"),
            pl.when(lost).then(pl.lit("scientific_notation")).alias("code"),
            pl.when(lost).then(pl.format("a number in scientific notation lost digits: '{}'",
                                         typed)).alias("detail")]


def _email(v: pl.Expr) -> list[pl.Expr]:
    trimmed = _blank_to_null(v.str.strip_chars())
    valid = trimmed.str.contains(_EMAIL)
    canonical = pl.concat_str(
        trimmed.str.extract(_EMAIL, 1),
        pl.lit("@"),
        trimmed.str.extract(_EMAIL, 2).str.to_lowercase(),
    )
    bad = trimmed.is_not_null() & ~valid
    return [
        pl.when(valid).then(canonical).otherwise(trimmed).alias("value"),
        pl.when(bad).then(pl.lit("invalid_email")).alias("code"),
        pl.when(bad).then(pl.format("not a valid e-mail address: '{}'", trimmed)).alias("detail"),
    ]


# What an expression kind makes of the cell before its issues are looked for.
_PREPARED: dict[str, Callable[[pl.Expr], pl.Expr]] = {"einvoice": _einvoice_repaired}

_EXPR_BUILDERS: dict[str, Callable[[pl.Expr], list[pl.Expr]]] = {
    "key": _key,
    "text": _text,
    "collapse": _collapse,
    "compact": _compact,
    "vat_id": _vat_id,
    "email": _email,
    "einvoice": _einvoice,
}


# --- per-distinct machinery -------------------------------------------------------------


def _per_distinct(
    trimmed: pl.Series,
    countries: pl.Series | None,
    normalise: Callable[[str, str | None], _Result],
    fast: _FastPath | None = None,
) -> pl.DataFrame:
    """Call ``normalise`` once per distinct non-null (value, country) and join back.

    ``fast`` (given the frame of value ``v`` and country ``c``) gives the canonical value
    of the rows it can decide, with no issue, and null for the others; only the others
    reach ``normalise``. A column of fewer than _FAST_PATH_FROM values goes to
    ``normalise`` whole: the answers are the same, sooner.
    """
    country = (
        countries.cast(pl.String)
        if countries is not None
        else pl.Series(values=[None] * len(trimmed), dtype=pl.String)
    )
    frame = pl.DataFrame({"v": trimmed, "c": country})
    if fast is not None and len(trimmed) - trimmed.null_count() < _FAST_PATH_FROM:
        fast = None
    if fast is not None:
        frame = frame.with_columns(_fast_where_present(frame, fast).alias("fast"))
        undecided = frame.filter(pl.col("fast").is_null()).select("v", "c")
    else:
        undecided = frame
    distinct = undecided.drop_nulls("v").unique()
    schema = {"value": pl.String, "code": pl.String, "detail": pl.String}
    answers = pl.DataFrame(
        [normalise(v, c) for v, c in distinct.iter_rows()], schema=schema, orient="row"
    )
    looked_up = pl.concat([distinct, answers], how="horizontal")
    joined = frame.join(
        looked_up, on=["v", "c"], how="left", nulls_equal=True, maintain_order="left"
    )
    if fast is not None:
        joined = joined.with_columns(pl.coalesce("fast", "value").alias("value"))
    return joined.select(list(schema))


def _fast_where_present(frame: pl.DataFrame, fast: _FastPath) -> pl.Series:
    """`fast` over the rows of `frame` that have a value (null for the others): an empty
    cell has nothing to decide, and a fast path's expressions cost as much on it as on
    a value (most business id cells of a file of people are empty)."""
    present = frame["v"].is_not_null()
    if present.all():
        return fast(frame)
    decided = pl.repeat(None, frame.height, dtype=pl.String, eager=True).alias("fast")
    if not present.any():
        return decided
    return decided.scatter(present.arg_true(), fast(frame.filter(present)))


def _fold(text: str) -> str:
    """Comparison form: no case, no accents, no spaces or punctuation."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[\W_]+", "", stripped.casefold())


# --- customer_type ----------------------------------------------------------------------


def customer_type_aliases(values: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """Each word of `values` (canonical type -> its words) in comparison form, mapped to
    its type; the canonical names are words too. Raises ValueError naming a word listed
    for two types (compared as cells are: ignoring case, accents, spaces, punctuation);
    the rules check calls this, so a rule file with one is refused as it is loaded."""
    aliases: dict[str, str] = {}
    for canonical, names in values.items():
        for name in (canonical, *([names] if isinstance(names, str) else names)):
            if not _fold(name):
                # It would stand for any cell of only spaces and punctuation ("-", "?").
                raise ValueError(f"customer type alias {name!r} has no letter or digit; "
                                 "list words only")
            previous = aliases.setdefault(_fold(name), canonical)
            if previous != canonical:
                raise ValueError(
                    f"customer type alias {name!r} means both {previous} and {canonical}; "
                    "list each word for one type only"
                )
    return aliases


def _customer_type(value: str, aliases: Mapping[str, str]) -> _Result:
    canonical = aliases.get(_fold(value))
    if canonical is None:
        return (value, "unknown_customer_type", f"unknown customer type: '{value}'")
    return canonical, None, None


# --- business_id ------------------------------------------------------------------------

# Read as '-' where an id is read by its country's rules; another country's id is kept
# as typed (the register may hold it so).
_DASHES = str.maketrans(dict.fromkeys(DASHES, "-"))


def _business_id(value: str, country: str | None) -> _Result:
    """The canonical id of a trimmed cell on a row of `country` (None: unknown): read and
    checked by the country's rules for FI, SE and CZ (a VAT prefix of its own allowed),
    else kept compact, unless an FI, SE or CZ VAT prefix says how to read it."""
    text = value.translate(_DASHES)
    cleaned = _SEPARATORS.sub("", text).upper()
    foreign = _foreign_vat_prefix(cleaned, country)
    if foreign is not None:
        # On a row whose country's ids are validated, another country's VAT number is
        # no business id of the row's, as its native form is not: never stored as if
        # it were (an FI customer holding a SE id could not be exported and imported).
        return _invalid(value, country, _foreign_vat_hint(cleaned, foreign))
    vat = _VAT_FORM.fullmatch(cleaned)
    row_country = country
    is_vat = bool(vat and vat.group(1) in _countries())
    if vat and is_vat:
        country, cleaned = vat.group(1), vat.group(2)
    read = _READERS.get(country or "")
    if read is None:
        if re.fullmatch(_EXCEL_SCIENTIFIC, value):
            # A country whose ids are not checked: 1,23457E+11 would pass as one (QA).
            return value, "scientific_notation", (f"a number in scientific notation lost "
                                                  f"digits: '{value}'")
        return _WHITESPACE.sub("", value).upper(), None, None
    canonical = read(cleaned, is_vat)
    if canonical is None:
        return _invalid(value, country, _other_country(text, country))
    if not canonical.strip("0-"):
        # 0000000-0 and 000000-0000 pass their check digits, but stand for "no id": stored,
        # every row carrying the placeholder would match the customer who has it.
        return _invalid(value, country, "; an ID of zeros only stands for none: leave the "
                                        "cell empty")
    if row_country is not None and row_country != country:
        # An FI, SE or CZ VAT number on a row of a country whose ids are not validated
        # (a row of FI, SE or CZ was refused above): the prefix names the id's country.
        # The id is read as its prefix says, and the user is told: nothing is guessed
        # silently about the customer's country, which stays as it was.
        return (canonical, "business_id_country",
                f"'{value}' is a {country} business ID but the row's country is "
                f"{row_country} (an empty country reads as the default); check the country")
    return canonical, None, None


def _invalid(value: str, country: str | None, hint: str) -> _Result:
    return value, "invalid_business_id", f"invalid {country} business ID: '{value}'{hint}"


def _foreign_vat_prefix(cleaned: str, country: str | None) -> str | None:
    """The prefix of `cleaned` (separators removed, upper case) when it reads as a VAT
    number of another country than the row's, on a row whose country's ids are
    validated."""
    vat = _ANY_VAT_FORM.fullmatch(cleaned)
    if country not in _READERS or vat is None or vat.group(1) == country:
        return None
    prefix = vat.group(1)
    return prefix if prefix in _countries() or prefix in _VAT_ONLY_PREFIXES else None


def _foreign_vat_hint(cleaned: str, prefix: str) -> str:
    """What the VAT number `cleaned` of the country `prefix` is, for a row of another."""
    vat = _VAT_FORM.fullmatch(cleaned)
    read = _READERS.get(prefix)
    if read is not None and vat is not None and read(vat.group(2), True):
        return _valid_in(prefix)
    return f" looks like a {prefix} VAT number; put it in vat_id, or set the row's country"


def _valid_in(other: str) -> str:
    return (f"; it is a valid {other} business ID: if the customer is in {other}, "
            "fill in the row's country")


def _fi_id(digits: str, _vat: bool) -> str | None:
    """The Y-tunnus `digits` (separators removed) are, its lost leading zeros restored."""
    padded = _padded_valid(digits, range(6, 9), ytunnus.is_valid)
    return ytunnus.format(padded) if padded else None


def _se_id(digits: str, vat: bool) -> str | None:
    """The organisationsnummer `digits` (separators removed) are, from its 10-digit form
    or a longer one: a VAT number's (`vat`), or 12 digits with the century."""
    if len(digits) == 12 and vat and digits.endswith("01"):
        digits = digits[:10]
    elif len(digits) == 12 and not vat:
        digits = _se_without_century(digits)
    return orgnr.format(digits) if orgnr.is_valid(digits) else None


def _se_without_century(digits: str) -> str:
    """The 10 digits of a 12-digit Swedish id: an organisation's written with 16 before
    it, or a sole trader's personnummer with its century (19811218-9876, whose date
    must be one); `digits` as they are otherwise."""
    if digits.startswith("16") or (digits[:2] in ("19", "20")
                                   and personnummer.is_valid(digits)):
        return digits[2:]
    return digits


def _cz_id(digits: str, _vat: bool) -> str | None:
    """The IČO `digits` (separators removed) are, its lost leading zeros restored."""
    return _padded_valid(digits, range(4, 9), _ico_is_valid)


# The countries whose business ids are validated, each with its reader: the canonical
# id of the digits (separators removed; the VAT prefix too, and then `vat` is true), or
# None when they are no such id.
_READERS: Mapping[str, Callable[[str, bool], str | None]] = {
    "FI": _fi_id, "SE": _se_id, "CZ": _cz_id}


# Each supported country's business id as it is written there, for hints.
_NATIVE_FORMS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("FI", re.compile(r"\d{7}-\d")),
    ("SE", re.compile(r"(?:16|19|20)?\d{6}-?\d{4}")),
    ("CZ", re.compile(r"\d{8}")),
)


def _other_country(value: str, country: str) -> str:
    """A hint when an id invalid for `country` is written as, and valid as, another
    supported country's (a Swedish customer's 556036-0793 in a row read as FI)."""
    text = value.strip()
    for other, form in _NATIVE_FORMS:
        if other != country and form.fullmatch(text) and _READERS[other](
                text.replace("-", ""), False):
            return _valid_in(other)
    return ""


def _padded_valid(digits: str, lengths: range, is_valid: Callable[[str], bool]) -> str | None:
    """The 8-digit id, left-padded with the zeros a spreadsheet dropped, if it validates."""
    if not digits.isascii() or not digits.isdigit() or len(digits) not in lengths:
        return None
    padded = digits.zfill(8)
    return padded if is_valid(padded) else None


def _ico_is_valid(number: str) -> bool:
    return calc_check_digit_legal(number[:7]) == number[7]


# --- phone ------------------------------------------------------------------------------


# A word that may label the number in a phone cell ("tel:+358...", "GSM 040 ...",
# "puh. 09 ..."): phonenumbers skips the text before a number, so it reads as the number
# it labels. Only the word, not a letter glued to the digits ("O40 123": an O for a 0).
_PHONE_LABEL = re.compile(
    r"(?i)(?:tel|telefon|telephone|phone|puh|puhelin|puhelinnumero|matkapuhelin|gsm|"
    r"mob|mobile|mobil|mobiili|mobiltelefon|tfn|telefonnummer)[.:]?(?![^\W\d_])")


def _holds_letter(value: str) -> bool:
    """Whether `value` has a letter after its label, if any. phonenumbers reads three or
    more letters as keypad digits (040 CALL NOW) and drops one or two (040l234567,
    +358 4O 123 4567): each is another number than the one typed, so such a cell is no
    number at all. An extension (ext. 12) has letters too, and no E.164 form either."""
    label = _PHONE_LABEL.match(value)
    return any(ch.isalpha() for ch in value[label.end() if label else 0:])


def _phone(value: str, country: str | None) -> _Result:
    if _SCIENTIFIC.fullmatch(value):
        return (
            value,
            "scientific_notation",
            f"phone in scientific notation lost digits: '{value}'",
        )
    if _holds_letter(value):
        return _invalid_phone(value, country)
    try:
        number = phonenumbers.parse(value, country)
    except phonenumbers.NumberParseException:
        number = None
    # An extension has no E.164 form; keeping the text is better than dropping it.
    if number is None or number.extension or not phonenumbers.is_valid_number(number):
        return _invalid_phone(value, country)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None, None


def _invalid_phone(value: str, country: str | None) -> _Result:
    """The value kept as typed, with the warning of spec section 5."""
    where = f" for {country}" if country else ""
    return (value, "invalid_phone", f"not a valid phone number{where}: '{value}'")


# --- postal_code ------------------------------------------------------------------------


def _postal_code(value: str, country: str | None) -> _Result:
    width = _POSTAL_WIDTH.get(country or "")
    if width is None:
        return value, None, None
    compacted = _WHITESPACE.sub("", value)
    prefixed = _POSTAL_PREFIX.fullmatch(compacted)
    if prefixed and _prefix_country(prefixed.group(1), bool(prefixed.group(2))) == country:
        compacted = prefixed.group(3)
    if compacted.isascii() and compacted.isdigit() and len(compacted) <= width:
        padded = compacted.zfill(width)
        # Padding puts back the zeros a spreadsheet dropped: a code of zeros only, or one
        # starting with 0 where the country has none such (SE 1145 for 11455, a digit
        # typed short), is no code it can have been (QA: 01145 was stored, unsaid).
        if padded.strip("0") and not (padded[0] == "0" and country in _NO_LEADING_ZERO):
            return padded, None, None
    if country == "US" and _ZIP_PLUS_4.fullmatch(compacted):
        return compacted, None, None
    return (value, "invalid_postal_code", f"not a {country} postal code: '{value}'")


def _prefix_country(letters: str, dashed: bool) -> str | None:
    """The country a postal code's prefix names: its ISO code (FI-00100, SE11455), or an
    older vehicle code (S-114 55, SF-00100); a one-letter prefix only with its dash."""
    letters = letters.upper()
    if letters in _OLD_POSTAL_PREFIXES:
        return _OLD_POSTAL_PREFIXES[letters] if dashed or len(letters) == 2 else None
    return letters if len(letters) == 2 else None


# --- country and language ---------------------------------------------------------------


@cache
def _countries() -> frozenset[str]:
    territories = Locale.parse("en").territories
    return frozenset(
        code
        for code in territories
        if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES
    )


def is_country(code: str) -> bool:
    """Whether `code` is an ISO 3166-1 alpha-2 code of a country (FI, SE, CZ; not XX)."""
    return code in _countries()


# A cell is read as an ISO code only when it is written as one: two letters (three for
# ISO 3166 alpha-3 or ISO 639-2), nothing else. Folded as names are, "N/A" and "N.A."
# would be Namibia's NA and Nauru's "na".
_CODE_FORM = re.compile(r"[A-Za-z]{2,3}")


def _as_code(value: str) -> str | None:
    """`value` in upper case when it is written as a code (`fi`, `FIN`), else None."""
    compatible = unicodedata.normalize("NFKC", value)  # full-width letters are letters
    return compatible.upper() if _CODE_FORM.fullmatch(compatible) else None


@cache
def _country_codes() -> dict[str, str]:
    """Each country's alpha-2 code and its ISO alpha-3 code (FIN, SWE, CZE), upper case,
    mapped to the alpha-2 code."""
    countries = _countries()
    codes = {code: code for code in countries}
    for alias, targets in get_global("territory_aliases").items():
        # Aliases naming several successors are skipped.
        if len(alias) == 3 and alias.isalpha() and len(targets) == 1 and targets[0] in countries:
            codes.setdefault(alias.upper(), targets[0])
    return codes


@cache
def _country_names() -> dict[str, str]:
    """Country names in fi/sv/cs/en, in comparison form, mapped to the alpha-2 code."""
    countries = _countries()
    names: dict[str, str] = {}
    for lang in _NAME_LANGUAGES:
        for code, name in Locale.parse(lang).territories.items():
            if code in countries:
                names.setdefault(_fold(name), code)
    for name, code in _EXTRA_COUNTRY_NAMES.items():
        names.setdefault(_fold(name), code)
    names.pop("", None)
    return names


def _country(value: str, _row_country: str | None) -> _Result:
    written = _as_code(value)
    code = _country_codes().get(written) if written else None
    if code is None:
        code = _country_names().get(_fold(value))
    if code is None:
        return (value, "unknown_country", f"unknown country: '{value}'{_lost_letters(value)}")
    return code, None, None


def _lost_letters(value: str) -> str:
    """For a country written with `?` where its file's encoding lost letters (`?esko`
    for Česko, from a Windows-1252 "CSV" of Czech customers), the countries it may be;
    else nothing. A `?` stands for one letter past ASCII, as with names."""
    if "?" not in value:
        return ""
    text = value.strip().casefold()
    # Only names of its length: a `?` is one letter (review: a regular expression per
    # value against every name took 0.6 ms a value).
    names = _spelt_country_names()
    candidates = names.get((len(text), "") if text[0] == "?" else (len(text), text[0]), ())
    found = sorted({(code, name) for name, folded, code in candidates
                    if all(c == n or (c == "?" and not n.isascii())
                           for c, n in zip(text, folded, strict=True))})
    if not found:
        return ""
    shown = ", ".join(f"{name} ({code})" for code, name in found[:3])
    return (f"; its file's encoding lost letters as '?': it may be {shown}; write the "
            f"country's code, or import a UTF-8 file")


@cache
def _spelt_country_names() -> dict[tuple[int, str], list[tuple[str, str, str]]]:
    """Country names in fi/sv/cs/en as CLDR spells them, casefolded, and their alpha-2
    codes: under (length, first letter) and, for a value starting with `?`, (length, "")."""
    countries = _countries()
    index: dict[tuple[int, str], list[tuple[str, str, str]]] = {}
    for lang in _NAME_LANGUAGES:
        for code, name in Locale.parse(lang).territories.items():
            if code in countries:
                folded = name.casefold()
                entry = (name, folded, code)
                index.setdefault((len(folded), folded[0]), []).append(entry)
                index.setdefault((len(folded), ""), []).append(entry)
    return index


def _base_language(tag: str) -> str | None:
    """The ISO 639-1 code a CLDR language tag names (en_GB, zh_Hans: their base), if any."""
    lang = tag.split("_")[0]
    return lang if len(lang) == 2 and lang.isalpha() else None


@cache
def _language_codes() -> dict[str, str]:
    """ISO 639-1 codes, and the ISO 639-2 (fin, swe, cze/ces) and deprecated (iw) codes
    that name one of them, upper case, mapped to the ISO 639-1 code."""
    codes = {lang for tag in Locale.parse("en").languages if (lang := _base_language(tag))}
    found = {code.upper(): code for code in codes}
    for alias, target in get_global("language_aliases").items():
        if alias.isalpha() and len(alias) in (2, 3) and target in codes:
            found.setdefault(alias.upper(), target)
    return found


@cache
def _language_names() -> dict[str, str]:
    """Language names in fi/sv/cs/en, in comparison form, mapped to the ISO 639-1 code."""
    codes = set(_language_codes().values())
    names: dict[str, str] = {}
    for lang in _NAME_LANGUAGES:
        for tag, name in Locale.parse(lang).languages.items():
            if (code := _base_language(tag)) in codes:
                names.setdefault(_fold(name), code)
    names.pop("", None)
    return names


def _language(value: str, _row_country: str | None) -> _Result:
    written = _as_code(value)
    code = _language_codes().get(written) if written else None
    if code is None:
        code = _language_names().get(_fold(value))
    tag = re.fullmatch(r"([A-Za-z]{2})[-_][A-Za-z0-9]{2,8}", value)
    if code is None and tag:
        code = _language_codes().get(tag.group(1).upper())
    if code is None:
        return (value, "unknown_language", f"unknown language: '{value}'")
    if written is not None and len(written) == 2 and value.strip().isupper():
        mistaken = _country_code_as_language(written, code)
        if mistaken is not None:
            return code, "language_country_code", mistaken
    return code, None, None


def _country_code_as_language(written: str, code: str) -> str | None:
    """The warning for a language cell holding what is more likely a country code: in
    upper case, a country's code (SE, EE) that as a language code names another
    language than the country's (Northern Sami, Ewe), and not one of the register's own
    languages (so SV stays Swedish, not El Salvador's). None otherwise."""
    if code in _NAME_LANGUAGES or not is_country(written):
        return None
    spoken = get_official_languages(written)
    if code in spoken:
        return None
    english = Locale.parse("en")
    country = english.territories.get(written, written)
    theirs = f", whose language is {spoken[0]}" if spoken else ""
    return (f"language '{written}' is read as {english.languages.get(code, code)} "
            f"({code}); {written} is also the country code of {country}{theirs}")


# A fast path costs 10-30 ms a call whatever its rows (its expressions are built and
# planned each time), where phonenumbers and stdnum take 5-50 µs a value: below this
# many values the calls are quicker (a 50-row file's phones: 31 ms fast, 10 ms not).
_FAST_PATH_FROM = 256

_FAST_PATHS: dict[str, _FastPath] = {
    "business_id": business_id_fast,
    "phone": phone_fast,
}

_ROW_FUNCTIONS: dict[str, Callable[[str, str | None], _Result]] = {
    "business_id": _business_id,
    "phone": _phone,
    "postal_code": _postal_code,
    "country": _country,
    "language": _language,
}
