"""The `run` command: one run of a job file (see sync.jobs and the README)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from sync.cli_output import json_option, run, say


@click.command("run")
@click.argument("job_file", metavar="JOB.toml", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True,
              help="Preview and report every file; commit and move nothing.")
@json_option
def run_cmd(job_file: Path, dry_run: bool, as_json: bool) -> None:
    """Run a sync job once: commit each new file of its folder (or its table) as a batch.

    Human lines go to stderr; one JSON line per file to the job's log; with --json a
    summary object on stdout. Exit 0: all applied; 1: a file was held or failed, or
    rows were not applied; 2: the job file was refused; 3: already running, or the
    register was busy.
    """
    from sync.jobs import load_job, run_job  # imported here: `regsync commit` needs none of it

    def body() -> int:
        job = load_job(job_file)
        summary = run_job(job, dry_run=dry_run, echo=lambda line: say(line, sys.stderr))
        counts = ", ".join(f"{n} {outcome}" for outcome, n
                           in summary.counts(would_be=dry_run).items() if n)
        say(f"job {job.name}{' (dry run, would be)' if dry_run else ''}: "
            f"{counts or 'nothing to do'}; exit {summary.exit_code}", sys.stderr)
        if as_json:
            say(json.dumps(summary.payload(), ensure_ascii=False))
        return summary.exit_code
    run(as_json, body)


JOB_COMMANDS = (run_cmd,)
