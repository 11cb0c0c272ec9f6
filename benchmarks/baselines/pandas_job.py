"""The import job as an analyst writes it with pandas (a benchmark baseline, not regsync).

    python benchmarks/baselines/pandas_job.py SOURCE --db REGISTER.db [--register-csv CSV]

Reads the source as text, normalises the few fields spreadsheets damage, matches by
customer_number, then business_id, then name, classifies New / Modified / No change
(plus the obvious Conflicts), and inserts/updates the SQLite register in one
transaction. Prints the counts as one JSON object. It does not write change history or
flag possible duplicates (regsync does both).
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import unicodedata
from pathlib import Path

import pandas as pd

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
TYPES = {"company": "company", "yritys": "company", "företag": "company", "firma": "company",
         "person": "person", "henkilö": "person", "privatperson": "person",
         "fyzická osoba": "person"}


def _key(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return re.sub(r"[\W_]+", "", "".join(c for c in text if not unicodedata.combining(c)).lower())


def read_source(path: Path, sep: str) -> pd.DataFrame:
    """The source as text, headers renamed to field names, blanks as missing."""
    df = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    lookup = {_key(a): f for f, names in ALIASES.items() for a in names}
    df = df.rename(columns={c: lookup[_key(c)] for c in df.columns if _key(c) in lookup})
    for field in FIELDS:
        if field not in df.columns:
            df[field] = ""
    df = df[FIELDS].apply(lambda s: s.str.strip()).replace("", None)
    df.insert(0, "row", range(2, len(df) + 2))
    return df


def normalise(df: pd.DataFrame) -> pd.DataFrame:
    """Canonical values for the fields that need it."""
    df["name"] = df["name"].str.replace(r"\s+", " ", regex=True)
    df["customer_type"] = df["customer_type"].str.lower().map(TYPES)
    bid = df["business_id"].str.upper().str.replace(r"[\s.\-]", "", regex=True)
    bid = bid.str.replace(r"^FI", "", regex=True).str.zfill(8)
    df["business_id"] = bid.str[:7] + "-" + bid.str[7:]
    phone = df["phone"].str.replace(r"[\s()\-]", "", regex=True)
    df["phone"] = phone.where(phone.str.startswith("+", na=False),
                              "+358" + phone.str.replace(r"^0", "", regex=True))
    postal = df["postal_code"]
    df["postal_code"] = postal.where(~postal.str.fullmatch(r"\d{1,4}", na=False),
                                     postal.str.zfill(5))
    parts = df["email"].str.rsplit("@", n=1, expand=True)
    if parts.shape[1] == 2:
        df["email"] = parts[0] + "@" + parts[1].str.lower()
    df["name_key"] = df["name"].str.lower()
    return df


def read_register(conn: sqlite3.Connection, csv: Path | None) -> pd.DataFrame:
    """The whole register (from its CSV export when given, else from SQLite)."""
    if csv is not None:
        reg = pd.read_csv(csv, sep=";", dtype=str, keep_default_na=False).replace("", None)
    else:
        reg = pd.read_sql("SELECT c.*, g.name AS customer_group FROM customers c "
                          "LEFT JOIN groups g ON g.id = c.group_id", conn)
    reg["name_key"] = reg["name"].str.replace(r"\s+", " ", regex=True).str.strip().str.lower()
    return reg


def match(src: pd.DataFrame, reg: pd.DataFrame) -> pd.DataFrame:
    """Add `match` (a customer number), `matched_by` and `conflict` to every source row."""
    numbers = set(reg["customer_number"])
    by_bid = reg.dropna(subset=["business_id"]).groupby("business_id")["customer_number"]
    by_name = reg.groupby("name_key")["customer_number"]
    bid_first, bid_count = by_bid.first(), by_bid.count()
    name_first, name_count = by_name.first(), by_name.count()
    has_num = src["customer_number"].notna()
    has_bid = ~has_num & src["business_id"].notna()
    has_name = ~has_num & ~has_bid
    src["bid_hits"] = src["business_id"].map(bid_count).fillna(0)
    src["name_hits"] = src["name_key"].map(name_count).fillna(0)
    known = src["customer_number"].isin(numbers)
    src["match"] = None
    src["matched_by"] = None
    src.loc[has_num & known, "match"] = src["customer_number"]
    src.loc[has_num & known, "matched_by"] = "customer_number"
    one_bid = has_bid & (src["bid_hits"] == 1)
    src.loc[one_bid, "match"] = src.loc[one_bid, "business_id"].map(bid_first)
    src.loc[one_bid, "matched_by"] = "business_id"
    one_name = has_name & (src["name_hits"] == 1)
    src.loc[one_name, "match"] = src.loc[one_name, "name_key"].map(name_first)
    src.loc[one_name, "matched_by"] = "name"
    bid_owner = src["business_id"].map(bid_first)
    src["conflict"] = (
        (has_num & ~known & ((src["bid_hits"] > 0) | (src["name_hits"] > 0)))
        | (has_num & known & bid_owner.notna() & (bid_owner != src["customer_number"]))
        | (has_bid & (src["bid_hits"] > 1)) | (has_name & (src["name_hits"] > 1))
        | (src["match"].notna() & src.duplicated(subset=["match"]))
    )
    return src


def classify(src: pd.DataFrame, reg: pd.DataFrame) -> pd.DataFrame:
    """Status per row and the list of changed fields of matched rows."""
    old = reg.set_index("customer_number")[COMPARED]
    merged = src.join(old.add_suffix("_old"), on="match")
    any_change = pd.Series(False, index=src.index)
    for field in COMPARED:
        new, before = merged[field], merged[field + "_old"]
        if field == "customer_group":
            new, before = new.str.lower(), before.str.lower()
        differs = new.notna() & (before.isna() | (new != before))
        src["changed_" + field] = differs & (merged["matched_by"] != field)
        any_change |= src["changed_" + field]
    src["status"] = "No change"
    src.loc[any_change, "status"] = "Modified"
    src.loc[src["match"].isna(), "status"] = "New"
    src.loc[(src["status"] == "New") & src["name"].isna(), "status"] = "Rejected"
    src.loc[src["conflict"], "status"] = "Conflict"
    return src


def write(conn: sqlite3.Connection, src: pd.DataFrame, reg: pd.DataFrame) -> None:
    """Insert New rows and update Modified fields, in one transaction."""
    conn.execute("BEGIN")
    applied = src[src["status"].isin(["New", "Modified"])]
    groups = {k: v for v, k in conn.execute("SELECT id, name_key FROM groups")}
    for name in applied["customer_group"].dropna().unique():
        if name.casefold() not in groups:
            cur = conn.execute("INSERT INTO groups (name, name_key) VALUES (?, ?)",
                               (name, name.casefold()))
            groups[name.casefold()] = cur.lastrowid
    new = src[src["status"] == "New"].copy()
    digits = reg["customer_number"][reg["customer_number"].str.fullmatch(r"\d+")]
    new_max = pd.to_numeric(new["customer_number"], errors="coerce").max(skipna=True)
    start = int(max(digits.astype("int64").max(), 0 if pd.isna(new_max) else new_max)) + 1
    missing = new["customer_number"].isna()
    new.loc[missing, "customer_number"] = [str(start + i) for i in range(missing.sum())]
    new["customer_type"] = new["customer_type"].fillna(
        new["business_id"].notna().map({True: "company", False: "person"}))
    new["group_id"] = new["customer_group"].str.casefold().map(groups)
    cols = [f for f in FIELDS if f != "customer_group"] + ["group_id", "name_key"]
    rows = new[cols].astype(object).where(new[cols].notna(), None).values.tolist()
    conn.executemany(f"INSERT INTO customers ({', '.join(cols)}) "
                     f"VALUES ({', '.join('?' * len(cols))})", rows)
    modified = src[src["status"] == "Modified"]
    for field in COMPARED:
        part = modified[modified["changed_" + field]]
        if part.empty:
            continue
        column, values = field, part[field]
        if field == "customer_group":
            column, values = "group_id", values.str.casefold().map(groups)
        conn.executemany(f"UPDATE customers SET {column} = ? WHERE customer_number = ?",
                         list(zip(values, part["match"], strict=True)))
        if field == "name":
            conn.executemany("UPDATE customers SET name_key = ? WHERE customer_number = ?",
                             list(zip(part["name_key"], part["match"], strict=True)))
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
    conn = sqlite3.connect(args.db, isolation_level=None)
    src = normalise(read_source(args.source, args.sep))
    reg = read_register(conn, args.register_csv)
    src = classify(match(src, reg), reg)
    if not args.dry_run:
        write(conn, src, reg)
    conn.close()
    counts = src["status"].value_counts()
    print(json.dumps({key: int(counts.get(status, 0)) for key, status in (
        ("new", "New"), ("modified", "Modified"), ("unchanged", "No change"),
        ("conflict", "Conflict"), ("rejected", "Rejected"))}))


if __name__ == "__main__":
    main()
