"""Commands that look after the register: batches, history, revert, locks, invalidation."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click
import polars as pl

from sync.cli_output import (
    StepLine,
    actor_option,
    db_option,
    emit,
    json_option,
    run,
    work_stands,
)
from sync.errors import UsageError
from sync.types import Progress
from sync.wording import counted
from sync.writers.register import open_register, register_exists
from sync.writers.register.schema import SCHEMA_VERSION
from sync.writers.register.sql import SQLRegister


def _with_register(db: str, *, write: bool, body: Callable[[SQLRegister], int]) -> int:
    """Run `body` on the register, which must exist already: a reading command on a
    mistyped --db would otherwise say "no batches yet" or "no customer 1", as if the
    register were empty (QA). Nothing is created either way."""
    register = open_register(db, create=write and register_exists(db))
    try:
        if register.register_id() is None:
            raise UsageError(f"{register.label}: there is no register here yet; check --db")
        return body(register)
    finally:
        register.close()


def _records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return frame.to_dicts()


@click.command("batches")
@db_option
@json_option
def batches_cmd(db: str, as_json: bool) -> None:
    """List the batches: id, time, kind, actor, source, checksum, counts, reverted."""
    def body(register: SQLRegister) -> int:
        frame = register.batches()
        lines = []
        for b in frame.iter_rows(named=True):
            counts = ", ".join(f"{k} {v}" for k, v in json.loads(b["counts"]).items() if v)
            state = f"  reverted by {b['reverted_by']}" if b["reverted_by"] else ""
            what = b["source"] or (f"batch {b['reverts']}" if b["reverts"] else "")
            # The checksum's first 12 digits: enough to tell files apart by eye (--json
            # has it whole).
            digest = f"  sha256 {b['checksum'][:12]}" if b["checksum"] else ""
            lines.append(f"{b['id']:>5}  {b['committed_at']}  {b['kind']:<10} "
                         f"{b['actor'] or '':<12} {what}{digest}  {counts}{state}")
        records = [{**b, "counts": json.loads(b["counts"])} for b in _records(frame)]
        emit(as_json, {"batches": records}, lines or ["no batches yet"])
        return 0
    run(as_json, lambda: _with_register(db, write=False, body=body))


def _change_lines(frame: pl.DataFrame, *, by_batch: bool) -> list[str]:
    lines = []
    for h in frame.iter_rows(named=True):
        head = f"{h['changed_at']}  batch {h['batch_id']:>4}  {h['actor'] or '':<12}"
        who = f"customer {h['customer_number']}  " if by_batch else ""
        if h["action"] == "update":
            # An empty field is '' here, as the preview shows it (None would be Python's word).
            old, new = h["old_value"] or "", h["new_value"] or ""
            lines.append(f"{head} {who}{h['field']}: {old!r} -> {new!r}")
        else:
            done = {"insert": "created", "delete": "removed"}.get(h["action"], h["action"])
            lines.append(f"{head} {who}{done}")
    return lines


# A batch id is a 64-bit integer in both engines; a larger number is no batch.
_BATCH_ID = click.IntRange(min=1, max=2**63 - 1)


@click.group("batch")
def batch_group() -> None:
    """Look into one batch."""


@batch_group.command("show")
@click.argument("batch_id", metavar="ID", type=_BATCH_ID)
@db_option
@json_option
def batch_show_cmd(batch_id: int, db: str, as_json: bool) -> None:
    """List the changes a batch made, field by field."""
    def body(register: SQLRegister) -> int:
        if batch_id not in register.batches()["id"].to_list():
            raise UsageError(f"there is no batch {batch_id}")
        changes = register.history(batch=batch_id)
        emit(as_json, {"batch": batch_id, "changes": _records(changes)},
             _change_lines(changes, by_batch=True) or ["no changes"])
        return 0
    run(as_json, lambda: _with_register(db, write=False, body=body))


@click.command("history")
@click.argument("customer")
@db_option
@json_option
def history_cmd(customer: str, db: str, as_json: bool) -> None:
    """Show a customer's field changes over time: when, batch, who, field: old -> new."""
    def body(register: SQLRegister) -> int:
        [number] = _customer_numbers((customer,))
        changes = register.history(customer=number)
        if changes.is_empty() and register.fetch(pl.Series([number]), ()).is_empty():
            raise UsageError(f"there is no customer {number}")
        emit(as_json, {"customer": number, "changes": _records(changes)},
             _change_lines(changes, by_batch=False) or ["no changes recorded"])
        return 0
    run(as_json, lambda: _with_register(db, write=False, body=body))


@click.command("revert")
@click.argument("batch_id", metavar="BATCH", type=_BATCH_ID)
@db_option
@actor_option
@json_option
def revert_cmd(batch_id: int, db: str, actor: str, as_json: bool) -> None:
    """Undo a batch (as a batch of its own); refused while later batches changed its customers."""
    def body(register: SQLRegister) -> int:
        info = _shown_steps(as_json, lambda progress: register.revert(
            batch_id, actor, progress=progress))
        work_stands(f"batch {batch_id} was reverted by batch {info.batch_id}: it stands")
        emit(as_json, {"batch": info.batch_id, "reverted": batch_id},
             [f"batch {batch_id} reverted by batch {info.batch_id}"])
        return 0
    # A register that does not exist has no batch to revert: none is created for it.
    run(as_json, lambda: _with_register(db, write=True, body=body))


def _state_command(name: str, column: str, value: Callable[[str], str | None],
                   done: str, help_text: str) -> click.Command:
    @click.command(name, help=help_text)
    @click.argument("customers", nargs=-1, required=True)
    @db_option
    @actor_option
    @json_option
    def command(customers: tuple[str, ...], db: str, actor: str, as_json: bool) -> None:
        def body(register: SQLRegister) -> int:
            info = register.set_state(_customer_numbers(customers), column, value(actor),
                                      actor, name)
            if info is None:
                emit(as_json, {"batch": None, "customers": 0},
                     [f"no customer changed: all were already {done} (no batch)"])
                return 0
            emit(as_json, {"batch": info.batch_id, "customers": info.updated},
                 [f"{counted(info.updated, 'customer')} {done} (batch {info.batch_id})"])
            return 0
        run(as_json, lambda: _with_register(db, write=True, body=body))
    return command


_T = TypeVar("_T")


def _shown_steps(as_json: bool, work: Callable[[Progress | None], _T]) -> _T:
    """`work`'s result, its steps shown on a terminal meanwhile (none under --json)."""
    line = StepLine(as_json)
    try:
        return work(line if line.enabled else None)
    finally:
        line.done()


def _customer_numbers(given: tuple[str, ...]) -> list[str]:
    """The customer numbers as the register keeps them (trimmed, as an import trims
    them: QA, `history " 1001"` found no customer); UsageError for an empty one."""
    numbers = [number.strip() for number in given]
    if not all(numbers):
        raise UsageError("a customer number given is empty; name customers by their numbers")
    return numbers


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


lock_cmd = _state_command("lock", "locked_by", lambda actor: actor, "locked",
                          "Lock customers: rows that would change them become Conflicts.")
unlock_cmd = _state_command("unlock", "locked_by", lambda actor: None, "unlocked",
                            "Unlock customers.")
invalidate_cmd = _state_command(
    "invalidate", "invalidated", lambda actor: _now(), "invalidated",
    "Invalidate customers: kept with their keys, left out of exports, never deleted.")
restore_cmd = _state_command("restore", "invalidated", lambda actor: None, "restored",
                             "Restore invalidated customers.")


@click.command("migrate")
@db_option
@json_option
def migrate_cmd(db: str, as_json: bool) -> None:
    """Bring a register's schema to this version of regsync (never done silently)."""
    def body() -> int:
        register = open_register(db, create=False, migrating=True)
        try:
            if register.register_id() is None:
                raise UsageError(f"{register.label}: there is no register here yet; "
                                 f"run 'regsync init'")
            found = _shown_steps(as_json, lambda progress: register.migrate(progress))
            if found is None:
                emit(as_json, {"schema_version": SCHEMA_VERSION, "migrated": False},
                     [f"register schema is at version {SCHEMA_VERSION}: nothing to migrate"])
            else:
                emit(as_json, {"schema_version": SCHEMA_VERSION, "migrated": True,
                               "from_version": found},
                     [f"register schema migrated from version {found} to {SCHEMA_VERSION}"])
        finally:
            register.close()
        return 0
    run(as_json, body)


@click.command("rebuild-blocks")
@db_option
@json_option
def rebuild_blocks_cmd(db: str, as_json: bool) -> None:
    """Compute the name blocks of the possible-duplicate scan afresh from every
    customer's name (after a large import was reverted, say)."""
    def body(register: SQLRegister) -> int:
        before, after = _shown_steps(as_json, register.rebuild_blocks)
        emit(as_json, {"block_rows_before": before, "block_rows": after},
             [f"name blocks rebuilt: {after:,} rows (were {before:,})"])
        return 0
    run(as_json, lambda: _with_register(db, write=True, body=body))


@click.command("copy-register")
@db_option
@click.option("--to", "target", required=True, metavar="TARGET",
              help="Where the copy goes: a new SQLite file (path or sqlite:///path) or "
                   "postgresql://... with ?schema= (the schema must hold no register).")
@json_option
def copy_register_cmd(db: str, target: str, as_json: bool) -> None:
    """Copy the whole register (customers, groups, batches, history, locks) into a new
    one, SQLite or PostgreSQL: how a register moves when it outgrows its file."""
    from sync.writers.register.copy import copy_register
    from sync.writers.register.urls import redact_url

    def body(register: SQLRegister) -> int:
        info = _shown_steps(as_json, lambda progress: copy_register(register, target, progress))
        work_stands(f"the copy {info.label} was written")
        rows = info.rows
        emit(as_json, {"from": register.label, "to": info.label, "url": redact_url(target),
                       "register_id": info.register_id, "version": info.version, "rows": rows},
             [f"copied {register.label} to {info.label}: "
              f"{counted(rows['customers'], 'customer')}, "
              f"{counted(rows['groups'], 'group')}, "
              f"{counted(rows['batches'], 'batch', 'batches')}, "
              f"{counted(rows['history'], 'history row')} (version {info.version}; "
              f"a new register: preview again before committing there)"])
        return 0
    run(as_json, lambda: _with_register(db, write=False, body=body))


ADMIN_COMMANDS = (migrate_cmd, rebuild_blocks_cmd, copy_register_cmd, batches_cmd, batch_group,
                  history_cmd, revert_cmd, lock_cmd, unlock_cmd, invalidate_cmd, restore_cmd)
