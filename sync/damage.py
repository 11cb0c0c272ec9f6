"""Spreadsheet damage and doubts that rows show, each turned into a status or a message.

Damage is repaired where nothing was lost (characters a file's encoding can't hold,
saved as '?' where the register has them), refused where something was (an error value
saved as text), and a row that only looks doubtful keeps the status the spec gives it
and says why (a totals row, a row read as the default country for a customer of
another).
"""

from __future__ import annotations

import re
from functools import cache

import polars as pl

from sync.canonicalise import ISSUE_SCHEMA
from sync.classify import changed_expr
from sync.normalise import COUNTRY_KINDS, name_key
from sync.plan import new_col, old_col
from sync.readers import SourceTable
from sync.readers.table import composed
from sync.retyped import SPREADSHEET_DIGITS
from sync.rules import CONTROL_CHARACTER, UTF8_READ_AS_SINGLE_BYTE, HeaderMap, Rules
from sync.writers.register.base import Register


def conflicts_where(rows: pl.DataFrame, hit: pl.Expr, why: pl.Expr) -> pl.DataFrame:
    """`rows` with those where `hit` holds made Conflicts, `why` their message."""
    return rows.with_columns(
        pl.when(hit).then(pl.lit("Conflict")).otherwise(pl.col("status")).alias("status"),
        pl.when(hit).then(why).otherwise(pl.col("message")).alias("message"))


def with_warning(when: pl.Expr, note: pl.Expr) -> pl.Expr:
    """The rows' `warning`, with `note` added where `when` holds."""
    return (pl.when(when)
            .then(pl.concat_str([pl.col("warning"), note], separator="; ", ignore_nulls=True))
            .otherwise(pl.col("warning")).alias("warning"))


# What a spreadsheet writes into a CSV for a formula cell that failed (a VLOOKUP that
# found nothing): Excel's error values in English, Finnish, Swedish and Czech, and
# LibreOffice's Err:NNN. Such a cell means "the value is unknown", never the text.
_ERROR_TEXTS = frozenset({
    "#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA",
    "#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!",
    "#TYHJÄ!", "#JAKO/0!", "#ARVO!", "#VIITTAUS!", "#NIMI?", "#LUKU!", "#PUUTTUU",
    "#SKÄRNING!", "#DIVISION/0!", "#VÄRDEFEL!", "#REFERENS!", "#NAMN?", "#OGILTIGT!",
    "#SAKNAS!", "#DĚLENÍ_NULOU!", "#HODNOTA!", "#ODKAZ!", "#NÁZEV?", "#ČÍSLO!",
    "#NENÍ_K_DISPOZICI"})
_LIBREOFFICE_ERROR = r"^Err:\d{3}$"


# Characters that show nothing and mean nothing in a register's text, yet make two
# values differ: the format characters (Unicode category Cf: zero-width space, word
# joiner, a BOM inside a cell, left-to-right and right-to-left marks, the other direction
# controls, which reorder how a value shows so '0112038-9' can be shown by a value that
# is not it, invisible operators, tag characters, the soft hyphen: pasted from a web
# page, a chat or a word processor), the noncharacters U+FFFE and U+FFFF (no text holds
# them, and XLSX can't), and NUL, which a Parquet, XLSX or table cell may hold (a text
# file holding one is refused as binary) and PostgreSQL can't store in text at all.
# Zero-width (non-)joiners are kept: some scripts, and emoji sequences, need them. The
# whole category, not a list: a list missed tag characters and U+206A-206F (review).
INVISIBLE = r"[\p{Cf}--[\u200c\u200d]]|[\ufffe\uffff\x00]"


def remove_invisible(table: SourceTable) -> None:
    """Take invisible characters out of every cell; a row that held some and is blank
    without them (a zero-width space pasted into otherwise empty cells) is a blank row:
    skipped and counted, as spec section 3 says of all-empty rows. A row with an error
    cell (empty in the frame) is never blank: it stays, to be Rejected."""
    cells = [c for c in table.frame.columns if c != "_row"]
    if not cells or table.frame.is_empty():
        return
    # Looked for first, one column at a time: most files have none, and a search copies
    # nothing.
    marks = table.frame.select(pl.col(c).str.contains(INVISIBLE).any() for c in cells).row(0)
    marked = [c for c, has in zip(cells, marks, strict=True) if has]
    if not marked:
        return
    held = pl.any_horizontal(pl.col(c).str.contains(INVISIBLE).fill_null(False)
                             for c in marked)
    # A letter and its combining mark an invisible character kept apart were not composed
    # as the file was read (QA: 'Dvor<ZWSP><caron>ák' stored decomposed, so it matched no
    # 'Dvořák' and every export -> import changed it): composed once they meet.
    frame = table.frame.with_columns(held.alias("_held")).with_columns(
        pl.when(pl.col(c).str.contains(INVISIBLE))
        .then(composed(pl.col(c).str.replace_all(INVISIBLE, "")))
        .otherwise(pl.col(c)).alias(c) for c in marked)
    erroneous = sorted({row for row, _, _ in table.cell_errors})
    blank = pl.col("_held") & ~pl.col("_row").is_in(erroneous) & pl.all_horizontal(
        pl.col(c).str.strip_chars().fill_null("") == "" for c in cells)
    skipped = frame.select(blank.sum()).item()
    table.frame = frame.filter(~blank).drop("_held")
    table.skipped += skipped


# How UTF-8 text looks read as a single-byte encoding: a lead byte's character (Â Ã Ä
# Å â in Windows-1252; Ă Ĺ in Windows-1250) before a continuation byte's (0x80-0xBF).


@cache
def _single_byte(codec: str) -> bool:
    """Whether `codec` reads each byte as one character (Windows-1252, ISO-8859-1, ...),
    as a UTF-8 letter's two bytes then become two characters."""
    try:
        return len(b"\xc3\xa4".decode(codec)) == 2
    except (UnicodeError, LookupError):
        return False


@cache
def _mojibake_pattern(codec: str) -> str:
    leads = bytes([0xC2, 0xC3, 0xC4, 0xC5, 0xE2]).decode(codec, errors="ignore")
    tails = bytes(range(0x80, 0xC0)).decode(codec, errors="ignore")
    return f"[{re.escape(leads)}][{re.escape(tails)}]"


def _utf8_read_as(text: str, codec: str) -> str | None:
    """The UTF-8 text `text` is when it was read as `codec` (HÃ¤meenlinna ->
    Hämeenlinna), or None. "Å" or "Ã" before a no-break space alone is ordinary
    Windows-1252 text ("PÅ TORGET"), never taken for UTF-8's Š or à."""
    try:
        fixed = text.encode(codec).decode("utf-8")
    except UnicodeError:
        return None
    plain = text.replace("Å\xa0", "").replace("Ã\xa0", "")
    if fixed == text or not re.search(_mojibake_pattern(codec), plain):
        return None
    return fixed


def take_mojibake(table: SourceTable, header_map: HeaderMap) -> pl.DataFrame:
    """Error issues for cells of mapped columns that hold UTF-8 text read as a
    single-byte encoding ('HÃ¤meenlinna': a UTF-8 file read with --encoding cp1252, or
    text another system encoded twice). Such a cell is made empty, as an error cell is:
    its row is Rejected, never imported garbled."""
    # The encoding the file was read with, when single-byte (detected, or any a user
    # named: --encoding latin-1 reads UTF-8's "Ä" as "Ã" and a C1 control, which
    # Windows-1252's pattern misses); for a UTF-8 file, text encoded twice looks like
    # Windows-1252's.
    codec = (table.encoding if table.encoding is not None and _single_byte(table.encoding)
             else "cp1252")
    columns = [(f, c) for f, c in header_map.columns.items() if c in table.frame.columns]
    if not columns or table.frame.is_empty():
        return pl.DataFrame(schema=ISSUE_SCHEMA)
    pattern = _mojibake_pattern(codec)
    found: list[tuple[int, str, str, str, str]] = []
    for field_name, column in columns:
        candidates = table.frame.filter(pl.col(column).str.contains(pattern).fill_null(False))
        if candidates.is_empty():
            continue
        fixes = {text: _utf8_read_as(text, codec)
                 for text in candidates[column].unique().to_list()}
        header = table.headers[int(column[1:])] or f"column {int(column[1:]) + 1}"
        for row, text in candidates.select("_row", column).iter_rows():
            if fixes[text] is not None:
                found.append((row, field_name, UTF8_READ_AS_SINGLE_BYTE, "error",
                              f"the cell in column {header!r} holds {text!r}, which is "
                              f"UTF-8 text read as {codec} ({fixes[text]!r}); leave "
                              "--encoding out, or save the file as UTF-8"))
    if not found:
        return pl.DataFrame(schema=ISSUE_SCHEMA)
    issues = pl.DataFrame(found, schema=ISSUE_SCHEMA, orient="row")
    bad = {field: issues.filter(pl.col("field") == field)["row"].implode()
           for field in issues["field"].unique().to_list()}
    table.frame = table.frame.with_columns(
        pl.when(pl.col("_row").is_in(rows)).then(None).otherwise(
            pl.col(header_map.columns[field])).alias(header_map.columns[field])
        for field, rows in bad.items())
    return issues


# Control characters other than tab, line feed and carriage return (which the
# normalisers read as spaces and line breaks; NUL is taken out as invisible): the C0
# controls, DEL and the C1 controls. No customer's text holds one: a cell with a bell
# or an escape sequence ('\x1b[31m' from a terminal) was pasted from somewhere else or
# read with the wrong encoding, and taking the character out would leave the rest
# ('[31m') as if it were text.
CONTROL = r"[\x01-\x08\x0e-\x1f\x7f-\x9f]"
_CONTROL = CONTROL
# A vertical tab or form feed is a line break inside a field (FileMaker exports a
# field's line breaks as vertical tabs): read as one, each field's normaliser then
# decides (a name collapses it to a space, notes keep it).
_LINE_BREAK_CONTROLS = r"[\x0b\x0c]"
_ANY_CONTROL = r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
_C0_NAMES = ("NUL SOH STX ETX EOT ENQ ACK BEL BS HT LF VT FF CR SO SI DLE DC1 DC2 DC3 DC4 "
             "NAK SYN ETB CAN EM SUB ESC FS GS RS US").split()


def _control_name(char: str) -> str:
    """'\x1b' -> "'\\x1b' (ESC, Ctrl-[)": the character escaped, and what it is."""
    code = ord(char)
    if code < 0x20:
        what = f"{_C0_NAMES[code]}, Ctrl-{chr(code + 0x40)}"
    else:
        what = "DEL" if code == 0x7F else "a C1 control character"
    return f"{char!r} ({what})"


def take_control_characters(table: SourceTable, header_map: HeaderMap) -> pl.DataFrame:
    """Error issues for cells of mapped columns that hold a control character other than
    tab, line feed and carriage return (BEL, ESC, DEL, a C1 control, ...; a vertical tab
    or form feed is read as a line feed first), naming the
    column and the character escaped. Such a cell is made empty, as an error cell is:
    its row is Rejected, never stored with the character nor guessed without it."""
    columns = [(f, c) for f, c in header_map.columns.items() if c in table.frame.columns]
    if not columns or table.frame.is_empty():
        return pl.DataFrame(schema=ISSUE_SCHEMA)
    # One look over every cell for any of them (most files have none), then the closer
    # ones only in the columns that hold one.
    held = table.frame.select(pl.col(c).str.contains(_ANY_CONTROL).any()
                              for _, c in columns).row(0)
    columns = [pair for pair, has in zip(columns, held, strict=True) if has]
    if not columns:
        return pl.DataFrame(schema=ISSUE_SCHEMA)
    breaks = table.frame.select(
        pl.col(c).str.contains(_LINE_BREAK_CONTROLS).any() for _, c in columns).row(0)
    if any(breaks):
        table.frame = table.frame.with_columns(
            pl.col(c).str.replace_all(_LINE_BREAK_CONTROLS, "\n")
            for (_, c), has in zip(columns, breaks, strict=True) if has)
    marks = table.frame.select(
        pl.col(c).str.contains(_CONTROL).any() for _, c in columns).row(0)
    found: list[tuple[int, str, str, str, str]] = []
    bad: dict[str, list[int]] = {}
    for (field_name, column), marked in zip(columns, marks, strict=True):
        if not marked:
            continue
        header = table.headers[int(column[1:])] or f"column {int(column[1:]) + 1}"
        hits = table.frame.filter(pl.col(column).str.contains(_CONTROL).fill_null(False))
        for row, text in hits.select("_row", column).iter_rows():
            char = re.search(_CONTROL, text)
            assert char is not None
            # Around the character only, in a long cell (notes of 32,767 characters).
            start = max(char.start() - 30, 0)
            shown = (("…" if start else "") + repr(text[start:start + 60])
                     + ("…" if start + 60 < len(text) else ""))
            found.append((row, field_name, CONTROL_CHARACTER, "error",
                          f"the cell in column {header!r} holds the control character "
                          f"{_control_name(char.group())}: {shown}; remove it in the "
                          "source"))
        bad[column] = hits["_row"].to_list()
    if not found:
        return pl.DataFrame(schema=ISSUE_SCHEMA)
    table.frame = table.frame.with_columns(
        pl.when(pl.col("_row").is_in(rows)).then(None).otherwise(pl.col(column)).alias(column)
        for column, rows in bad.items())
    return pl.DataFrame(found, schema=ISSUE_SCHEMA, orient="row")


def take_error_texts(table: SourceTable, header_map: HeaderMap) -> None:
    """Cells of mapped columns whose text is a spreadsheet's error value (a CSV keeps
    `#N/A` as text) become what an XLSX error cell is: listed in `table.cell_errors`
    and empty in the frame (the value is unknown; see _cell_errors)."""
    columns = [c for c in header_map.columns.values() if c in table.frame.columns]
    if not columns or table.frame.is_empty():
        return
    # Only columns with a cell that starts with '#' or 'Err:' are looked at closely: an
    # anchored search is several times cheaper than the full test; most files have none.
    marks = table.frame.select(
        pl.col(c).str.contains(r"^\s*(?:#|Err:)").any() for c in columns).row(0)
    columns = [c for c, marked in zip(columns, marks, strict=True) if marked]
    if not columns:
        return
    known = {(row, column) for row, column, _ in table.cell_errors}

    def is_error(column: str) -> pl.Expr:
        text = pl.col(column).str.strip_chars()
        return text.is_in(list(_ERROR_TEXTS)) | text.str.contains(_LIBREOFFICE_ERROR)

    hit = table.frame.select("_row", *[is_error(c).fill_null(False) for c in columns]) \
        .filter(pl.any_horizontal(columns))
    if hit.is_empty():
        return
    found = table.frame.join(hit.select("_row"), on="_row", how="semi")
    for column in columns:
        for row, error in found.filter(is_error(column)).select("_row", column).iter_rows():
            if (row, column) not in known:
                table.cell_errors.append((row, column, error.strip()))
    table.frame = table.frame.with_columns(
        pl.when(is_error(c)).then(None).otherwise(pl.col(c)).alias(c) for c in columns)


def skip_rows_of_ignored_columns(table: SourceTable, header_map: HeaderMap) -> None:
    """Skip, and count as skipped, the rows whose mapped cells are all empty while an
    ignored column holds something (a helper column filled down past the data: `#N/A`,
    `0`). They hold nothing to import, so they are blank rows to the import; they were
    Rejected as New rows without a name, one per line (QA). A row with an error cell in
    a mapped column stays, to be Rejected."""
    mapped = [c for c in header_map.columns.values() if c in table.frame.columns]
    if table.frame.is_empty() or len(mapped) == table.frame.width - 1:
        return
    erroneous = sorted({row for row, column, _ in table.cell_errors if column in mapped})
    blank = pl.all_horizontal(pl.col(c).str.strip_chars().fill_null("") == ""
                              for c in mapped) & ~pl.col("_row").is_in(erroneous)
    gone = table.frame.filter(blank)["_row"]
    if gone.is_empty():
        return
    table.frame = table.frame.filter(~blank)
    table.skipped += gone.len()
    dropped = set(gone.to_list())
    table.cell_errors = [e for e in table.cell_errors if e[0] not in dropped]


# The first word of a spreadsheet's totals row, in the languages of the default rules.
# Only the word alone, or followed by a colon or a number ("Yhteensä: 4", "TOTAL",
# "Summa 1 234"): "Total Security Oy" is a customer.
_TOTALS = (r"(?i)^(yhteensä|yht\.|summa|total|totalt|totals|sum|celkem|součet|celkový)"
           r"\s*(:|[0-9]|$)")


def totals_warnings(rows: pl.DataFrame) -> pl.DataFrame:
    """Warn where a New row's name reads like a spreadsheet's totals row ("Yhteensä:
    12"): the spec makes it a customer (it has a name), so the row only says so."""
    name = pl.col(new_col("name"))
    totals = (pl.col("status") == "New") & name.str.contains(_TOTALS).fill_null(False)
    note = pl.format("name: '{}' reads like a spreadsheet's totals row, not a customer; "
                     "delete the row if it is one", name)
    return rows.with_columns(with_warning(totals, note))


# A number as a spreadsheet writes it in scientific notation: one digit, the decimals
# it shows, `E`, the exponent's sign and two or three digits (`1.23456789012346E+19`
# in an XLSX, `1,23457E+019` in a CSV). A user typing a number so writes `1e19`.
_SPREADSHEET_SCIENTIFIC = r"^-?[0-9](?:[.,][0-9]+)?E[+-][0-9]{2,3}$"


def _stored_matches(rows: pl.DataFrame, fields: tuple[str, ...],
                    pattern: str) -> list[tuple[str, pl.Expr]]:
    """For each of `fields` where a New or Modified row would store (a value the
    register does not have) one that `pattern` finds: the field, and whether a row does."""
    present = [f for f in fields if new_col(f) in rows.columns]
    stored = pl.col("status").is_in(["New", "Modified"])

    def stores(f: str) -> pl.Expr:
        new = pl.col(new_col(f))
        return stored & ((pl.col(old_col(f)).is_null() | (new != pl.col(old_col(f))))
                         if old_col(f) in rows.columns else pl.lit(True))

    # The regex first only on the values the rows would store (few, but in a first load).
    marked = rows.select(pl.col(new_col(f)).filter(stores(f)).str.contains(pattern).any()
                         for f in present).row(0) if present else ()
    return [(f, stores(f) & pl.col(new_col(f)).str.contains(pattern))
            for f, has in zip(present, marked, strict=True) if has]


def scientific_notation_warnings(rows: pl.DataFrame, fields: tuple[str, ...]) -> pl.DataFrame:
    """Warn where a New or Modified row would store, in `fields` (free text: notes,
    names, custom text), a value in a spreadsheet's scientific notation
    (`1.23456789012346E+19`): a long digit string that a spreadsheet read as a number
    and wrote with its first 15 digits or fewer (QA: notes `12345678901234567890` came
    back so). Where the register has the number, keep_values_a_spreadsheet_retyped kept
    its value; a value it does not have is stored as the file has it (free text may
    hold anything), and the row says so. The status stays."""
    notes = [pl.when(hit).then(pl.format(
                 "{}: '{}' looks like a number a spreadsheet wrote in scientific notation, "
                 "which keeps its first digits only; check it", pl.lit(f), pl.col(new_col(f))))
             for f, hit in _stored_matches(rows, fields, _SPREADSHEET_SCIENTIFIC)]
    if not notes:
        return rows
    note = pl.concat_str(notes, separator="; ", ignore_nulls=True)
    return rows.with_columns(with_warning(note.is_not_null() & (note != ""), note))


# What people type for "no value" (`-`, `?`, `N/A`, `...`): stored, it replaces a name
# or an address with a dash. Not `*` nor `/`: a custom field's rating (`***`) or code.
_PLACEHOLDER = r"^(?:[-‐‑–—?._]{1,3}|[Nn]/[Aa]|[Nn]\.[Aa]\.)$"


def placeholder_warnings(rows: pl.DataFrame, fields: tuple[str, ...]) -> pl.DataFrame:
    """Warn where a New or Modified row would store, in `fields`, a placeholder for no
    value (`-`, `?`, `N/A`): a bookkeeper leaves a cell empty to keep a value, but a
    placeholder is a value, which the spec stores (QA: `-` replaced a customer's name
    and created a group `-`, unsaid). The status stays."""
    cells = [pl.when(hit).then(pl.format("{} '{}'", pl.lit(f), pl.col(new_col(f))))
             for f, hit in _stored_matches(rows, fields, _PLACEHOLDER)]
    if not cells:
        return rows
    listed = pl.concat_str(cells, separator=", ", ignore_nulls=True)
    note = pl.format("placeholders for no value, stored as values: {}; leave a cell empty "
                     "to store nothing", listed)
    return rows.with_columns(with_warning(listed.is_not_null() & (listed != ""), note))


def dropped_zeros(rows: pl.DataFrame, register: Register) -> pl.DataFrame:
    """A Conflict where a row's number found a customer whose name the row would change
    into the name of the customer numbered like it with leading zeros (row `42;Anna
    Nolla`, customers 42 'Pekka' and 0042 'Anna Nolla'), or with spaces or separators
    between its digits (row `1001;Gus Gro`, customers 1001 'Hal Hoo' and `1 001` 'Gus
    Gro'): a spreadsheet read that number as a number and wrote it so, and matching by
    the damaged number would overwrite another customer (QA, LibreOffice).
    """
    if "changed_fields" not in rows.columns:
        return rows
    number, name = pl.col(new_col("customer_number")), pl.col(new_col("name"))
    suspects = rows.filter(
        (pl.col("status") == "Modified") & (pl.col("matched_by") == "customer_number")
        & pl.col("changed_fields").str.contains(r"(^|\|)name(\||$)")
        & number.str.contains(r"^[1-9][0-9]*$")
    ).select("_row", number.alias("number"), name_key(name).alias("name_key"))
    if suspects.is_empty():
        return rows
    twins = pl.concat([register.padded_twins(suspects["number"]),
                       _separated_twins(suspects, register)])
    hits = (suspects.join(twins, on=["number", "name_key"])
            .group_by("_row").agg(pl.col("customer_number").min().alias("_twin")))
    if hits.is_empty():
        return rows
    rows = rows.join(hits, on="_row", how="left", maintain_order="left")
    twin = pl.col("_twin").is_not_null()
    return conflicts_where(rows, twin, pl.format(
        "number {} is customer {}, but the name '{}' is customer {}'s: a spreadsheet may "
        "have {}", number, pl.col("match"), name, pl.col("_twin"),
        pl.when(pl.col("_twin").str.contains(_NUMBER_SEPARATORS))
        .then(pl.lit("taken the spaces or separators out of the number"))
        .otherwise(pl.lit("dropped the number's leading zeros")))).drop("_twin")


# What a spreadsheet takes out of a number it reads: spaces (no-break ones too) and the
# separators of thousands.
_NUMBER_SEPARATORS = r"[\s\u00a0\u202f.,'’]"


def _separated_twins(suspects: pl.DataFrame, register: Register) -> pl.DataFrame:
    """The customers named as a suspect row (its name_key) whose number is the row's
    with spaces or separators between its digits (`1 001` for 1001): columns number,
    customer_number, name_key, as padded_twins gives them."""
    named = register.lookup("name_key", suspects["name_key"]).rename({"value": "name_key"})
    digits = pl.col("customer_number").str.replace_all(_NUMBER_SEPARATORS, "")
    return (named.join(suspects.select("number", "name_key"), on="name_key")
            .filter(pl.col("customer_number").str.contains(_NUMBER_SEPARATORS)
                    & (digits.str.strip_chars_start("0") == pl.col("number")))
            .select("number", "customer_number", "name_key"))


def unknown_numbers_with_dropped_zeros(rows: pl.DataFrame, register: Register) -> pl.DataFrame:
    """A Conflict where a New row brings a number the register has only with leading
    zeros (row `200`, customer `0200`): a spreadsheet dropped them, so the row is most
    likely that customer's, with its name edited or damaged beyond matching (QA: such a
    row became a second customer, with no word). Spec section 4 makes such a row New;
    like a name damaged as '?' (lost_names), the damage needs a human decision, not a
    silent second customer. A number that is new and has no such twin stays New."""
    number = pl.col(new_col("customer_number"))
    # A Conflict for the number already (its name, damaged, fits a customer) says the
    # zeros too: the name alone hides the half of the damage that decides the match.
    unknown = ((pl.col("status") == "Conflict") & pl.col("message").str.starts_with(
        pl.format("number {} is unknown, ", number))
        & ~pl.col("message").str.contains("leading zeros", literal=True))  # said already
    suspects = rows.filter(((pl.col("status") == "New") | unknown.fill_null(False))
                           & number.str.contains(r"^[1-9][0-9]*$"))
    if suspects.is_empty():
        return rows
    twins = register.padded_twins(suspects[new_col("customer_number")])
    if twins.is_empty():
        return rows
    found = twins.group_by("number").agg(
        pl.col("customer_number").sort().str.join(", ").alias("_twins"),
        pl.len().alias("_count"))
    rows = rows.join(found.rename({"number": new_col("customer_number")}),
                     on=new_col("customer_number"), how="left", maintain_order="left")
    hit = (pl.col("status") == "New") & pl.col("_twins").is_not_null()
    also = unknown.fill_null(False) & pl.col("_twins").is_not_null()
    who = pl.when(pl.col("_count") == 1).then(pl.format("customer {} is", pl.col("_twins"))) \
        .otherwise(pl.format("customers {} are", pl.col("_twins")))
    rows = rows.with_columns(pl.when(also).then(pl.format(
        "{}; and {} numbered {} with leading zeros: a spreadsheet may have dropped them",
        pl.col("message"), who, number)).otherwise(pl.col("message")).alias("message"))
    return conflicts_where(rows, hit, pl.format(
        "number {} is unknown, but {} numbered so with leading zeros: a spreadsheet may "
        "have dropped them; give the row the customer's number, or a number of its own if "
        "it is another customer", number, who)).drop("_twins", "_count")


# A number of four digits or more as a spreadsheet shows it: groups of three digits after
# separators of thousands (1,002; 1 002; 1.002; 1'002).
_GROUPED_NUMBER = r"^[1-9][0-9]{0,2}(?:[\s\u00a0\u202f.,'’][0-9]{3})+$"


def unknown_numbers_with_separators(rows: pl.DataFrame, register: Register) -> pl.DataFrame:
    """A Conflict where a New row's number is a customer's with separators of thousands
    between its digits (row `1,002` or `1 002`, customer `1002`): a spreadsheet showed
    the number so and saved it as shown, so the row is most likely that customer's, with
    its name edited (QA: it became a second customer, numbered `1,002`, with no word).
    As with dropped zeros (unknown_numbers_with_dropped_zeros), spec section 4 makes
    such a row New, and the damage needs a human decision, not a silent second customer."""
    number = pl.col(new_col("customer_number"))
    suspects = rows.filter((pl.col("status") == "New")
                           & number.str.contains(_GROUPED_NUMBER).fill_null(False))
    if suspects.is_empty():
        return rows
    digits = suspects[new_col("customer_number")].str.replace_all(_NUMBER_SEPARATORS, "")
    found = register.lookup("customer_number", digits.unique())
    if found.is_empty():
        return rows
    rows = rows.with_columns(number.str.replace_all(_NUMBER_SEPARATORS, "").alias("_digits"))
    rows = rows.join(found.select(pl.col("value").alias("_digits"),
                                  pl.col("customer_number").alias("_twin")).unique("_digits"),
                     on="_digits", how="left", maintain_order="left")
    hit = (pl.col("status") == "New") & number.str.contains(_GROUPED_NUMBER).fill_null(False) \
        & pl.col("_twin").is_not_null()
    return conflicts_where(rows, hit, pl.format(
        "number {} is unknown, but customer {} is numbered so without the separators: a "
        "spreadsheet may have added them; give the row the customer's number, or a number "
        "of its own if it is another customer", number, pl.col("_twin"))
    ).drop("_digits", "_twin")


# How many numbers of 16 digits or more, all ending in 0, make a file one a spreadsheet
# rounded (one in ten real numbers ends in 0; three all do by chance one time in 1,000).
ROUNDED_EVIDENCE = 3


def unknown_numbers_a_spreadsheet_rounded(rows: pl.DataFrame,
                                          register: Register) -> pl.DataFrame:
    """A Conflict where a New row's number of 16 digits or more is a customer's number
    as a spreadsheet writes it out, with its first 15 digits (rounded) and then zeros
    (`1234567890123460` for customer `1234567890123456`; QA: with the name edited it
    became a second customer). Taken as damage only when the file bears it out: every
    number of 16 digits or more in it ends in 0, as in a file a spreadsheet wrote, and
    there are at least ROUNDED_EVIDENCE of them (one in ten real numbers ends in 0: a
    lone one may be the customer's own, and a Conflict it could never leave would stop
    it, review). With fewer, the row stays New and says what it may be. A file with a
    long number that does not end in 0 went through no spreadsheet: its New numbers stay
    New. `rows` holds every row of the file (the whole-file columns)."""
    number = pl.col(new_col("customer_number"))
    long = number.str.contains(r"^[1-9][0-9]{15,}$").fill_null(False)
    # Distinct numbers: one number on three rows is one piece of evidence (review).
    rounded = rows.select(number.filter(long & number.str.ends_with("0")).n_unique()).item()
    if not rounded or rows.select((long & ~number.str.ends_with("0")).any()).item():
        return rows
    suspects = rows.filter((pl.col("status") == "New") & long)[new_col("customer_number")]
    if suspects.is_empty():
        return rows
    ranges = {}
    for value in suspects.unique().to_list():
        scale = 10 ** (len(value) - SPREADSHEET_DIGITS)
        kept = int(value) // scale  # the 15 digits written (the value ends in zeros)
        low = max((kept - 1) * scale, 10 ** (len(value) - 1))
        ranges[value] = (str(low), str((kept + 1) * scale - 1))
    found = register.numbers_in_ranges(list(ranges.values())).join(pl.DataFrame(
        [(value, low) for value, (low, _) in ranges.items()],
        schema={"value": pl.String, "low": pl.String}, orient="row"), on="low")
    fits = [(value, twin) for twin, value in
            found.select("customer_number", "value").iter_rows()
            if rounded_by_a_spreadsheet(value, twin)]
    if not fits:
        return rows
    twins = (pl.DataFrame(fits, schema=[new_col("customer_number"), "_twin"], orient="row")
             .group_by(new_col("customer_number"))
             .agg(pl.col("_twin").sort().str.join(" or ")))
    rows = rows.join(twins, on=new_col("customer_number"), how="left", maintain_order="left")
    hit = (pl.col("status") == "New") & pl.col("_twin").is_not_null()
    why = pl.format("number {} is unknown, but it may be customer {}'s as a spreadsheet "
                    "writes it, which keeps a number's first 15 digits only", number,
                    pl.col("_twin"))
    if rounded < ROUNDED_EVIDENCE:  # too little to stop the row on: it says so
        return rows.with_columns(with_warning(hit, pl.format("{}; check it", why))
                                 ).drop("_twin")
    return conflicts_where(rows, hit, pl.format(
        "{}; give the row the customer's number, or a number of its own if it is another "
        "customer", why)).drop("_twin")


def rounded_by_a_spreadsheet(new: str | None, old: str | None) -> bool:
    """Whether `new` is the number `old` (16 digits or more) as a spreadsheet writes it
    out: its first 15 digits, rounded either way, then zeros (LibreOffice's CSV of
    7350012345678901 has 7350012345678900; QA)."""
    if (new is None or old is None or len(new) != len(old) or len(new) <= SPREADSHEET_DIGITS
            or not (new.isdigit() and old.isdigit()) or old.startswith("0")):
        return False
    scale = 10 ** (len(old) - SPREADSHEET_DIGITS)
    kept = int(old) // scale
    return new != old and int(new) in (kept * scale, (kept + 1) * scale)


def country_warnings(rows: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    """Warn where a row without a country changes a value read by country for a customer
    of another country.

    Spec section 2 reads such a row's values as the rules' default country, so a
    Swedish customer's `08 123 456` becomes a Finnish number. The status stays as the
    spec gives it; the message says what was assumed and how to avoid it.
    """
    if "country" not in rules.fields:
        return rows
    by_country = [f for f in rules.field_names
                  if rules.fields[f].normaliser in COUNTRY_KINDS]
    if not by_country:
        return rows
    default = rules.default_country
    theirs = pl.col(old_col("country"))
    other = (pl.col("status").is_in(["Modified", "No change"])
             & pl.col(new_col("country")).is_null()
             & theirs.is_not_null() & (theirs != default))
    changed = [pl.when(changed_expr(f)).then(pl.lit(f.replace("_", " ")))
               for f in by_country]
    what = pl.concat_str(changed, separator=", ", ignore_nulls=True)
    note = pl.format(
        "country: the row names no country, so its {} was read as {}, but customer {} "
        "is in {}; fill in the row's country to read it as {}", what, pl.lit(default),
        pl.col("match"), theirs, theirs)
    return rows.with_columns(with_warning(other & (what != ""), note))


def restored_zeros_warnings(rows: pl.DataFrame, source: pl.DataFrame, header_map: HeaderMap,
                            rules: Rules) -> pl.DataFrame:
    """Warn where a business id was read by restoring leading zeros a spreadsheet dropped
    (FI `112038-9` -> `0112038-9`, CZ `2577810` -> `02577810`) and the register does not
    confirm it: the row is New, or changes its customer's id.

    An id cut short by one digit (`25778102` typed as `2577810`) may validate padded too,
    as another company's: the repair is kept, but never silently. A row whose customer
    already has the repaired id says nothing (spec section 8, row 2). `source` is the
    frame the rows were read from (`_row` and the mapped columns); the status stays.
    """
    for field_name, column in header_map.columns.items():
        if rules.fields[field_name].normaliser != "business_id":
            continue
        notes = _restored_zeros(rows, source.select("_row", column), field_name)
        if notes.is_empty():
            continue
        # Joined on `_row` alone and put beside the rows (no copy of the wide rows).
        note = rows.select("_row").join(notes, on="_row", how="left",
                                        maintain_order="left")["_note"]
        rows = rows.with_columns(note).with_columns(
            with_warning(pl.col("_note").is_not_null(), pl.col("_note"))).drop("_note")
    return rows


def _restored_zeros(rows: pl.DataFrame, typed: pl.DataFrame, field_name: str) -> pl.DataFrame:
    """`_row` and `_note` of the New rows, and of those changing `field_name`, whose id was
    read with more digits than `typed` (`_row` and the cell) has: zeros were put back."""
    read = pl.col(new_col(field_name))
    # A restored zero leads the id read: the other rows need no closer look.
    unconfirmed = read.str.starts_with("0") & (
        (pl.col("status") == "New")
        | ((pl.col("status") == "Modified") & changed_expr(field_name)))
    candidates = rows.filter(unconfirmed).select("_row", read.alias("read"))
    if candidates.is_empty():
        return candidates
    pairs = candidates.join(typed.rename({typed.columns[1]: "typed"}), on="_row")
    pairs = pairs.with_columns(pl.col("typed").str.strip_chars())
    zeros = pl.col("read").str.count_matches("[0-9]") - pl.col("typed").str.count_matches(
        "[0-9]")
    what = (pl.when(zeros == 1).then(pl.lit("a leading zero restored, as a spreadsheet drops it"))
            .otherwise(pl.format("{} leading zeros restored, as a spreadsheet drops them",
                                 zeros)))
    note = pl.format("{}: '{}' was read as {} ({}); check it", pl.lit(field_name),
                     pl.col("typed"), pl.col("read"), what)
    return pairs.filter(zeros > 0).select("_row", note.alias("_note"))
