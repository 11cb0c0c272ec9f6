"""Generate a regsync register and a source file to import into it, seeded and vectorised.

    python benchmarks/generate.py --register 1000000 --source 100000 --seed 1 \
        --out benchmarks/data/small

writes into OUT:

- `register.db`: a regsync SQLite register of N customers (made with
  `SQLiteRegister.open(create=True)`, rows bulk-inserted in one transaction);
- `register.csv`: the same register, canonical values, English headers, `;`;
- `source.csv`: M rows to import: by default 20% New, 30% Modified, 50% No change,
  with spreadsheet damage (postal codes and Y-tunnus without their leading zero,
  phones without their trunk 0) and headers in one language (fi, sv, cs, en);
- `expected.json`: the counts regsync should report, and the generation settings.

Every value is built with numpy and polars over whole columns; the only per-row Python
is sqlite3's executemany over the finished rows.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sync.namekey import first_members, name_blocks  # noqa: E402
from sync.normalise import name_key  # noqa: E402
from sync.writers.register.sqlite import SQLiteRegister  # noqa: E402

NUMBER_BASE = 10_000_000  # customer numbers are NUMBER_BASE + index: 8 digits, no leading 0

FIRST_NAMES = [
    "Matti", "Liisa", "Juha", "Anna", "Mikko", "Päivi", "Timo", "Sari", "Jari", "Tiina",
    "Kari", "Minna", "Antti", "Hanna", "Pekka", "Laura", "Ville", "Elina", "Janne", "Johanna",
    "Jukka", "Katja", "Markku", "Riikka", "Sami", "Heidi", "Tuomas", "Satu", "Väinö", "Aino",
    "Erik", "Åsa", "Lars", "Karin", "Jan", "Věra", "Petr", "Jana", "Tomáš", "Eva",
    "Olli", "Noora", "Heikki", "Emilia", "Eero", "Sofia", "Lauri", "Helmi", "Aleksi", "Venla",
    "Niko", "Iida", "Joonas", "Kaisa", "Risto", "Marja", "Teemu", "Outi", "Jyrki", "Leena",
    "Arto", "Tuula", "Seppo", "Ritva",
]
SYLLABLES = [
    "ka", "la", "mi", "ko", "ri", "ta", "ne", "vu", "sa", "lo", "pe", "hu", "ja", "ro", "ki",
    "ma", "te", "no", "va", "si", "ku", "le", "po", "ha", "tu", "mo", "re", "nu", "li", "ve",
    "sy", "ai",
]
ENDINGS = ["nen", "la", "lä", "sto", "mäki", "niemi", "salo", "koski"]
INDUSTRIES = [
    "Rakennus", "Kahvila", "Konepaja", "Kuljetus", "Sähkö", "Puutarha", "Leipomo", "Kiinteistö",
    "Tilitoimisto", "Auto", "Metalli", "Maalaus", "Putki", "Siivous", "Kukka", "Ravintola",
    "Parturi", "Optiikka", "Kirja", "Urheilu", "Kala", "Liha", "Lvi", "Valokuva",
    "Mainos", "Matka", "Laki", "Hammas", "Eläin", "Muotoilu", "Ohjelmisto", "Energia",
]
LEGAL_FORMS = ["Oy", "Oy", "Oy", "Ab", "Ky", "Tmi", "Oyj", "Ay"]
STREETS = [
    "Mannerheimintie", "Hämeenkatu", "Aurakatu", "Kirkkokatu", "Rautatienkatu", "Koulukatu",
    "Asemakatu", "Puistokatu", "Satamakatu", "Kauppakatu", "Kalevankatu", "Tehtaankatu",
    "Pohjoisesplanadi", "Läntinen Pitkäkatu", "Itäinen Rantakatu", "Sibeliuksenkatu",
]
# (city, postal code prefix, postal code range): many Helsinki-area codes start with 0.
CITIES = [
    ("Helsinki", 0, 990), ("Espoo", 2100, 900), ("Vantaa", 1200, 800), ("Kauniainen", 2700, 1),
    ("Turku", 20000, 900), ("Tampere", 33000, 900), ("Oulu", 90000, 900),
    ("Jyväskylä", 40000, 700), ("Kuopio", 70000, 800), ("Lahti", 15000, 900),
    ("Pori", 28000, 600), ("Vaasa", 65000, 400), ("Porvoo", 6100, 400), ("Hyvinkää", 5800, 200),
]
GROUP_NAMES = [
    "Helsinki", "Espoo", "Vantaa", "Turku", "Tampere", "Oulu", "Uusimaa", "Pirkanmaa",
    "Varsinais-Suomi", "Pohjois-Pohjanmaa", "Keski-Suomi", "Pohjois-Savo", "Päijät-Häme",
    "Satakunta", "Pohjanmaa", "Itä-Uusimaa", "Avainasiakkaat", "Pienyritykset", "Kuluttajat",
    "Jälleenmyyjät", "Tukkurit", "Julkinen sektori", "Yhdistykset", "Vientiasiakkaat",
    "Kanta-asiakkaat", "VIP", "Uudet", "Passiiviset", "Verkkokauppa", "Myymälä", "Sopimus A",
    "Sopimus B", "Sopimus C", "Huolto", "Projektit", "Rakentajat", "Ravintolat", "Kaupat",
    "Terveys", "Koulutus", "Logistiikka", "Teollisuus", "IT", "Media", "Matkailu", "Maatalous",
    "Energia", "Kiinteistöt", "Rahoitus", "Muut",
]
EMAIL_DOMAINS = ["example.fi", "Example.COM", "posti.example", "yritys.example", "mail.example"]

# Source headers per language (spec section 10) and customer type values per language.
HEADERS = {
    "en": ["customer_number", "customer_type", "name", "business_id", "email", "phone",
           "street_address", "postal_code", "city", "customer_group"],
    "fi": ["Asiakasnumero", "Asiakastyyppi", "Nimi", "Y-tunnus", "Sähköposti", "Puhelin",
           "Katuosoite", "Postinumero", "Postitoimipaikka", "Asiakasryhmä"],
    "sv": ["Kundnummer", "Kundtyp", "Namn", "Organisationsnummer", "E-post", "Telefon",
           "Gatuadress", "Postnummer", "Postort", "Kundgrupp"],
    "cs": ["Číslo zákazníka", "Typ zákazníka", "Název", "IČO", "E-mail", "Telefon", "Ulice",
           "PSČ", "Město", "Skupina zákazníků"],
}
TYPE_VALUES = {
    "en": ("company", "person"),
    "fi": ("Yritys", "Henkilö"),
    "sv": ("Företag", "Privatperson"),
    "cs": ("Firma", "Fyzická osoba"),
}
SOURCE_FIELDS = HEADERS["en"]
REGISTER_FIELDS = ["customer_number", "customer_type", "name", "business_id", "email", "phone",
                   "street_address", "postal_code", "city", "country", "customer_group",
                   "language"]


@dataclass(frozen=True)
class Settings:
    """The knobs of one generated data set."""

    register: int
    source: int
    seed: int
    new: float = 0.20
    modified: float = 0.30
    damage: float = 0.10
    no_number: float = 0.10
    blank: float = 0.05
    language: str = "fi"
    delimiter: str = ";"


# --- small vectorised helpers -----------------------------------------------------------


def _pick(words: list[str], index: np.ndarray) -> pl.Series:
    """words[index] as a String series, without a Python loop over rows."""
    return pl.Series(values=np.asarray(words, dtype=object)[index], dtype=pl.String)


def _digits(values: np.ndarray, width: int) -> pl.Series:
    """Non-negative integers as zero-padded decimal text."""
    return pl.Series(values=values, dtype=pl.Int64).cast(pl.String).str.zfill(width)


def _scramble(index: np.ndarray, space: int, seed: int) -> np.ndarray:
    """A bijection of [0, space) (space a power of two): distinct in, distinct out."""
    rng = np.random.default_rng(seed)
    mult = int(rng.integers(space // 4, space // 2)) | 1
    add = int(rng.integers(0, space))
    return (index.astype(np.int64) * mult + add) % space


def surnames(ids: np.ndarray) -> pl.Series:
    """Distinct surnames for distinct ids (< 32**3 * 8): three syllables and an ending."""
    s = len(SYLLABLES)
    parts = pl.DataFrame({f"p{k}": _pick(SYLLABLES, (ids // s**k) % s) for k in range(3)})
    parts = parts.with_columns(_pick(ENDINGS, (ids // s**3) % len(ENDINGS)).alias("end"))
    text = parts.select(pl.concat_str(["p0", "p1", "p2", "end"])).to_series()
    return text.str.slice(0, 1).str.to_uppercase() + text.str.slice(1)


def ytunnus_check(base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Check digits of 7-digit FI Y-tunnus bases, and which bases have a valid one."""
    weights = np.array([7, 9, 10, 5, 8, 4, 2])
    digits = (base[:, None] // 10 ** np.arange(6, -1, -1)) % 10
    rem = (digits * weights).sum(axis=1) % 11
    return np.where(rem == 0, 0, 11 - rem), rem != 1


_YTUNNUS_SPACE = 10_000_000


def business_ids(rng: np.random.Generator, count: int) -> pl.Series:
    """`count` distinct valid FI Y-tunnus in canonical form `1234567-8` (some start with 0)."""
    base = rng.choice(_YTUNNUS_SPACE, size=int(count * 1.15) + 1000, replace=False)
    check, valid = ytunnus_check(base)
    base, check = base[valid][:count], check[valid][:count]
    if len(base) < count:
        raise ValueError("not enough distinct Y-tunnus")
    parts = pl.DataFrame({"base": _digits(base, 7), "check": _digits(check, 1)})
    return parts.select(pl.concat_str(["base", pl.lit("-"), "check"])).to_series()


# --- customers ----------------------------------------------------------------------------


def customers(rng: np.random.Generator, start: int, count: int, seed: int,
              bids: pl.Series) -> pl.DataFrame:
    """`count` canonical customers with indexes start.. (numbers, names unique by index).

    `bids` holds one distinct business id per index (only companies use theirs), or,
    when shorter than `count`, one per company in order.
    """
    idx = np.arange(start, start + count, dtype=np.int64)
    company = rng.random(count) < 0.6
    if len(bids) < count:
        bids = bids.gather(np.clip(np.cumsum(company) - 1, 0, len(bids) - 1))
    s3 = len(SYLLABLES) ** 3 * len(ENDINGS)  # 262144 surnames
    person_id = _scramble(idx, s3 * 64, seed + 11)  # surname x first name, unique per index
    company_id = _scramble(idx, s3 * 32, seed + 13)  # surname x industry, unique per index
    parts = pl.DataFrame({
        "first": _pick(FIRST_NAMES, person_id % 64),
        "person_surname": surnames(person_id // 64),
        "firm_surname": surnames(company_id // 32),
        "industry": _pick(INDUSTRIES, company_id % 32),
        "form": _pick(LEGAL_FORMS, rng.integers(0, len(LEGAL_FORMS), count)),
    })
    names = parts.select(
        pl.concat_str(["first", "person_surname"], separator=" ").alias("person"),
        pl.concat_str(["firm_surname", "industry", "form"], separator=" ").alias("firm"))
    city_i = rng.integers(0, len(CITIES), count)
    prefix = np.array([c[1] for c in CITIES])[city_i]
    spread = np.array([c[2] for c in CITIES])[city_i]
    postal = prefix + (rng.integers(0, 1 << 30, count) % spread) // 10 * 10
    mobile = rng.choice([40, 41, 44, 45, 46, 50], count) * 10_000_000 \
        + rng.integers(0, 10_000_000, count)
    group = rng.integers(0, len(GROUP_NAMES), count)
    frame = pl.DataFrame({
        "_i": idx,
        "_company": company,
        "customer_number": (idx + NUMBER_BASE).astype(str),
        "_person": names["person"],
        "_firm": names["firm"],
        "_bid": bids,
        "_street": _pick(STREETS, rng.integers(0, len(STREETS), count)),
        "_house": rng.integers(1, 200, count),
        "postal_code": _digits(postal, 5),
        "city": _pick([c[0] for c in CITIES], city_i),
        "_mobile": mobile,
        "_has_phone": rng.random(count) < 0.85,
        "_has_email": rng.random(count) < 0.9,
        "_has_group": rng.random(count) < 0.9,
        "customer_group": _pick(GROUP_NAMES, group),
        "_domain": _pick(EMAIL_DOMAINS, rng.integers(0, len(EMAIL_DOMAINS), count)),
        "language": np.where(rng.random(count) < 0.9, "fi", "sv"),
    })
    ascii_local = {"ä": "a", "ö": "o", "å": "a", "é": "e", "ě": "e", "á": "a", "š": "s"}
    is_company = pl.col("_company")
    name = pl.when(is_company).then(pl.col("_firm")).otherwise(pl.col("_person"))
    local = (pl.when(is_company).then(pl.concat_str([pl.lit("info."), pl.col("customer_number")]))
             .otherwise(pl.col("_person").str.to_lowercase().str.replace_all(" ", "."))
             .str.replace_many(list(ascii_local), list(ascii_local.values())))
    return frame.select(
        "_i", "customer_number",
        pl.when(is_company).then(pl.lit("company")).otherwise(pl.lit("person"))
        .alias("customer_type"),
        name.alias("name"),
        pl.when(is_company).then(pl.col("_bid")).alias("business_id"),
        pl.when(pl.col("_has_email"))
        .then(pl.concat_str([local, pl.lit("@"), pl.col("_domain").str.to_lowercase()]))
        .alias("email"),
        pl.when(pl.col("_has_phone"))
        .then(pl.concat_str([pl.lit("+358"), pl.col("_mobile").cast(pl.String)]))
        .alias("phone"),
        pl.concat_str([pl.col("_street"), pl.lit(" "), pl.col("_house").cast(pl.String)])
        .alias("street_address"),
        "postal_code", "city", pl.lit("FI").alias("country"),
        pl.when(pl.col("_has_group")).then(pl.col("customer_group")).alias("customer_group"),
        "language",
    )


# --- the register -------------------------------------------------------------------------


def write_register(reg: pl.DataFrame, path: Path) -> None:
    """Create a regsync SQLite register at `path` holding `reg` (one transaction)."""
    if path.exists():
        path.unlink()
    SQLiteRegister.open(path, create=True).close()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO groups (id, name, name_key) VALUES (?, ?, ?)",
                         [(i + 1, g, g.casefold()) for i, g in enumerate(GROUP_NAMES)])
        group_id = {g: i + 1 for i, g in enumerate(GROUP_NAMES)}
        columns = [f for f in REGISTER_FIELDS if f != "customer_group"]
        rows = reg.select(
            *columns,
            pl.col("customer_group").replace_strict(group_id, default=None,
                                                    return_dtype=pl.Int64).alias("group_id"),
            name_key(pl.col("name")).alias("name_key"))
        names = [*columns, "group_id", "name_key"]
        conn.executemany(
            f"INSERT INTO customers ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            rows.iter_rows())
        # The similarity scan's name blocks, as a commit into an empty register keeps them.
        blocks = first_members(name_blocks(reg["customer_number"], reg["name"]).sort(
            "block", "customer_number"))
        conn.executemany("INSERT INTO name_blocks (block, customer_number, name) "
                         "VALUES (?, ?, ?)",
                         blocks.iter_rows())
        conn.execute("COMMIT")
    finally:
        conn.close()


# --- the source ---------------------------------------------------------------------------


def _mask(rng: np.random.Generator, n: int, rate: float) -> pl.Series:
    return pl.Series(values=rng.random(n) < rate, dtype=pl.Boolean)


def source_rows(rng: np.random.Generator, reg: pl.DataFrame, new: pl.DataFrame,
                s: Settings) -> tuple[pl.DataFrame, dict[str, int]]:
    """The source rows (canonical values first, then formatted and damaged) and the counts."""
    m = s.source
    n_new = new.height
    n_mod = int(round(m * s.modified))
    n_same = m - n_new - n_mod
    picked = rng.choice(reg.height, size=n_mod + n_same, replace=False)
    old = reg[picked]
    kind = np.array(["modified"] * n_mod + ["same"] * n_same)
    # Modified rows change exactly one field, always to a value the register does not hold.
    which = rng.integers(0, 5, n_mod + n_same)
    which[n_mod:] = -1
    w = pl.Series(which)
    house = old["street_address"].str.extract(r"(\d+)$").cast(pl.Int64)
    street = old["street_address"].str.replace(r" \d+$", "")
    group_i = old["customer_group"].replace_strict(
        {g: i for i, g in enumerate(GROUP_NAMES)}, default=0, return_dtype=pl.Int64)
    other_group = _pick(GROUP_NAMES, ((group_i.to_numpy() + rng.integers(
        1, len(GROUP_NAMES), old.height)) % len(GROUP_NAMES)))
    phone_num = rng.choice([40, 50], old.height) * 10_000_000 + rng.integers(
        0, 10_000_000, old.height)
    new_phone = pl.Series(np.char.add("+358", phone_num.astype(str)))
    changed = old.with_columns(
        pl.when(w == 0).then(pl.concat_str([pl.lit("uusi."), pl.col("email").fill_null(
            pl.concat_str([pl.lit("x"), pl.col("customer_number"), pl.lit("@example.fi")]))]))
        .otherwise(pl.col("email")).alias("email"),
        pl.when((w == 1) & (new_phone != pl.col("phone").fill_null(""))).then(new_phone)
        .when(w == 1).then(pl.lit("+358451234567")).otherwise(pl.col("phone")).alias("phone"),
        pl.when(w == 2).then(pl.concat_str([street, pl.lit(" "), (house + 200).cast(pl.String)]))
        .otherwise(pl.col("street_address")).alias("street_address"),
        pl.when(w == 3).then(other_group).otherwise(pl.col("customer_group"))
        .alias("customer_group"),
        pl.when(w == 4).then(pl.lit("00980")).otherwise(pl.col("postal_code"))
        .alias("postal_code"),
        pl.when(w == 4).then(pl.lit("Helsinki")).otherwise(pl.col("city")).alias("city"),
    ).with_columns(
        # A move to 00980 Helsinki is no change for a customer already there: move to 00990.
        pl.when((w == 4) & (pl.Series(old["postal_code"]) == "00980"))
        .then(pl.lit("00990")).otherwise(pl.col("postal_code")).alias("postal_code"))
    changed = changed.with_columns(pl.Series("_kind", kind), pl.Series("_which", which))
    fresh = new.with_columns(pl.lit("new").alias("_kind"), pl.lit(-1).alias("_which"))
    rows = pl.concat([changed, fresh], how="vertical_relaxed")
    rows = rows[rng.permutation(rows.height)]
    counts = {"new": n_new, "modified": n_mod, "unchanged": n_same, "conflict": 0,
              "rejected": 0}
    return rows, counts


def format_source(rng: np.random.Generator, rows: pl.DataFrame, s: Settings) -> pl.DataFrame:
    """Canonical rows -> what a spreadsheet export holds: variants, blanks and damage."""
    n = rows.height
    damage = s.damage
    no_number = _mask(rng, n, s.no_number)
    form = pl.Series(rng.integers(0, 10, n))
    bid = pl.col("business_id")
    bid_compact = bid.str.replace("-", "")
    phone_national = pl.concat_str([pl.lit("0"), pl.col("phone").str.slice(4)])
    phone_spaced = pl.concat_str([phone_national.str.slice(0, 3), pl.lit(" "),
                                  phone_national.str.slice(3, 3), pl.lit(" "),
                                  phone_national.str.slice(6)])
    types = TYPE_VALUES[s.language]
    # Blank cells never change anything; never blank the field a Modified row changes.
    which = pl.col("_which")
    blank = {f: _mask(rng, n, s.blank) for f in ("email", "phone", "street_address", "city",
                                                 "customer_group")}
    field_of = {"email": 0, "phone": 1, "street_address": 2, "customer_group": 3, "city": 4}

    def blanked(field: str, expr: pl.Expr) -> pl.Expr:
        drop = pl.lit(blank[field]) & (which != field_of[field])
        return pl.when(drop).then(None).otherwise(expr).alias(field)

    # Keys: a matched row without number is found by business_id (companies) or by name.
    # A New row keeps its number unless it has none (then regsync gives it one).
    out = rows.with_columns(
        pl.when(pl.lit(no_number)).then(None).otherwise(pl.col("customer_number"))
        .alias("customer_number"),
        pl.when(pl.col("customer_type") == "company").then(pl.lit(types[0]))
        .otherwise(pl.lit(types[1])).alias("customer_type"),
        # Whitespace noise in names (collapsed by every normaliser).
        pl.when(pl.lit(_mask(rng, n, damage))).then(pl.col("name").str.replace(" ", "  "))
        .otherwise(pl.col("name")).alias("name"),
        pl.when(pl.lit(form) < 1).then(pl.concat_str([pl.lit("FI"), bid_compact]))
        .when(pl.lit(form) < 2).then(bid_compact)
        .when(pl.lit(_mask(rng, n, damage)) & bid.str.starts_with("0")).then(bid.str.slice(1))
        .otherwise(bid).alias("business_id"),
        # Some exports upper-case the domain (canonical e-mail domains are lower case).
        blanked("email", pl.when(pl.lit(form) >= 8)
                .then(pl.concat_str([pl.col("email").str.extract(r"^(.*@)"),
                                     pl.col("email").str.extract(r"@(.*)$").str.to_uppercase()]))
                .otherwise(pl.col("email"))),
        blanked("phone",
                pl.when(pl.lit(form) < 3).then(pl.col("phone"))
                .when(pl.lit(_mask(rng, n, damage))).then(phone_national.str.slice(1))
                .when(pl.lit(form) < 7).then(phone_spaced).otherwise(phone_national)),
        blanked("street_address", pl.col("street_address")),
        pl.when(pl.lit(_mask(rng, n, damage)) & pl.col("postal_code").str.starts_with("0"))
        .then(pl.col("postal_code").str.strip_chars_start("0"))
        .otherwise(pl.col("postal_code")).alias("postal_code"),
        blanked("city", pl.col("city")),
        blanked("customer_group", pl.col("customer_group")),
    )
    return out.select(SOURCE_FIELDS).rename(dict(zip(SOURCE_FIELDS, HEADERS[s.language],
                                                     strict=True)))


# --- main -----------------------------------------------------------------------------------


def generate(s: Settings, out: Path) -> dict[str, object]:
    """Write register.db, register.csv, source.csv and expected.json into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(s.seed)
    n_new = int(round(s.source * s.new))
    started = time.perf_counter()
    if (s.register + n_new) * 1.15 + 1000 <= _YTUNNUS_SPACE:
        bids = business_ids(rng, s.register + n_new)
        reg_bids, new_bids = bids[: s.register], bids[s.register:]
    else:
        # More customers than distinct Y-tunnus: only companies (60%) get one.
        reg_share, new_share = int(s.register * 0.61) + 1000, int(n_new * 0.61) + 1000
        bids = business_ids(rng, reg_share + new_share)
        reg_bids, new_bids = bids[:reg_share], bids[reg_share:]
    reg = customers(rng, 0, s.register, s.seed, reg_bids)
    new = customers(rng, s.register, n_new, s.seed, new_bids)
    t_values = time.perf_counter() - started
    write_register(reg.drop("_i"), out / "register.db")
    reg.drop("_i").write_csv(out / "register.csv", separator=";")
    t_register = time.perf_counter() - started - t_values
    rows, counts = source_rows(rng, reg, new, s)
    source = format_source(rng, rows, s)
    source.write_csv(out / "source.csv", separator=s.delimiter)
    expected = {"counts": counts, "settings": asdict(s),
                "files": {"register": "register.db", "register_csv": "register.csv",
                          "source": "source.csv"},
                "seconds": {"values": round(t_values, 2), "register": round(t_register, 2),
                            "total": round(time.perf_counter() - started, 2)}}
    (out / "expected.json").write_text(json.dumps(expected, indent=2, ensure_ascii=False) + "\n")
    return expected


def main(argv: list[str] | None = None) -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--register", type=int, required=True, help="customers in the register")
    parser.add_argument("--source", type=int, required=True, help="rows in the source file")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--new", type=float, default=0.20, help="share of New rows")
    parser.add_argument("--modified", type=float, default=0.30, help="share of Modified rows")
    parser.add_argument("--damage", type=float, default=0.10,
                        help="chance that a damageable cell is damaged")
    parser.add_argument("--no-number", type=float, default=0.10,
                        help="share of rows without a customer_number")
    parser.add_argument("--blank", type=float, default=0.05,
                        help="share of empty optional cells")
    parser.add_argument("--language", choices=sorted(HEADERS), default="fi",
                        help="language of the source headers and type values")
    parser.add_argument("--delimiter", default=";")
    args = parser.parse_args(argv)
    if args.new + args.modified > 1 or args.source > args.register * 4:
        parser.error("--new + --modified must be <= 1 and the register large enough")
    settings = Settings(register=args.register, source=args.source, seed=args.seed,
                        new=args.new, modified=args.modified, damage=args.damage,
                        no_number=args.no_number, blank=args.blank, language=args.language,
                        delimiter=args.delimiter)
    expected = generate(settings, args.out)
    print(json.dumps(expected, ensure_ascii=False))


if __name__ == "__main__":
    main()
