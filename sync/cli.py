"""The `regsync` command: parse options, call the pipeline, print, exit with the spec's codes.

Every fatal problem becomes one line on stderr (and, with --json, one JSON object on
stdout) and an exit code of spec section 7; a traceback is only for our own bugs.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import polars as pl

from sync import changes
from sync.cli_admin import ADMIN_COMMANDS
from sync.cli_jobs import JOB_COMMANDS
from sync.cli_output import SCHEMA_GIVEN, FilePath, StepLine, say, work_has_stood, work_stands
from sync.cli_output import actor_option as _actor_option
from sync.cli_output import db_option as _db_option
from sync.cli_output import emit as _emit
from sync.cli_output import json_option as _json_option
from sync.cli_output import run as _run
from sync.commit import check_location, commit
from sync.commit_rows import CommitRows, open_for_commit
from sync.errors import RegisterError, UsageError
from sync.output_paths import check_output, replace_atomically, replace_with, temp_beside
from sync.plan import Plan, new_col, old_col
from sync.signals import StoppedAfterCommit, last_word
from sync.types import COUNT_KEYS, CUSTOMER_TYPES, FORMATS, HEADER_LANGUAGES, LABEL_LAYOUTS
from sync.wording import counted, first_of
from sync.writers.register import open_register, redact_url, register_exists
from sync.writers.register.sqlite import sqlite_path
from sync.writers.register.urls import check_url, is_postgres_url, with_schema
from sync.writers.report import write_report

# The preview stages (readers, normalisers, matchers) and the exporters are imported
# by the commands that use them: `regsync commit` imports none of them.

_SHOWN_ROWS = 40
_REPORT_HELP = ("Write a CSV report, one line per source row: row, status, customer_number, "
                "matched_by, changed_fields, message, possible_duplicate, similarity, and "
                "changes (a Modified row's field: 'old' -> 'new', full values, joined "
                "by ' | ').")


def _summary(counts: dict[str, int], skipped: int) -> list[str]:
    labels = {v: k for k, v in COUNT_KEYS.items()}
    width = max(len(label) for label in labels.values())
    lines = [f"  {labels[key]:<{width}}  {counts.get(key, 0):>8}" for key in labels]
    if skipped:
        lines.append(f"  {'skipped':<{width}}  {skipped:>8}")
    return lines


def _row_lines(plan: Plan) -> list[str]:
    """The rows that do something or say something (at most `_SHOWN_ROWS`), each with
    its changes (`name: 'Dvořák' -> 'DvoĹ™Ăˇk'`, long values shortened) and its message
    (why, warnings, possible duplicates), one per line."""
    # Lazily: only the rows shown are gathered (a plan may have millions). A No change
    # row is shown when it says something (a value repaired, a warning).
    changed = (pl.col("status") != "No change") | (pl.col("message").fill_null("") != "")
    shown = plan.rows.lazy().filter(changed).head(_SHOWN_ROWS).collect()
    lines = []
    for row in shown.iter_rows(named=True):
        number = row["customer_number"] or "-"
        lead = f"  row {row['row']:>6}  {row['status']:<9}  {number:<12}  "
        what = [_change_line(field, row.get(old_col(field)), row.get(new_col(field)))
                for field in changes.changed(row)]
        if row["message"]:
            what.append(f"note: {row['message']}" if what else row["message"])
        lines.append((lead + (what[0] if what else "")).rstrip())
        lines.extend(" " * len(lead) + line for line in what[1:])
    more = plan.rows.select(changed.sum()).item() - shown.height
    if more > 0:
        lines.append(f"  ... {more} more rows in the report (--report)")
    return lines


def _change_line(field: str, old: str | None, new: str | None) -> str:
    before, after = changes.shorten_pair(old, new)
    return f"{field}: {before} -> {after}"


def _exit_code(counts: dict[str, int]) -> int:
    return 1 if counts.get("conflict", 0) or counts.get("rejected", 0) else 0


# A terminal line names at most this many groups (a file may create 100,000: one line
# of a megabyte, QA). The preview's --json lists them all.
_GROUPS_SHOWN = 20


def _groups_to_create(plan: Plan) -> list[str]:
    """The groups the plan's commit would create, as they would be spelt, in row order:
    a group is shown before it exists (a typo or a damaged name makes a new one)."""
    if "new_group" not in plan.rows.columns:
        return []
    return (plan.rows.lazy().filter(pl.col("new_group").fill_null(False))
            .select(pl.col(new_col("customer_group")).unique(maintain_order=True))
            .collect().to_series().drop_nulls().to_list())


def _source_lines(info: dict[str, Any]) -> list[str]:
    parts = [str(info.get("format"))]
    if info.get("sheet") is not None:
        parts.append(f"sheet {info['sheet']!r}")
    if info.get("encoding") is not None:
        parts.append(f"encoding {info['encoding']}")
    if info.get("delimiter") is not None:
        parts.append(f"delimiter {info['delimiter']!r}")
    parts.append(f"header row {info.get('header_row')}")
    lines = ["source: " + ", ".join(parts)]
    if info.get("encoding_doubt"):
        lines.append(f"encoding doubt: {info['encoding_doubt']}")
    if info.get("columns"):
        lines.append("columns: " + ", ".join(f"{header} -> {field}"
                                             for header, field in info["columns"].items()))
    lost = info.get("lost_letter_headers") or {}
    if lost:
        lines.append("lost letters: " + ", ".join(f"{h} read as {a!r}" for h, a in lost.items())
                     + " (letters the file's encoding could not hold were saved as '?')")
    if info.get("ignored"):
        lines.append("ignored columns: " + ", ".join(
            _ignored_shown(h, info) for h in _unnamed_runs(info["ignored"])))
    return lines


def _ignored_shown(header: str, info: dict[str, Any]) -> str:
    """An ignored header as the column line shows it, with what it may have meant."""
    doubts = (info.get("lost_letter_doubts") or {}).get(header)
    if doubts:
        return f"{header} (letters lost as '?'; it could be field " + " or ".join(
            f"{field} ({alias!r})" for field, alias in doubts.items()) + \
            ": rename it to the one meant)"
    suggestions = info.get("suggestions") or {}
    return f"{header} (did you mean {suggestions[header]!r}?)" if header in suggestions \
        else header


_UNNAMED = re.compile(r"\(no header, column ([0-9]+)\)")


def _unnamed_runs(ignored: list[str]) -> list[str]:
    """The ignored headers to show, runs of columns without a header as one range: a
    sheet with a value in column XFD has 16,000 of them."""
    shown: list[str] = []
    run: list[int] = []

    def close() -> None:
        if run:
            shown.append(f"(no header, column {run[0]})" if len(run) == 1
                         else f"(no header, columns {run[0]}-{run[-1]})")
            run.clear()

    for header in ignored:
        found = _UNNAMED.fullmatch(header)
        if found and run and int(found.group(1)) == run[-1] + 1:
            run.append(int(found.group(1)))
            continue
        close()
        if found:
            run.append(int(found.group(1)))
        else:
            shown.append(header)
    close()
    return shown


def _payload(the_plan: Plan | CommitRows, **extra: Any) -> dict[str, Any]:
    return {**the_plan.header.counts, "skipped": the_plan.header.skipped,
            "source": the_plan.header.source_info, **extra}


def _source_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--rules", "rules_path", type=click.Path(path_type=Path),
                     help="A rule file laid over the default rules."),
        click.option("--encoding", help="Source encoding (default: detected)."),
        click.option("--delimiter", help="Source delimiter: ; , tab | (default: detected)."),
        click.option("--sheet", help="Sheet name of an XLSX source (default: the first)."),
        click.option("--header-row", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Spreadsheet row number of the header."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.group()
@click.version_option(package_name="regsync")
@click.option("--schema", envvar="REGSYNC_SCHEMA",
              help="PostgreSQL schema of the register, when the URL has no ?schema= "
                   "(default: regsync; or $REGSYNC_SCHEMA).")
def cli(schema: str | None) -> None:
    """regsync: preview and commit customer files into a register."""
    given = click.get_current_context().get_parameter_source("schema")
    if given is click.core.ParameterSource.COMMANDLINE:
        # The register engines read it from the environment, like --db's $REGSYNC_DB;
        # an empty --schema "" goes there too, to be refused when a URL needs it.
        os.environ["REGSYNC_SCHEMA"] = schema or ""
        click.get_current_context().meta[SCHEMA_GIVEN] = True
    elif not schema:
        # An empty $REGSYNC_SCHEMA is no schema, as an empty $REGSYNC_DB is no --db
        # (click reads both so): the URL's ?schema=, else the default.
        os.environ.pop("REGSYNC_SCHEMA", None)


@cli.command("init")
@_db_option
@_json_option
def init_cmd(db: str, as_json: bool) -> None:
    """Create an empty register (an SQLite file, or a PostgreSQL schema) if it does not exist."""
    def body() -> int:
        register = open_register(db, create=True)
        try:
            # Both name the schema used, which the URL alone may not (--schema).
            shown = db if register.schema is None else with_schema(db, register.schema)
            _emit(as_json, {"db": redact_url(shown), "register_id": register.register_id(),
                            "version": register.version()},
                  [f"register ready: {register.label}"])
        finally:
            register.close()
        return 0
    _run(as_json, body)


def _preview(source: Path, db: str, rules_path: Path | None, encoding: str | None,
             delimiter: str | None, sheet: str | None, header_row: int,
             as_json: bool) -> Plan:
    from sync.pipeline import ReadOptions, preview
    from sync.rules import load_rules

    rules = load_rules(rules_path)
    register = open_register(db, create=False)
    progress = StepLine(as_json)
    try:
        return preview(source, register, rules,
                       ReadOptions(encoding=encoding, delimiter=delimiter,
                                   header_row=header_row, sheet=sheet),
                       progress=progress if progress.enabled else None)
    finally:
        progress.done()
        register.close()


def _write(path: Path, what: str, write: Callable[[Path], None]) -> None:
    """Write an output file whole or not at all; a path that can't be written is the
    user's to fix (exit 2)."""
    with _write_errors(path, what):
        replace_atomically(path, write)


@contextmanager
def _write_errors(path: Path, what: str) -> Iterator[None]:
    """The system's write errors (no permission, a full disk) as UsageError (exit 2),
    naming `path`: the machine's to fix, not a bug."""
    try:
        yield
    except OSError as exc:
        raise UsageError(f"{path}: cannot write the {what}: {exc.strerror or exc}") from None
    except pl.exceptions.PolarsError as exc:
        # polars reports the system's write errors (a full disk: "os error 28") as its
        # own; anything else is a bug.
        found = re.search(r"\(os error (\d+)\)", str(exc))
        if found is None:
            raise
        # Said as the system says it ("No space left on device"), not polars' wrapping
        # ("parquet: File out of specification: underlying IO error: ...").
        raise UsageError(f"{path}: cannot write the {what}: "
                         f"{os.strerror(int(found.group(1)))}") from None


@contextmanager
def _written_after(path: Path | None, what: str, write: Callable[[Path], None]
                   ) -> Iterator[None]:
    """Write the output file at `path` (None: nothing) beside it now, so that a path
    that can't be written stops the command before the block; put it in place when the
    block ends well, or is stopped after its commit landed (`work_has_stood`). When
    the block fails, the file is not written (an earlier file of that name stays as it
    was): a failed commit must leave no report that reads as applied (QA)."""
    if path is None:
        yield
        return
    with _write_errors(path, what):
        temp = temp_beside(path)
    try:
        with _write_errors(path, what):
            write(temp)
        try:
            yield
        except BaseException as stop:
            # A stop after the commit landed (during COMMIT, or once it had returned,
            # review): the batch stands, and so does its report.
            if isinstance(stop, StoppedAfterCommit) or work_has_stood():
                # The stop's line, naming the batch, is what the user must see; a
                # report that can't be put in place now must not take its place.
                with contextlib.suppress(OSError):
                    replace_with(temp, path)
            raise
        with _write_errors(path, what):
            replace_with(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def _register_file(db: str) -> list[tuple[Path, str]]:
    """The register's file, when it is one, and the files SQLite keeps beside it, as
    inputs no output may replace: an export written over `register.db-journal` would be
    taken for the register's rollback journal and deleted by the next open."""
    check_url(db)  # before its path is taken apart: an empty --db has none (review)
    if is_postgres_url(db):
        return []
    path = sqlite_path(db)
    return [(path, "register"),
            *((path.with_name(path.name + suffix), f"register's {what}")
              for suffix, what in (("-journal", "rollback journal"), ("-wal", "write-ahead log"),
                                   ("-shm", "shared-memory file")))]


def _inputs(source: Path, db: str) -> list[tuple[Path, str]]:
    """The files a preview or import reads, which no output may replace."""
    return [(source, "source file"), *_register_file(db)]


def _commit_hint(plan: Path, db: str) -> str:
    """The command that commits `plan` to the register this preview read, ready to paste:
    quoted, with the --db and --schema given on this command line (a URL's password left
    out), so that it is not committed into ./register.db instead."""
    context = click.get_current_context()
    words = ["regsync"]
    if context.find_root().meta.get(SCHEMA_GIVEN):
        words += ["--schema", os.environ.get("REGSYNC_SCHEMA", "")]
    # A relative name starting with '-' would be read as an option (QA).
    words += ["commit", f"./{plan}" if str(plan).startswith("-") else str(plan)]
    shown = redact_url(db)
    if context.get_parameter_source("db") is click.core.ParameterSource.COMMANDLINE:
        words += ["--db", shown]
    hint = " ".join(shlex.quote(w) for w in words)
    return hint + (" (and the URL's password)" if "--db" in words and shown != db else "")


@cli.command("preview")
@click.argument("source", type=click.Path(path_type=Path))
@_db_option
@_source_options
@click.option("--plan", "plan_path", type=FilePath(),
              help="Where to write the plan (default: SOURCE's name + .plan, here).")
@click.option("--report", "report_path", type=FilePath(),
              help=_REPORT_HELP)
@_json_option
def preview_cmd(source: Path, db: str, rules_path: Path | None, encoding: str | None,
                delimiter: str | None, sheet: str | None, header_row: int,
                plan_path: Path | None, report_path: Path | None, as_json: bool) -> None:
    """Show what importing SOURCE would do; write a plan. The register is not touched.

    Lists each row that is not No change or that says something (the first 40; all are
    in --report) with its status and customer number, each change on a line of its own
    (name: 'Dvořák' -> 'DvoĹ™Ăˇk'), and its message: why, warnings, possible duplicates,
    values repaired. Values are
    quoted; line breaks and invisible characters show escaped (\\n, \\u200b); long
    values are shortened around the change.
    """
    target = plan_path or Path(source.name + ".plan")
    hint = _commit_hint(target, db)

    def body() -> int:
        check_output(target, "plan", _inputs(source, db))
        if report_path is not None:
            check_output(report_path, "report", [*_inputs(source, db), (target, "plan")])
        plan = _preview(source, db, rules_path, encoding, delimiter, sheet, header_row,
                        as_json)
        # The report first: if it fails, no plan was written; if the plan then fails,
        # the report is taken back unless it was there before.
        report_existed = report_path is not None and report_path.exists()
        if report_path is not None:
            _write(report_path, "report", lambda path: write_report(plan, path))
        saving = StepLine(as_json)
        saving(f"writing the plan ({plan.rows.height:,} rows)", 1, 1)
        try:
            _write(target, "plan", plan.save)
        except UsageError:
            if report_path is not None and not report_existed:
                report_path.unlink(missing_ok=True)
            raise
        finally:
            saving.done()
        groups = _groups_to_create(plan)
        lines = [*_source_lines(plan.header.source_info), *_row_lines(plan),
                 *_summary(plan.header.counts, plan.header.skipped),
                 *([f"groups to create: {first_of(groups, _GROUPS_SHOWN)}"] if groups else []),
                 f"plan written to {target}; apply it with: {hint}"]
        _emit(as_json, _payload(plan, plan=str(target), groups_to_create=groups,
                                report=str(report_path) if report_path else None), lines)
        return _exit_code(plan.header.counts)
    _run(as_json, body)


def _commit(plan: Plan | CommitRows, db: str, actor: str, lines: list[str],
            as_json: bool) -> int | None:
    """Commit a plan that has rows; a plan of zero rows makes no batch."""
    if not sum(plan.header.counts.values()):
        lines.append("no data rows; nothing to commit")
        return None
    # A plan made against an existing register never creates a new one: opened without
    # create, a missing register is an empty stand-in and the commit refuses.
    create = plan.header.register_id is None or register_exists(db)
    if plan.header.register_id is None:
        # Checked before the register is created: a refused plan creates nothing.
        probe = open_register(db, create=False)
        try:
            check_location(plan.header, probe.location)
        finally:
            probe.close()
    register = open_register(db, create=create)
    progress = StepLine(as_json)
    try:
        batch = commit(plan, register, actor, progress=progress if progress.enabled else None)
    except KeyboardInterrupt as stop:
        # Ctrl-C or SIGTERM is raised at the first bytecode after the C call it came
        # during: in COMMIT itself, the batch has landed by then (review).
        landed = register.landed_batch(plan.header.plan_id)
        if landed is not None:
            raise StoppedAfterCommit(stop, landed) from None
        raise
    finally:
        progress.done()
        register.close()
    work_stands(f"batch {batch.batch_id} was committed: it stands "
                f"(regsync batch show {batch.batch_id})")
    created = f"; groups created: {first_of(batch.groups_created, _GROUPS_SHOWN)}" \
        if batch.groups_created else ""
    lines.append(f"committed batch {batch.batch_id}: {batch.inserted} inserted, "
                 f"{batch.updated} updated{created}")
    return batch.batch_id


@cli.command("commit")
@click.argument("plan_path", metavar="PLAN", type=click.Path(path_type=Path))
@_db_option
@_actor_option
@_json_option
def commit_cmd(plan_path: Path, db: str, actor: str, as_json: bool) -> None:
    """Apply a plan made by preview, all or nothing."""
    def body() -> int:
        with open_for_commit(plan_path) as plan:
            lines = _summary(plan.header.counts, plan.header.skipped)
            batch_id = _commit(plan, db, actor, lines, as_json)
        _emit(as_json, _payload(plan, batch=batch_id), lines)
        return _exit_code(plan.header.counts)
    _run(as_json, body)


@cli.command("import")
@click.argument("source", type=click.Path(path_type=Path))
@_db_option
@_source_options
@click.option("--report", "report_path", type=FilePath(),
              help=_REPORT_HELP)
@click.option("--yes", is_flag=True, help="Commit without asking (required).")
@_actor_option
@_json_option
def import_cmd(source: Path, db: str, rules_path: Path | None, encoding: str | None,
               delimiter: str | None, sheet: str | None, header_row: int,
               report_path: Path | None, yes: bool, actor: str, as_json: bool) -> None:
    """Preview and commit SOURCE in one run (for unattended jobs)."""
    def body() -> int:
        if not yes:
            raise UsageError("import writes to the register: pass --yes, or run "
                             "'regsync preview' and then 'regsync commit'")
        if report_path is not None:
            check_output(report_path, "report", _inputs(source, db))
        plan = _preview(source, db, rules_path, encoding, delimiter, sheet, header_row,
                        as_json)
        lines = [*_source_lines(plan.header.source_info), *_row_lines(plan),
                 *_summary(plan.header.counts, plan.header.skipped)]
        with _written_after(report_path, "report", lambda path: write_report(plan, path)):
            batch_id = _commit(plan, db, actor, lines, as_json)
        _emit(as_json, _payload(plan, batch=batch_id), lines)
        return _exit_code(plan.header.counts)
    _run(as_json, body)


# Export options that apply to one format only: given for another, they would be
# ignored without a word (`export x.csv --labels 8x3` exited 0; QA).
_FORMAT_OPTIONS = {"delimiter": ("--delimiter", "csv"), "bom": ("--bom/--no-bom", "csv"),
                   "spreadsheet_safe": ("--spreadsheet-safe", "csv"),
                   "layout": ("--labels", "labels")}


def _refuse_options_of_other_formats(chosen: str) -> None:
    """UsageError for an option given on the command line that `chosen` does not use."""
    context = click.get_current_context()
    for name, (option, applies_to) in _FORMAT_OPTIONS.items():
        given = context.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE
        if given and chosen != applies_to:
            raise UsageError(f"{option} applies to {applies_to} exports only, not {chosen}")


@cli.command("export")
@click.argument("dest", type=FilePath())
@_db_option
@click.option("--format", "fmt", type=click.Choice(FORMATS),
              help="Output format (default: from DEST's extension).")
@click.option("--headers", type=click.Choice(HEADER_LANGUAGES), default="en", show_default=True,
              help="Header language (en: the field names); also country names in vcf/labels.")
@click.option("--rules", "rules_path", type=click.Path(path_type=Path),
              help="A rule file laid over the default rules (headers, custom fields).")
@click.option("--delimiter", help="CSV delimiter: ; , tab | (default: ; for fi/sv/cs, , for en).")
@click.option("--bom/--no-bom", default=True, show_default=True, help="CSV: UTF-8 byte-order mark.")
@click.option("--spreadsheet-safe", is_flag=True,
              help='CSV: write values a spreadsheet would re-type (leading zeros, long '
                   'digits, dates, amounts, times, TRUE/FALSE) as ="00100".')
@click.option("--labels", "layout", type=click.Choice(LABEL_LAYOUTS), default="8x2",
              show_default=True, help="Labels per A4 sheet, rows x columns.")
@click.option("--group", help="Only customers in this group (case ignored).")
@click.option("--type", "customer_type", type=click.Choice(CUSTOMER_TYPES),
              help="Only companies or only persons.")
@click.option("--where", multiple=True, metavar="FIELD=VALUE",
              help="Only customers whose FIELD is VALUE (repeatable; all must hold).")
@click.option("--changed-since", metavar="DATE|BATCH",
              help="Only customers inserted or changed by this batch or later, or since "
                   "this date/time.")
@click.option("--customers", "customers_file", type=click.Path(path_type=Path),
              help="Only these customers: a file of customer numbers, one a line.")
@click.option("--include-invalidated", is_flag=True,
              help="Also invalidated customers (where the register marks them).")
@_json_option
def export_cmd(dest: Path, db: str, fmt: str | None, headers: str, rules_path: Path | None,
               delimiter: str | None, bom: bool, spreadsheet_safe: bool, layout: str,
               group: str | None, customer_type: str | None, where: tuple[str, ...],
               changed_since: str | None, customers_file: Path | None,
               include_invalidated: bool, as_json: bool) -> None:
    """Write the register's customers (or a selection) to DEST. The register is not touched."""
    from sync.export import ExportOptions, build_selection, export, format_for
    from sync.rules import load_rules

    def body() -> int:
        check_output(dest, "export", [
            *_register_file(db),
            *([(customers_file, "customers file")] if customers_file else [])])
        chosen = format_for(dest, fmt)
        _refuse_options_of_other_formats(chosen)
        options = ExportOptions(format=chosen, headers=headers,
                                delimiter=delimiter, bom=bom,
                                spreadsheet_safe=spreadsheet_safe, labels=layout)
        rules = load_rules(rules_path)
        register = open_register(db, create=False)
        try:
            if register.register_id() is None:
                raise RegisterError(f"{register.label}: no register there; check --db")
            selection = build_selection(
                rules, register, group=group, customer_type=customer_type, where=where,
                changed_since=changed_since, customers_file=customers_file,
                include_invalidated=include_invalidated)
            progress = StepLine(as_json)
            try:
                info = export(register, rules, dest, options, selection,
                              progress=progress if progress.enabled else None)
            finally:
                progress.done()
        finally:
            register.close()
        work_stands(f"{info.path} was written")
        lines = [f"exported {counted(info.count, 'customer')} to {info.path} ({info.format})"]
        if info.not_found:
            lines.append(f"{counted(info.not_found, 'number')} in {customers_file} "
                         f"{'is' if info.not_found == 1 else 'are'} not in the register")
        _emit(as_json, {"count": info.count, "path": info.path, "format": info.format,
                        "not_found": info.not_found}, lines)
        return 0
    _run(as_json, body)


for _command in ADMIN_COMMANDS:
    cli.add_command(_command)
for _command in JOB_COMMANDS:
    cli.add_command(_command)


def _misplaced(exc: click.ClickException) -> str | None:
    """The line for an option given on the wrong side of the command's name (click would
    say "No such option", and suggest --sheet for --schema), else None."""
    if not isinstance(exc, click.NoSuchOption) or exc.ctx is None:
        return None
    at_group = exc.ctx.command is cli
    if exc.option_name in ("--schema", "--db") and exc.ctx.info_name == "run":
        return (f"{exc.option_name} does not reach a job: a job names its register in its "
                f"job file")
    if exc.option_name == "--schema" and not at_group:
        return (f"--schema goes before the command's name: regsync --schema NAME "
                f"{exc.ctx.info_name} ...")
    if at_group and exc.option_name in ("--db", "--json"):
        return (f"{exc.option_name} goes after the command's name: regsync COMMAND "
                f"{exc.option_name} ..." + (" (run takes none: a job names its register "
                                            "in its job file)" if exc.option_name == "--db"
                                            else ""))
    return None


def main() -> None:
    """Entry point: click's own usage errors also answer in JSON under --json."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        last_word()
        as_json = "--json" in sys.argv[1:]
        message = _misplaced(exc) or exc.format_message()
        say(f"regsync: error: {message}", sys.stderr)
        if as_json:
            say(json.dumps({"error": message, "exit_code": 2}, ensure_ascii=False))
        sys.exit(2)
    except click.exceptions.Abort:
        sys.exit(130)
