"""Helpers for the job tests: write a job file, read its log and the register's batches."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

HEADER = "customer_number;name;city\n"


def write_job(folder: Path, *, source: str, policy: str = "", extra_job: str = "") -> Path:
    """A job file in `folder` with register r.db and the default output folders."""
    path = folder / "job.toml"
    path.write_text(f"""
[job]
name = "nightly"
register = "r.db"
actor = "erp-sync"
{extra_job}

[source]
{source}

[output]
log = "out/regsync.jsonl"
reports = "out/reports"
processed = "out/done"
held = "out/held"

[policy]
{policy}
""", encoding="utf-8")
    return path


def log_lines(path: Path) -> list[dict]:
    """Every JSON line of a job log."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def batches(db: Path) -> list[tuple]:
    """(id, kind, checksum, reverted_by) of every batch."""
    conn = sqlite3.connect(db)
    try:
        return conn.execute(
            "SELECT id, kind, checksum, reverted_by FROM batches ORDER BY id").fetchall()
    finally:
        conn.close()


def names(folder: Path) -> list[str]:
    """The file names in `folder`, sorted (empty when it does not exist)."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []
