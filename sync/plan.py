"""Plan: every source row with its status, match and field-level changes, saved as Parquet.

The rows are a Parquet table; the header (source checksum, rules digest, register id and
version, counts, ...) travels in the same file as key-value metadata, so a plan is one
file that `commit` can apply days later in another process.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from sync.errors import PlanError
from sync.types import COUNT_KEYS, STATUSES

PLAN_FORMAT = "regsync-plan/1"
_META_KEY = b"regsync.plan"
_META_NAME = _META_KEY.decode()
_CHECKSUM_ROWS = 200_000
_CHECKSUM_COLUMNS = 8

# Report columns of spec section 9, in order; the rest of a plan's columns are values.
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


@dataclass
class Plan:
    """A preview's result: the header and one row per source data row."""

    header: PlanHeader
    rows: pl.DataFrame

    def save(self, path: Path) -> None:
        """Write the plan as one Parquet file (atomically: a temp file then a rename)."""
        import pyarrow.parquet as pq  # only preview writes plans

        self.header.checksum = plan_checksum(self.header, self.rows)
        table = self.rows.to_arrow()
        metadata = dict(table.schema.metadata or {})
        metadata[_META_KEY] = json.dumps(asdict(self.header)).encode()
        table = table.replace_schema_metadata(metadata)
        tmp = path.with_name(path.name + ".tmp")
        pq.write_table(table, tmp, compression="zstd")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Plan:
        """Read a plan written by `save`; PlanError if the file is not one."""
        if path.exists() and not path.is_file():
            raise PlanError(f"{path}: not a plan file (a folder?)")
        if not path.exists():
            raise PlanError(f"{path}: plan file not found")
        # polars reads the Parquet file itself (in parallel, without pyarrow and pandas).
        try:
            raw = pl.read_parquet_metadata(path).get(_META_NAME)
            rows = pl.read_parquet(path) if raw is not None else None
        except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
            raise PlanError(f"{path}: not a regsync plan ({_first_line(exc)})") from None
        if raw is None or rows is None:
            raise PlanError(f"{path}: not a regsync plan (no plan header)")
        try:
            header = PlanHeader(**json.loads(raw))
        except (TypeError, ValueError) as exc:
            raise PlanError(f"{path}: damaged plan header ({exc})") from None
        if header.format != PLAN_FORMAT:
            raise PlanError(f"{path}: plan format {header.format!r} is not {PLAN_FORMAT!r}")
        if (plan_checksum(header, rows) != header.checksum
                and legacy_plan_checksum(header, rows) != header.checksum):
            raise PlanError(f"{path}: the plan was changed after preview made it (checksum "
                            f"mismatch); run preview again")
        return cls(header=header, rows=rows)

    def report(self) -> pl.DataFrame:
        """The report columns of spec section 9, one line per source row."""
        return self.rows.select(REPORT_COLUMNS)


def plan_checksum(header: PlanHeader, rows: pl.DataFrame) -> str:
    """SHA-256 over the header (less its checksum) and every value of the rows.

    Computed from values, not file bytes, so it does not depend on how Parquet lays
    the file out; any edit of a value or of the header changes it. Per column, as text:
    every value's length in bytes ("-" for null), then all values one after another;
    each part is hashed after its own length, so no two different plans give the same
    stream of bytes.
    """
    digest = hashlib.sha256()
    described = {k: v for k, v in asdict(header).items() if k != "checksum"}
    digest.update(json.dumps(described, sort_keys=True).encode())
    digest.update(json.dumps(rows.columns).encode())
    digest.update(b"values/2")
    text = rows.select(pl.all().cast(pl.String))
    for start in range(0, text.width, _CHECKSUM_COLUMNS):
        names = text.columns[start:start + _CHECKSUM_COLUMNS]
        parts = text.select(
            *[pl.col(c).str.len_bytes().cast(pl.String).fill_null("-").str.join(",")
              .alias(f"{i}.lengths") for i, c in enumerate(names)],
            *[pl.col(c).fill_null("").str.join("").alias(f"{i}.values")
              for i, c in enumerate(names)])
        for part in parts.row(0):
            data = part.encode()
            digest.update(f"{len(data)}:".encode())
            digest.update(data)
    return digest.hexdigest()


def legacy_plan_checksum(header: PlanHeader, rows: pl.DataFrame) -> str:
    """The checksum plans were saved with before `plan_checksum` (CSV text of every
    value); still accepted, so a plan previewed before an upgrade can be committed."""
    digest = hashlib.sha256()
    described = {k: v for k, v in asdict(header).items() if k != "checksum"}
    digest.update(json.dumps(described, sort_keys=True).encode())
    digest.update(json.dumps(rows.columns).encode())
    marked = rows.with_columns(pl.all().cast(pl.String).fill_null("\x00"))
    for start in range(0, rows.height, _CHECKSUM_ROWS):
        digest.update(marked.slice(start, _CHECKSUM_ROWS).write_csv(
            include_header=False).encode())
    return digest.hexdigest()


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def count_statuses(status: pl.Series) -> dict[str, int]:
    """Counts per status under the keys of --json (new, modified, unchanged, ...)."""
    counts = {key: 0 for key in COUNT_KEYS.values()}
    for name, n in status.value_counts().iter_rows():
        if name in STATUSES:
            counts[COUNT_KEYS[name]] = n
    return counts
