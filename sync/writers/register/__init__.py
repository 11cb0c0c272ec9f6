"""Register engines behind one interface; `open_register` picks one from a URL."""

from __future__ import annotations

from sync.errors import RegisterError
from sync.writers.register.base import BatchInfo, ChangeSet, Register, Selection
from sync.writers.register.sqlite import SQLiteRegister, sqlite_path

__all__ = ["BatchInfo", "ChangeSet", "Register", "SQLiteRegister", "Selection",
           "open_register", "register_exists"]


def register_exists(url: str) -> bool:
    """Whether the register named by `url` has been created."""
    return sqlite_path(url).exists()


def open_register(url: str, *, create: bool) -> SQLiteRegister:
    """Open the register named by `url` (an SQLite path or sqlite:///path).

    create=False never writes: a missing SQLite file reads as an empty register.
    """
    if url.startswith(("postgresql://", "postgres://")):
        raise RegisterError("PostgreSQL registers are not supported yet; use an SQLite file")
    if "://" in url and not url.startswith("sqlite:///"):
        raise RegisterError(f"{url}: unknown register URL (expected a path or sqlite:///path)")
    return SQLiteRegister.open(sqlite_path(url), create=create)
