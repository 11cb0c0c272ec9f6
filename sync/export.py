"""export: a selection of the register -> one file (CSV, XLSX, Parquet, vCard, labels).

The orchestrator of `regsync export`: it turns the user's selection into a register
Selection, streams the register's chunks into the format's writer, and puts the file
in place only when it is complete. It never writes to the register.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from sync.damage import CONTROL
from sync.errors import ExportError, UsageError
from sync.groupkey import group_key
from sync.normalise import normalise_column
from sync.output_paths import replace_with, temp_beside
from sync.readers.detect import DELIMITERS, normalise_delimiter
from sync.rules import Rules, header_key
from sync.types import FORMATS, Format, HeaderLanguage, LabelLayout, Progress
from sync.wording import shown
from sync.writers.export_csv import write_csv
from sync.writers.export_parquet import write_parquet
from sync.writers.export_xlsx import SHEET_NAMES, write_xlsx
from sync.writers.labels import write_labels
from sync.writers.register.base import Register, Selection
from sync.writers.vcard import write_vcards

EXTENSIONS: dict[str, Format] = {
    ".csv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".parquet": "parquet", ".pq": "parquet",
    ".vcf": "vcf", ".vcard": "vcf", ".pdf": "labels",
}
CHUNK_ROWS = 100_000
# The steps of an export, as reported to a progress callback; the first is shown with
# the count of customers written so far.
EXPORT_STEPS: tuple[str, ...] = ("writing customers", "finishing the file")


@dataclass(frozen=True)
class ExportOptions:
    """How to write: the format and its knobs (None delimiter: by header language)."""

    format: Format
    headers: HeaderLanguage = "en"
    delimiter: str | None = None
    bom: bool = True
    spreadsheet_safe: bool = False
    labels: LabelLayout = "8x2"


@dataclass(frozen=True)
class ExportInfo:
    """What an export wrote: the same record feeds the summary line and --json."""

    path: str
    format: Format
    count: int
    not_found: int = 0


def format_for(dest: Path, explicit: Format | None) -> Format:
    """The export format: `explicit`, else the one DEST's extension names.

    Raises UsageError naming the known extensions when neither decides.
    """
    if explicit is not None:
        return explicit
    found = EXTENSIONS.get(dest.suffix.lower())
    if found is None:
        known = ", ".join(sorted(EXTENSIONS))
        raise UsageError(f"{dest}: cannot tell the format from the extension (known: {known});"
                         f" pass --format {'|'.join(FORMATS)}")
    return found


def build_selection(rules: Rules, register: Register, *, group: str | None = None,
                    customer_type: str | None = None, where: Sequence[str] = (),
                    changed_since: str | None = None, customers_file: Path | None = None,
                    include_invalidated: bool = False) -> Selection:
    """A register Selection from the command line's selection options.

    `where` items are FIELD=VALUE: FIELD a field name or any of its header aliases,
    VALUE normalised like an imported cell (`--where postal_code=100` finds `00100`);
    a VALUE an import would reject is a UsageError. A name is compared as matching
    compares names (case and whitespace runs ignored).
    `changed_since` is a batch id (digits) or an ISO date or time (local time unless it
    has an offset). Raises UsageError for a bad value or a group the register lacks.
    """
    if group is not None:
        known = dict(register.group_names().select("name_key", "name").rows())
        if group_key(group) not in known:
            shown = ", ".join(sorted(known.values())) or "none"
            raise UsageError(f"--group {group!r}: no such group in the register "
                             f"(groups: {shown})")
    batch, since = _changed_since(changed_since)
    return Selection(group=group, customer_type=customer_type,
                     where=tuple(_where(rules, item) for item in where),
                     changed_since_batch=batch, changed_since=since,
                     customers=_numbers(customers_file) if customers_file else None,
                     include_invalidated=include_invalidated,
                     default_country=rules.default_country)


def _where(rules: Rules, item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep:
        raise UsageError(f"--where {item!r}: expected FIELD=VALUE, e.g. --where city=Espoo")
    lookup = {header_key(a): rule.name for rule in rules.fields.values() for a in rule.aliases}
    field = lookup.get(header_key(name))
    if field is None:
        raise UsageError(f"--where {item!r}: unknown field {name.strip()!r} "
                         f"(fields: {', '.join(rules.field_names)})")
    if not value.strip():
        return field, ""
    if re.search(CONTROL, value):
        # An import rejects a cell holding one (sync.damage), so no customer has it.
        raise UsageError(f"--where {shown(item)}: the value holds a control character; "
                         f"an import rejects such a value, so no customer has it")
    rule = rules.fields[field]
    countries = pl.Series([rules.default_country], dtype=pl.String)
    result = normalise_column(rule.normaliser, pl.Series([value], dtype=pl.String),
                              countries, rule.options).row(0, named=True)
    # A number holding a line break is rejected by an import since November 2026, but
    # a register may hold one from before: it is looked for (review).
    if (result["code"] is not None and result["code"] != "line_break"
            and rule.severity_of(result["code"]) == "error"):
        # An import rejects this value, so no customer holds it: finding nothing would
        # look like an answer (a typo such as country=SW exports an empty file).
        raise UsageError(f"--where {item!r}: {result['detail'] or result['code']}; an import "
                         f"rejects this value, so no customer has it")
    canonical = result["value"]
    return field, canonical if canonical is not None else value.strip()


_LARGEST_BATCH = 2**63 - 1  # batch ids are 64-bit integers on both engines


def _changed_since(value: str | None) -> tuple[int | None, str | None]:
    if value is None:
        return None, None
    text = value.strip()
    if text.isdigit():
        batch = int(text)
        if batch > _LARGEST_BATCH:
            raise UsageError(f"--changed-since {value!r}: no batch id is that large "
                             f"(at most {_LARGEST_BATCH})")
        return batch, None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--changed-since {value!r}: expected a batch id (e.g. 12) or a "
                         f"date or time (e.g. 2024-05-01 or 2024-05-01T08:00)") from None
    # astimezone() reads a naive time as local time, as the user sees the clock
    return None, moment.astimezone(UTC).isoformat(timespec="seconds")


def _numbers(path: Path) -> tuple[str, ...]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UsageError(f"--customers {path}: cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise UsageError(f"--customers {path}: not UTF-8 text (one number a line)") from None
    return tuple(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))


def export(register: Register, rules: Rules, dest: Path, options: ExportOptions,
           selection: Selection, progress: Progress | None = None) -> ExportInfo:
    """Write the selected customers to `dest` in `options.format`; read the register only.

    The file appears only when complete (written beside it, then renamed); on any
    error no file is left. Values are canonical; headers are in `options.headers`. A
    custom field the register holds but `rules` do not name is written too, under its
    column name: an export never leaves out values the register has. `progress`, when
    given, is called as each chunk of customers is handed to the writer (the first of
    EXPORT_STEPS, with the count so far) and once they all are (the second).
    """
    unnamed = tuple(c for c in register.custom_columns() if c not in rules.field_names)
    fields = (*rules.field_names, *unnamed)
    headers = {**rules.header_names(options.headers), **{c: c for c in unnamed}}
    writer = _writer(options, rules, headers)
    chunks = register.export_chunks(fields, selection, CHUNK_ROWS)
    try:
        temp = temp_beside(dest)
    except OSError as exc:
        raise ExportError(f"{dest}: cannot write there ({exc.strerror or exc})") from None
    try:
        count = writer(chunks if progress is None else _counted(chunks, progress), temp)
        replace_with(temp, dest)
    except IsADirectoryError:
        temp.unlink(missing_ok=True)
        raise ExportError(f"{dest}: is a folder; name a file") from None
    except OSError as exc:  # a full disk: the machine's to fix, exit 2
        temp.unlink(missing_ok=True)
        raise ExportError(f"{dest}: cannot write the export ({exc.strerror or exc}); "
                          "nothing was written") from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    finally:
        if isinstance(chunks, Generator):
            chunks.close()  # its cursor, before the caller closes the register
    not_found = 0
    if selection.customers:
        found = register.lookup("customer_number", pl.Series(selection.customers))
        not_found = len(selection.customers) - found["value"].n_unique()
    return ExportInfo(path=str(dest), format=options.format, count=count,
                      not_found=not_found)


Writer = Callable[[Iterable[pl.DataFrame], Path], int]


def _counted(chunks: Iterable[pl.DataFrame],
             progress: Progress) -> Generator[pl.DataFrame, None, None]:
    """`chunks`, telling `progress` how many customers have gone to the writer."""
    written = 0
    total = len(EXPORT_STEPS)
    progress(f"{EXPORT_STEPS[0]}: 0", 1, total)
    for chunk in chunks:
        yield chunk
        written += chunk.height
        progress(f"{EXPORT_STEPS[0]}: {written:,}", 1, total)
    progress(EXPORT_STEPS[1], 2, total)


def _writer(options: ExportOptions, rules: Rules, headers: dict[str, str]) -> Writer:
    language = options.headers
    if options.format == "csv":
        delimiter = _delimiter(options)
        return lambda chunks, path: write_csv(chunks, path, headers, delimiter=delimiter,
                                              bom=options.bom,
                                              guard_zeros=options.spreadsheet_safe)
    if options.format == "xlsx":
        return lambda chunks, path: write_xlsx(chunks, path, headers, SHEET_NAMES[language])
    if options.format == "parquet":
        return lambda chunks, path: write_parquet(chunks, path, headers)
    if options.format == "vcf":
        return lambda chunks, path: write_vcards(chunks, path, language)
    return lambda chunks, path: write_labels(chunks, path, options.labels, language,
                                             rules.default_country)


def _delimiter(options: ExportOptions) -> str:
    if options.delimiter is None:
        return "," if options.headers == "en" else ";"
    try:
        value = normalise_delimiter(options.delimiter)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if value not in DELIMITERS:
        raise ExportError(f"--delimiter {options.delimiter!r}: use ';', ',', tab or '|' "
                          f"(the delimiters an import detects)")
    return value
