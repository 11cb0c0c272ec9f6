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
import pyarrow as pa
import pyarrow.parquet as pq

from sync.errors import PlanError
from sync.types import COUNT_KEYS, STATUSES

PLAN_FORMAT = "regsync-plan/1"
_META_KEY = b"regsync.plan"
_CHECKSUM_ROWS = 200_000

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
        try:
            table = pq.read_table(path)
        except FileNotFoundError:
            raise PlanError(f"{path}: plan file not found") from None
        except (pa.ArrowException, OSError) as exc:
            raise PlanError(f"{path}: not a regsync plan ({exc})") from None
        raw = (table.schema.metadata or {}).get(_META_KEY)
        if raw is None:
            raise PlanError(f"{path}: not a regsync plan (no plan header)")
        try:
            header = PlanHeader(**json.loads(raw))
        except (TypeError, ValueError) as exc:
            raise PlanError(f"{path}: damaged plan header ({exc})") from None
        if header.format != PLAN_FORMAT:
            raise PlanError(f"{path}: plan format {header.format!r} is not {PLAN_FORMAT!r}")
        rows = pl.from_arrow(table.replace_schema_metadata(None))
        assert isinstance(rows, pl.DataFrame)
        if plan_checksum(header, rows) != header.checksum:
            raise PlanError(f"{path}: the plan was changed after preview made it (checksum "
                            f"mismatch); run preview again")
        return cls(header=header, rows=rows)

    def report(self) -> pl.DataFrame:
        """The report columns of spec section 9, one line per source row."""
        return self.rows.select(REPORT_COLUMNS)


def plan_checksum(header: PlanHeader, rows: pl.DataFrame) -> str:
    """SHA-256 over the header (less its checksum) and every value of the rows.

    Computed from values, not file bytes, so it does not depend on how Parquet lays
    the file out; any edit of a value or of the header changes it.
    """
    digest = hashlib.sha256()
    described = {k: v for k, v in asdict(header).items() if k != "checksum"}
    digest.update(json.dumps(described, sort_keys=True).encode())
    digest.update(json.dumps(rows.columns).encode())
    # CSV text of the values, a slice at a time: bounded memory, and the same text
    # whatever chunks Parquet gave back. A null marker keeps null apart from "".
    marked = rows.with_columns(pl.all().cast(pl.String).fill_null("\x00"))
    for start in range(0, rows.height, _CHECKSUM_ROWS):
        digest.update(marked.slice(start, _CHECKSUM_ROWS).write_csv(
            include_header=False).encode())
    return digest.hexdigest()


def count_statuses(status: pl.Series) -> dict[str, int]:
    """Counts per status under the keys of --json (new, modified, unchanged, ...)."""
    counts = {key: 0 for key in COUNT_KEYS.values()}
    for name, n in status.value_counts().iter_rows():
        if name in STATUSES:
            counts[COUNT_KEYS[name]] = n
    return counts
