"""Helpers for the job tests: write a job file, read its log and the register's batches."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

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


def deny_writes(monkeypatch: pytest.MonkeyPatch, *denied: Path) -> None:
    """Make `denied` (files, and folders whose entries can't be made or removed) as a
    user without write permission sees them: os.access says no, and opening them for
    writing, linking into or unlinking out of them fail with EACCES. (Tests run as root,
    whom real permissions don't stop.)"""
    paths = {p.resolve() for p in denied}
    real_access, real_open, real_unlink, real_link, real_mkdir = (
        os.access, os.open, os.unlink, os.link, os.mkdir)

    def blocked(path: object, *, entry: bool = True) -> bool:
        resolved = Path(os.fsdecode(path)).resolve()  # type: ignore[arg-type]
        return resolved in paths or (entry and resolved.parent in paths)

    def refuse(path: object) -> PermissionError:
        return PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(path))

    def access(path: Any, mode: int, **kwargs: Any) -> bool:
        if mode & os.W_OK and blocked(path, entry=False):
            return False
        return real_access(path, mode, **kwargs)

    def open_(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and blocked(path):
            raise refuse(path)
        return real_open(path, flags, *args, **kwargs)

    def unlink(path: Any, *args: Any, **kwargs: Any) -> None:
        if blocked(path):
            raise refuse(path)
        real_unlink(path, *args, **kwargs)

    def link(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        if blocked(dst):
            raise refuse(dst)
        real_link(src, dst, *args, **kwargs)

    def mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
        if blocked(path):
            raise refuse(path)
        real_mkdir(path, *args, **kwargs)

    for name, fake in (("access", access), ("open", open_), ("unlink", unlink),
                       ("link", link), ("mkdir", mkdir)):
        monkeypatch.setattr(os, name, fake)


def drops_of(tmp_path: Path, *stems: str) -> Path:
    """The drop folder, with one customer file per stem (customer n for the n-th)."""
    drops = tmp_path / "drops"
    drops.mkdir(exist_ok=True)
    for n, stem in enumerate(stems, start=1):
        (drops / f"{stem}.csv").write_text(HEADER + f"{n};Firma {stem} Oy;Oulu\n")
    return drops
