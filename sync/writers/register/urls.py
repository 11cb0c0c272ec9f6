"""Register URLs: which engine a URL names, and how it is shown (never a password).

Kept apart from the PostgreSQL engine so that naming a register does not import its
driver: an SQLite run never loads psycopg.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sync.errors import RegisterError

DEFAULT_SCHEMA = "regsync"
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def is_postgres_url(url: str) -> bool:
    """Whether `url` names a PostgreSQL register."""
    return url.startswith(("postgresql://", "postgres://"))


def parse_url(url: str, schema: str | None = None) -> tuple[str, str, str]:
    """(libpq connection URL, schema, label) from a register URL.

    The schema comes from `schema`, else the URL's `?schema=`, else "regsync". The label
    names host, port and database for messages, never the password.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RegisterError(f"not a valid PostgreSQL URL ({exc}): "
                            f"{redact_url(url)}") from None
    query = dict(parse_qsl(parts.query))
    chosen = schema or query.pop("schema", None) or DEFAULT_SCHEMA
    query.pop("schema", None)
    if not _SCHEMA_NAME.match(chosen):
        raise RegisterError(f"schema name {chosen!r} must be letters, digits and _")
    conninfo = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
    host = parts.hostname or "localhost"
    label = (f"PostgreSQL at {host}:{port or 5432}, database "
             f"{parts.path.lstrip('/') or '(default)'}, schema {chosen}")
    return conninfo, chosen, label


def redact_url(url: str) -> str:
    """The URL without its password (for messages and records)."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url.split("@")[-1] if "@" in url else url
    if not password:
        return url
    netloc = parts.netloc.replace(f":{password}@", ":***@")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
