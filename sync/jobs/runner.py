"""One run of a job: each ready file (or the table) previewed, checked against the
policies, committed as its own batch or held, moved, reported and logged.

A file is committed at most once: its SHA-256 is looked up among the register's import
batches that were not reverted (reverting a batch makes its file importable again).
For a table source, the content checksum is compared with the last such batch of the
same source: unchanged content means nothing to do.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

import polars as pl

from sync.errors import (
    EXIT_INTERNAL,
    OUT_OF_MEMORY,
    AlreadyCommittedError,
    RegisterBusyError,
    RegsyncError,
    SourceError,
    StalePlanError,
    first_line,
)
from sync.jobs.advice import doubt_advice, job_advice
from sync.jobs.config import FolderSource, Job, TableSource
from sync.jobs.lock import job_lock
from sync.jobs.sources import (
    CannotMove,
    claim_staged,
    look,
    move_into,
    scan_folder,
    stage_new,
    unremovable,
    write_new,
)
from sync.pipeline import ReadOptions, commit, file_checksum, preview, preview_table
from sync.plan import Plan
from sync.readers import source_kind
from sync.readers.database import read_database
from sync.signals import (
    EXIT_TERMINATED,
    Terminated,
    release_sigterm,
    sigterm_held,
    sigterm_interrupts,
)
from sync.types import Progress
from sync.wording import counted, shown
from sync.writers.register import open_register, register_exists
from sync.writers.register.sql import SQLRegister
from sync.writers.register.urls import redact_url
from sync.writers.report import report_bytes

Outcome = Literal["committed", "skipped_duplicate", "held", "left_incomplete", "failed",
                  "dry_run"]
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)


@dataclass
class FileResult:
    """What happened to one file (or to the table): one log line."""

    file: str
    outcome: Outcome
    checksum: str | None = None
    batch: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    reason: str | None = None
    moved_to: str | None = None
    report: str | None = None
    note: str | None = None
    would_be: Outcome | None = None
    exit_code: int = 0
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def record(self, job: str) -> dict[str, Any]:
        """The JSON log line: time, job, file, checksum, batch, counts, seconds, outcome..."""
        record: dict[str, Any] = {
            "time": self.at, "job": job,
            "file": self.file, "checksum": self.checksum, "batch": self.batch,
            "counts": self.counts, "seconds": round(self.seconds, 3),
            "outcome": self.outcome}
        for key in ("would_be", "reason", "moved_to", "report", "note"):
            if getattr(self, key) is not None:
                record[key] = getattr(self, key)
        return record

    def line(self) -> str:
        """The human line on stderr."""
        what = self.would_be and f"dry run, would be {self.would_be}" or self.outcome
        counts = ", ".join(f"{v} {k}" for k, v in self.counts.items() if v)
        reason = self.reason or ""
        if reason.startswith(self.file):  # a reader's message naming it: named already
            reason = reason[len(self.file):].lstrip(": ")
        parts = [f"batch {self.batch}" if self.batch is not None else "", counts,
                 reason, f"-> {self.moved_to}" if self.moved_to else ""]
        # A file name may hold any character but / and NUL: a CR or an escape sequence
        # printed as it is rewrites the line on a terminal (QA: `fake\rcommitted: ok.csv`).
        return shown(f"{what}: {self.file}  " + "; ".join(p for p in parts if p))


@dataclass
class RunSummary:
    """Every file's result; the exit code is the largest of theirs."""

    job: str
    dry_run: bool
    results: list[FileResult]

    @property
    def exit_code(self) -> int:
        """0 all applied, 1 something held/failed/not applied, 3 register busy or stale."""
        return max((r.exit_code for r in self.results), default=0)

    def counts(self, *, would_be: bool = False) -> dict[str, int]:
        """How many files had each outcome (or, for a dry run, would have had)."""
        return {o: sum((r.would_be if would_be else r.outcome) == o for r in self.results)
                for o in OUTCOMES if o != "dry_run"}

    def payload(self) -> dict[str, Any]:
        """The --json summary: job, dry_run, a count per outcome, files, exit_code.

        A dry run's counts are all 0 (nothing happened); `would_be` counts what would.
        """
        payload: dict[str, Any] = {"job": self.job, "dry_run": self.dry_run, **self.counts()}
        if self.dry_run:
            payload["would_be"] = self.counts(would_be=True)
        payload["files"] = [r.record(self.job) for r in self.results]
        payload["exit_code"] = self.exit_code
        return payload


def run_job(job: Job, *, dry_run: bool = False,
            echo: Callable[[str], None] = lambda line: None,
            progress: Progress | None = None) -> RunSummary:
    """Run `job` once under its lock; JobRunningError (exit 3) if another run holds it.

    Each result is appended to the job's log (one JSON line, fsynced) and echoed as it
    happens, so a run that dies midway has logged what it did. With `dry_run` nothing
    is committed or moved; reports go to the reports folder as *.dry-run.report.csv
    and log lines have the outcome "dry_run" and the outcome they would have had.
    `progress`, when given, is called as each step of a file's preview and commit
    begins, the step followed by the file's name in brackets.
    """
    # Held from before the lock to inside the stop's record below: a SIGTERM just after
    # the lock is taken (its pid written, so the run has begun) must be logged as the
    # run's stop, not end it between two lines with no log line (seen once in CI).
    with sigterm_held(), job_lock(job.lock, job.name), sigterm_interrupts():
        results: list[FileResult] = []

        def done(result: FileResult) -> None:
            if dry_run:
                result.would_be, result.outcome = result.outcome, "dry_run"
            results.append(result)
            try:
                _append_log(job.log, result.record(job.name))
            finally:
                # Said even when the log can't be written (QA: a full disk's stop left
                # stderr, which cron mails, without the file it had just committed).
                echo(result.line())

        run: _Run | None = None
        try:
            release_sigterm()
            # A register that does not exist yet is read as empty and only created by
            # the first commit (see _Run.writable); an existing one is opened for
            # writing. Opened inside the stop's record: a SIGTERM while it connects is
            # logged as any other stop.
            register = open_register(job.register,
                                     create=not dry_run and register_exists(job.register))
            run = _Run(job, register, dry_run, done, progress)
            run.run()
        except (SystemExit, GeneratorExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - the run's record must survive it
            if os.environ.get("REGSYNC_DEBUG") and not isinstance(exc, RegsyncError):
                raise
            message, code = _stop_reason(exc)
            _record_stop(job, run, results, message, code, echo)
            raise RunStopped(RunSummary(job.name, dry_run, results), message,
                             code) from exc
        finally:
            if run is not None:
                run.register.close()
    return RunSummary(job.name, dry_run, results)


class RunStopped(Exception):
    """A run that stopped midway: what it did before (files committed stay committed),
    the one-line reason, and the exit code."""

    def __init__(self, summary: RunSummary, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.summary, self.message, self.exit_code = summary, message, exit_code


def _stop_reason(exc: BaseException) -> tuple[str, int]:
    """The one line and exit code for what stopped a run."""
    if isinstance(exc, RegsyncError):
        return exc.message, exc.exit_code
    if isinstance(exc, Terminated):
        return "terminated (SIGTERM)", EXIT_TERMINATED
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", 130
    if isinstance(exc, MemoryError):
        return OUT_OF_MEMORY, EXIT_INTERNAL
    if isinstance(exc, OSError):  # a full disk, a folder gone: the machine, not the data
        names = [str(n) for n in (exc.filename, exc.filename2) if n is not None]
        where = " -> ".join(names) + ": " if names else ""
        return f"{where}{exc.strerror or first_line(exc)}", 2
    return (f"internal error ({type(exc).__name__}: {first_line(exc)}); set "
            f"REGSYNC_DEBUG=1 for details", EXIT_INTERNAL)


def _record_stop(job: Job, run: _Run | None, results: list[FileResult], message: str,
                 code: int, echo: Callable[[str], None]) -> None:
    """Say, for the file the run stopped at, why: on its result when it has one (what
    failed came after it, e.g. its log line; its human line was said), else as a new
    `failed` result, logged if the log can be written, and said on `echo` when it
    stopped after the file's commit (the batch that stands). `run` is None when the run
    stopped opening its register."""
    # Stopped before any file was in hand (in the settle wait, say): the line names the
    # source, so the log, which an alert may watch alone, says it too.
    current = (run.current if run is not None else None) or _source_name(job)
    batch = run.current_batch if run is not None else None
    if results and results[-1].file == current:
        last = results[-1]
        last.reason = "; ".join(r for r in (last.reason, message) if r)
        last.exit_code = max(last.exit_code, code)
        return
    reason = message
    if batch is not None:
        reason += f" (after its commit as batch {batch}, which stands)"
    result = FileResult(current, "failed", reason=reason, batch=batch, exit_code=code)
    results.append(result)
    try:
        with contextlib.suppress(OSError):
            _append_log(job.log, result.record(job.name))
    finally:
        if batch is not None:
            # The batch that stands is this line's news; else the stop's line, which
            # follows, says all of it (one line for cron to mail, not the same twice).
            echo(result.line())


def _source_name(job: Job) -> str:
    """The job's source as its log lines name it: the folder, or the database."""
    source = job.source
    return str(source.folder) if isinstance(source, FolderSource) else redact_url(source.db)


def _plan_counts(plan: Plan) -> tuple[dict[str, int], int]:
    """A plan's counts as a log line gives them (skipped rows too), and the exit code of
    its rows: 1 when some were Rejected or Conflict, else 0."""
    counts = {**plan.header.counts, "skipped": plan.header.skipped}
    return counts, 1 if counts["rejected"] or counts["conflict"] else 0


def _duplicate(name: str, checksum: str, batch: tuple[int, dict[str, int]] | None,
               said: str = "already committed as batch") -> FileResult:
    """A file whose content was committed before: skipped, with that batch's counts.

    Rows that batch did not apply are said again (exit 1): a run killed after the
    commit and before its log line would otherwise leave them unreported for good.
    """
    if batch is None:
        return FileResult(name, "skipped_duplicate", checksum,
                          reason="same content as a file before it in this dry run")
    batch_id, counts = batch
    # A batch committed before regsync recorded its skipped (blank) rows: none known.
    counts = {**counts, "skipped": counts.get("skipped", 0)}
    why = f"{said} {batch_id}"
    unapplied = {k: counts.get(k, 0) for k in ("conflict", "rejected") if counts.get(k)}
    if unapplied:
        why += " (rows not applied: " + ", ".join(f"{n} {k}" for k, n in unapplied.items()) \
            + ")"
    return FileResult(name, "skipped_duplicate", checksum, counts=counts, reason=why,
                      batch=batch_id, exit_code=1 if unapplied else 0)


def _gone_while_read(path: Path, checksum: str | None, start: float) -> FileResult:
    """A file taken away while it was read (another job on the folder, say): nothing
    was done with it, and the run goes on."""
    return FileResult(str(path), "left_incomplete", checksum,
                      reason="gone from the folder while it was read",
                      seconds=time.monotonic() - start)


def _left_in_place(result: FileResult, path: Path) -> None:
    """A file that changed (or went) after it was read stays where it is: what was
    done with the content read stands, and a new content is the next run's.

    Held, failed or skipped, nothing of it was done: it is left_incomplete, with no
    batch and counts {} as every such record (QA: one another job had committed and
    moved meanwhile carried that job's batch and counts); the batch is named in the
    reason instead."""
    why = ("replaced or changed after it was read: left in the folder for the next run"
           if path.exists() else "gone from the folder after it was read")
    if result.outcome == "committed":
        result.reason = "; ".join(r for r in (result.reason, why) if r)
        return
    if result.outcome == "skipped_duplicate" and result.batch is not None:
        why += f" (already committed as batch {result.batch})"
    result.outcome, result.reason, result.exit_code = "left_incomplete", why, 0
    result.batch, result.counts = None, {}


def _move(result: FileResult, path: Path, folder: Path) -> None:
    """Move the file into `folder` and say where it went (`moved_to`); a file changed or
    gone since it was read, or one this user can't move at all, stays and its result
    says so."""
    try:
        moved = move_into(path, folder, checksum=result.checksum)
    except CannotMove as exc:
        _not_movable(result, folder, exc)
        return
    if moved is None:
        _left_in_place(result, path)
    else:
        result.moved_to = str(moved)


def _not_movable(result: FileResult, folder: Path, exc: CannotMove) -> None:
    """A file this user can neither link nor read (QA: another user's mode-600 file
    stopped every run at its move to held/): its outcome stands, and the reason says
    why it is still in the drop folder, where each run will find it again."""
    either = " either" if result.outcome == "failed" else ""
    why = (f"could not be moved to {folder}{either}: {exc.why}; left in the drop folder, "
           "where each run finds it again until this user may read it or it is taken away")
    result.reason = "; ".join(r for r in (result.reason, why) if r)
    result.exit_code = max(result.exit_code, 1)


def _append_log(log: Path, record: dict[str, Any]) -> None:
    """Append `record` to `log` as one JSON line in one write, fsynced.

    A log left ending mid-line (a disk that filled during an append) gets the record
    on a new line, so every record after the broken one still parses. An error names
    the log.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    # A file name that is not UTF-8 is logged with its odd bytes escaped (\udce9).
    line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8", "backslashreplace")
    try:
        fd = os.open(log, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            data = (b"" if _ends_a_line(fd) else b"\n") + line
            # One write, so that a record is never split between two (O_APPEND puts it
            # at the end); a short one means the disk is full.
            if os.write(fd, data) < len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        if exc.filename is None:
            raise OSError(exc.errno, exc.strerror, str(log)) from exc
        raise


def _ends_a_line(fd: int) -> bool:
    """Whether the file is empty or its last byte ends a line."""
    size = os.fstat(fd).st_size
    return size == 0 or os.pread(fd, 1, size - 1) == b"\n"


class _Run:
    def __init__(self, job: Job, register: SQLRegister, dry_run: bool,
                 done: Callable[[FileResult], None], progress: Progress | None) -> None:
        self.job, self.register, self.dry_run, self.done = job, register, dry_run, done
        self.progress = progress
        # The file (or table) in hand, and its batch once committed: what a run that
        # stops midway reports it stopped at.
        self.current: str | None = None
        self.current_batch: int | None = None
        # checksums a dry run would have committed
        self.seen: dict[str, tuple[int, dict[str, int]] | None] = {}

    def run(self) -> None:
        source = self.job.source
        if isinstance(source, FolderSource):
            self.folder(source)
        else:
            self.current = _source_name(self.job)
            self.done(self.table(source))

    def folder(self, source: FolderSource) -> None:
        # The job's own files, and its output folders where they lie in the drop folder
        # (not drops: they were reported as never read every night; review).
        own = {self.job.log, self.job.lock, self.job.reports, self.job.processed,
               self.job.held}
        scan = scan_folder(source.folder, source.pattern, source.settle_seconds,
                           exclude=frozenset(p.resolve() for p in own))
        left = dict(scan.incomplete)
        for path in sorted([*scan.ready, *left], key=lambda p: p.name):
            self.current, self.current_batch = str(path), None
            if path in left:
                self.done(FileResult(str(path), "left_incomplete", reason=left[path]))
            else:
                self.done(self.file(path, scan.looks[path]))

    def committed(self) -> dict[str, tuple[int, dict[str, int]] | None]:
        """Checksums of import batches not reverted, each with its batch id and counts
        (and of this dry run's commits, with None)."""
        batches = self.register.batches().filter(
            (pl.col("kind") == "import") & pl.col("reverted_by").is_null()
            & pl.col("checksum").is_not_null())
        found: dict[str, tuple[int, dict[str, int]] | None] = {
            checksum: (batch, json.loads(counts or "{}"))
            for checksum, batch, counts in batches.select("checksum", "id", "counts")
            .iter_rows()}
        return {**found, **self.seen}

    def file(self, path: Path, looked: tuple[int, int]) -> FileResult:
        start = time.monotonic()
        now = look(path)
        if now != looked:
            return FileResult(str(path), "left_incomplete",
                              reason="gone from the folder before it was read"
                              if now is None else "changed after the look: still being written")
        stuck = unremovable(path)
        if stuck:  # committed, it would be found again every night: not even read
            return FileResult(str(path), "failed", reason=stuck, exit_code=1,
                              seconds=time.monotonic() - start)
        try:
            checksum = file_checksum(path)
        except OSError as exc:  # e.g. no permission to read it: this file fails, not the run
            return self.unreadable(path, None, f"{path}: cannot be read ({exc.strerror or exc})",
                                   start)
        done = self.committed()
        if checksum in done:
            return self.finish(_duplicate(str(path), checksum, done[checksum]),
                               path, self.job.processed, start)
        try:
            plan = preview(path, self.register, self.job.rules, self.read_options(path),
                           progress=self.steps_of(path.name))
        except StalePlanError as exc:  # another process committed while this one read
            return self.stale(path, checksum, exc, start)
        except SourceError as exc:
            # The reader's advice names preview's options; a job has settings instead.
            named = str(path) if exc.message.startswith(str(path)) else ""
            why = named + job_advice(exc.message[len(named):])
            return self.unreadable(path, checksum, why, start)
        except FileNotFoundError:  # a reader opening it again found it gone (QA)
            if look(path) is not None:
                raise
            return _gone_while_read(path, checksum, start)
        if plan.header.source_checksum != checksum:
            return FileResult(str(path), "left_incomplete", checksum,
                              reason="changed while being read: still being written")
        return self.apply(plan, path, Path(path.name).stem, start)

    def stale(self, path: Path, checksum: str, exc: StalePlanError,
              start: float) -> FileResult:
        """A preview that another process's commit made stale. When that commit was
        of this very content (a second job on the folder, QA: failed, exit 3), the file
        is a duplicate as any other; else it fails, exit 3, left for the next run."""
        done = self.committed()
        if checksum in done:
            return self.finish(_duplicate(str(path), checksum, done[checksum]),
                               path, self.job.processed, start)
        return FileResult(str(path), "failed", checksum, exit_code=3,
                          reason=f"{exc.message} (left for the next run)",
                          seconds=time.monotonic() - start)

    def unreadable(self, path: Path, checksum: str | None, why: str,
                   start: float) -> FileResult:
        """A file that can't be read: failed, and moved to held/ with a note saying
        `why`. One that is gone from the folder (another process took it away while it
        was read, QA) was not unreadable: it is left_incomplete."""
        if look(path) is None:
            return _gone_while_read(path, checksum, start)
        result = FileResult(str(path), "failed", checksum, reason=why, exit_code=1)
        return self.finish(result, path, self.job.held, start, error=why)

    def read_options(self, path: Path) -> ReadOptions:
        """The job's read options that concern `path`'s format: one pattern may take
        CSV, XLSX and Parquet drops alike, and a workbook has no encoding, a CSV no sheet,
        a Parquet file no header row."""
        read = self.job.source.read if isinstance(self.job.source, FolderSource) \
            else ReadOptions()
        kind = source_kind(path)
        text = kind is None
        return ReadOptions(encoding=read.encoding if text else None,
                           delimiter=read.delimiter if text else None,
                           sheet=read.sheet if kind == "xlsx" else None,
                           header_row=read.header_row if text or kind == "xlsx" else 1)

    def table(self, source: TableSource) -> FileResult:
        start = time.monotonic()
        try:
            read = read_database(source.db, table=source.table, query=source.query)
        except SourceError as exc:
            return FileResult(redact_url(source.db), "failed", reason=exc.message, exit_code=1,
                              seconds=time.monotonic() - start)
        last = self.register.batches().filter(
            (pl.col("kind") == "import") & pl.col("reverted_by").is_null()
            & (pl.col("source") == read.label))
        if last.height and last["checksum"][-1] == read.checksum:
            # As a file's duplicate: that batch's counts, and exit 1 again for rows it
            # left unapplied (QA: a table said nothing of them, exit 0, no batch).
            batch = (int(last["id"][-1]), json.loads(last["counts"][-1]))
            return self.finish(_duplicate(read.label, read.checksum, batch,
                                          said="unchanged since batch"), None, None, start)
        try:
            plan = preview_table(read.table, read.label, read.checksum, self.register,
                                 self.job.rules, progress=self.steps_of(read.label))
        except StalePlanError as exc:  # another process committed while this one read
            return FileResult(read.label, "failed", read.checksum, exit_code=3,
                              reason=f"{exc.message} (left for the next run)",
                              seconds=time.monotonic() - start)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return self.apply(plan, None, f"{self.job.name}-{stamp}", start)

    def steps_of(self, what: str) -> Progress | None:
        """The run's progress callback, each step naming `what` (a file, a table)."""
        progress = self.progress
        if progress is None:
            return None
        # Escaped as the run's own lines are: a file name may hold a CR or ESC (review).
        named = shown(what)
        return lambda step, number, total: progress(f"{step} ({named})", number, total)

    def writable(self) -> SQLRegister:
        """The register, created now if this is its first commit."""
        if self.register.register_id() is None:
            self.register.close()
            self.register = open_register(self.job.register, create=True)
        return self.register

    def over_policy(self, plan: Plan) -> str | None:
        counts, rows = plan.header.counts, plan.rows.height
        doubt = plan.header.source_info.get("encoding_doubt")
        if doubt:
            # At a terminal a person reads this line before committing; a nightly run
            # has nobody to, and names written in the wrong code page are hard to find
            # afterwards. The job's `encoding` setting ends the doubt for good.
            return doubt_advice(str(doubt), plan.header.source_info.get("encoding"))
        if self.job.max_rejected.exceeded(counts["rejected"], rows):
            return (f"{counts['rejected']:,} of {counted(rows, 'row')} rejected, over max_rejected "
                    f"{self.job.max_rejected.describe()}")
        if not self.job.allow_conflicts and counts["conflict"]:
            return f"{counted(counts['conflict'], 'conflict')} and allow_conflicts is false"
        return None

    def apply(self, plan: Plan, path: Path | None, stem: str, start: float) -> FileResult:
        name = str(path) if path else plan.header.source
        checksum = plan.header.source_checksum
        counts, not_applied = _plan_counts(plan)
        held = self.over_policy(plan)
        if held:
            result = FileResult(name, "held", checksum, counts=counts, reason=held,
                                exit_code=1)
            return self.finish(result, path, self.job.held, start, plan=plan, stem=stem)
        if self.dry_run:
            self.seen[checksum] = None
            result = FileResult(name, "committed", checksum, counts=counts,
                                exit_code=not_applied)
            return self.finish(result, path, self.job.processed, start, plan=plan, stem=stem)
        # The report is written before the commit, as import's is, and named after it:
        # a disk too full for it stops the run with the file not committed, instead of
        # a batch whose Rejected and Conflict rows nobody can read (QA).
        staged = stage_new(self.job.reports, f"{stem}.report.csv", report_bytes(plan))
        try:
            return self.commit_staged(plan, path, name, stem, start, staged)
        finally:
            staged.unlink(missing_ok=True)

    def commit_staged(self, plan: Plan, path: Path | None, name: str, stem: str,
                      start: float, staged: Path) -> FileResult:
        """Commit `plan` (of the file at `path`, or a table) as a batch, then move the
        file and give its report, `staged`, its name."""
        checksum = plan.header.source_checksum
        counts, not_applied = _plan_counts(plan)
        try:
            batch = (commit(plan, self.writable(), self.job.actor, once=path is not None,
                            progress=self.steps_of(path.name if path else name))
                     if plan.rows.height else None)
        except AlreadyCommittedError as exc:
            # Another runner committed the same file since this one looked.
            return self.finish(_duplicate(name, checksum, (exc.batch_id, exc.counts)),
                               path, self.job.processed, start)
        except (StalePlanError, RegisterBusyError) as exc:
            return FileResult(name, "failed", checksum, counts=counts, exit_code=3,
                              reason=f"{exc.message} (left for the next run)",
                              seconds=time.monotonic() - start)
        except Terminated:
            # SIGTERM may land just after the COMMIT went through, before commit()
            # returned (QA): the batch stands, and the stop's log line must name it.
            self.current_batch = self.register.landed_batch(plan.header.plan_id)
            raise
        self.current_batch = batch.batch_id if batch else None
        result = FileResult(name, "committed", checksum, counts=counts, exit_code=not_applied,
                            batch=batch.batch_id if batch else None,
                            reason=None if batch else "no data rows: no batch")
        return self.finish(result, path, self.job.processed, start, plan=plan, stem=stem,
                           reports=self.job.reports, staged=staged)

    def finish(self, result: FileResult, path: Path | None, target: Path | None,
               start: float, *, plan: Plan | None = None, stem: str = "",
               reports: Path | None = None, error: str | None = None,
               staged: Path | None = None) -> FileResult:
        """Move the file and write its report (or error note); nothing in a dry run."""
        if self.dry_run:
            if plan is not None:
                data = report_bytes(plan)
                result.report = str(write_new(self.job.reports,
                                              f"{stem}.dry-run.report.csv", data))
        else:
            if path is not None and target is not None:
                _move(result, path, target)
                if result.moved_to is not None:
                    stem = Path(result.moved_to).stem
            folder = reports or target
            if result.outcome == "left_incomplete":
                folder = None  # nothing was done with it: no report, no note
            if plan is not None and folder is not None:
                name = f"{stem}.report.csv"
                result.report = str(claim_staged(folder, name, staged) if staged is not None
                                    else write_new(folder, name, report_bytes(plan)))
            if error is not None and target is not None and result.moved_to is not None:
                # Only beside the file: a file left in the drop folder would get a
                # note more every night.
                result.note = str(write_new(target, f"{stem}.error.txt",
                                            (error + "\n").encode("utf-8", "backslashreplace")))
        result.seconds = time.monotonic() - start
        return result
