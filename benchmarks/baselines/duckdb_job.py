"""The import job as a data engineer writes it in DuckDB SQL (a benchmark baseline).

    python benchmarks/baselines/duckdb_job.py SOURCE --db REGISTER.db [--register-csv CSV]

DuckDB reads the source as text, normalises the damaged fields, matches by
customer_number, then business_id, then name, and classifies every row in SQL; the
result is written into the SQLite register with sqlite3 in one transaction. The
register is read from its CSV export when given (DuckDB's sqlite extension needs a
download, which this machine cannot do), else from SQLite through sqlite3. Prints the
counts as one JSON object. No change history, no possible-duplicate flags.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import unicodedata
from pathlib import Path

import duckdb
import pyarrow as pa

FIELDS = ["customer_number", "customer_type", "name", "business_id", "email", "phone",
          "street_address", "postal_code", "city", "customer_group"]
COMPARED = FIELDS[1:]
ALIASES = {
    "customer_number": ["customer_number", "Asiakasnumero", "Kundnummer", "Číslo zákazníka"],
    "customer_type": ["customer_type", "Asiakastyyppi", "Kundtyp", "Typ zákazníka"],
    "name": ["name", "Nimi", "Namn", "Název"],
    "business_id": ["business_id", "Y-tunnus", "Organisationsnummer", "IČO"],
    "email": ["email", "Sähköposti", "E-post", "E-mail"],
    "phone": ["phone", "Puhelin", "Telefon"],
    "street_address": ["street_address", "Katuosoite", "Gatuadress", "Ulice"],
    "postal_code": ["postal_code", "Postinumero", "Postnummer", "PSČ"],
    "city": ["city", "Postitoimipaikka", "Postort", "Město"],
    "customer_group": ["customer_group", "Asiakasryhmä", "Kundgrupp", "Skupina zákazníků"],
}

NORMALISE = r"""
CREATE TEMP TABLE src AS
WITH raw AS (
    SELECT row_number() OVER () + 1 AS row, {columns} FROM read_csv(
        $source, delim = $sep, header = true, all_varchar = true, quote = '"')
), t AS (
    SELECT row, {trimmed} FROM raw
), n AS (
    SELECT row, customer_number,
        CASE lower(customer_type)
            WHEN 'company' THEN 'company' WHEN 'yritys' THEN 'company'
            WHEN 'företag' THEN 'company' WHEN 'firma' THEN 'company'
            WHEN 'person' THEN 'person' WHEN 'henkilö' THEN 'person'
            WHEN 'privatperson' THEN 'person' WHEN 'fyzická osoba' THEN 'person' END
            AS customer_type,
        regexp_replace(name, '\s+', ' ', 'g') AS name,
        lpad(regexp_replace(upper(regexp_replace(business_id, '[\s.-]', '', 'g')), '^FI', ''),
             8, '0') AS bid8,
        CASE WHEN email LIKE '%@%' THEN
            regexp_extract(email, '^(.*)@', 1) || '@'
            || lower(regexp_extract(email, '@([^@]*)$', 1))
            ELSE email END AS email,
        regexp_replace(phone, '[\s()-]', '', 'g') AS p,
        street_address,
        CASE WHEN regexp_full_match(postal_code, '\d{{1,4}}') THEN lpad(postal_code, 5, '0')
             ELSE postal_code END AS postal_code,
        city, customer_group
    FROM t
)
SELECT row, customer_number, customer_type, name,
    substr(bid8, 1, 7) || '-' || substr(bid8, 8) AS business_id,
    email,
    CASE WHEN p LIKE '+%' THEN p WHEN p LIKE '0%' THEN '+358' || substr(p, 2)
         ELSE '+358' || p END AS phone,
    street_address, postal_code, city, customer_group,
    lower(name) AS name_key
FROM n
"""

MATCH = """
CREATE TEMP TABLE matched AS
WITH by_bid AS (
    SELECT business_id, min(customer_number) AS first, count(*) AS hits
    FROM reg WHERE business_id IS NOT NULL GROUP BY business_id
), by_name AS (
    SELECT name_key, min(customer_number) AS first, count(*) AS hits FROM reg GROUP BY name_key
), keyed AS (
    SELECT s.*, r.customer_number AS num_hit,
        coalesce(b.hits, 0) AS bid_hits, b.first AS bid_first,
        coalesce(k.hits, 0) AS name_hits, k.first AS name_first
    FROM src s
    LEFT JOIN reg r ON r.customer_number = s.customer_number
    LEFT JOIN by_bid b ON b.business_id = s.business_id
    LEFT JOIN by_name k ON k.name_key = s.name_key
), decided AS (
    SELECT *,
        CASE WHEN customer_number IS NOT NULL THEN num_hit
             WHEN business_id IS NOT NULL THEN CASE WHEN bid_hits = 1 THEN bid_first END
             ELSE CASE WHEN name_hits = 1 THEN name_first END END AS match,
        CASE WHEN customer_number IS NOT NULL THEN 'customer_number'
             WHEN business_id IS NOT NULL THEN 'business_id' ELSE 'name' END AS key_used,
        CASE WHEN customer_number IS NOT NULL THEN
                 (num_hit IS NULL AND (bid_hits > 0 OR name_hits > 0))
                 OR (num_hit IS NOT NULL AND bid_first IS NOT NULL AND bid_first <> num_hit)
             WHEN business_id IS NOT NULL THEN bid_hits > 1
             ELSE name_hits > 1 END AS key_conflict
    FROM keyed
)
SELECT d.*, row_number() OVER (PARTITION BY match ORDER BY row) > 1 AND match IS NOT NULL
    AS duplicate
FROM decided d
"""


def _key(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return re.sub(r"[\W_]+", "", "".join(c for c in text if not unicodedata.combining(c)).lower())


def header_columns(con: duckdb.DuckDBPyConnection, source: Path, sep: str) -> str:
    """SELECT list renaming the source's headers to field names (missing ones as NULL)."""
    headers = [r[0] for r in con.execute(
        "DESCRIBE SELECT * FROM read_csv($s, delim = $d, header = true, all_varchar = true)",
        {"s": str(source), "d": sep}).fetchall()]
    lookup = {_key(a): f for f, names in ALIASES.items() for a in names}
    found = {lookup[_key(h)]: h for h in headers if _key(h) in lookup}
    return ", ".join(f'"{found[f]}" AS {f}' if f in found else f"NULL::VARCHAR AS {f}"
                     for f in FIELDS)


def load_register(con: duckdb.DuckDBPyConnection, conn: sqlite3.Connection,
                  csv: Path | None) -> None:
    """The register as DuckDB table `reg` (canonical values, name_key)."""
    if csv is not None:
        con.execute("CREATE TEMP TABLE reg AS SELECT *, lower(regexp_replace(trim(name), "
                    "'\\s+', ' ', 'g')) AS name_key FROM read_csv($p, delim = ';', "
                    "header = true, all_varchar = true)", {"p": str(csv)})
        return
    cur = conn.execute("SELECT c.customer_number, c.customer_type, c.name, c.business_id, "
                       "c.email, c.phone, c.street_address, c.postal_code, c.city, "
                       "g.name AS customer_group, c.name_key FROM customers c "
                       "LEFT JOIN groups g ON g.id = c.group_id")
    names = [d[0] for d in cur.description]
    batches = []
    while rows := cur.fetchmany(200_000):
        batches.append(pa.RecordBatch.from_arrays(
            [pa.array(col, pa.string()) for col in zip(*rows, strict=True)], names=names))
    table = pa.Table.from_batches(batches, schema=pa.schema([(n, pa.string()) for n in names]))
    con.register("reg_arrow", table)
    con.execute("CREATE TEMP TABLE reg AS SELECT * FROM reg_arrow")


def classify(con: duckdb.DuckDBPyConnection) -> None:
    """Table `result`: every row with status and one changed_<field> flag per field."""
    flags = []
    for f in COMPARED:
        new, old = (f"lower(m.{f})", f"lower(r.{f})") if f == "customer_group" else \
            (f"m.{f}", f"r.{f}")
        flags.append(f"coalesce(m.match IS NOT NULL AND m.key_used <> '{f}' AND {new} IS NOT NULL"
                     f" AND ({old} IS NULL OR {new} <> {old}), false) AS changed_{f}")
    any_change = " OR ".join(f"changed_{f}" for f in COMPARED)
    con.execute(f"""
        CREATE TEMP TABLE result AS
        WITH f AS (SELECT m.*, {', '.join(flags)} FROM matched m
                   LEFT JOIN reg r ON r.customer_number = m.match)
        SELECT *, CASE WHEN key_conflict OR duplicate THEN 'Conflict'
                       WHEN match IS NULL AND name IS NULL THEN 'Rejected'
                       WHEN match IS NULL THEN 'New'
                       WHEN {any_change} THEN 'Modified' ELSE 'No change' END AS status
        FROM f""")


def write(con: duckdb.DuckDBPyConnection, conn: sqlite3.Connection) -> None:
    """Insert New rows and update changed fields in the SQLite register, one transaction."""
    conn.execute("BEGIN")
    groups = {k: v for v, k in conn.execute("SELECT id, name_key FROM groups")}
    for (name,) in con.execute("SELECT DISTINCT customer_group FROM result WHERE status IN "
                               "('New', 'Modified') AND customer_group IS NOT NULL").fetchall():
        if name.casefold() not in groups:
            cur = conn.execute("INSERT INTO groups (name, name_key) VALUES (?, ?)",
                               (name, name.casefold()))
            groups[name.casefold()] = cur.lastrowid
    con.execute("CREATE TEMP TABLE gids (group_key VARCHAR, id BIGINT)")
    con.executemany("INSERT INTO gids VALUES (?, ?)", list(groups.items()))
    (start,) = con.execute(
        "SELECT max(TRY_CAST(customer_number AS HUGEINT)) + 1 FROM (SELECT customer_number "
        "FROM reg UNION ALL SELECT customer_number FROM result WHERE status = 'New') "
        "WHERE regexp_full_match(customer_number, '\\d+')").fetchone()
    cols = [f for f in FIELDS if f != "customer_group"] + ["group_id", "name_key"]
    inserts = con.execute(f"""
        SELECT coalesce(customer_number, CAST({start or 1} - 1 + row_number() OVER (
                   PARTITION BY customer_number IS NULL ORDER BY row) AS VARCHAR)),
               coalesce(customer_type, CASE WHEN business_id IS NULL THEN 'person'
                                            ELSE 'company' END),
               name, business_id, email, phone, street_address, postal_code, city,
               g.id, result.name_key
        FROM result LEFT JOIN gids g ON g.group_key = lower(customer_group)
        WHERE status = 'New' ORDER BY row""").fetchall()
    conn.executemany(f"INSERT INTO customers ({', '.join(cols)}) "
                     f"VALUES ({', '.join('?' * len(cols))})", inserts)
    for f in COMPARED:
        column, value = (("group_id", "g.id") if f == "customer_group" else (f, f))
        pairs = con.execute(f"SELECT {value}, match FROM result LEFT JOIN gids g "
                            f"ON g.group_key = lower(customer_group) WHERE status = 'Modified' "
                            f"AND changed_{f}").fetchall()
        conn.executemany(f"UPDATE customers SET {column} = ? WHERE customer_number = ?", pairs)
        if f == "name":
            conn.executemany("UPDATE customers SET name_key = ? WHERE customer_number = ?",
                             con.execute("SELECT name_key, match FROM result WHERE "
                                         "status = 'Modified' AND changed_name").fetchall())
    conn.execute("COMMIT")


def main() -> None:
    """Run the job and print the counts as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--register-csv", type=Path, help="read the register from this export")
    parser.add_argument("--sep", default=";", help="source delimiter")
    parser.add_argument("--dry-run", action="store_true", help="classify only, write nothing")
    args = parser.parse_args()
    con = duckdb.connect()
    conn = sqlite3.connect(args.db, isolation_level=None)
    columns = header_columns(con, args.source, args.sep)
    trimmed = ", ".join(f"nullif(trim({f}), '') AS {f}" for f in FIELDS)
    con.execute(NORMALISE.format(columns=columns, trimmed=trimmed),
                {"source": str(args.source), "sep": args.sep})
    load_register(con, conn, args.register_csv)
    con.execute(MATCH)
    classify(con)
    if not args.dry_run:
        write(con, conn)
    conn.close()
    counts = dict(con.execute("SELECT status, count(*) FROM result GROUP BY status").fetchall())
    print(json.dumps({key: int(counts.get(status, 0)) for key, status in (
        ("new", "New"), ("modified", "Modified"), ("unchanged", "No change"),
        ("conflict", "Conflict"), ("rejected", "Rejected"))}))


if __name__ == "__main__":
    main()
