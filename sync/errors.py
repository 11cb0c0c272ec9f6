"""Error types, one per stage, each carrying the exit code of spec section 7."""

from __future__ import annotations

# Spec section 7's "other": an internal error (our bug), nothing written.
EXIT_INTERNAL = 70


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's text (its type's name when it has none), at most
    `limit` characters: what a one-line error quotes of a library's message."""
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:limit]


# What a command that ran out of memory says (exit EXIT_INTERNAL): not a bug, the
# machine's or a ulimit's limit.
OUT_OF_MEMORY = ("out of memory: the machine, or a limit such as ulimit -v, gave this "
                 "command no more (a smaller file, or more memory, will do)")


class RegsyncError(Exception):
    """A fatal problem that ends a command with one line and an exit code."""

    exit_code: int = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(RegsyncError):
    """Bad command-line usage (exit 2)."""

    exit_code = 2


class SourceError(RegsyncError):
    """A source file that cannot be read at all (exit 2); nothing is written."""

    exit_code = 2


class RulesError(RegsyncError):
    """A rule file that is broken or inconsistent (exit 2)."""

    exit_code = 2


class PlanError(RegsyncError):
    """A plan file that cannot be read or belongs elsewhere (exit 2)."""

    exit_code = 2


class RegisterError(RegsyncError):
    """A register that cannot be opened or has a foreign schema (exit 2)."""

    exit_code = 2


class RegisterSchemaError(RegisterError):
    """A register that was reached but is not one this regsync uses as it is: of another
    schema version (or none), or not a regsync register (exit 2)."""


class ExportError(RegsyncError):
    """An export that cannot be written as asked (exit 2); no file is left behind."""

    exit_code = 2


class CommitInDoubtError(RegsyncError):
    """The connection to a PostgreSQL register was lost while its COMMIT was under way:
    the commit may or may not have been written. Not exit 2 or 3, which promise that
    nothing was; like an internal error it says to check before running again."""

    exit_code = 70


class StalePlanError(RegsyncError):
    """The register changed since the plan was made, or it was already committed (exit 3)."""

    exit_code = 3


class RegisterBusyError(RegsyncError):
    """Another run holds the register (exit 3)."""

    exit_code = 3


class AlreadyCommittedError(StalePlanError):
    """The same source content was committed by a batch not reverted (exit 3): raised
    only where a source may be committed once (jobs)."""

    def __init__(self, message: str, batch_id: int, counts: dict[str, int]) -> None:
        super().__init__(message)
        self.batch_id, self.counts = batch_id, counts
