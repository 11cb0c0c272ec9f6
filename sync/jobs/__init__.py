"""Unattended sync jobs: `regsync run JOB.toml` keeps a register in step with a drop
folder or a database table, committing each file at most once."""

from sync.jobs.config import Job, load_job
from sync.jobs.runner import RunSummary, run_job

__all__ = ["Job", "RunSummary", "load_job", "run_job"]
