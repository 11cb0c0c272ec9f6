"""The `run` command: one run of a job file (see sync.jobs and docs/jobs.md)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sync.cli_output import SCHEMA_GIVEN, StepLine, json_option, run, say, work_stands
from sync.errors import UsageError
from sync.writers.register.urls import DEFAULT_SCHEMA, is_postgres_url, url_schema

if TYPE_CHECKING:
    from sync.jobs.runner import RunSummary


# What stands when a stop comes while the summary is printed.
_HANDLED = "the run's files were handled: the job's log says what became of each"


@click.command("run")
@click.argument("job_file", metavar="JOB.toml", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True,
              help="Preview and report every file; commit and move nothing.")
@json_option
def run_cmd(job_file: Path, dry_run: bool, as_json: bool) -> None:
    """Run a sync job once: commit each new file of its folder (or its table) as a batch.

    Human lines go to stderr; one JSON line per file to the job's log; with --json a
    summary object on stdout. Exit 0: all applied; 1: a file was held or failed, or
    rows were not applied; 2: the job file was refused, or a full disk; 3: already
    running, or the register was busy; 130: interrupted; 143: terminated (SIGTERM).
    """
    from sync.jobs import load_job, run_job  # imported here: `regsync commit` needs none of it
    from sync.jobs.runner import RunStopped

    schema_given = click.get_current_context().meta.get(SCHEMA_GIVEN, False)
    # A job names its register in its job file, as the nightly run sees it: neither
    # --db, $REGSYNC_DB nor $REGSYNC_SCHEMA (set in one shell, not in cron) reaches it.
    env_schema = os.environ.pop("REGSYNC_SCHEMA", None)
    if not schema_given:
        env_schema = env_schema or None  # an empty variable is none, as for other commands

    def body() -> int:
        job = load_job(job_file, dry_run=dry_run)
        _check_schema_variable(env_schema, job.path, job.register,
                               given_as="--schema" if schema_given else "$REGSYNC_SCHEMA")
        steps = StepLine(as_json)

        def echo(line: str) -> None:
            steps.done()  # a file's line replaces its step line
            say(line, sys.stderr)
        try:
            summary = run_job(job, dry_run=dry_run, echo=echo,
                              progress=steps if steps.enabled else None)
        except RunStopped as stop:
            steps.done()
            if not dry_run:
                work_stands(_HANDLED)
            # What the run did before it stopped stands (each file its own batch): the
            # summary says so, with the reason, instead of "nothing was written".
            return _summarise(job.name, dry_run, stop.summary, as_json, error=stop.message,
                              code=stop.exit_code)
        finally:
            steps.done()
        if not dry_run:
            work_stands(_HANDLED)
        return _summarise(job.name, dry_run, summary, as_json)
    run(as_json, body)


def _check_schema_variable(env_schema: str | None, path: Path, register: str,
                           given_as: str = "$REGSYNC_SCHEMA") -> None:
    """UsageError (exit 2) when $REGSYNC_SCHEMA (or --schema, `given_as`) names another
    schema than the job's PostgreSQL register: jobs once took their schema from it, and
    one that still relies on it must not go, silently, to the default schema instead.
    The job's own schema named again is no doubt; --schema with an SQLite register is
    refused, as it reaches nothing ($REGSYNC_SCHEMA is set for other commands too)."""
    undo = "leave --schema out" if given_as == "--schema" else "unset $REGSYNC_SCHEMA"
    if env_schema is None:
        return
    if not is_postgres_url(register):
        if given_as == "--schema":
            raise UsageError(f"{path}: --schema does not reach this job: its register is "
                             f"an SQLite file, named in its job file; {undo}")
        return
    named = url_schema(register)
    if (named or DEFAULT_SCHEMA) != env_schema:
        in_file = f"schema {named!r}" if named else f"no ?schema=, so schema {DEFAULT_SCHEMA!r}"
        raise UsageError(f"{path}: {given_as} names schema {env_schema!r}, but a job's "
                         f"register is its job file's, whose URL has {in_file}; put "
                         f"?schema={env_schema} in the register's URL, or {undo}")


def _summarise(name: str, dry_run: bool, summary: RunSummary, as_json: bool,
               error: str | None = None, code: int = 0) -> int:
    """Print the run's summary (and `--json` object); its exit code: the largest of the
    files' and `code`, the stop's (a run stopped before its first file has no file)."""
    exit_code = max(summary.exit_code, code)
    counts = ", ".join(f"{n} {outcome}" for outcome, n
                       in summary.counts(would_be=dry_run).items() if n)
    stopped = f"stopped: {error}; " if error else ""
    say(f"job {name}{' (dry run, would be)' if dry_run else ''}: {stopped}"
        f"{counts or 'nothing to do'}; exit {exit_code}", sys.stderr)
    if as_json:
        payload = summary.payload()
        if error is not None:
            payload["error"] = error
        payload["exit_code"] = exit_code
        say(json.dumps(payload, ensure_ascii=False))
    return exit_code


JOB_COMMANDS = (run_cmd,)
