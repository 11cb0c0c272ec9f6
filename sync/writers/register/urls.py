"""Register URLs: which engine a URL names, and how it is shown (never a password).

Kept apart from the PostgreSQL engine so that naming a register does not import its
driver: an SQLite run never loads psycopg.
"""

from __future__ import annotations

import os
import re
from urllib.parse import unquote

from sync.errors import RegisterError, first_line

DEFAULT_SCHEMA = "regsync"
_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# PostgreSQL cuts a longer name to NAMEDATALEN - 1 = 63 bytes (here ASCII: characters).
_SCHEMA_MAX = 63


def is_postgres_url(url: str) -> bool:
    """Whether `url` names a PostgreSQL register."""
    return url.startswith(("postgresql://", "postgres://"))


def check_url(url: str) -> None:
    """RegisterError (exit 2) for a register location regsync would misread: an unknown
    URL scheme (file: included: SQLite's own URIs would create a file named
    `file:x.db`), an empty one, or an SQLite path ending in / (a folder: Path would drop
    the /, and a missing folder's name would become the register's file)."""
    if not url.strip():
        raise RegisterError("the register location (--db or $REGSYNC_DB) is empty; name "
                            "an SQLite file, sqlite:///path or postgresql://...")
    if ("://" in url and not url.startswith("sqlite:///") and not is_postgres_url(url)) \
            or url.startswith("file:"):
        raise RegisterError(f"{redact_url(url)}: unknown register URL (expected a path, "
                            f"sqlite:///path "
                            f"or postgresql://user@host:port/database)")
    raw = url.removeprefix("sqlite:///")
    if not is_postgres_url(url) and (url.endswith(("/", os.sep))
                                     or os.path.basename(raw) in ("", ".", "..")):
        raise RegisterError(f"{url}: the register path names a folder; name the "
                            f"register's file in it (e.g. {os.path.join(raw, 'register.db')})")


def parse_url(url: str, schema: str | None = None) -> tuple[str, str, str]:
    """(libpq connection URL, schema, label) from a register URL.

    The schema comes from the URL's `?schema=` or `schema` (--schema, $REGSYNC_SCHEMA),
    else "regsync"; both may be given only when they agree, and neither may be empty
    (`schema` None is not given). RegisterError (exit 2) for a name PostgreSQL would
    refuse or change. The label names host, port, database and the schema used, never
    the password.
    """
    check_unambiguous(url)
    base, parameters = _query(url)
    in_url = {unquote(p.partition("=")[2]) for p in parameters if _key(p) == "schema"}
    if "" in in_url:
        raise RegisterError(f"{redact_url(url)}: ?schema= is empty; name the schema "
                            f"(or leave ?schema= out for {DEFAULT_SCHEMA!r})")
    if schema == "":
        raise RegisterError(f"--schema (or $REGSYNC_SCHEMA) is empty; name the schema "
                            f"(or leave --schema out for {DEFAULT_SCHEMA!r})")
    if len(in_url) > 1:
        raise RegisterError(f"{redact_url(url)}: ?schema= is given more than once, "
                            f"as {' and '.join(map(repr, sorted(in_url)))}")
    if schema and in_url and schema not in in_url:
        raise RegisterError(f"{redact_url(url)}: --schema (or $REGSYNC_SCHEMA) names "
                            f"schema {schema!r} but the URL's ?schema= names "
                            f"{next(iter(in_url))!r}; give one of them")
    chosen = schema or next(iter(in_url), DEFAULT_SCHEMA)
    _check_schema_name(chosen)
    # The other parameters go to libpq as they were written: decoding and encoding them
    # again would change what libpq reads (it takes `+` as a plus, not a space).
    kept = [p for p in parameters if _key(p) != "schema"]
    conninfo = base + ("?" + "&".join(kept) if kept else "")
    return conninfo, chosen, planned_label(conninfo, chosen, url)


def url_schema(url: str) -> str | None:
    """The schema a register URL's `?schema=` names (the first, if several), or None."""
    _, parameters = _query(url)
    return next((unquote(p.partition("=")[2]) for p in parameters if _key(p) == "schema"),
                None)


def with_schema(url: str, schema: str) -> str:
    """`url` naming `schema` as its ?schema= (as it is when it names one already): the
    register's full address, whichever way --schema or $REGSYNC_SCHEMA chose it."""
    base, parameters = _query(url)
    if any(_key(p) == "schema" for p in parameters):
        return url
    return base + "?" + "&".join([*parameters, f"schema={schema}"])


def planned_label(conninfo: str, schema: str, url: str) -> str:
    """The label of the server `conninfo` names, as far as it can be told before
    connecting: its own parameters (a `?host=` or `?dbname=` wins over the URL's host
    and path, as in libpq), else libpq's defaults ($PGHOST, $PGPORT, $PGDATABASE,
    $PGUSER). RegisterError (exit 2) for a URL libpq can't parse."""
    from psycopg import ProgrammingError, pq
    from psycopg.conninfo import conninfo_to_dict

    try:
        given = {k: str(v) for k, v in conninfo_to_dict(conninfo).items() if v != ""}
    except ProgrammingError as exc:
        raise RegisterError(f"not a valid PostgreSQL URL ({scrub(first_line(exc), url)}): "
                            f"{redact_url(url)}") from None
    defaults = {o.keyword.decode(): o.val.decode() for o in pq.Conninfo.get_defaults()
                if o.val}
    value = {**defaults, **given}.get
    host = (given.get("host") or given.get("hostaddr") or defaults.get("host")
            or defaults.get("hostaddr"))
    return label_of(host, value("port") or "5432",
                    value("dbname") or value("user") or "(default)", schema)


def label_of(host: str | None, port: str | int, dbname: str, schema: str) -> str:
    """How messages name a PostgreSQL register: host (or socket folder) and port,
    database and schema; never a password. `host` None: libpq's default, the local
    socket. Several hosts (h1,h2 with ports 5432,5433) are paired with their ports."""
    hosts = (host or "").split(",")
    ports = str(port).split(",")
    if len(ports) != len(hosts):
        ports = ports[:1] * len(hosts)
    where = ",".join(f"{h or 'the local socket'}:{p}" for h, p in zip(hosts, ports,
                                                                       strict=True))
    return f"PostgreSQL at {where}, database {dbname}, schema {schema}"


def _query(url: str) -> tuple[str, list[str]]:
    """(the URL up to its query, the query's parameters as written), reading the URL as
    `_split` does: a `?` in the credentials does not start the query."""
    scheme, sep, rest = url.partition("://")
    at = _credentials_end(rest)
    mark = rest.find("?", at + 1)
    if mark < 0:
        return url, []
    base = f"{scheme}{sep}{rest[:mark]}"
    return base, [p for p in rest[mark + 1:].split("&") if p]


def _key(parameter: str) -> str:
    return unquote(parameter.partition("=")[0]).strip()


def _check_schema_name(name: str) -> None:
    """RegisterError unless `name` is a schema name regsync takes as it is: ASCII letters,
    digits and _, not starting with a digit (no quoting surprises), at most 63 characters
    (PostgreSQL would silently cut a longer one), not starting with pg_ (reserved)."""
    if not _SCHEMA_NAME.fullmatch(name):
        raise RegisterError(f"schema name {name!r} must be ASCII letters, digits and _, "
                            f"not starting with a digit")
    if len(name) > _SCHEMA_MAX:
        raise RegisterError(f"schema name {name!r} is {len(name)} characters long; "
                            f"PostgreSQL takes at most {_SCHEMA_MAX}")
    if name.startswith("pg_"):  # as PostgreSQL checks it: PG_x is allowed
        raise RegisterError(f"schema name {name!r}: names starting with pg_ are reserved "
                            f"for PostgreSQL's own schemas")


def check_unambiguous(url: str) -> None:
    """RegisterError (exit 2) for a PostgreSQL URL whose @ or / can be read two ways.

    libpq ends the credentials at the first @ ahead of any /, so a password with an
    unencoded @ or / is read as a host (`user:se/cret@host` connects to host "user"), a
    query's @ in a URL without user and path as the end of a user name
    (`host?password=p@ss`), and where a password ends can't be told, nor hidden. Such a
    URL is refused before any connection, and is not shown: any part of it may be the
    password.
    """
    if not is_postgres_url(url):
        return
    rest = url.partition("://")[2]
    at = _credentials_end(rest)
    credentials = rest[:at] if at >= 0 else ""
    user = credentials.partition(":")[0]
    # A query the credentials swallowed: `host:5432?password=p@ss` (QA) reads as user
    # "host", password "5432?password=p".
    query_like = "=" in credentials.partition("?")[2]
    host_and_path = rest[at + 1:].partition("?")[0]
    if "?" in user or query_like or "@" in host_and_path:
        raise RegisterError(
            "a PostgreSQL URL holds an @ or / that can be read two ways (not shown: any "
            "part of it may be a password); write an @, / or ? in the user name or "
            "password as %40, %2F and %3F, or give the password as ?password= (after a "
            "/database) or in $PGPASSWORD")


def _ambiguous(url: str) -> bool:
    try:
        check_unambiguous(url)
    except RegisterError:
        return True
    return False


_SHORT_SECRET = 4

# libpq's connection parameters that hold a secret (its "*" debug-display options).
SECRET_PARAMETERS = frozenset({"password", "sslpassword", "oauth_client_secret"})


def redact_url(url: str) -> str:
    """`url` as it may be shown or stored (messages, batches.source): without secrets.

    The password of user:password@ is left out (user@host), and so is every query
    parameter that holds one (?password=, ?sslpassword=). A URL without secrets, or an
    SQLite path, is returned unchanged.
    """
    split = _split(url)
    if split is None:
        return url
    if _ambiguous(url):
        return f"{url.partition('://')[0]}://(URL not shown)"
    start, _, rest, parameters = split
    kept = [p for p in parameters if not _is_secret(p)]
    return start + rest + ("?" + "&".join(kept) if kept else "")


def scrub(text: str, url: str) -> str:
    """`text` (a driver's message about `url`) with the URL's secrets replaced by ***."""
    split = _split(url)
    if split is None:
        return text
    if _ambiguous(url):  # where its password ends can't be told: none of it is shown
        return "(the message is not shown: it may hold a password)"
    _, password, _, parameters = split
    found = {password} | {p.partition("=")[2] for p in parameters if _is_secret(p)}
    found |= {unquote(s) for s in found}
    for secret in sorted(filter(None, found), key=len, reverse=True):
        # A short secret is masked only where it stands apart from letters and digits:
        # masking every "e" of a password "e" would garble the message it protects.
        text = (text.replace(secret, "***") if len(secret) >= _SHORT_SECRET else
                re.sub(rf"(?<![^\W_]){re.escape(secret)}(?![^\W_])", "***", text))
    return text


def _split(url: str) -> tuple[str, str, str, list[str]] | None:
    """(scheme://user, password, host and path, query parameters), or None for a path.

    Read as libpq reads it (the credentials end at the first @ ahead of any /); a URL
    that can be read otherwise is refused (check_unambiguous), and never shown.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme == "sqlite":
        return None  # a file path: what looks like user@ or ?query is part of its name
    start, password = f"{scheme}://", ""
    at = _credentials_end(rest)
    if at >= 0:
        user, colon, password = rest[:at].partition(":")
        start += f"{user}@" if colon else f"{rest[:at]}@"
        password = password if colon else ""
        rest = rest[at + 1:]
    rest, mark, query = rest.partition("?")
    return start, password, rest, query.split("&") if mark else []


def _credentials_end(rest: str) -> int:
    """Where the credentials of `rest` (a URL after `scheme://`) end, as libpq reads
    them: the index of the first @ ahead of any /, or -1 when there are none."""
    for index, char in enumerate(rest):
        if char in "@/":
            return index if char == "@" else -1
    return -1


def _is_secret(parameter: str) -> bool:
    return unquote(parameter.partition("=")[0]).strip().lower() in SECRET_PARAMETERS
