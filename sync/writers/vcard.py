"""vCard 4.0 export (RFC 6350): one file holding a card per selected customer."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import IO

import polars as pl
from babel import Locale

_FOLD_AT = 75  # octets per line before folding (RFC 6350 3.2)


def write_vcards(chunks: Iterable[pl.DataFrame], dest: Path, language: str = "en") -> int:
    """Write one vCard 4.0 per customer row to `dest`; return the number of cards.

    Companies are KIND:org with ORG, persons KIND:individual with N (the last word of
    the name as the family name). Each card has FN, and where the register has them TEL
    (a tel: URI for E.164 numbers), EMAIL, ADR (with the country's name in `language`
    and its ISO code in CC), LANG, CATEGORIES (the customer group) and NOTE.
    Lines end in CRLF and are folded at 75 octets. One chunk is held at a time.
    """
    count = 0
    with open(dest, "w", encoding="utf-8", newline="") as handle:
        for chunk in chunks:
            for row in chunk.iter_rows(named=True):
                _write_card(handle, row, language)
                count += 1
    return count


def _write_card(out: IO[str], row: dict[str, str | None], language: str) -> None:
    name = row.get("name") or row.get("customer_number") or ""
    number = row.get("customer_number") or ""
    is_company = row.get("customer_type") == "company"
    lines = ["BEGIN:VCARD", "VERSION:4.0", f"KIND:{'org' if is_company else 'individual'}",
             f"FN:{escape(name)}"]
    if is_company:
        lines.append(f"ORG:{escape(name)}")
    else:
        given, _, family = name.rpartition(" ")
        lines.append(f"N:{escape(family)};{escape(given)};;;")
    lines.append(f"UID:urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'regsync:customer:' + number)}")
    lines.append(f"X-REGSYNC-CUSTOMER-NUMBER:{escape(number)}")
    kind = "work" if is_company else "home"
    if phone := row.get("phone"):
        lines.append(f"TEL;VALUE=uri;TYPE={kind}:tel:{phone}" if _is_e164(phone)
                     else f"TEL;VALUE=text;TYPE={kind}:{escape(phone)}")
    if email := row.get("email"):
        lines.append(f"EMAIL;TYPE={kind}:{escape(email)}")
    if any(row.get(k) for k in ("street_address", "postal_code", "city", "country")):
        country = row.get("country") or ""
        parts = ["", "", row.get("street_address") or "", row.get("city") or "", "",
                 row.get("postal_code") or "", country_name(country, language)]
        cc = f";CC={country}" if country else ""
        lines.append(f"ADR;TYPE={kind}{cc}:" + ";".join(escape(p) for p in parts))
    if lang := row.get("language"):
        lines.append(f"LANG:{escape(lang)}")
    if group := row.get("customer_group"):
        lines.append(f"CATEGORIES:{escape(group)}")
    if notes := row.get("notes"):
        lines.append(f"NOTE:{escape(notes)}")
    lines.append("END:VCARD")
    out.write("".join(fold(line) + "\r\n" for line in lines))


def _is_e164(phone: str) -> bool:
    return phone.startswith("+") and phone[1:].isdigit() and 6 <= len(phone) - 1 <= 15


def escape(text: str) -> str:
    """A text value escaped for vCard: backslash, comma, semicolon and line breaks; the
    other control characters, which a vCard value can't hold (RFC 6350 3.3: only a tab),
    are left out."""
    escaped = (text.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")
               .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))
    return _CONTROLS.sub("", escaped)


_CONTROLS = re.compile("[\x00-\x08\x0a-\x1f\x7f]")  # line breaks are escaped by then


def fold(line: str) -> str:
    """`line` folded into 75-octet pieces (CRLF + space), never inside a UTF-8 character."""
    if len(line.encode("utf-8")) <= _FOLD_AT:
        return line
    pieces: list[str] = []
    current, size = "", 0
    for char in line:
        width = len(char.encode("utf-8"))
        limit = _FOLD_AT if not pieces else _FOLD_AT - 1  # continuation lines start with " "
        if size + width > limit:
            pieces.append(current)
            current, size = "", 0
        current += char
        size += width
    pieces.append(current)
    return "\r\n ".join(pieces)


@cache
def country_name(code: str, language: str) -> str:
    """The country's name in `language` (CLDR, via babel); the code if babel lacks it."""
    if not code:
        return ""
    return Locale.parse(language).territories.get(code, code)
