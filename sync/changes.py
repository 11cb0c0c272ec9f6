"""A Modified row's changes as people read them: `field: 'old' -> 'new'`.

Values are quoted as Python's `repr` quotes text: line breaks, tabs, zero-width and
other invisible characters are escaped (`\\n`, `\\u200b`), so damage that looks like
nothing (a no-break space, `Dvořák` read as `DvoĹ™Ăˇk`) shows, and the text is
exact: the report's `changes` column holds full values, unambiguously. An empty
register value is `''`. The terminal shortens long values around their first
difference (`shorten_pair`).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from sync.plan import new_col, old_col
from sync.wording import shown

CHANGES_COLUMN = "changes"
SEPARATOR = " | "
ELLIPSIS = "…"
# Characters that `repr` may escape (anything but a space and the printable
# categories), and the quote and backslash: only values holding one of these are
# quoted in Python; the rest are wrapped in quotes by polars.
_MAY_ESCAPE = r"[^ \p{L}\p{M}\p{N}\p{P}\p{S}]|['\\]"


# Characters that don't show as themselves where a message quotes a value: control and
# format characters (a tab, a bidirectional override) and line and paragraph separators.
_UNSEEN = r"[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]"


def show_unseen(messages: pl.Series) -> pl.Series:
    """`shown` of every message; Python only for those holding such a character, so
    a message that quotes a damaged value (`invalid FI business ID: '0112038-9\\u202c'`)
    says why it is wrong."""
    at = messages.str.contains(_UNSEEN).fill_null(False).arg_true()
    if not at.len():
        return messages
    return messages.scatter(at, [shown(m) for m in messages.gather(at)])


def quote(value: str | None) -> str:
    """`value` quoted as `repr` does; None (an empty register value) is `''`."""
    return repr(value or "")


def quote_tokens(value: str | None) -> tuple[str, list[str]]:
    """`quote(value)` as (quote character, one piece per character of `value`), so
    that a shortened value never cuts an escape (`\\u200b`) in two."""
    text = value or ""
    mark = '"' if "'" in text and '"' not in text else "'"
    return mark, ["\\" + c if c in (mark, "\\") else repr(c)[1:-1] for c in text]


def change(field: str, old: str | None, new: str | None) -> str:
    """One change in full: `field: 'old' -> 'new'`."""
    return f"{field}: {quote(old)} -> {quote(new)}"


def shorten_pair(old: str | None, new: str | None, width: int = 30) -> tuple[str, str]:
    """`old` and `new` quoted, each at most `width` characters (and the ellipses)
    between its quotes. Long values are cut to the same window, which starts a few
    characters before their first difference, so the difference stays in sight."""
    (old_mark, old_tokens), (new_mark, new_tokens) = quote_tokens(old), quote_tokens(new)
    if len(old_tokens) <= width and len(new_tokens) <= width:
        return (old_mark + "".join(old_tokens) + old_mark,
                new_mark + "".join(new_tokens) + new_mark)
    same = 0
    for a, b in zip(old_tokens, new_tokens, strict=False):
        if a != b:
            break
        same += 1
    context = min(10, width // 3)
    start = same - context if same > width - context else 0
    return _window(old_mark, old_tokens, start, width), _window(new_mark, new_tokens, start,
                                                                   width)


def _window(mark: str, tokens: Sequence[str], start: int, width: int) -> str:
    start = min(start, max(len(tokens) - width, 0))
    shown = "".join(tokens[start:start + width])
    head = ELLIPSIS if start > 0 else ""
    tail = ELLIPSIS if start + width < len(tokens) else ""
    return f"{mark}{head}{shown}{tail}{mark}"


def changed(row: dict[str, object]) -> list[str]:
    """The names of the fields a plan row changes, in field order."""
    fields = row.get("changed_fields")
    return str(fields).split("|") if row.get("status") == "Modified" and fields else []


def _quote_series(values: pl.Series) -> pl.Series:
    """`quote` of every value; polars for the plain ones, Python for the others."""
    plain = values.fill_null("")
    quoted = ("'" + plain + "'").alias(values.name)
    special = plain.str.contains(_MAY_ESCAPE).arg_true()
    if special.len():
        quoted = quoted.scatter(special, [quote(v) for v in plain.gather(special)])
    return quoted


def changes_column(rows: pl.DataFrame, fields: Sequence[str]) -> pl.Series:
    """The report's `changes`: for each Modified row its changes in field order,
    `field: 'old' -> 'new'` joined by ` | `, full values; empty for other rows."""
    empty = pl.repeat("", rows.height, dtype=pl.String, eager=True).alias(CHANGES_COLUMN)
    wanted = [c for f in fields for c in (old_col(f), new_col(f)) if c in rows.columns]
    modified = rows.select("status", "changed_fields", *wanted).with_row_index("_at").filter(
        pl.col("status") == "Modified")
    if not modified.height:
        return empty
    names = "|" + modified.get_column("changed_fields").fill_null("") + "|"
    pieces = []
    for field in fields:
        at = names.str.contains(f"|{field}|", literal=True).arg_true()
        if not at.len():
            continue
        old = _column(modified, old_col(field)).gather(at)
        new = _column(modified, new_col(field)).gather(at)
        piece = f"{field}: " + _quote_series(old) + " -> " + _quote_series(new)
        pieces.append(_nulls(field, modified.height).scatter(at, piece))
    if not pieces:
        return empty
    joined = pl.DataFrame(pieces).select(
        pl.concat_str(pl.all(), separator=SEPARATOR, ignore_nulls=True)).to_series()
    return empty.scatter(modified.get_column("_at"), joined)


def _column(rows: pl.DataFrame, name: str) -> pl.Series:
    if name in rows.columns:
        return rows.get_column(name).cast(pl.String)
    return _nulls(name, rows.height)


def _nulls(name: str, height: int) -> pl.Series:
    return pl.repeat(None, height, dtype=pl.String, eager=True).alias(name)
