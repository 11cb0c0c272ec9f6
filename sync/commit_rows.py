"""The rows a commit applies (New and Modified), read from a plan a part at a time.

A commit held all of a plan's New and Modified rows, and everything made of them, at
once: a first load of 5M customers took 9.3 GiB, so 10M would not fit a 24 GiB machine.
A commit now reads the few key columns of every writing row (the stale check needs them
all), then the rows themselves a part at a time, each step of the commit on its own (the
New rows, then the Modified ones, then the names of both: each step keeps to its own
tables, as when it wrote everything at once), from a saved plan or from one in memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import polars as pl

from sync.errors import PlanError, first_line
from sync.plan import APPLIED, UNREADABLE, Plan, PlanHeader, verified_header

PART_ROWS = 500_000  # rows per part (of the statuses a step writes)
_WRITING = pl.col("status").is_in(APPLIED)


class CommitRows:
    """A plan's header and the rows a commit applies, read a part at a time (at most
    `part_rows` rows of the statuses asked for); close() when done, or use `with`."""

    def __init__(self, header: PlanHeader, rows: pl.LazyFrame, label: str,
                 part_rows: int | None = None, handle: BinaryIO | None = None,
                 opened: os.stat_result | None = None) -> None:
        self.header = header
        self.label = label
        self._rows = rows
        self._part_rows = part_rows or PART_ROWS
        self._handle = handle
        # The file as it was checked (`open_for_commit`): every read must find it so.
        self._opened = None if opened is None else _identity(opened)
        self._statuses: pl.DataFrame | None = None

    def columns(self, names: list[str]) -> pl.DataFrame:
        """These plan columns of every writing row, in plan order."""
        return self._collect(self._rows.filter(_WRITING).select(names))

    def unchanged_customers(self) -> pl.Series:
        """The customer numbers of the No change rows: the plan compared their values
        with the file's and found nothing to write."""
        return self._collect(self._rows.filter(pl.col("status") == "No change")
                             .select("customer_number")).to_series()

    def count(self, statuses: tuple[str, ...] = APPLIED) -> int:
        """How many rows of these statuses the plan has."""
        return self._where(statuses).len()

    def part_count(self, statuses: tuple[str, ...] = APPLIED) -> int:
        """How many parts `parts(statuses)` yields (at least 1)."""
        return max(1, -(-self.count(statuses) // self._part_rows))

    def parts(self, statuses: tuple[str, ...], columns: list[str]) -> Iterator[pl.DataFrame]:
        """These columns of the rows of these statuses, in plan order, at most
        `part_rows` rows at a time (nothing if the plan has no such row)."""
        chosen = pl.col("status").is_in(statuses)
        where = self._where(statuses)
        if where.len() <= self._part_rows:
            # One part: the filter goes into the Parquet reader, which decodes the other
            # columns of the chosen rows only.
            if where.len():
                yield self._collect(self._rows.filter(chosen).select(columns))
            return
        starts = where.gather_every(self._part_rows).to_list()
        ends = [*starts[1:], where[-1] + 1]
        for start, end in zip(starts, ends, strict=True):
            yield self._collect(self._rows.slice(start, end - start).filter(chosen)
                                .select(columns))

    def _where(self, statuses: tuple[str, ...]) -> pl.Series:
        """The plan row numbers of the rows of these statuses."""
        if self._statuses is None:  # read once: one small column
            self._statuses = self._collect(
                self._rows.select("status").with_row_index("at").filter(_WRITING)
                .with_columns(pl.col("status").cast(pl.Enum(APPLIED))))
        found = self._statuses.filter(pl.col("status").is_in(statuses))
        return found["at"]

    def _collect(self, query: pl.LazyFrame) -> pl.DataFrame:
        # The file was checked when it was opened; a commit reads it for minutes. A file
        # written over in place since (cp, a shell redirect, rsync --inplace) would mix
        # another plan in, or fail inside polars: it is refused before and after each read.
        self._check_unchanged()
        try:
            frame = query.collect()
        except UNREADABLE as exc:
            self._check_unchanged()
            raise PlanError(f"{self.label}: the plan file could not be read "
                            f"({first_line(exc)}); nothing was written") from None
        self._check_unchanged()
        return frame

    def _check_unchanged(self) -> None:
        if self._handle is None or self._opened is None:
            return  # a plan in memory
        if _identity(os.fstat(self._handle.fileno())) != self._opened:
            raise PlanError(f"{self.label}: the plan file was changed while the commit "
                            f"read it; nothing was written; run preview again")

    def close(self) -> None:
        """Release the plan file, if one is open."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> CommitRows:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def _identity(stat: os.stat_result) -> tuple[int, ...]:
    """What changes when a file is replaced or written to. (Not its ctime: that changes
    too when the name is given to another file, which leaves this one as it was.)"""
    return (stat.st_ino, stat.st_dev, stat.st_size, stat.st_mtime_ns)


def in_memory(plan: Plan, part_rows: int | None = None) -> CommitRows:
    """The writing rows of a plan in memory (`regsync import`), in slices."""
    return CommitRows(plan.header, plan.rows.lazy(), "plan", part_rows)


def open_for_commit(path: Path) -> CommitRows:
    """The plan at `path`, checked as `Plan.load` checks it, ready to be read in parts.

    PlanError as `Plan.load` raises it, or if the file is replaced while it is checked.
    A plan saved with the earlier checksum is read whole, as `Plan.load` reads it.
    """
    Plan.check_path(path)
    handle = path.open("rb")
    try:
        opened = os.fstat(handle.fileno())
        header = verified_header(path)
        if header is None:
            handle.close()
            return in_memory(Plan.load(path))
        if _identity(os.stat(path)) != _identity(opened):
            raise PlanError(f"{path}: the plan file was replaced while it was read; "
                            f"run commit again")
        # Read through the open file, not the name: a plan that another preview writes
        # under the same name (a new file, renamed over it) is never mixed in.
        return CommitRows(header, pl.scan_parquet(handle), str(path), handle=handle,
                          opened=opened)
    except BaseException:
        handle.close()
        raise
