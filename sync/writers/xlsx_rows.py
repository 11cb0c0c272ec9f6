"""A sheet's rows of text cells as SpreadsheetML, built a column at a time by polars.

xlsxwriter writes each cell through a Python call (about 10 us each: 191 s for 1M
customers of 18 fields). The XML of a row of text cells is simple, and polars builds
it for a whole chunk at once. What it writes is byte for byte what xlsxwriter's
constant_memory mode writes for the same `write_string` / `write_blank` calls (a test
compares the two), with three differences, each where xlsxwriter loses data:
- a value shaped like `<r>...</r>` is xlsxwriter's "rich string" and went into the
  file unescaped (read back empty, or a broken file); here it is text like any other;
- a value over Excel's 32,767 UTF-16 units was cut short silently; here the caller
  refuses it (`utf16_units`);
- escapes that overlap (`_x0041_x0042_`) had only the first one's underscore escaped,
  and read back as another value (`_x0041B`); here each is escaped;
- text shaped like an escape of fewer digits (`Box_x9_1`), which LibreOffice reads as
  a control character when it is one (QA: saved again, `Box_x9_1` came back `Box\t1`),
  and text that becomes an escape's start when a control character after it is
  escaped (`_x0041` and U+0001: `_x0041_x0001_`, read back as `Ax0001_`), have their
  underscore escaped too.
"""

from __future__ import annotations

import re

import polars as pl

# xlsxwriter.xmlwriter: Excel reads `_xHHHH_` as an escaped character, so a literal one
# gets its underscore escaped, and control characters (but tab and line feed) are
# written in that form (XML 1.0 can't hold them).
# An underscore that starts `_x` and one to four hex digits, then `_` or a character
# written as an escape: a reader could take it for an escape, so it is escaped itself.
_LITERAL_ESCAPE = r"_x[0-9a-fA-F]{1,4}(?:_|[\x00-\x08\x0B-\x1F\x{FFFE}\x{FFFF}])"
_ESCAPE_START = re.compile(r"_(?=x[0-9a-fA-F]{1,4}(?:_|[\x00-\x08\x0B-\x1F\ufffe\uffff]))")
_CONTROL = [*range(0x00, 0x09), *range(0x0B, 0x20)]
_CONTROL_CLASS = r"[\x00-\x08\x0B-\x1F]"
_NON_CHARACTERS = ("\ufffe", "\uffff")
_ENTITIES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"))  # & first
_ANY_ESCAPE = r"[&<>\x00-\x08\x0B-\x1F\uFFFE\uFFFF]|_x[0-9a-fA-F]{1,4}_"
_ASTRAL = r"[\x{10000}-\x{10FFFF}]"


def escaped(values: pl.Series) -> pl.Series:
    """`values` as the text of an inline string element: OOXML's `_xHHHH_` escapes
    (the underscore of text a reader could take for one escaped first), then `&`, `<`,
    `>` as entities.
    Null stays null. Promise: a reader that undoes both gives back `values` exactly."""
    out = values
    # One look first: most columns hold nothing to escape, and a search copies nothing.
    if not out.str.contains(_ANY_ESCAPE).any():
        return out
    literal = out.str.contains(_LITERAL_ESCAPE)
    if literal.any():
        # Every underscore that starts `_xHHHH_`, overlapping ones too: xlsxwriter's
        # replace took `_x0041_` in `_x0041_x0042_` and left `_x0042_`, which read back
        # as `B` (review). Python, for the few values that hold one (Rust's regex has no
        # lookahead).
        at = literal.arg_true()
        out = out.clone().scatter(at, pl.Series(
            [_ESCAPE_START.sub("_x005F_", value) for value in out.gather(at)],
            dtype=pl.String))
    if out.str.contains(_CONTROL_CLASS).any():
        for code in _CONTROL:
            out = out.str.replace_all(chr(code), f"_x{code:04X}_", literal=True)
    for character in _NON_CHARACTERS:
        if out.str.contains(character, literal=True).any():
            out = out.str.replace_all(character, f"_x{ord(character):04X}_", literal=True)
    for character, entity in _ENTITIES:
        if out.str.contains(character, literal=True).any():
            out = out.str.replace_all(character, entity, literal=True)
    return out


def row_elements(frame: pl.DataFrame, first_row: int, letters: list[str],
                 style: int) -> pl.Series:
    """One `<row>` element per row of `frame` (text columns), sheet rows numbered from
    `first_row` (1-based), column j in column `letters[j]`: a value is an inline
    string, a null an empty cell; every cell has the cell format `style`."""
    numbers = pl.int_range(first_row, first_row + frame.height, eager=True).cast(pl.String)
    cells = []
    for letter, name in zip(letters, frame.columns, strict=True):
        text = escaped(frame[name])
        # Excel drops leading and trailing white space unless told to keep it.
        keep_space = text.str.contains(r"^\s|\s$")
        cells.append(pl.concat_str(
            pl.lit(f'<c r="{letter}'), pl.lit(numbers), pl.lit(f'" s="{style}"'),
            pl.when(pl.lit(text).is_null()).then(pl.lit("/>"))
            .when(pl.lit(keep_space)).then(pl.lit(' t="inlineStr"><is><t xml:space="preserve">')
                                           + pl.lit(text) + pl.lit("</t></is></c>"))
            .otherwise(pl.lit(' t="inlineStr"><is><t>') + pl.lit(text)
                       + pl.lit("</t></is></c>"))))
    return pl.select(pl.concat_str(pl.lit('<row r="'), pl.lit(numbers), pl.lit('">'),
                                   *cells, pl.lit("</row>")).alias("row")).to_series()


def utf16_units(values: pl.Series) -> pl.Series:
    """Each value's length as Excel counts it (UTF-16 code units: a character outside
    the basic plane, such as an emoji, counts two). Null stays null."""
    return values.str.len_chars() + values.str.count_matches(_ASTRAL)


def display_width(values: pl.Series) -> int:
    """Characters of the longest line among `values` (a cell may hold line breaks);
    0 when there is no value."""
    lines = values.str.contains("\n", literal=True)
    widest = values.filter(~lines).str.len_chars().max()
    width = int(widest) if widest is not None else 0  # type: ignore[arg-type]
    if lines.any():
        longest = values.filter(lines).str.split("\n").explode().str.len_chars().max()
        width = max(width, int(longest))  # type: ignore[arg-type]
    return width
