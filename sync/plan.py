"""Plan: every source row with its status, match and field-level changes, saved as Parquet.

The rows are a Parquet table; the header (source checksum, rules digest, register id and
version, counts, ...) travels in the same file as key-value metadata, so a plan is one
file that `commit` can apply days later in another process.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import asdict, dataclass, field
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Any

import polars as pl

from sync.errors import PlanError, first_line
from sync.output_paths import remove_abandoned_temporaries
from sync.slices import rows_per_slice
from sync.types import COUNT_KEYS, STATUSES

PLAN_FORMAT = "regsync-plan/1"
_META_KEY = b"regsync.plan"
_META_NAME = _META_KEY.decode()
_CHECKSUM_ROWS = 200_000
_SAVE_ROWS = 250_000  # rows per Parquet row group when a plan is saved, at most
# and about this many bytes of values: a row group is converted and compressed whole, so
# 10,000 rows of 30,000-character notes made one group of 300 MB that took 1.3 GB to write.
_SAVE_BYTES = 64 << 20
_DIGEST_CHARS = 64  # a SHA-256 hex digest
_CHECKSUM_FIELD = re.compile(rb'"checksum": "([0-9a-f]{64})"')
_READ_CHUNK = 8 << 20
# What reading a damaged or foreign file can raise (polars panics on some damage).
UNREADABLE = (pl.exceptions.PolarsError, pl.exceptions.PanicException, OSError, ValueError)

# Report columns of spec section 9, in order; the rest of a plan's columns are values.
# The report adds `changes` after them (`Plan.report`).
REPORT_COLUMNS: tuple[str, ...] = (
    "row", "status", "customer_number", "matched_by", "changed_fields", "message",
    "possible_duplicate", "similarity",
)


def new_col(field_name: str) -> str:
    """Plan column holding the row's canonical value for a field (null: empty cell)."""
    return f"new.{field_name}"


def old_col(field_name: str) -> str:
    """Plan column holding the matched customer's register value for a field."""
    return f"old.{field_name}"


# The statuses a commit applies.
APPLIED = ("New", "Modified")


def commit_columns(fields: tuple[str, ...] | list[str]) -> list[str]:
    """The plan columns a commit reads (see `sync.commit_rows`)."""
    return ["status", "customer_number", "matched_by", "changed_fields",
            *[new_col(f) for f in fields], *[old_col(f) for f in fields]]


@dataclass
class PlanHeader:
    """What a plan was computed from, and against which register state."""

    plan_id: str
    created_at: str
    source: str
    source_checksum: str
    rules_source: str
    rules_digest: str
    register_id: str | None
    register_version: int
    fields: list[str]
    counts: dict[str, int]
    skipped: int
    source_info: dict[str, Any] = field(default_factory=dict)
    format: str = PLAN_FORMAT
    checksum: str = ""
    # The rules' fuzzy_match_threshold (None: similarity matched nothing). A plan made
    # with it relies on every name in the register, which the stale check must know.
    fuzzy_match_threshold: float | None = None
    # The register's history_digest at register_version: a copy of the register that
    # went another way (a restored backup) has the same id and may have the same version.
    # None in plans made before it was recorded.
    register_history: str | None = None
    # The headers (aliases, export headers) of the rules' custom fields: the commit
    # makes the register remember them, so that a file with one of them, read without
    # those rules, is refused rather than ignored. Empty in plans made before.
    custom_headers: dict[str, list[str]] = field(default_factory=dict)
    # Where the register was (Register.location): a plan made where none existed yet
    # (register_id None) commits only there, not into any other empty register. None in
    # plans made before it was recorded.
    register_location: str | None = None


@dataclass
class Plan:
    """A preview's result: the header and one row per source data row."""

    header: PlanHeader
    rows: pl.DataFrame

    def save(self, path: Path) -> None:
        """Write the plan as one Parquet file (atomically: a temp file then a rename).

        The checksum is SHA-256 over the file's bytes (see `file_checksum`): the file is
        written with a random placeholder where the checksum goes, hashed with that
        field zeroed, and the placeholder replaced by the digest (same length).
        """
        placeholder = (uuid.uuid4().hex + uuid.uuid4().hex).encode()
        self.header.checksum = placeholder.decode()
        # A name of its own: two previews writing the same plan path can't remove each
        # other's half-written file; the last rename wins, whole.
        remove_abandoned_temporaries(path)
        tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex[:12]}.tmp")
        try:
            # polars encodes the row groups on every core (a 1M-row plan: 1.3-1.5 s,
            # against 2.2 s through pyarrow's writer, one core) and reads mapped
            # values where they lie. The header goes into the footer's key-value
            # metadata only: it must be there once. zstd's level 1 wrote that plan in
            # 0.95 s against level 3's 1.10 s, at the same size (64 MiB).
            groups = rows_per_slice(self.rows, _SAVE_BYTES, _SAVE_ROWS)
            self.rows.write_parquet(
                tmp, compression="zstd", compression_level=1, row_group_size=groups,
                metadata={_META_NAME: json.dumps(_header_fields(self.header))})
            digest = file_checksum(tmp, self.header.checksum)
            at = _field_offset(tmp, self.header.checksum)
            if digest is None or at is None:
                raise PlanError("internal: the plan header is not once in the plan's footer")
            with tmp.open("r+b") as handle:
                handle.seek(at)
                handle.write(digest.encode())
            self.header.checksum = digest
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)

    @staticmethod
    def check_path(path: Path) -> None:
        """PlanError unless `path` is an existing file."""
        if path.exists() and not path.is_file():
            kind = "a folder" if path.is_dir() else "not a plain file (a pipe or a device)"
            raise PlanError(f"{path}: not a plan file: {kind}")
        if not path.exists():
            raise PlanError(f"{path}: plan file not found")

    @classmethod
    def load(cls, path: Path) -> Plan:
        """Read a plan written by `save`; PlanError if the file is not one.

        A commit reads a plan in parts instead (`sync.commit_rows`).
        """
        cls.check_path(path)
        header = verified_header(path)
        if header is None:
            return cls._load_unverified(path)
        try:
            rows = pl.read_parquet(path)
        except UNREADABLE as exc:
            raise PlanError(f"{path}: not a regsync plan ({first_line(exc)})") from None
        return cls(header=header, rows=rows)

    @classmethod
    def _load_unverified(cls, path: Path) -> Plan:
        """A plan whose bytes do not match a checksum in its footer: one saved with the
        earlier checksum (`legacy_plan_checksum`), or a damaged or edited one (refused).
        pyarrow decodes it: it reports damage as exceptions where polars may abort."""
        import pyarrow as pa  # only here: a commit of an intact plan never needs it
        import pyarrow.parquet as pq

        from sync.arrow_ranges import first_out_of_range

        try:
            meta = pq.read_metadata(path).metadata or {}
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise PlanError(f"{path}: not a regsync plan ({first_line(exc)})") from None
        raw = meta.get(_META_KEY)
        header = _header(path, None if raw is None else raw.decode("utf-8", "replace"))
        changed = _changed(path)
        try:
            table = pq.read_table(path)
            table.validate(full=True)  # pyarrow does not check that the text is UTF-8
            if first_out_of_range(table) is not None:  # a type the damage changed
                raise changed
            # Nor the metadata's keys, on which polars panics (the header is read above).
            rows = pl.from_arrow(table.replace_schema_metadata(None))
            if not isinstance(rows, pl.DataFrame):
                raise changed
            legacy = legacy_plan_checksum(header, rows)
        except (pa.ArrowException, OSError, *UNREADABLE):
            raise changed from None
        if legacy != header.checksum:
            raise changed
        return cls(header=header, rows=rows)

    def report(self, start: int = 0, length: int | None = None) -> pl.DataFrame:
        """The report, one line per source row (of rows `start` to `start + length`):
        the columns of spec section 9, then `changes` (see `sync.changes`)."""
        from sync.changes import CHANGES_COLUMN, changes_column

        rows = self.rows.slice(start, length)
        return rows.select(REPORT_COLUMNS).with_columns(
            changes_column(rows, self.header.fields).alias(CHANGES_COLUMN))


def verified_header(path: Path) -> PlanHeader | None:
    """The header of the plan at `path` if its bytes match the checksum it records; None
    if they match no recorded checksum (a plan saved with the earlier checksum, or a
    changed one: `Plan.load` tells them apart). PlanError if the header is damaged or
    records another checksum than the one the bytes match.

    The bytes are checked before anything in them is decoded: polars 2's Parquet reader
    aborts the whole process (a panic, not an exception) on some damaged files, and one
    who edited a plan must get a one-line error.
    """
    verified = [c for c in recorded_checksums(path) if file_checksum(path, c) == c]
    if not verified:
        return None
    try:
        header = _header(path, pl.read_parquet_metadata(path).get(_META_NAME))
    except UNREADABLE as exc:
        raise PlanError(f"{path}: not a regsync plan ({first_line(exc)})") from None
    if header.checksum not in verified:
        raise _changed(path)
    return header


def file_checksum(path: Path, recorded: str) -> str | None:
    """SHA-256 over the plan file's bytes, with the header's checksum field (`recorded`,
    in the Parquet footer) read as zeros; None if that field is not there exactly once.

    Every byte counts: any edit of a value, of the header, of the column names or of
    the file's layout changes it. (Re-encoding a plan with the same values changes it
    too: a plan is only ever written by preview.)
    """
    at = _field_offset(path, recorded)
    if at is None:
        return None
    with path.open("rb") as handle:
        digest = hashlib.sha256()
        handle.seek(0)
        position = 0
        while chunk := handle.read(_READ_CHUNK):
            if position <= at + _DIGEST_CHARS and at < position + len(chunk):
                patched = bytearray(chunk)
                first = max(at - position, 0)
                last = min(at + _DIGEST_CHARS - position, len(chunk))
                patched[first:last] = b"0" * (last - first)
                chunk = bytes(patched)
            digest.update(chunk)
            position += len(chunk)
    return digest.hexdigest()


def _field_offset(path: Path, recorded: str) -> int | None:
    """Offset in the file of the checksum's value inside the footer's plan header; None
    unless `"checksum": "<recorded>"` is in the footer exactly once."""
    found = _footer(path)
    if found is None or len(recorded) != _DIGEST_CHARS:
        return None
    start, footer = found
    field = f'"checksum": "{recorded}"'.encode()
    if footer.count(field) != 1:
        return None
    return start + footer.find(field) + len(field) - 1 - _DIGEST_CHARS


def _footer(path: Path) -> tuple[int, bytes] | None:
    """(file offset, bytes) of a Parquet file's footer, read raw (nothing is decoded).
    The file ends: ... footer, its length (4 bytes), "PAR1"; it starts with "PAR1"."""
    size = path.stat().st_size
    if size < 12:
        return None
    with path.open("rb") as handle:
        handle.seek(size - 8)
        trailer = handle.read()
        footer_len = int.from_bytes(trailer[:4], "little")
        start = size - 8 - footer_len
        if trailer[-4:] != b"PAR1" or start < 4:
            return None
        handle.seek(start)
        return start, handle.read(footer_len)


def _header_fields(header: PlanHeader) -> dict[str, Any]:
    """The header as the plan file stores it: register_location only where it means
    something (no register yet), so that a plan made against an existing register
    is still one an older regsync commits."""
    fields = asdict(header)
    if fields["register_location"] is None:
        del fields["register_location"]
    return fields


def legacy_plan_checksum(header: PlanHeader, rows: pl.DataFrame) -> str:
    """The checksum plans were saved with before `file_checksum`: SHA-256 over the
    header and the CSV text of every value. Still read, so that such a plan is told
    apart from a damaged one: a commit then refuses it as made by an older regsync (it
    records no register history; sync.commit)."""
    digest = hashlib.sha256()
    # Fields added to the header since are left out: such plans never had them.
    described = {k: v for k, v in asdict(header).items()
                 if k != "checksum" and not (k == "fuzzy_match_threshold" and v is None)}
    digest.update(json.dumps(described, sort_keys=True).encode())
    digest.update(json.dumps(rows.columns).encode())
    marked = rows.with_columns(pl.all().cast(pl.String).fill_null("\x00"))
    for start in range(0, rows.height, _CHECKSUM_ROWS):
        digest.update(marked.slice(start, _CHECKSUM_ROWS).write_csv(
            include_header=False).encode())
    return digest.hexdigest()


def _changed(path: Path) -> PlanError:
    return PlanError(f"{path}: the plan was changed after preview made it (checksum "
                     "mismatch); run preview again")


def _header(path: Path, raw: str | None) -> PlanHeader:
    """The plan header from the footer's JSON; PlanError if missing, damaged or of
    another plan format."""
    if raw is None:
        raise PlanError(f"{path}: not a regsync plan (no plan header)")
    try:
        data = json.loads(raw)
        unknown = sorted(set(data) - {f.name for f in dataclass_fields(PlanHeader)}) \
            if isinstance(data, dict) else []
        if unknown:
            # A later regsync's header, whose new fields this one would ignore (review).
            raise PlanError(f"{path}: made by a newer regsync (its header has "
                            f"{', '.join(unknown)}); commit it with that version, or "
                            "preview the file again with this one")
        header = PlanHeader(**data)
    except (TypeError, ValueError) as exc:
        raise PlanError(f"{path}: damaged plan header ({exc})") from None
    if header.format != PLAN_FORMAT:
        raise PlanError(f"{path}: plan format {header.format!r} is not {PLAN_FORMAT!r}")
    return header


def recorded_checksums(path: Path) -> list[str]:
    """What may be the checksum recorded in the plan header, found in the raw bytes of
    the file's footer (nothing is decoded): every distinct `"checksum": "<hex>"` there.
    Usually one; a source cell of that form adds more through the column statistics."""
    found = _footer(path)
    if found is None:
        return []
    return sorted({match.decode() for match in _CHECKSUM_FIELD.findall(found[1])})


def count_statuses(status: pl.Series) -> dict[str, int]:
    """Counts per status under the keys of --json (new, modified, unchanged, ...)."""
    counts = {key: 0 for key in COUNT_KEYS.values()}
    for name, n in status.value_counts().iter_rows():
        if name in STATUSES:
            counts[COUNT_KEYS[name]] = n
    return counts
