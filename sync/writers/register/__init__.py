"""Register engines behind one interface; `open_register` picks one from a URL."""

from __future__ import annotations

import os

from sync.writers.register.base import BatchInfo, ChangeSet, Register, Selection
from sync.writers.register.sql import SQLRegister
from sync.writers.register.sqlite import SQLiteRegister, file_created, sqlite_path
from sync.writers.register.urls import check_url, is_postgres_url, redact_url

# The PostgreSQL engine (and psycopg) is imported only when a URL names PostgreSQL.
__all__ = ["BatchInfo", "ChangeSet", "Register", "SQLRegister", "SQLiteRegister",
           "Selection", "open_register", "redact_url", "register_exists"]


def _schema() -> str | None:
    """The schema --schema or $REGSYNC_SCHEMA names: None when neither does, "" (refused
    by parse_url) for an explicit --schema "" (the command line drops an empty
    $REGSYNC_SCHEMA before it gets here)."""
    return os.environ.get("REGSYNC_SCHEMA")


def register_exists(url: str) -> bool:
    """Whether the register named by `url` has been created (an SQLite file of 0 bytes
    has not: a creation failed or is under way)."""
    check_url(url)
    if not is_postgres_url(url):
        return file_created(sqlite_path(url))
    from sync.writers.register.postgres import connect, has_register

    conn, schema, label = connect(url, _schema())
    try:
        return has_register(conn, schema, label)
    finally:
        conn.close()


def open_register(url: str, *, create: bool, migrating: bool = False) -> SQLRegister:
    """Open the register named by `url`: an SQLite path, sqlite:///path, or
    postgresql://user@host:port/database[?schema=NAME] (schema also from $REGSYNC_SCHEMA).

    create=False never writes: a register that does not exist yet reads as an empty one.
    migrating=True opens an existing register whatever its schema version, for
    `SQLRegister.migrate`; a register of another version is refused otherwise.
    """
    check_url(url)
    if not is_postgres_url(url):
        return SQLiteRegister.open(sqlite_path(url), create=create, migrating=migrating)
    from sync.writers.register.postgres import (
        PostgresRegister,
        check_database,
        connect,
        has_register,
        location_of,
    )

    conn, schema, label = connect(url, _schema())
    try:
        check_database(conn, label, writing=create)
        if has_register(conn, schema, label):
            register = PostgresRegister(conn, label, schema, url=url)
        elif not create:
            location = location_of(conn, schema, label)
            conn.close()
            return SQLiteRegister.empty(label, location=location)
        else:  # the register this run created, or the one another run created first
            register = PostgresRegister.create(conn, label, schema, url=url)
        if not migrating:
            register.check_schema_version()
        return register
    except BaseException:
        if not conn.closed:
            conn.close()
        raise
