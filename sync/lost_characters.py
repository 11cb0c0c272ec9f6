"""Characters a file's encoding could not hold, saved as '?' (`Dvo?ák` for `Dvořák`,
`Kahvila ? Oy` for `Kahvila ☕ Oy`): damage that lost nothing the register does not
have, so values are kept, groups found, and names never become a second customer.
"""

from __future__ import annotations

import re

import polars as pl

from sync.damage import conflicts_where, rounded_by_a_spreadsheet, with_warning
from sync.groupkey import group_key
from sync.lost_marks import lost_characters
from sync.matchers.keys import NAMED_AT_MOST, deciding_key
from sync.namekey import BLOCK_PREFIX, MAX_BLOCK
from sync.normalise import name_key
from sync.plan import new_col, old_col
from sync.retyped import RETYPED_LOOK, SPREADSHEET_DIGITS, WRITTEN_LOOK, retyped_as
from sync.wording import first_of
from sync.writers.register.base import Register


def repair_lost_letters(frame: pl.DataFrame, fields: tuple[str, ...]) -> pl.DataFrame:
    """Keep the register's value where the row's differs from it only by '?' in place
    of characters the file's encoding can't hold (`Dvo?ák` for `Dvořák`, `Kahvila ? Oy`
    for `Kahvila ☕ Oy`): a file saved in an encoding that lacks them (Excel's "CSV" in
    Windows-1252 writes Czech letters and emoji so). That is damage, so it is repaired,
    never imported; the row's message says what was kept.

    Any character past ASCII counts, in a file of any encoding: a '?' where the register
    has one is damage the file went through somewhere on its way (no one types '?' for
    'ä' or '☕'), so keeping the register's value loses nothing.
    """
    notes: list[pl.Expr] = []
    candidates = [f for f in fields if f != "customer_number"
                  and new_col(f) in frame.columns and old_col(f) in frame.columns]
    # One cheap look first: most files have no '?' at all.
    marked = frame.select(pl.col(new_col(f)).str.contains("?", literal=True).any()
                          for f in candidates).row(0) if candidates else ()
    for f in [f for f, has in zip(candidates, marked, strict=True) if has]:
        new, old = new_col(f), old_col(f)
        # Lengths in characters, as lost_characters compares them: an emoji is one
        # (one '?'), though two UTF-16 units.
        maybe = (pl.col(new).str.contains("?", literal=True) & (pl.col(new) != pl.col(old))
                 & (pl.col(new).str.len_chars() == pl.col(old).str.len_chars()))
        pairs = frame.filter(maybe.fill_null(False)).select(new, old).unique()
        # Group names compare ignoring case (see classify.changed_expr), as lost_groups
        # does.
        fold = str.lower if f == "customer_group" else None
        damaged = [(n, o) for n, o in pairs.iter_rows() if lost_characters(n, o, fold)]
        if not damaged:
            continue
        hit = pl.struct(new, old).is_in(
            pl.DataFrame(damaged, schema=[new, old], orient="row").to_struct().implode())
        frame = frame.with_columns(
            pl.when(hit).then(pl.col(old)).otherwise(pl.col(new)).alias(new),
            hit.alias(f"_lost_{f}"), pl.col(new).alias(f"_had_{f}"))
        notes.append(pl.when(pl.col(f"_lost_{f}")).then(pl.format(
            "{}: kept '{}': the file has '{}' (characters its encoding could not hold "
            "were saved as '?')", pl.lit(f), pl.col(old), pl.col(f"_had_{f}"))))
    if not notes:
        return frame
    note = pl.concat_str(notes, separator="; ", ignore_nulls=True)
    return frame.with_columns(
        with_warning(pl.any_horizontal(pl.col("^_lost_.*$")), note)).drop(
        pl.col("^_lost_.*$"), pl.col("^_had_.*$"))


# The characters a spreadsheet cell holds (Excel, LibreOffice): a longer value is cut
# there when a file goes through one.
CELL_LIMIT = 32_767


def keep_values_a_spreadsheet_cut(frame: pl.DataFrame, fields: tuple[str, ...],
                                  codes: frozenset[str]) -> pl.DataFrame:
    """Keep the register's value where the row's is it with its leading zeros dropped
    (`800` for `0800`: a postal code of a country whose width the rules don't know, an
    id kept as typed), or of 16 digits or more written with its first 15 and zeros
    (`rounded_by_a_spreadsheet`), or cut at a spreadsheet cell's CELL_LIMIT characters (long notes
    through an XLSX): a spreadsheet did that to the file, so it is repaired, never
    imported, and the row's message says what was kept (QA: both came back Modified).
    The register's value is the evidence: without it (a New row) nothing is guessed.
    Zeros are read so only in `codes` (fields of codes and numbers, not free text nor
    groups: a group `7` beside `007` is a group to move into, QA)."""
    notes: list[pl.Expr] = []
    candidates = [f for f in fields if f != "customer_number"
                  and new_col(f) in frame.columns and old_col(f) in frame.columns]

    def maybe(f: str) -> pl.Expr:
        # Cheap tests first, over every row: the full ones run on the few rows they pass.
        new, old = pl.col(new_col(f)), pl.col(old_col(f))
        zero = old.str.starts_with("0") if f in codes else pl.lit(False)
        # A number of 16 digits or more that a spreadsheet wrote with 15 (then zeros).
        rounded = (new.str.len_bytes() >= 16) & new.str.ends_with("0") & pl.lit(f in codes)
        # A register value past a cell's size, or with lines a spreadsheet breaks (its
        # UTF-8 bytes are at least its characters): the few rows the full test looks at.
        long = old.str.len_bytes() > LINE_LIMIT
        return ((new != old) & (zero | rounded | long)).fill_null(False)

    marked = frame.select(maybe(f).any().alias(f) for f in candidates).row(0) \
        if candidates else ()
    for f in [f for f, has in zip(candidates, marked, strict=True) if has]:
        new, old = pl.col(new_col(f)), pl.col(old_col(f))
        number = (pl.lit(f in codes) & old.str.contains(r"^[0-9]+$")
                 & new.str.contains(r"^[0-9]+$")
                 & (new.str.len_bytes() < old.str.len_bytes())
                 & (old.str.strip_chars_start("0") == new.str.strip_chars_start("0")))
        # Python per pair only where its test can hold (a struct that is null is
        # skipped): a cut needs a long register value, a rounded number 16 digits. The
        # rows `maybe` passes include every code the register has with a leading zero.
        cut = pl.when(old.str.len_bytes() > LINE_LIMIT).then(pl.struct(new, old)) \
            .map_elements(lambda pair: cut_by_a_cell(*pair.values()),
                          return_dtype=pl.Boolean)
        if f in codes:
            number = number | pl.when(new.str.len_bytes() >= 16).then(
                pl.struct(new, old)).map_elements(
                lambda pair: rounded_by_a_spreadsheet(*pair.values()),
                return_dtype=pl.Boolean)
        hits = (frame.filter(maybe(f)).select("_row", new_col(f), old_col(f))
                .with_columns(number.fill_null(False).alias(f"_number_{f}"),
                              cut.fill_null(False).alias(f"_cut_{f}"))
                .filter(pl.col(f"_number_{f}") | pl.col(f"_cut_{f}")))
        if hits.is_empty():
            continue
        frame = frame.join(hits.select("_row", f"_number_{f}", f"_cut_{f}",
                                       pl.col(new_col(f)).alias(f"_had_{f}")),
                           on="_row", how="left", maintain_order="left")
        kept = pl.col(f"_number_{f}").fill_null(False) | pl.col(f"_cut_{f}").fill_null(False)
        frame = frame.with_columns(
            pl.when(kept).then(old).otherwise(new).alias(new_col(f)),
            pl.col(f"_number_{f}", f"_cut_{f}").fill_null(False))
        had = pl.col(f"_had_{f}")
        notes.append(
            pl.when(pl.col(f"_number_{f}") & (had.str.len_bytes() < old.str.len_bytes()))
            .then(pl.format(
                "{}: kept '{}': the file has '{}' (a spreadsheet drops a number's leading "
                "zeros)", pl.lit(f), old, had))
            .when(pl.col(f"_number_{f}")).then(pl.format(
                "{}: kept '{}': the file has '{}' (a spreadsheet keeps a number's first 15 "
                "digits only)", pl.lit(f), old, had))
            .when(pl.col(f"_cut_{f}") & (had.str.len_chars() < old.str.len_chars()))
            .then(pl.format(
                "{}: kept the register's value ({} characters): the file has its first "
                "{}, as many as a spreadsheet cell holds", pl.lit(f), old.str.len_chars(),
                had.str.len_chars()))
            .when(pl.col(f"_cut_{f}")).then(pl.format(
                "{}: kept the register's value ({} characters): the file has it with line "
                "breaks a spreadsheet put into its lines of more than {} characters",
                pl.lit(f), old.str.len_chars(), pl.lit(LINE_LIMIT))))
    if not notes:
        return frame
    note = pl.concat_str(notes, separator="; ", ignore_nulls=True)
    kept = pl.any_horizontal(pl.col("^_(number|cut)_.*$"))
    return frame.with_columns(with_warning(kept, note)).drop(
        pl.col("^_(number|cut)_.*$"), pl.col("^_had_.*$"))


def keep_values_a_spreadsheet_retyped(frame: pl.DataFrame,
                                      fields: tuple[str, ...]) -> pl.DataFrame:
    """Keep the register's value where the row's is what a spreadsheet makes of it when
    it opens a CSV with its default column types and saves it again, as a CSV or an
    XLSX (see sync.retyped: `1.12.` as `01.12.26` or `2026-12-01`, `50%` as `0.5`,
    `1e5` as `100000`, `1 000` as `1000`, `(100)` as `-100`, `5 kr` as `5,00 kr`,
    `12345678901234567890` as `1.23456789012346E+19`, `1:30` as `01:30:00`, `true` as
    `TRUE`), in `fields` (free text: names, addresses, groups, notes, custom fields;
    fields with a normaliser of their own read such values their own way): it is
    repaired, never imported, and the row's message says what was kept (QA: such rows
    were Modified, and groups `01.12.26`, `-100` were created). The register's value is
    the evidence: without it (a New row) nothing is guessed."""
    candidates = [f for f in fields if f != "customer_number"
                  and new_col(f) in frame.columns and old_col(f) in frame.columns]

    def shaped(new: pl.Expr, old: pl.Expr) -> pl.Expr:
        # The cheapest test: anchored patterns, which a long note fails at its start.
        return old.str.contains(RETYPED_LOOK) & new.str.contains(WRITTEN_LOOK)

    def looks(f: str) -> pl.Expr:
        # Only the values that differ (few: most rows change a field or two), then the
        # digits only of those whose shape passed (they scan the whole text: 10,000
        # edited notes of 30,000 characters took 23 s); the full test runs once per
        # distinct pair that passes both.
        new, old = pl.col(new_col(f)), pl.col(old_col(f))
        new, old = new.filter(new != old), old.filter(new != old)
        passed = shaped(new, old)
        return _same_digits_or_not_a_number(new.filter(passed), old.filter(passed))

    marked = frame.select(looks(f).any().alias(f)
                          for f in candidates).row(0) if candidates else ()
    kept: list[pl.DataFrame] = []  # _row, the field, and the row's note for it
    for f in [f for f, has in zip(candidates, marked, strict=True) if has]:
        new, old = new_col(f), old_col(f)
        suspects = (frame.select("_row", new, old).filter(pl.col(new) != pl.col(old))
                    .filter(shaped(pl.col(new), pl.col(old))))
        suspects = suspects.filter(_same_digits_or_not_a_number(pl.col(new), pl.col(old)))
        # A group differing only in case is the same group (classify.changed_expr).
        same = group_key if f == "customer_group" else str
        found = [(n, o, kind) for n, o in suspects.select(new, old).unique().iter_rows()
                 if same(n) != same(o) and (kind := retyped_as(o, n))]
        if found:
            kept.append(suspects.join(
                pl.DataFrame(found, schema=[new, old, "kind"], orient="row"), on=[new, old]
            ).select("_row", pl.lit(f).alias("field"), pl.format(
                "{}: kept '{}': the file has '{}' (a spreadsheet read it as {})", pl.lit(f),
                pl.col(old), pl.col(new), pl.col("kind")).alias("note")))
    if not kept:
        return frame
    # Only the few rows kept are written: no expression runs over every row per field.
    hits = pl.concat(kept)
    frame = frame.with_columns(
        pl.when(pl.col("_row").is_in(hits.filter(pl.col("field") == f)["_row"].implode()))
        .then(pl.col(old_col(f))).otherwise(pl.col(new_col(f))).alias(new_col(f))
        for f in hits["field"].unique(maintain_order=True))
    notes = hits.group_by("_row", maintain_order=True).agg(pl.col("note").str.join("; "))
    return frame.with_columns(with_warning(
        pl.col("_row").is_in(notes["_row"].implode()),
        pl.col("_row").replace_strict(notes["_row"], notes["note"], default=None,
                                      return_dtype=pl.String)))


def _same_digits_or_not_a_number(new: pl.Expr, old: pl.Expr) -> pl.Expr:
    """Whether `new` may be `old` re-typed, as far as digits tell: a number, amount,
    percentage or time a spreadsheet writes keeps its significant digits (`(100)` ->
    `-100`, `50%` -> `0.5`, `1:30` -> `01:30:00`: the same digits, zeros at the ends
    aside, the first 14 of them past rounding); a date, a time, a number in
    scientific notation (either side), a fraction or a word (`1.12.`, `13:05`, `1e5`,
    `1 1/4`, `Jan 5`, `true`) passes on to `retyped_as`. So an edit of a number
    (`7` -> `10`), which the other cheap tests pass, costs no Python (review: 2 s per
    100,000 such rows)."""
    def significant(text: pl.Expr) -> pl.Expr:
        return text.str.replace_all(r"[^0-9]+", "").str.strip_chars("0").str.slice(0, 14)

    return ((significant(new) == significant(old))
            # More digits than a spreadsheet keeps: rounding may carry far to the left
            # (12345678901239999 -> 12345678901240000; review), so these rare values
            # go on to retyped_as whatever their first digits.
            | (old.str.count_matches(r"[0-9]") > SPREADSHEET_DIGITS)
            | old.str.contains(r"[0-9]\s*[./\-:]\s*[0-9]|[0-9][./\-:]$|/|[^\W\d_]")
            | new.str.contains(r"[0-9][eE][+\-]?[0-9]"))


def cut_by_a_cell(new: str | None, old: str | None) -> bool:
    """Whether `new` is what a spreadsheet makes of `old` in one cell: `old` with the
    line breaks LibreOffice puts into long lines (`_kept_with_breaks`), whole, or cut at
    the cell's CELL_LIMIT UTF-16 units (Excel and LibreOffice count so: an emoji is
    two), without half of a character, trimmed as the import trims a cell (QA: a cut
    that ended in a space, notes with an emoji, and notes broken and then cut through
    an XLSX were stored as the file had them)."""
    if new is None or old is None or new == old:
        return False
    found = _kept_with_breaks(new, old)
    if found is None:
        return False
    kept, last = found
    if kept == len(old):
        return True  # `old` whole, with breaks added
    # Cut: the cell held CELL_LIMIT units of the (broken) text, or one less where the
    # next character (an emoji) would have been split; the trim took the white space it
    # ended in, which may hold one break added after the last line of `new`.
    rest = old[kept:]
    space = rest[:len(rest) - len(rest.lstrip())]
    low = _units(new)
    high = low + _units(space) + (LINE_LIMIT - LOOK_BACK <= last <= LINE_LIMIT)
    if low <= CELL_LIMIT <= high:
        return True
    after = rest[len(space):len(space) + 1]
    return high == CELL_LIMIT - 1 and after > "\uffff"


# LibreOffice's CSV import breaks a line of a multi-line quoted cell once it is longer
# than LINE_LIMIT UTF-16 units: after the last space, punctuation or emoji among the
# line's last units before the limit (it looks back 84), or at the limit where there
# is none (QA, LibreOffice 7.4: measured on 79 files; notes of 20,000 characters came
# back with a '\n' more). LOOK_BACK leaves room for other versions.
LINE_LIMIT = 16_367
LOOK_BACK = 100


def _kept_with_breaks(new: str, old: str) -> tuple[int, int] | None:
    """How many characters of `old` `new` is, and the UTF-16 units of its last line,
    where `new` is the first characters of `old` (all of them, or a cut) with line
    breaks added only where LibreOffice adds them (each piece of a long line
    LINE_LIMIT - LOOK_BACK to LINE_LIMIT units long); None where `new` is anything else."""
    at = 0
    lines = new.split("\n")
    for line in lines[:-1]:
        if not old.startswith(line, at):
            return None
        at += len(line)
        if old.startswith("\n", at):
            at += 1  # a break `old` has
        elif not LINE_LIMIT - LOOK_BACK <= _units(line) <= LINE_LIMIT:
            return None  # a break added where a spreadsheet adds none: an edit
    if not old.startswith(lines[-1], at):
        return None
    return at + len(lines[-1]), _units(lines[-1])


def _units(text: str) -> int:
    """The UTF-16 units of `text`, as spreadsheets count a cell's length."""
    return len(text.encode("utf-16-le")) // 2


def lost_groups(rows: pl.DataFrame, register: Register) -> pl.DataFrame:
    """A group name with '?' for characters the file's encoding can't hold (`?esko` in
    Windows-1252) that no group has is the register's group it equals so, ignoring case
    as group names are matched (`Česko`), and the row says so; where it equals two or
    more groups, the row is a Conflict naming them. Either way no group is created
    under the damaged name.

    Only rows without errors. Runs after `repair_lost_letters`, before the rows
    are compared: a row whose customer is in the group already has kept its spelling.
    """
    column = new_col("customer_group")
    if column not in rows.columns:
        return rows
    group = pl.col(column)
    marked = group.str.contains("?", literal=True).fill_null(False) & pl.col("error").is_null()
    names = rows.filter(marked)[column].unique().to_list()
    if not names:
        return rows
    existing = register.group_names()
    known = set(existing["name_key"].to_list())
    groups = sorted(existing["name"].to_list())
    found = {name: hits for name in names if group_key(name) not in known
             and (hits := [g for g in groups if lost_characters(name, g, str.lower)])}
    if not found:
        return rows
    one = {name: hits[0] for name, hits in found.items() if len(hits) == 1}
    many = {name: " or ".join(f"'{g}'" for g in hits)
            for name, hits in found.items() if len(hits) > 1}
    taken = group.replace_strict(one, default=None, return_dtype=pl.String)
    doubt = group.replace_strict(many, default=None, return_dtype=pl.String)
    single = marked & taken.is_not_null()
    ambiguous = marked & doubt.is_not_null() & pl.col("outcome").is_in(["match", "new"])
    note = pl.format("customer_group: '{}' is taken for group '{}' (characters its "
                     "encoding could not hold were saved as '?')", group, taken)
    return rows.with_columns(
        pl.when(single).then(taken).otherwise(group).alias(column),
        with_warning(single, note),
        pl.when(ambiguous).then(pl.lit("conflict")).otherwise(pl.col("outcome"))
        .alias("outcome"),
        pl.when(ambiguous).then(pl.format(
            "customer_group '{}' has characters its file's encoding lost as '?'; it may "
            "be group {}", group, doubt)).otherwise(pl.col("message")).alias("message"))


def lost_names(valid: pl.DataFrame, matches: pl.DataFrame, register: Register,
               order: tuple[str, ...]) -> pl.DataFrame:
    """A row that would be New although its name, with '?' for characters the file's
    encoding can't hold, is a customer's name (`Dvo?ák Anna`, customer 'Dvořák Anna'),
    compared as names are matched (case and spacing ignored): a Conflict naming the
    customers, never a silent second customer. Only rows whose name the key chain
    reads (decided by name, or by a number the register does not know; spec section 4).

    `valid` holds the rows' keys (_row, customer_number, business_id, name), `matches`
    their match (match_keys' columns); the changed `matches` is returned.
    """
    if "name" not in valid.columns or not valid["name"].str.contains("?", literal=True).any():
        return matches
    name = pl.col("name")
    rows = (valid.filter(name.str.contains("?", literal=True).fill_null(False))
            .join(matches.select("_row", "outcome"), on="_row")
            .filter((pl.col("outcome") == "new")
                    & deciding_key(order).is_in(["name", "customer_number"]))
            .select("_row", "customer_number", "name", name_key(name).alias("key")))
    if rows.is_empty():
        return matches
    hits: dict[str, list[str]] = {}
    for key, number, their_name in _fitting_names(rows["key"].unique().to_list(),
                                                  register).iter_rows():
        hits.setdefault(key, []).append(f"{number} '{their_name}'")
    if not hits:
        return matches
    maybe = {key: ("customer " if len(names) == 1 else "customers ")
             + first_of(sorted(names), NAMED_AT_MOST) for key, names in hits.items()}
    why = rows.with_columns(
        pl.col("key").replace_strict(maybe, default=None, return_dtype=pl.String)
        .alias("_maybe")).filter(pl.col("_maybe").is_not_null()).select(
        "_row", pl.concat_str(
            [pl.when(pl.col("customer_number").is_not_null()).then(
                pl.format("number {} is unknown, but ", pl.col("customer_number"))),
             pl.format("name '{}' has characters its file's encoding lost as '?'; it may "
                       "be {}", name, pl.col("_maybe"))], ignore_nulls=True).alias("_why"))
    matches = matches.join(why, on="_row", how="left", maintain_order="left")
    hit = pl.col("_why").is_not_null()
    return matches.with_columns(
        pl.when(hit).then(pl.lit("conflict")).otherwise(pl.col("outcome")).alias("outcome"),
        pl.when(hit).then(pl.col("_why")).otherwise(pl.col("message")).alias("message"),
    ).drop("_why")


def unknown_numbers_with_lost_letters(rows: pl.DataFrame, register: Register) -> pl.DataFrame:
    """A Conflict where a New row's number is a customer's number with '?' in place of
    characters past ASCII (`?K-7` for customer `ŘK-7`): a file saved in an encoding
    without them wrote '?', so the row is most likely that customer's, with its name
    edited or damaged beyond matching (QA: such a row became a second customer). As for
    a number without its leading zeros (damage.unknown_numbers_with_dropped_zeros),
    spec section 4 would make it New; the damage needs a human decision instead."""
    number = pl.col(new_col("customer_number"))
    suspects = rows.filter((pl.col("status") == "New")
                           & number.str.contains("?", literal=True).fill_null(False))
    if suspects.is_empty():
        return rows
    wanted = suspects.select(number.unique().alias("number"))
    held = register.numbers_with_letters(
        wanted["number"].str.len_chars().unique().to_list())
    if held.is_empty():
        return rows
    # Equal once every character past ASCII is a '?' on both sides: the few pairs that
    # may fit, then checked character by character.
    pairs = wanted.with_columns(_masked(pl.col("number")).alias("masked")).join(
        held.to_frame().with_columns(_masked(pl.col("customer_number")).alias("masked")),
        on="masked")
    fits = [(n, c) for n, c in pairs.select("number", "customer_number").iter_rows()
            if lost_characters(n, c)]
    if not fits:
        return rows
    found = (pl.DataFrame(fits, schema=[new_col("customer_number"), "_twin"], orient="row")
             .group_by(new_col("customer_number"))
             .agg(pl.col("_twin").sort().str.join(" or "), pl.len().alias("_count")))
    rows = rows.join(found, on=new_col("customer_number"), how="left", maintain_order="left")
    hit = (pl.col("status") == "New") & pl.col("_twin").is_not_null()
    who = pl.when(pl.col("_count") == 1).then(pl.format("customer {}'s number", pl.col("_twin"))) \
        .otherwise(pl.format("the number of customer {}", pl.col("_twin")))
    return conflicts_where(rows, hit, pl.format(
        "number {} is unknown, but it may be {} with letters its file's encoding lost as "
        "'?'; give the row the customer's number, or a number of its own if it is another "
        "customer", number, who)).drop("_twin", "_count")


def _fitting_names(keys: list[str], register: Register) -> pl.DataFrame:
    """The customers whose name fits each damaged name key (see `lost_characters`):
    value (the key), customer_number, name; sorted.

    Found through the register's name blocks (sync.namekey), as the similarity scan
    finds its pairs: the key's words without a '?' are blocks its customer has too, and
    so are the first BLOCK_PREFIX letters of a word whose '?' comes after them. So the
    register is read in a few index ranges whatever its size or the number of damaged
    names. A name whose every word is damaged early, or whose blocks are all too common
    (more than MAX_BLOCK customers), finds no one: its row stays New, and the similarity
    scan may flag it.
    """
    schema = {"value": pl.String, "customer_number": pl.String, "name": pl.String}
    per_key = {key: _undamaged_blocks(key) for key in keys}
    blocks = sorted(set().union(*per_key.values())) if per_key else []
    if not blocks:
        return pl.DataFrame(schema=schema)
    sizes = register.block_sizes(blocks, MAX_BLOCK + 1)
    usable = sizes.filter((pl.col("size") > 0) & (pl.col("size") <= MAX_BLOCK))["block"]
    if usable.is_empty():
        return pl.DataFrame(schema=schema)
    members = (register.block_members(usable.to_list())
               .with_columns(name_key(pl.col("name")).alias("name_key"))
               .with_columns(_masked(pl.col("name_key")).alias("masked")))
    wanted = pl.DataFrame([(key, block) for key, found in per_key.items() for block in found],
                          schema={"value": pl.String, "block": pl.String}, orient="row"
                          ).with_columns(_masked(pl.col("value")).alias("masked"))
    # Joined on the masked form too, which two names a '?' can tell apart never share: a
    # block of a common word pairs a key with its few look-alikes, not with every member
    # (review: 9 million pairs, 4.5 GB, for 9,900 damaged names).
    pairs = (wanted.join(members, on=["block", "masked"])
             .unique(["value", "customer_number"]).select("value", "customer_number",
                                                          "name", "name_key"))
    hits = [(key, number, name) for key, number, name, their_key in pairs.iter_rows()
            if their_key is not None and lost_characters(key, their_key)]
    return pl.DataFrame(hits, schema=schema, orient="row").sort("value", "customer_number")


def _undamaged_blocks(key: str) -> set[str]:
    """The name blocks (see namekey.word_blocks) of a damaged name key that the
    undamaged name has too: the blocks of its words without a '?', and the prefix block
    of a word whose first BLOCK_PREFIX letters are whole."""
    blocks: set[str] = set()
    # Words as words_of finds them (runs of letters and digits), but with '?' kept in
    # them: 'Žofie-Anna' is 'žofie' and 'anna', so '?ofie-anna' still has 'anna'.
    for word in _WORDS_WITH_MARKS.findall(key.casefold()):
        if "?" in word:
            head = word[:word.index("?")]
            if len(head) >= BLOCK_PREFIX:
                blocks.add(head[:BLOCK_PREFIX])
        elif not word.isdigit():
            blocks.add(word)
            if len(word) > BLOCK_PREFIX:
                blocks.add(word[:BLOCK_PREFIX])
    return blocks


_WORDS_WITH_MARKS = re.compile(r"[\w?]+")


def _masked(text: pl.Expr) -> pl.Expr:
    """`text` with every character past ASCII as '?': equal for two names only where
    `lost_characters` may hold."""
    return text.str.replace_all(r"[^\x00-\x7F]", "?")


# A '?' standing for a letter: inside a word (`Dvo?ák`, `P?íkop?`) or starting one
# (`?eho?`). A '?' after a word ends a question, which a name may hold (`Miksi? Oy`).
_LETTER_LOST = r"\p{L}\?\p{L}|(?:^|[\s\-'])\?\p{L}"


def lost_letter_warnings(rows: pl.DataFrame, fields: tuple[str, ...]) -> pl.DataFrame:
    """Warn where a New or Modified row would store, in `fields` (names, addresses,
    groups, numbers: not free text), a value with '?' in place of a letter: a file saved
    in an encoding without that letter (Excel's Windows-1252 "CSV" of Czech text) writes
    '?' for it. Where the register has the letter, repair_lost_letters keeps its value;
    a value the register does not have (a New customer, an edited street) would be
    stored damaged, with no word (QA). The status stays: a '?' may be meant."""
    stored = pl.col("status").is_in(["New", "Modified"])
    notes = []
    for f in fields:
        if new_col(f) not in rows.columns:
            continue
        new = pl.col(new_col(f))
        changes = new.is_not_null() & (
            pl.col(old_col(f)).is_null() | (new != pl.col(old_col(f)))
            if old_col(f) in rows.columns else pl.lit(True))
        notes.append(pl.when(stored & changes & new.str.contains(_LETTER_LOST)).then(
            pl.format("{}: '{}' has '?' where a letter belongs, as a file saved in an "
                      "encoding without that letter writes it; check it", pl.lit(f), new)))
    if not notes:
        return rows
    # Only the rare rows with a '?' at all are looked at closely.
    note = pl.concat_str(notes, separator="; ", ignore_nulls=True)
    marked = rows.select(pl.any_horizontal(
        pl.col(new_col(f)).str.contains("?", literal=True).fill_null(False)
        for f in fields if new_col(f) in rows.columns).any()).item()
    if not marked:
        return rows
    return rows.with_columns(with_warning(note.is_not_null() & (note != ""), note))
