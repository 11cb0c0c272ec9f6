"""read -> normalise -> match -> classify -> plan, and commit: one call per stage.

This and the CLI are the only modules that know every stage.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from sync.canonicalise import ISSUE_SCHEMA, canonicalise
from sync.changes import show_unseen
from sync.claims import claim_conflicts
from sync.classify import diff, status_expr

# The commit lives in its own module (a commit imports no preview stage); re-exported.
from sync.commit import changeset as changeset
from sync.commit import commit as commit
from sync.damage import (
    country_warnings,
    dropped_zeros,
    placeholder_warnings,
    remove_invisible,
    restored_zeros_warnings,
    scientific_notation_warnings,
    skip_rows_of_ignored_columns,
    take_control_characters,
    take_error_texts,
    take_mojibake,
    totals_warnings,
    unknown_numbers_a_spreadsheet_rounded,
    unknown_numbers_with_dropped_zeros,
    unknown_numbers_with_separators,
)
from sync.errors import SourceError, StalePlanError
from sync.groupkey import group_key_expr
from sync.lost_characters import (
    keep_values_a_spreadsheet_cut,
    keep_values_a_spreadsheet_retyped,
    lost_groups,
    lost_letter_warnings,
    lost_names,
    repair_lost_letters,
    unknown_numbers_with_lost_letters,
)
from sync.matchers.fuzzy import DUPLICATE_SCHEMA, possible_duplicates
from sync.matchers.keys import match_keys
from sync.matchers.similar import match_similar_names
from sync.normalise import name_key
from sync.plan import APPLIED, Plan, PlanHeader, count_statuses, new_col, old_col
from sync.readers import SourceTable, read_source
from sync.readers.table import column_label, column_letters
from sync.readers.xlsx_stream import FORMULA_WITHOUT_VALUE
from sync.rules import (
    MERGED_CELL,
    SPREADSHEET_ERROR,
    HeaderMap,
    Rules,
    fits_with_lost_letters,
    header_key,
    map_headers,
)
from sync.slices import slice_bounds
from sync.spill import Spill
from sync.types import FIELDS, Progress
from sync.wording import counted
from sync.writers.register.base import Register

# The long steps of a preview, in order, as reported to a progress callback.
PREVIEW_STEPS: tuple[str, ...] = ("reading the source", "normalising", "matching",
                                  "comparing with the register", "looking for duplicates")

# Rows per slice of the row-by-row stages: bounds their intermediate frames (a 10M-row
# source would otherwise hold several full-width copies at once).
_CHUNK_ROWS = 500_000
# ... and at most about this many bytes of source cells: 10,000 rows of 30,000-character
# notes are 300 MB, and each stage's copy of them would otherwise be whole-file.
_CHUNK_BYTES = 128 << 20
# A sliced preview keeps this many bytes of the slices' wide values (polars'
# estimated_size, about half their real size) on the heap before it spills the rest:
# spilling pays only where memory would run short, and writing the values out cost a
# 1M-row preview 2.6 s of 23.7 s to save 0.27 GiB (twenty-fifth session).
_SPILL_AFTER_BYTES = 512 << 20
_STATE = ("locked_by", "invalidated")
# The columns the rules that look across rows (claims, numbers, groups, duplicates) read
# or change: the only ones held in memory for the whole file.
_ACROSS_ROWS = ("_row", "status", "match", "message", "warning", "changed_fields",
                *(new_col(f) for f in ("customer_number", "business_id", "customer_group",
                                       "name")))
# What the comparison needed and the plan does not keep.
_DROPPED = ("outcome", *(f"_{s}" for s in _STATE))


@dataclass(frozen=True)
class ReadOptions:
    """How to read a source; None means detect."""

    encoding: str | None = None
    delimiter: str | None = None
    header_row: int = 1
    sheet: str | None = None


def file_checksum(path: Path) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def preview(source: Path, register: Register, rules: Rules,
            options: ReadOptions | None = None, progress: Progress | None = None) -> Plan:
    """Compute the plan for `source` against `register`; writes nothing anywhere.

    `progress`, when given, is called as each step of PREVIEW_STEPS begins.
    """
    options = options or ReadOptions()
    # The source first, outside the register's snapshot: on PostgreSQL that snapshot is
    # a transaction held open, which a long parse (a large workbook) would keep from
    # the server's vacuum (review). The register is not read meanwhile.
    _step(progress, "reading the source")
    table = read_source(source, encoding=options.encoding, delimiter=options.delimiter,
                        header_row=options.header_row, sheet=options.sheet)
    checksum = file_checksum(source)
    with register.read_snapshot():
        # The register's version before any register read: a commit that lands while
        # this preview reads is then seen by the commit's stale check.
        at = _register_point(register)
        plan = _plan(table, str(source), checksum, register, rules, at, progress)
        _check_unchanged(register, at)
    return plan


def preview_table(table: SourceTable, source: str, checksum: str, register: Register,
                  rules: Rules, progress: Progress | None = None) -> Plan:
    """Compute the plan for an already read `table` (e.g. a database table) against
    `register`; writes nothing anywhere.

    `source` names the table in the plan and the batch (no passwords), and `checksum`
    is what the batch records as the source checksum. `table` is consumed: its frame is
    empty afterwards. `progress` as for `preview` (the table is read: its steps begin
    at the second).
    """
    with register.read_snapshot():
        at = _register_point(register)
        plan = _plan(table, source, checksum, register, rules, at, progress)
        _check_unchanged(register, at)
    return plan


def _check_unchanged(register: Register, at: _RegisterPoint) -> None:
    """StalePlanError (exit 3) when a commit landed while the preview read the register
    (never within a read snapshot, where every read saw the state at its start).

    The preview reads in many statements (and connections), so its lookups may have
    seen the register before and after that commit: a plan of such mixed reads showed
    thousands of contradictory Conflicts (QA). Spec section 4: matching sees the register
    as it was when the preview began; the version moves with every commit, in its
    transaction, so an unchanged version means every read saw that state."""
    now = register.version()
    if now != at.version:
        raise StalePlanError(
            f"the register changed while the preview read it (a commit "
            f"moved it from version {at.version} to {now}); nothing was written; run the "
            "preview again")


@dataclass(frozen=True)
class _RegisterPoint:
    """Which register, in which state, a plan is made against."""

    register_id: str | None
    version: int
    history: str
    location: str


def _register_point(register: Register) -> _RegisterPoint:
    version = register.version()
    return _RegisterPoint(register.register_id(), version, register.history_digest(version),
                          register.location)


def _custom_headers(rules: Rules) -> dict[str, list[str]]:
    """The headers of the rules' custom fields (their aliases and export headers), by
    field: what the register is to remember of them (see PlanHeader.custom_headers)."""
    return {name: sorted({*rule.aliases, *rule.headers.values()})
            for name, rule in rules.fields.items() if name not in FIELDS}


def _refuse_unnamed_custom_fields(header_map: HeaderMap, register: Register, rules: Rules,
                                  source: str) -> None:
    """SourceError when an ignored column is one of the register's custom fields that
    `rules` do not define, named by its column name or by a header of the rules that
    added it (which the register remembers): an export writes such a field under one
    of them, and importing the edited export without the rule file ignored every edit
    in it while exiting 0 (QA). Its normaliser is the rule file's, so it is not guessed
    here."""
    ignored = {header_key(h): h for h in header_map.ignored}
    remembered = register.custom_headers()
    for column in register.custom_columns():
        names = [column, *remembered.get(column, [])]
        header = next((ignored[key] for key in map(header_key, names) if key in ignored),
                      None) or next((h for h in header_map.ignored for name in names
                                     if fits_with_lost_letters(h, name)), None)
        if header is not None and column not in rules.field_names:
            raise SourceError(
                f"{source}: column {header!r} is the register's custom field {column}, "
                "which the rules in use do not define, so its values would be ignored; "
                "pass the rule file that defines it (--rules), or remove the column")


def _step(progress: Progress | None, name: str, where: str = "") -> None:
    if progress is not None:
        progress(name + where, PREVIEW_STEPS.index(name) + 1, len(PREVIEW_STEPS))


def _plan(table: SourceTable, source: str, checksum: str, register: Register, rules: Rules,
          at: _RegisterPoint, progress: Progress | None = None) -> Plan:
    """The stages after reading: map, normalise, match, classify; the plan.

    `table` is consumed: its frame is empty afterwards (the rows live on in the plan).

    The row-by-row stages (normalise, match, compare) run on slices of `_CHUNK_ROWS`
    rows, so their intermediate frames exist for one slice at a time; what needs the
    whole file (claims, numbers, groups, duplicates) then runs on narrow columns.
    """
    header_map = map_headers(table.headers, rules, source,
                             header_row=table.header_row, head=table.head,
                             column=functools.partial(column_label, table))
    _refuse_unnamed_custom_fields(header_map, register, rules, source)
    fields = rules.field_names
    remove_invisible(table)
    take_error_texts(table, header_map)
    skip_rows_of_ignored_columns(table, header_map)
    cell_issues = pl.concat([_cell_errors(table, header_map),
                             take_mojibake(table, header_map),
                             take_control_characters(table, header_map)])
    if not table.frame["_row"].is_sorted():
        # Slices must hold separate runs of rows (a streamed sheet may list its rows out
        # of order): each slice's values are put back beside the whole-file columns.
        table.frame = table.frame.sort("_row")
    total = table.frame.height
    slices = [table.frame.slice(offset, length)
              for offset, length in slice_bounds(table.frame, _CHUNK_BYTES, _CHUNK_ROWS)]
    # The table is handed over: once its rows are in slices, each slice's source cells
    # can be freed as soon as it is compared (where the reader built the frame in
    # pieces, e.g. the CSV fast path), instead of living to the end of the preview.
    table.frame = table.frame.clear()
    # A source of more than one slice keeps the values nothing looks across rows at
    # (the register's values, most new values) in memory-mapped files, not on the heap,
    # once more than _SPILL_AFTER_BYTES of them are held.
    spill = Spill() if len(slices) > 1 else None
    narrow_parts, wide_parts = [], []
    mapped: list[Spill | None] = []  # per slice, the Spill holding its wide values
    offset = kept = 0
    try:
        for i, chunk in enumerate(slices):
            where = (f", rows {offset + 1:,}-{offset + chunk.height:,} of {total:,}"
                     if len(slices) > 1 else "")
            offset += chunk.height
            slices[i] = chunk.clear()
            rows = _compared_rows(chunk, header_map, rules, register, cell_issues,
                                  progress, where)
            del chunk
            narrow = [c for c in _ACROSS_ROWS if c in rows.columns]
            wide = rows.select("_row", pl.exclude(*narrow, *_DROPPED))
            narrow_parts.append(rows.select(narrow))
            if spill is not None and kept + wide.estimated_size() > _SPILL_AFTER_BYTES:
                wide = spill.put(wide)
                mapped.append(spill)
            else:
                kept += wide.estimated_size()
                mapped.append(None)
            wide_parts.append(wide)
            del rows, wide
        rows = _one_frame(narrow_parts)
        rows = unknown_numbers_a_spreadsheet_rounded(rows, register)
        rows = _claims(rows)
        rows = _assign_numbers(rows, register)
        rows = _canonical_groups(rows, register)
        _step(progress, "looking for duplicates")
        rows = _flag_duplicates(rows, register, rules)
        rows = _finished(rows, wide_parts, table, fields, mapped)
    finally:
        if spill is not None:
            spill.close()
    header = PlanHeader(
        plan_id=str(uuid.uuid4()),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        source=source,
        source_checksum=checksum,
        rules_source=rules.source,
        rules_digest=rules.digest,
        register_id=at.register_id,
        register_version=at.version,
        register_history=at.history,
        register_location=at.location if at.register_id is None else None,
        fields=list(fields),
        counts=count_statuses(rows["status"]),
        skipped=table.skipped,
        source_info=_source_info(table, header_map),
        fuzzy_match_threshold=rules.fuzzy_match_threshold,
        custom_headers=_custom_headers(rules),
    )
    return Plan(header=header, rows=rows)


def _one_frame(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """The slices' rows as one frame of one chunk per column; `parts` is emptied.

    Built a column at a time, so memory holds the rows about once. Left in slices, the
    first whole-file step that mixed a new (one-chunk) column with them would make
    polars rechunk every column at once: a full copy of the plan, at every such step.
    """
    columns = pl.concat(parts, how="vertical_relaxed", rechunk=False).get_columns()
    parts.clear()
    for i, column in enumerate(columns):
        columns[i] = column.rechunk()
        del column
    return pl.DataFrame(columns)


def _compared_rows(chunk: pl.DataFrame, header_map: HeaderMap, rules: Rules,
                   register: Register, cell_issues: pl.DataFrame,
                   progress: Progress | None, where: str) -> pl.DataFrame:
    """Source rows normalised, matched and compared with the register, each row on its
    own (nothing here looks at another row): status, diff, old and new values."""
    fields = rules.field_names
    _step(progress, "normalising", where)
    canonical = canonicalise(chunk, header_map, rules)
    rows_here = pl.col("row").is_in(chunk["_row"].implode())
    issues = pl.concat([canonical.issues, cell_issues.filter(rows_here)])
    rows = _with_messages(canonical.frame, issues)
    del canonical
    rows = rows.rename({f: new_col(f) for f in fields if f in rows.columns}).with_columns(
        pl.lit(None, pl.String).alias(new_col(f)) for f in fields if f not in rows.columns)
    valid = rows.filter(pl.col("error").is_null()).select(
        "_row", *[pl.col(new_col(k)).alias(k)
                  for k in ("customer_number", "business_id", "name", "customer_type")])
    _step(progress, "matching", where)
    # The customers the rows name by number, read once: they answer the number lookup
    # of the key chain and most of the values the comparison needs.
    by_number = _register_values(register, valid["customer_number"], fields)
    matches = match_keys(valid, register, rules.match_order,
                         known_numbers=by_number["customer_number"])
    if rules.fuzzy_match_threshold is not None:
        matches = match_similar_names(valid, matches, register, rules.match_order,
                                      rules.legal_forms, rules.fuzzy_match_threshold)
    matches = lost_names(valid, matches, register, rules.match_order)
    rows = rows.join(matches, on="_row", how="left").with_columns(
        pl.col("outcome").fill_null("rejected"))
    _step(progress, "comparing with the register", where)
    rows = _attach_register_values(rows, register, fields, by_number)
    rows = repair_lost_letters(rows, fields)
    rows = keep_values_a_spreadsheet_cut(rows, fields, frozenset(
        f for f in fields if f != "customer_group"
        and rules.fields[f].normaliser not in _FREE_TEXT))
    rows = keep_values_a_spreadsheet_retyped(rows, tuple(
        f for f in fields if rules.fields[f].normaliser in _FREE_TEXT))
    rows = lost_groups(rows, register)
    rows = diff(rows, fields).with_columns(status_expr().alias("status"))
    rows = country_warnings(rows, rules)
    rows = restored_zeros_warnings(rows, chunk, header_map, rules)
    rows = dropped_zeros(rows, register)
    rows = unknown_numbers_with_dropped_zeros(rows, register)
    rows = unknown_numbers_with_separators(rows, register)
    rows = unknown_numbers_with_lost_letters(rows, register)
    # After the steps that make rows Conflicts: those store nothing.
    rows = lost_letter_warnings(rows, tuple(
        f for f in fields if f == "customer_number"
        or rules.fields[f].normaliser == "collapse"))
    rows = scientific_notation_warnings(rows, tuple(
        f for f in fields if rules.fields[f].normaliser in _FREE_TEXT))
    rows = placeholder_warnings(rows, tuple(
        f for f in fields if rules.fields[f].normaliser in _UNCHECKED))
    rows = totals_warnings(rows)
    # In row order: the slice's columns are later split and put back side by side.
    return _in_row_order(_held_customers(rows))


# Normalisers of free text: a value without the register's leading zeros is an edit
# there, not a code a spreadsheet read as a number.
_FREE_TEXT = frozenset({"collapse", "text"})
# Normalisers that check nothing a placeholder (`-`) would fail (a phone or an e-mail
# address so written warns already, a type or country is refused).
_UNCHECKED = frozenset({"collapse", "text", "compact", "key", "vat_id", "einvoice"})


def _source_info(table: SourceTable, header_map: HeaderMap) -> dict[str, object]:
    """How the source was read: the record the summary line and `--json` show."""
    info: dict[str, object] = {
        "format": table.format, "encoding": table.encoding, "delimiter": table.delimiter,
        "header_row": table.header_row, "columns": dict(header_map.headers),
        "ignored": list(header_map.ignored), "suggestions": dict(header_map.suggestions)}
    if header_map.lost_letters:
        info["lost_letter_headers"] = dict(header_map.lost_letters)
    if header_map.lost_letter_doubts:
        info["lost_letter_doubts"] = {h: dict(fits) for h, fits
                                      in header_map.lost_letter_doubts.items()}
    if table.sheet is not None:
        info["sheet"] = table.sheet
    if table.encoding_doubt is not None:
        info["encoding_doubt"] = table.encoding_doubt
    return info


def _cell_errors(table: SourceTable, header_map: HeaderMap) -> pl.DataFrame:
    """Cells holding a spreadsheet error (#N/A, #DIV/0!, ...) as row issues.

    The value the sheet meant is unknown, so a row with one in a mapped column is
    Rejected (read as empty, a broken key would silently match by the next key or make a
    New customer); one in an ignored column is a warning.
    """
    fields = {column: name for name, column in header_map.columns.items()}
    rows = []
    for row, column, error in table.cell_errors:
        header = _header_name(table, column)
        if error == FORMULA_WITHOUT_VALUE:
            detail = (f"the cell in column {header!r} holds a formula saved without its "
                      "value; open and save the file in a spreadsheet program")
        else:
            detail = (f"the cell in column {header!r} holds the spreadsheet error {error}; "
                      "correct or clear it in the sheet")
        mapped = fields.get(column)
        rows.append((row, mapped or header, SPREADSHEET_ERROR,
                     "error" if mapped else "warn", detail))
    # Cells read as the file holds them that the user may see otherwise (a merged
    # range's value shown over cells that hold none): a warning, the status stays.
    rows.extend((row, fields.get(column) or _header_name(table, column), MERGED_CELL,
                 "warn", detail) for row, column, detail in table.cell_warnings)
    return pl.DataFrame(rows, schema=ISSUE_SCHEMA, orient="row")


def _header_name(table: SourceTable, column: str) -> str:
    """Column `column`'s ("c5") header, or for one without a header its place: the
    sheet's column letter (`column F`), else its number (`column 6`)."""
    index = int(column[1:])
    if table.headers[index]:
        return table.headers[index]
    first = table.first_column()
    if first is not None:
        return f"column {column_letters(first + index)}"
    return f"column {index + 1}"


def _with_messages(frame: pl.DataFrame, issues: pl.DataFrame) -> pl.DataFrame:
    """Add `error` (the row's error-level problems) and `warning` (the rest) per row."""
    text = pl.format("{}: {}", pl.col("field"), pl.col("detail").fill_null(pl.col("code")))
    per_row = issues.group_by("row").agg(
        text.filter(pl.col("severity") == "error").str.join("; ").alias("error"),
        text.filter(pl.col("severity") != "error").str.join("; ").alias("warning"),
    ).with_columns(pl.col("error", "warning").replace("", None))
    return frame.join(per_row.rename({"row": "_row"}), on="_row", how="left")


def _register_values(register: Register, numbers: pl.Series,
                     fields: tuple[str, ...]) -> pl.DataFrame:
    """The register's values (and state columns) of these customers."""
    return register.fetch(numbers, (*fields, *_STATE))


def _attach_register_values(rows: pl.DataFrame, register: Register,
                            fields: tuple[str, ...], known: pl.DataFrame) -> pl.DataFrame:
    """Join each matched row with its customer's register values (`known` holds some
    already; the others are read)."""
    numbers = rows.filter(pl.col("outcome") == "match")["match"]
    missing = numbers.filter(~numbers.is_in(known["customer_number"].implode()))
    current = pl.concat([known, _register_values(register, missing, fields)])
    current = current.select(
        pl.col("customer_number").alias("match"),
        *[pl.col(f).alias(old_col(f)) for f in fields if f != "customer_number"],
        *[pl.col(s).alias(f"_{s}") for s in _STATE])
    rows = rows.join(current, on="match", how="left")
    return rows.with_columns(
        pl.when(pl.col("outcome") == "match").then(pl.col("match")).otherwise(None)
        .alias(old_col("customer_number")))


def _held_customers(rows: pl.DataFrame) -> pl.DataFrame:
    """Rows matched to an invalidated customer, or changing a locked one, are Conflicts."""
    matched = pl.col("status").is_in(["Modified", "No change"])
    invalid = matched & pl.col("_invalidated").is_not_null()
    locked = (pl.col("status") == "Modified") & pl.col("_locked_by").is_not_null()
    return rows.with_columns(
        pl.when(invalid | locked).then(pl.lit("Conflict")).otherwise(pl.col("status"))
        .alias("status"),
        pl.when(invalid).then(pl.format("customer {} is invalidated", pl.col("match")))
        .when(locked).then(pl.format("customer {} is locked by {}", pl.col("match"),
                                     pl.col("_locked_by")))
        .otherwise(pl.col("message")).alias("message"))


def _claims(rows: pl.DataFrame) -> pl.DataFrame:
    """Later rows that resolve to an already claimed customer, or bring a claimed key,
    become Conflicts.

    Only rows handled normally claim, in row order: matched rows their customer, New
    rows their customer_number and business_id, Modified rows a business_id they set.
    A row that loses any claim claims nothing (spec section 4), so one rule decides
    them all together.
    """
    rows = _in_row_order(rows)
    status = pl.col("status")
    matched = status.is_in(["Modified", "No change"])
    sets_business_id = (status == "Modified") & pl.col("changed_fields").str.contains(
        r"(^|\|)business_id(\||$)")
    claimants = rows.select("_row", "status", "match", "changed_fields",
                            new_col("customer_number"), new_col("business_id")).filter(
        matched | (status == "New")).select(
        "_row",
        pl.when(matched).then(pl.col("match")).alias("match"),
        pl.when(status == "New").then(pl.col(new_col("customer_number")))
        .alias("customer_number"),
        pl.when((status == "New") | sets_business_id).then(pl.col(new_col("business_id")))
        .alias("business_id"))
    conflicts = claim_conflicts(claimants)
    if conflicts.height:
        # Joined on `_row` alone and put beside the rows (no copy of the wide rows).
        why = rows.select("_row").join(conflicts, on="_row", how="left",
                                       maintain_order="left")["why"]
        hit = why.is_not_null()
        rows = rows.with_columns(
            pl.when(hit).then(pl.lit("Conflict")).otherwise(pl.col("status")).alias("status"),
            pl.when(hit).then(why).otherwise(pl.col("message")).alias("message"))
    return rows


def _in_row_order(rows: pl.DataFrame) -> pl.DataFrame:
    """`rows` sorted by `_row` (readers give them in order: then nothing is copied)."""
    return rows if rows["_row"].is_sorted() else rows.sort("_row")


def _numeric_max(values: pl.Series) -> int | None:
    """The largest all-digit value, compared as integers (of any length)."""
    digits = values.drop_nulls()
    digits = digits.filter(digits.str.contains(r"^[0-9]+$")).str.strip_chars_start("0")
    if digits.is_empty():
        return None
    # Without leading zeros, a longer number is larger, and equal lengths compare as text.
    largest = pl.DataFrame({"d": digits}).sort(
        pl.col("d").str.len_bytes(), "d", descending=True)["d"][0]
    return int(largest or "0")


def _assign_numbers(rows: pl.DataFrame, register: Register) -> pl.DataFrame:
    """New rows without a number get the next free numbers, in row order."""
    number = pl.col(new_col("customer_number"))
    needs = (pl.col("status") == "New") & number.is_null()
    keys = rows.select("_row", "status", new_col("customer_number"))
    count = keys.select(needs.sum()).item()
    if not count:
        return rows
    known = [register.max_numeric_number(),
             _numeric_max(keys.filter(pl.col("status") == "New")[new_col("customer_number")])]
    start = max((k for k in known if k is not None), default=0) + 1
    # A number a Rejected or Conflict row brings is not handed out: once that row is
    # fixed and imported again it would match the customer given its number (QA).
    # Spec section 5 counts only the New rows' numbers; skipping these guesses nothing.
    held = _numbers_at_or_above(
        keys.filter(pl.col("status").is_in(["Rejected", "Conflict"]))[
            new_col("customer_number")], start, start + count)
    if start + count + len(held) < 2 ** 62:
        # Rows are in row order (see _claims): the n-th row that needs one gets start + n,
        # plus the held numbers at or below it. Held number h_i (sorted) has
        # h_i - start - i free numbers before it, so the n-th free number passes every
        # h_i whose count is at most n.
        nth = needs.cast(pl.Int64).cum_sum() - 1
        before = pl.Series([h - start - i for i, h in enumerate(sorted(held))], dtype=pl.Int64)
        passed = (pl.lit(before).search_sorted(nth, side="right").cast(pl.Int64) if held
                  else pl.lit(0, pl.Int64))
        assigned = (pl.lit(start, pl.Int64) + nth + passed).cast(pl.String)
    else:  # numbers past 64-bit integers: Python's
        wanted = keys.filter(needs)["_row"].to_list()
        free = _free_numbers(start, len(wanted), held)
        numbers = {row: str(n) for row, n in zip(wanted, free, strict=True)}
        assigned = pl.col("_row").replace_strict(numbers, default=None, return_dtype=pl.String)
    return rows.with_columns(number.fill_null(pl.when(needs).then(assigned)))


def _numbers_at_or_above(values: pl.Series, start: int, end: int) -> set[int]:
    """The all-digit values of `values` from `start` up to `end` (or a little past it),
    as integers; a longer value can't be a number handed out, and is not converted (a
    number of 5,000 digits is more than Python's int() takes)."""
    digits = values.drop_nulls()
    digits = digits.filter(digits.str.contains(r"^[0-9]+$")
                           & (digits.str.len_bytes() <= len(str(end)) + 1)).unique()
    return {n for n in map(int, digits.to_list()) if n >= start}


def _free_numbers(start: int, count: int, held: set[int]) -> list[int]:
    """The first `count` integers from `start` on that are not in `held`."""
    free: list[int] = []
    number = start
    while len(free) < count:
        if number not in held:
            free.append(number)
        number += 1
    return free


def _new_row_defaults(rows: pl.DataFrame) -> pl.DataFrame:
    """A New row with no type is a company if it has a business_id, else a person."""
    default_type = (pl.when(pl.col(new_col("business_id")).is_not_null())
                    .then(pl.lit("company")).otherwise(pl.lit("person")))
    return rows.with_columns(
        pl.when((pl.col("status") == "New") & pl.col(new_col("customer_type")).is_null())
        .then(default_type).otherwise(pl.col(new_col("customer_type")))
        .alias(new_col("customer_type")))


def _canonical_groups(rows: pl.DataFrame, register: Register) -> pl.DataFrame:
    """Spell each group as the register does, or as its first applied row does."""
    group = pl.col(new_col("customer_group"))
    applied = pl.col("status").is_in(APPLIED) & group.is_not_null()
    if rows[new_col("customer_group")].null_count() == rows.height:
        return rows.with_columns(pl.lit(False).alias("_new_group"))
    existing = register.group_names().select(
        pl.col("name_key").alias("_group_key"), pl.col("name").alias("_known"))
    keys = rows.select("status", group, group_key_expr(group).alias("_group_key"))
    first = (keys.filter(applied).group_by("_group_key", maintain_order=True)
             .agg(group.first().alias("_first")))
    # Joined on the narrow key column only and put beside the rows: a join of the
    # full-width rows would copy every column.
    found = (keys.select("_group_key")
             .join(existing.unique("_group_key", keep="first", maintain_order=True),
                   on="_group_key", how="left", maintain_order="left")
             .join(first, on="_group_key", how="left", maintain_order="left"))
    rows = rows.hstack(found.select("_known", "_first"))
    return rows.with_columns(
        pl.when(applied).then(pl.coalesce("_known", "_first")).otherwise(group)
        .alias(new_col("customer_group")),
        (applied & pl.col("_known").is_null()).alias("_new_group"),
    ).drop("_known", "_first")


def _flag_duplicates(rows: pl.DataFrame, register: Register, rules: Rules) -> pl.DataFrame:
    new_rows = rows.lazy().filter(pl.col("status") == "New").select(
        "_row", pl.col(new_col("name")).alias("name"),
        name_key(pl.col(new_col("name"))).alias("name_key"),
        pl.col(new_col("customer_number")).alias("customer_number")).collect()
    flags = (possible_duplicates(new_rows, register, rules.legal_forms,
                                 rules.fuzzy_threshold)
             if new_rows.height else pl.DataFrame(schema=DUPLICATE_SCHEMA))
    # One flag per row at most; joined on `_row` alone and put beside the rows.
    found = rows.select("_row").join(flags, on="_row", how="left", maintain_order="left")
    return rows.hstack(found.drop("_row"))


def _finished(rows: pl.DataFrame, wide_parts: list[pl.DataFrame], table: SourceTable,
              fields: tuple[str, ...], mapped: list[Spill | None]) -> pl.DataFrame:
    """The plan's rows: each slice's `rows` (the columns the whole-file rules decided)
    put back beside its `wide_parts` (the other values), with the ragged rows, in row
    order; `wide_parts` is emptied. The wide values pass through uncopied: where they
    are memory-mapped (`mapped`: per part, its Spill or None), so are the plan's."""
    ragged = _ragged_rows(table)
    parts = []
    offset = 0
    for i, wide in enumerate(wide_parts):
        part = rows.slice(offset, wide.height)
        offset += wide.height
        if not part["_row"].equals(wide["_row"]):
            raise RuntimeError("internal: a slice's columns are out of step")
        wide_parts[i] = wide.clear()
        # Only the columns computed here are new; the wide values are not copied.
        part = _report_rows(_new_row_defaults(part.hstack(wide.drop("_row"))), fields)
        del wide
        # Ragged rows are not in the frame: each goes with the slice its number falls in.
        before = (pl.col("row") < rows["_row"][offset] if offset < rows.height
                  else pl.lit(True))
        here = ragged.filter(before)
        ragged = ragged.filter(~before)
        if here.height:
            part = (pl.concat([part, here], how="diagonal_relaxed")
                    .with_columns(pl.col("changed_fields", "matched_by").fill_null(""),
                                  pl.col("new_group").fill_null(False))
                    .sort("row"))
        part = part.cast(_plan_types(part))
        holder = mapped[i]
        if here.height and holder is not None:
            # Sorting copied the slice's mapped values onto the heap: map them again.
            part = holder.put(part)
        parts.append(part)
        del part
    wide_parts.clear()
    return pl.concat(parts, rechunk=False) if len(parts) > 1 else parts[0]


def _plan_types(part: pl.DataFrame) -> dict[str, type[pl.DataType]]:
    """One type per plan column, whatever a slice's nulls made of it: every slice of a
    plan has the same schema."""
    fixed = {"row": pl.Int64, "similarity": pl.Int64, "new_group": pl.Boolean}
    return {c: fixed.get(c, pl.String) for c in part.columns}


def _ragged_rows(table: SourceTable) -> pl.DataFrame:
    """The source's ragged rows (more or fewer cells than the header): Rejected."""
    return pl.DataFrame(
        {"row": [r for r, _ in table.ragged],
         "status": ["Rejected"] * len(table.ragged),
         "message": [f"row has {counted(n, 'cell')} but the header has {len(table.headers)}"
                     for _, n in table.ragged]},
        schema={"row": pl.Int64, "status": pl.String, "message": pl.String})


def _report_rows(rows: pl.DataFrame, fields: tuple[str, ...]) -> pl.DataFrame:
    """Report columns first, then the values a commit needs."""
    is_new = pl.col("status") == "New"
    message = pl.concat_str(
        [pl.when(pl.col("status") == "Rejected")
         .then(pl.col("error").fill_null(
             pl.when(pl.col(new_col("customer_number")).is_not_null()).then(pl.format(
                 "number {} is not in the register, and a New customer needs a name",
                 pl.col(new_col("customer_number"))))
             .otherwise(pl.lit("a New row needs a name")))),
         # Conflicts say why; a matched row's message is how it matched (by similarity).
         pl.when(pl.col("status").is_in(["Conflict", "Modified", "No change"]))
         .then(pl.col("message")),
         pl.col("warning"), pl.col("duplicate_note")],
        separator="; ", ignore_nulls=True)
    report = rows.select(
        pl.col("_row").alias("row"),
        "status",
        pl.when(is_new).then(pl.col(new_col("customer_number")))
        .otherwise(pl.col("match")).alias("customer_number"),
        pl.when(pl.col("status").is_in(["Modified", "No change", "Conflict"]))
        .then(pl.col("matched_by")).otherwise(None).fill_null("").alias("matched_by"),
        pl.when(pl.col("status") == "Modified").then(pl.col("changed_fields"))
        .otherwise(pl.lit("")).fill_null("").alias("changed_fields"),
        message.alias("message"),
        pl.when(is_new).then(pl.col("possible_duplicate")).alias("possible_duplicate"),
        pl.when(is_new).then(pl.col("similarity")).alias("similarity"),
        pl.col("_new_group").fill_null(False).alias("new_group"),
        *[pl.col(new_col(f)) for f in fields],
        *[pl.col(old_col(f)) for f in fields],
    )
    # Messages quote values; a character that doesn't show would hide why one is wrong.
    return report.with_columns(show_unseen(report["message"]))
