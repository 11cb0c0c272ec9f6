"""A register's whole life, as a hypothesis state machine.

One register (an SQLite file, or a fresh PostgreSQL schema) goes through a random
sequence of what users do to it, each through the real command line (in-process):
imports of small files that collide on names, numbers, business ids and group
spellings; the same file again; an export and its import back; reverts of any earlier
batch; locks, unlocks, invalidations and restores; previews committed at once, after
another command (a stale plan), or twice. After every step the rules users rely on are
checked (spec sections 5-7):

1. an import never deletes a customer or empties a field; only a revert removes one
   (the customers its batch created);
2. the same file imported again at once is all No change (but for rows that were not
   applied the first time, or whose match became ambiguous through the first run's own
   New rows: spec section 4 matches no source row against another);
3. an export imported back is all No change;
4. a refused command (exit 2 or 3) changes nothing;
5. an accepted revert puts back exactly the state before its batch, for the customers
   that batch touched, and changes no other customer;
6. the change history, replayed, is the register (every field, lock and invalidation);
7. the stored name blocks are those of the customers' current names;
8. locked and invalidated customers are never changed by an import;
9. exit codes follow the statuses: 0 when every row applied or unchanged, else 1;
and a commit changes exactly what its report said (New rows inserted, Modified rows'
changed_fields and nothing else), and a stale plan is committed only when a fresh
preview of its file would say the same.

Cost: the defaults are small for the suite (10 examples on SQLite, 6 on PostgreSQL, of
up to 8 steps). For a hunt, raise them:
    REGSYNC_LIFE_EXAMPLES=300 REGSYNC_LIFE_STEPS=20 pytest tests/test_register_lifecycle.py \
        --hypothesis-seed=1
REGSYNC_LIFE_NO_SHRINK=1 reports a failure at once, unshrunk (shrinking steps of ~0.1 s
each can take Hypothesis's whole 5 minutes). REGSYNC_LIFE_LOCKSTEP=1 adds a case
driving an SQLite and a PostgreSQL register through the same steps and comparing every
output and state of the two.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from sync.namekey import name_blocks
from sync.types import FIELDS
from sync.writers.register import open_register
from tests.conftest import PG_URL, Run, report_rows, require_postgres, run_cli

# A command costs about 0.1 s on SQLite and 0.2 s on PostgreSQL (more connections and
# round trips): each engine's case takes 6-8 s at these defaults on the 2-core machine.
EXAMPLES = {"sqlite": 10, "postgresql": 4}
if os.environ.get("REGSYNC_LIFE_EXAMPLES"):
    EXAMPLES = dict.fromkeys(EXAMPLES, int(os.environ["REGSYNC_LIFE_EXAMPLES"]))
STEPS = int(os.environ.get("REGSYNC_LIFE_STEPS", "8"))


def _settings(engines: tuple[str, ...]) -> settings:
    extra = {}
    if os.environ.get("REGSYNC_LIFE_NO_SHRINK"):  # a hunt: report, shrink by hand
        extra["phases"] = [Phase.explicit, Phase.reuse, Phase.generate]
    return settings(max_examples=min(EXAMPLES[e] for e in engines),
                    stateful_step_count=STEPS, deadline=None, **extra,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.data_too_large])

# --- What the files hold: small pools, so that names, numbers and ids collide. -------

NUMBERS = ("1", "2", "3", "1001", "1002", "0042", "42", "A-7")
NAMES = ("Kahvila Aurinko Oy", "KAHVILA  aurinko OY", "Matti Virtanen", "matti virtanen",
         "Åsa Öberg", "Jiří Dvořák", "Žluťoučký kůň s.r.o.", "Pekka Mäkelä",
         "Šárka Nováková", "Göran Ängström AB")
# Valid FI ids (one with its leading zero lost, one in VAT form) and one bad check digit.
BUSINESS_IDS = ("0112038-9", "112038-9", "2617416-4", "0737546-2", "FI26174164",
                "1234567-8")
POOLS: dict[str, tuple[str, ...]] = {
    "customer_number": NUMBERS,
    "business_id": BUSINESS_IDS,
    "name": NAMES,
    "customer_type": ("company", "person", "Yritys", "Henkilö", "Privatperson", "Firma",
                      "Fyzická osoba"),
    "vat_id": ("FI01120389", "fi 0112 0389"),
    "email": ("anna@example.fi", "Anna@Example.FI", "matti.virtanen@esimerkki.fi"),
    "phone": ("+358401234567", "040 123 4567", "401234567", "+46701234567",
              "3.58401E+11"),
    "street_address": ("Mannerheimintie 1", "Mannerheimintie  1", "Storgatan 3",
                       "Na Příkopě 14", "Hämeenkatu 5 A 3"),
    "postal_code": ("00100", "100", "00500", "500", "33100", "02600", "2600"),
    "city": ("Helsinki", "Göteborg", "Praha 1", "Åbo", "Tampere"),
    "country": ("FI", "Suomi", "fi", "Sverige", "Česko"),
    "customer_group": ("Helsinki", "helsinki", "HELSINKI", "Oulu", "oulu", "Česko",
                       "česko", "Pohjoinen"),
    "language": ("fi", "sv", "cs", "en"),
    "notes": ("Tärkeä asiakas", "rivi 1\nrivi 2", "Poznámka: důležité", "  väli  "),
}
KEYS = ("customer_number", "business_id", "name")
OPTIONAL = tuple(f for f in POOLS if f not in KEYS)
# Spec section 10: the headers every default rule file accepts.
HEADERS = {
    "fi": ("Asiakasnumero", "Asiakastyyppi", "Nimi", "Y-tunnus", "ALV-numero", "Sähköposti",
           "Puhelin", "Katuosoite", "Postinumero", "Postitoimipaikka", "Maa", "Asiakasryhmä",
           "Kieli", "Lisätiedot"),
    "sv": ("Kundnummer", "Kundtyp", "Namn", "Organisationsnummer", "Momsregistreringsnummer",
           "E-post", "Telefon", "Gatuadress", "Postnummer", "Postort", "Land", "Kundgrupp",
           "Språk", "Anteckningar"),
    "cs": ("Číslo zákazníka", "Typ zákazníka", "Název", "IČO", "DIČ", "E-mail", "Telefon",
           "Ulice", "PSČ", "Město", "Země", "Skupina zákazníků", "Jazyk", "Poznámky"),
}
HEADER_FIELDS = ("customer_number", "customer_type", "name", "business_id", "vat_id",
                 "email", "phone", "street_address", "postal_code", "city", "country",
                 "customer_group", "language", "notes")


@dataclass
class Source:
    """A CSV file as a user would drop it: its bytes, and the rows it was made from."""

    data: bytes
    rows: list[dict[str, str]]
    description: str

    def __repr__(self) -> str:  # what a failing example prints
        return f"Source({self.description}, {self.data!r})"


@st.composite
def sources(draw: st.DrawFn) -> Source:
    keys = draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=3, unique=True))
    others = draw(st.lists(st.sampled_from(OPTIONAL), max_size=5, unique=True))
    columns = draw(st.permutations(keys + others))
    rows = []
    for _ in range(draw(st.integers(0, 8))):
        rows.append({c: draw(st.one_of(st.just(""), st.sampled_from(POOLS[c])))
                     for c in columns})
    language = draw(st.sampled_from(("en", "fi", "sv", "cs")))
    header = [c if language == "en" else HEADERS[language][HEADER_FIELDS.index(c)]
              for c in columns]
    delimiter = draw(st.sampled_from(";,\t|"))
    ending = draw(st.sampled_from(("\r\n", "\n")))
    text = io.StringIO()
    writer = csv.writer(text, delimiter=delimiter, lineterminator=ending)
    writer.writerow(header)
    writer.writerows([[row[c] for c in columns] for row in rows])
    encoding = draw(st.sampled_from(("utf-8", "utf-8", "utf-8-sig", "utf-16", "cp1252")))
    try:
        data = text.getvalue().encode(encoding)
    except UnicodeEncodeError:
        encoding, data = "utf-8", text.getvalue().encode("utf-8")
    return Source(data, rows, f"{encoding}, {delimiter!r}, {language}")


# --- Reading a register: once per check, everything at once (a PostgreSQL connection
# costs more than the reads). ------------------------------------------------------

KEPT = (*FIELDS, "name_key", "locked_by", "invalidated")
COLUMNS = (*KEPT, "group_id", "created_batch", "updated_batch")
Snapshot = dict[str, dict[str, Any]]


@dataclass
class Reading:
    """What a register holds, as one read saw it."""

    people: Snapshot  # every customer by number: its fields, lock and invalidation
    history: list[dict[str, Any]]
    batches: list[dict[str, Any]]
    blocks: set[tuple[str, str, str]]
    state: tuple[object, ...]  # everything a command could change

    def history_of(self, batch: int) -> list[dict[str, Any]]:
        return [h for h in self.history if h["batch_id"] == batch]

    def touched(self, batch: int) -> set[str]:
        return {h["customer_number"] for h in self.history_of(batch)}

    @property
    def groups(self) -> set[str]:
        return {name for name, _ in self.state[3]}


def read(url: str) -> Reading:
    register = open_register(url, create=False)
    try:
        exists = register.register_id() is not None
        frame = register.export_frame(COLUMNS).sort("customer_number")
        lines = register.history().to_dicts() if exists else []
        listed = register.batches() if exists else None
        blocks = set(register._rows(f"SELECT block, customer_number, name FROM "
                                    f"{register._t('name_blocks')}")) if exists else set()
        state = (register.register_id(), register.version(), frame.rows(),
                 sorted(register.group_names().rows()),
                 listed.rows() if listed is not None else [],
                 [tuple(h.values()) for h in lines], sorted(blocks))
    finally:
        register.close()
    people = {row["customer_number"]: {k: row[k] for k in KEPT}
              for row in frame.iter_rows(named=True)}
    return Reading(people, lines, listed.to_dicts() if listed is not None else [], blocks,
                   state)


def _untimed(value: Any, field_name: str | None) -> Any:
    """A value two engines may tell apart only by the time it was written."""
    return (value is not None) if field_name == "invalidated" else value


def comparable(seen: Reading) -> tuple[object, ...]:
    """The register as two engines given the same steps must agree on."""
    people = {n: {k: _untimed(v, k) for k, v in c.items()} for n, c in seen.people.items()}
    lines = []
    for h in seen.history:
        old, new = h["old_value"], h["new_value"]
        if h["action"] in ("insert", "delete"):
            old = old and json.loads(old)
            new = new and json.loads(new)
        lines.append((h["batch_id"], h["customer_number"], h["action"], h["field"],
                      _untimed(old, h["field"]), _untimed(new, h["field"]), h["actor"]))
    kept = ("id", "kind", "actor", "checksum", "counts", "reverts", "reverted_by")
    # Each engine reads its own copy of a file: the batch names it by its own path; an
    # XLSX export holds the time it was written, so its checksum is each engine's own.
    listed = [{k: b[k] for k in kept} | {"source": b["source"] and re.sub(
        r"^\d+-", "", Path(b["source"]).name)} for b in seen.batches]
    for b in listed:
        if (b["source"] or "").endswith(".xlsx"):
            b["checksum"] = "xlsx"
    return people, lines, listed, seen.blocks


def replay(lines: list[dict[str, Any]]) -> Snapshot:
    """The customers as the change history says they are."""
    replayed: Snapshot = {}
    for h in lines:
        number = h["customer_number"]
        if h["action"] == "insert":
            values = json.loads(h["new_value"])
            replayed[number] = {f: values.get(f) for f in FIELDS} | {
                "locked_by": None, "invalidated": None}
        elif h["action"] == "delete":
            assert number in replayed, f"history deletes {number}, never inserted"
            del replayed[number]
        else:
            assert h["action"] == "update", h
            assert number in replayed, f"history updates {number}, not there: {h}"
            assert replayed[number][h["field"]] == h["old_value"], (
                f"history's old value of {number}.{h['field']} is not its value then: {h}")
            replayed[number][h["field"]] = h["new_value"]
    return replayed


def expected_blocks(people: Snapshot) -> set[tuple[str, str, str]]:
    """The name blocks of every customer's current name, computed afresh."""
    import polars as pl

    named = [(n, c["name"]) for n, c in people.items() if c["name"] is not None]
    numbers = pl.Series("customer_number", [n for n, _ in named], pl.String)
    names = pl.Series("name", [name for _, name in named], pl.String)
    return set(name_blocks(numbers, names).rows())


# --- The checks after a command. -------------------------------------------------------

STATUSES = {"new": "New", "modified": "Modified", "unchanged": "No change",
            "conflict": "Conflict", "rejected": "Rejected"}


def check_counts(run: Run, rows: list[dict[str, str]]) -> dict[str, Any]:
    """Exit code and JSON counts agree with the report (invariant 9)."""
    out = run.json()
    seen = Counter(r["status"] for r in rows)
    assert {k: out[k] for k in STATUSES} == {k: seen[s] for k, s in STATUSES.items()}, (
        out, seen)
    expected_exit = 1 if out["conflict"] or out["rejected"] else 0
    assert run.exit_code == expected_exit, (run.exit_code, out, run.stderr)
    return out


def check_commit(before: Reading, after: Reading, rows: list[dict[str, str]],
                 batch: int | None) -> None:
    """A commit did exactly what its report said, and nothing an import may never do."""
    pre, post = before.people, after.people
    # 1. Nothing deleted, nothing emptied.
    assert set(pre) <= set(post), f"customers gone: {set(pre) - set(post)}"
    for number, was in pre.items():
        for f in FIELDS:
            assert was[f] is None or post[number][f] is not None, (
                f"{number}.{f} emptied: {was[f]!r}")
        # 8. Imports never lock, unlock, invalidate or restore.
        assert (was["locked_by"], was["invalidated"]) == (
            post[number]["locked_by"], post[number]["invalidated"]), number
    new = [r["customer_number"] for r in rows if r["status"] == "New"]
    assert len(new) == len(set(new)), f"two New rows share a number: {new}"
    assert set(post) - set(pre) == set(new), (set(post) - set(pre), new)
    modified: dict[str, set[str]] = {}
    for r in rows:
        if r["status"] == "Modified":
            assert r["customer_number"] not in modified, f"modified twice: {r}"
            modified[r["customer_number"]] = set(r["changed_fields"].split("|"))
    changed = {n: {f for f in FIELDS if pre[n][f] != post[n][f]} for n in pre}
    assert {n: fs for n, fs in changed.items() if fs} == modified, (
        "the commit changed other customers or fields than its report's Modified rows")
    for n in modified:
        # 8. A row that would change a locked or invalidated customer is a Conflict.
        assert pre[n]["locked_by"] is None, f"locked customer {n} changed"
    for r in rows:
        # Any row that matches an invalidated customer is a Conflict, even one that
        # would change nothing (docs/register.md, "The register remembers").
        if r["status"] in ("Modified", "No change"):
            assert pre[r["customer_number"]]["invalidated"] is None, (
                f"row {r['row']} matched invalidated customer {r['customer_number']}: {r}")
    # An import never deletes a group.
    assert before.groups <= after.groups, f"groups gone: {before.groups - after.groups}"
    if batch is None:
        assert not new and not modified, "changes with no batch"
        return
    # The batch's history is the change, field by field.
    lines = after.history_of(batch)
    inserted = {h["customer_number"] for h in lines if h["action"] == "insert"}
    assert inserted == set(new)
    updates = {(h["customer_number"], h["field"]): (h["old_value"], h["new_value"])
               for h in lines if h["action"] == "update"}
    assert len(updates) == sum(h["action"] == "update" for h in lines), lines
    assert updates == {(n, f): (pre[n][f], post[n][f]) for n, fs in modified.items()
                       for f in fs}
    assert all(h["action"] in ("insert", "update") for h in lines), lines


def selected(customer: dict[str, Any], selection: list[str]) -> bool:
    """Whether an export with these selection options writes the customer."""
    if customer["invalidated"] is not None and "--include-invalidated" not in selection:
        return False
    if "--type" in selection:
        return customer["customer_type"] == selection[1]
    if "--group" in selection:
        return (customer["customer_group"] or "").casefold() == selection[1].casefold()
    return True


def plan_view(rows: list[dict[str, str]], numbered: bool = True) -> list[tuple[str, ...]]:
    """What a plan would do, row by row (not its messages or duplicate hints). Without
    `numbered`, a New row's number is left out: a plan keeps the number its preview
    gave a row that brings none, while it is free, even if a revert since freed a
    smaller one (the commit does what the preview showed)."""
    return [(r["row"], r["status"],
             r["customer_number"] if numbered or r["status"] != "New" else "?",
             r["matched_by"], r["changed_fields"], r["changes"]) for r in rows]


# --- The registers under test. -----------------------------------------------------------


@dataclass
class Register:
    engine: str
    url: str
    schema: str | None = None
    before: dict[int, Snapshot] = field(default_factory=dict)  # batch -> customers before it
    groups_before: dict[int, set[str]] = field(default_factory=dict)  # batch -> groups

    @classmethod
    def fresh(cls, engine: str, folder: Path) -> Register:
        if engine == "sqlite":
            return cls(engine, str(folder / "register.db"))
        schema = f"t_{uuid.uuid4().hex[:16]}"
        return cls(engine, f"{PG_URL}?schema={schema}", schema)

    def drop(self) -> None:
        if self.schema is not None:
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


def _exit(run: Run, *allowed: int) -> None:
    assert run.exit_code in allowed, (
        f"exit {run.exit_code}, expected {allowed}\nstdout: {run.stdout}\n"
        f"stderr: {run.stderr}")


def _unchanged_by(run: Run, before: Reading, url: str) -> None:
    """4. A refused command wrote nothing."""
    assert read(url).state == before.state, (
        f"refused command (exit {run.exit_code}: {run.stderr.strip()}) changed the register")


class Lifecycle(RuleBasedStateMachine):
    engines: tuple[str, ...] = ("sqlite",)

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="regsync-life-"))
        self.regs = []
        for i, engine in enumerate(self.engines):
            (self.folder / str(i)).mkdir()
            self.regs.append(Register.fresh(engine, self.folder / str(i)))
        self.files = 0
        self.last_import: tuple[Source, list[list[dict[str, str]]]] | None = None
        self.committed_plans: list[list[Path]] = []

    def teardown(self) -> None:
        for reg in self.regs:
            reg.drop()
        shutil.rmtree(self.folder, ignore_errors=True)

    # Helpers ----------------------------------------------------------------------

    def _path(self, i: int, name: str) -> Path:
        self.files += 1
        return self.folder / str(i) / f"{self.files:03d}-{name}"

    def _out(self, reg: Register, run: Run) -> tuple[int, str]:
        """A command's exit code and stdout, its register's location left out."""
        text = run.stdout.replace(reg.url, "REGISTER")
        text = re.sub(r"PostgreSQL at [^,]+, database \w+, schema \w+", "REGISTER", text)
        return run.exit_code, text.replace(str(Path(reg.url).parent), "FOLDER")

    def _same(self, observed: list[Any], what: str) -> None:
        """Lockstep: every engine saw the same outcome."""
        for engine, seen in zip(self.engines[1:], observed[1:], strict=True):
            if seen != observed[0]:
                one, other = observed[0], seen
                if isinstance(one, tuple) and isinstance(other, tuple):
                    parts = [(a, b) for a, b in zip(one, other, strict=False) if a != b]
                    one, other = parts[0] if parts else (one, other)
                if isinstance(one, list) and isinstance(other, list):
                    pairs = [(a, b) for a, b in zip(one, other, strict=False) if a != b]
                    one, other = pairs[0] if pairs else (one[len(other):], other[len(one):])
                raise AssertionError(f"{what}: {self.engines[0]} and {engine} differ:\n"
                                     f"{self.engines[0]}: {one!r}\n{engine}: {other!r}")

    def _import(self, source: Source) -> list[tuple[Run, list[dict[str, str]]]]:
        """Import `source` into every register, with every check; each one's run and report."""
        outcomes = []
        for i, reg in enumerate(self.regs):
            path = self._path(i, "import.csv")
            path.write_bytes(source.data)
            report = path.with_suffix(".report.csv")
            before = read(reg.url)
            run = run_cli("import", path, "--db", reg.url, "--yes", "--json", "--report",
                          report)
            _exit(run, 0, 1, 2)
            if run.exit_code == 2:
                _unchanged_by(run, before, reg.url)
                outcomes.append((run, []))
                continue
            rows = report_rows(report)
            out = check_counts(run, rows)
            if out["batch"] is not None:
                reg.before[out["batch"]] = before.people
                reg.groups_before[out["batch"]] = before.groups
            check_commit(before, read(reg.url), rows, out["batch"])
            outcomes.append((run, rows))
        self._same([(*self._out(reg, r), rows) for reg, (r, rows)
                    in zip(self.regs, outcomes, strict=True)], "import")
        return outcomes

    # Rules ------------------------------------------------------------------------

    @rule(source=sources())
    def import_file(self, source: Source) -> None:
        outcomes = self._import(source)
        self.last_import = (source, [rows for _, rows in outcomes])

    @precondition(lambda self: self.last_import is not None)
    @rule()
    def import_the_same_file_again(self) -> None:
        """2. The same file again, at once: No change, but for rows not applied the first
        time, and rows whose match the first run's New rows made ambiguous."""
        assert self.last_import is not None
        source, first = self.last_import
        self.last_import = None
        for (run, again), rows in zip(self._import(source), first, strict=True):
            if run.exit_code == 2:
                continue
            new_names = {r["customer_number"] for r in rows if r["status"] == "New"}
            not_applied = {r["row"] for r in rows if r["status"] in ("Conflict", "Rejected")}
            for before, after in zip(rows, again, strict=True):
                if before["status"] in ("Conflict", "Rejected"):
                    continue
                if after["status"] == "Conflict" and (
                        " matches customers " in after["message"]
                        or " belongs to " in after["message"]) and new_names:
                    continue  # two New rows of the first run now share a name or id
                claimed = re.fullmatch(r"same \w+ as row (\d+)", after["message"])
                if after["status"] == "Conflict" and claimed and (
                        claimed.group(1) in not_applied):
                    # Spec section 4: a row not applied the first time (a New row
                    # without a name, say) now matches the customer a later row made,
                    # and claims it first.
                    continue
                assert after["status"] == "No change", (before, after)

    @rule(data=st.data())
    def export_and_import_it_back(self, data: st.DataObject) -> None:
        """3. An export imported back is all No change."""
        self.last_import = None
        fmt = data.draw(st.sampled_from(("csv", "csv", "xlsx")), label="format")
        headers = data.draw(st.sampled_from(("en", "fi", "sv", "cs")), label="headers")
        selection = data.draw(st.sampled_from(
            ([], [], ["--include-invalidated"], ["--type", "company"], ["--type", "person"])
            + tuple(["--group", g] for g in POOLS["customer_group"])), label="selection")
        options = ["--headers", headers, *selection]
        if fmt == "csv":
            options += data.draw(st.sampled_from(([], ["--spreadsheet-safe"], ["--no-bom"],
                                                  ["--delimiter", "\t"],
                                                  ["--spreadsheet-safe", "--delimiter",
                                                   "|"])), label="csv options")
        observed = []
        for i, reg in enumerate(self.regs):
            dest = self._path(i, f"export.{fmt}")
            before = read(reg.url)
            run = run_cli("export", dest, "--db", reg.url, "--json", *options)
            unknown_group = "--group" in selection and selection[1].casefold() not in {
                g.casefold() for g in before.groups}
            if before.state[0] is None or unknown_group:
                _exit(run, 2)  # no register yet, or no such group: export says so
                _unchanged_by(run, before, reg.url)
                observed.append(run.exit_code)
                continue
            _exit(run, 0)
            listed = [n for n, c in before.people.items() if selected(c, selection)]
            assert run.json()["count"] == len(listed), (selection, listed)
            report = dest.with_suffix(".report.csv")
            back = run_cli("import", dest, "--db", reg.url, "--yes", "--json", "--report",
                           report)
            _exit(back, 0, 1)
            rows = report_rows(report)
            out = check_counts(back, rows)
            # An invalidated customer's row is a Conflict, even unchanged (docs/register.md).
            not_same = [r for r in rows if r["status"] != "No change" and not (
                r["status"] == "Conflict" and r["message"] == (
                    f"customer {r['customer_number']} is invalidated"))]
            assert not not_same, f"export {options} imported back changes: {not_same}"
            assert sorted(r["customer_number"] for r in rows) == sorted(listed)
            after = read(reg.url)
            assert after.people == before.people
            if out["batch"] is not None:
                reg.before[out["batch"]] = before.people
                reg.groups_before[out["batch"]] = before.groups
            else:
                assert after.state == before.state, "export or its import wrote"
            observed.append((run.stdout.replace(str(dest), "DEST"), back.exit_code,
                             len(rows), out["batch"]))
        self._same(observed, "export and import back")

    def _batch_ids(self) -> list[int]:
        return [b["id"] for b in read(self.regs[0].url).batches]

    @precondition(lambda self: self.files > 0)
    @rule(data=st.data())
    def revert_a_batch(self, data: st.DataObject) -> None:
        self.last_import = None
        ids = self._batch_ids()
        if ids:
            self._revert(data.draw(st.sampled_from(ids), label="batch to revert"))

    def _revert(self, batch: int) -> None:
        observed = []
        for reg in self.regs:
            before = read(reg.url)
            touched = before.touched(batch)
            target = next(b for b in before.batches if b["id"] == batch)
            # Spec section 6, docs/register.md "revert": refused while a later batch that is not
            # reverted (nor a revert of a batch later than this one, which undid such a
            # batch) changed the same customers, or when this one was already reverted.
            later = [b["id"] for b in before.batches
                     if b["id"] > batch and b["reverted_by"] is None
                     and not (b["kind"] == "revert" and b["reverts"] > batch)
                     and before.touched(b["id"]) & touched]
            run = run_cli("revert", str(batch), "--db", reg.url, "--json")
            _exit(run, 0, 2)
            observed.append(self._out(reg, run))
            if later or target["reverted_by"] is not None:
                assert run.exit_code == 2, (
                    f"batch {batch} reverted though later batches {later} changed its "
                    f"customers, or it was reverted already ({target['reverted_by']})")
            elif run.exit_code == 2:
                assert "business_id" in run.stderr, (
                    f"batch {batch} refused, yet no later batch changed its customers "
                    f"{sorted(touched)}: {run.stderr.strip()}")
            if run.exit_code == 2:
                _unchanged_by(run, before, reg.url)
                continue
            out = run.json()
            assert out["reverted"] == batch
            after = read(reg.url)
            pre, post = before.people, after.people
            # Groups: only groups the batch created (none before it) and now empty go.
            for group in before.groups - after.groups:
                assert group not in reg.groups_before[batch], f"revert removed {group}"
                assert not any(c["customer_group"] == group for c in post.values())
            reg.before[out["batch"]] = pre
            reg.groups_before[out["batch"]] = before.groups
            # 5. The customers the batch touched are as they were before it; no other
            # customer changed.
            before_batch = reg.before[batch]
            for number in touched:
                assert post.get(number) == before_batch.get(number), (
                    f"revert of batch {batch}: customer {number} is {post.get(number)}, "
                    f"was {before_batch.get(number)} before the batch")
            for number in set(pre) | set(post):
                if number not in touched:
                    assert post.get(number) == pre.get(number), (
                        f"revert of batch {batch} changed customer {number}, which the "
                        f"batch never touched")
        self._same(observed, f"revert {batch}")

    @precondition(lambda self: self.files > 0)
    @rule(data=st.data())
    def lock_unlock_invalidate_restore(self, data: st.DataObject) -> None:
        self.last_import = None
        command = data.draw(st.sampled_from(("lock", "unlock", "invalidate", "restore")),
                            label="command")
        numbers = sorted(read(self.regs[0].url).people) + ["42", "9999"]
        named = data.draw(st.lists(st.sampled_from(numbers), min_size=1, max_size=3,
                                   unique=True), label="customers")
        actor = data.draw(st.sampled_from(("anna", "ben")), label="actor")
        self._mark(command, named, actor)

    def _mark(self, command: str, named: list[str], actor: str) -> None:
        column = "locked_by" if command in ("lock", "unlock") else "invalidated"
        observed = []
        for reg in self.regs:
            before = read(reg.url)
            pre = before.people
            run = run_cli(command, *named, "--db", reg.url, "--json", "--actor", actor)
            _exit(run, 0, 2)
            observed.append(self._out(reg, run))
            unknown = [n for n in named if n not in pre]
            taken = [n for n in named if command == "lock" and n in pre
                     and pre[n]["locked_by"] not in (None, actor)]
            if unknown or taken:
                assert run.exit_code == 2, (f"{command} {named}: unknown {unknown}, locked "
                                            f"by another {taken}, yet accepted")
            if run.exit_code == 2:
                assert unknown or taken, f"{command} {named} refused: {run.stderr}"
                _unchanged_by(run, before, reg.url)
                continue
            after = read(reg.url)
            post = after.people
            assert set(post) == set(pre)
            flips = 0
            for number in pre:
                want = dict(pre[number])
                if number in named:
                    if command == "lock":
                        want["locked_by"] = actor
                    elif command == "unlock":
                        want["locked_by"] = None
                    elif command == "restore":
                        want["invalidated"] = None
                    elif pre[number]["invalidated"] is None:
                        assert post[number]["invalidated"] is not None
                        want["invalidated"] = post[number]["invalidated"]
                flips += want[column] != pre[number][column]
                assert post[number] == want, f"{command} {named}: customer {number}"
            out = run.json()
            assert out["customers"] == flips, (out, flips)
            assert (out["batch"] is None) == (flips == 0), out
            if out["batch"] is not None:
                reg.before[out["batch"]] = pre
                reg.groups_before[out["batch"]] = before.groups
                assert {(h["customer_number"], h["field"])
                        for h in after.history_of(out["batch"])} == {
                    (n, column) for n in pre if post[n][column] != pre[n][column]}
            else:
                assert after.state == before.state, f"{command} made no batch, but wrote"
        self._same(observed, f"{command} {named}")

    @rule(source=sources(), data=st.data())
    def preview_then_commit(self, source: Source, data: st.DataObject) -> None:
        """A plan committed at once must go through; one made stale by a command in
        between must be refused (exit 3, nothing written) unless that command touched
        nothing it relies on: then a fresh preview says what the plan says."""
        self.last_import = None
        between = data.draw(st.sampled_from(("nothing", "nothing", "import", "mark",
                                             "revert")), label="in between")
        plans, first = [], []
        for i, reg in enumerate(self.regs):
            path = self._path(i, "plan-source.csv")
            path.write_bytes(source.data)
            plan, report = path.with_suffix(".plan"), path.with_suffix(".report.csv")
            before = read(reg.url)
            run = run_cli("preview", path, "--db", reg.url, "--json", "--plan", plan,
                          "--report", report)
            _exit(run, 0, 1, 2)
            if run.exit_code == 2:
                _unchanged_by(run, before, reg.url)
                return  # an unreadable file: no plan (the import rule checks the rest)
            rows = report_rows(report)
            check_counts(run, rows)
            plans.append((path, plan))
            first.append(rows)
        self._same([plan_view(rows) for rows in first], "preview")

        if between == "import":
            self._import(data.draw(sources(), label="import in between"))
        elif between == "mark":
            numbers = sorted(read(self.regs[0].url).people) or ["9999"]
            self._mark(data.draw(st.sampled_from(("lock", "unlock", "invalidate",
                                                  "restore")), label="command"),
                       data.draw(st.lists(st.sampled_from(numbers), min_size=1, max_size=2,
                                          unique=True), label="customers"), "anna")
        elif between == "revert" and self._batch_ids():
            self._revert(data.draw(st.sampled_from(self._batch_ids()), label="revert"))

        observed = []
        for reg, (path, plan), rows in zip(self.regs, plans, first, strict=True):
            fresh_report = path.with_suffix(".report.csv")
            if between != "nothing":  # else the first preview is a fresh one
                fresh_report = path.with_suffix(".fresh.csv")
                fresh = run_cli("preview", path, "--db", reg.url, "--json", "--plan",
                                path.with_suffix(".fresh.plan"), "--report", fresh_report)
                _exit(fresh, 0, 1)
            before = read(reg.url)
            run = run_cli("commit", plan, "--db", reg.url, "--json")
            _exit(run, 0, 1, 3)
            observed.append(self._out(reg, run))
            if run.exit_code == 3:
                assert between != "nothing", f"a plan committed at once refused: {run.stderr}"
                _unchanged_by(run, before, reg.url)
                continue
            # Rows the plan does not apply (Conflict, Rejected) change nothing either way.
            applied = {r["row"] for r in rows if r["status"] not in ("Conflict", "Rejected")}
            assert [v for v in plan_view(rows, False) if v[0] in applied] == [
                v for v in plan_view(report_rows(fresh_report), False) if v[0] in applied], (
                f"a plan made before '{between}' was committed, but a fresh preview of "
                f"its file says otherwise")
            out = check_counts(run, rows)
            if out["batch"] is not None:
                reg.before[out["batch"]] = before.people
                reg.groups_before[out["batch"]] = before.groups
            check_commit(before, read(reg.url), rows, out["batch"])
        self._same(observed, "commit")
        if observed[0][0] != 3 and json.loads(observed[0][1])["batch"] is not None:
            self.committed_plans.append([plan for _, plan in plans])

    @precondition(lambda self: self.committed_plans)
    @rule(data=st.data())
    def commit_a_plan_again(self, data: st.DataObject) -> None:
        """A plan can be committed once: again, it is refused and nothing is written."""
        self.last_import = None
        plans = data.draw(st.sampled_from(self.committed_plans), label="plan")
        for reg, plan in zip(self.regs, plans, strict=True):
            before = read(reg.url)
            run = run_cli("commit", plan, "--db", reg.url, "--json")
            _exit(run, 3)
            _unchanged_by(run, before, reg.url)

    @precondition(lambda self: self.files > 0)
    @rule(data=st.data())
    def show_a_customers_history(self, data: st.DataObject) -> None:
        """`regsync history N` shows what the register's history holds for N."""
        numbers = sorted({h["customer_number"] for h in read(self.regs[0].url).history})
        number = data.draw(st.sampled_from(numbers or ["1"]), label="customer")
        observed = []
        for reg in self.regs:
            seen = read(reg.url)
            run = run_cli("history", number, "--db", reg.url, "--json")
            observed.append(run.exit_code)  # (its lines carry each engine's own times)
            if seen.state[0] is None:
                _exit(run, 2)
                continue
            _exit(run, 0, 2)
            mine = [h for h in seen.history if h["customer_number"] == number]
            if run.exit_code == 2:
                assert not mine, f"history {number} refused: {run.stderr}"
                continue
            shown = run.json()["changes"]
            keys = ("batch_id", "action", "field", "old_value", "new_value", "actor")
            assert [{k: h[k] for k in keys} for h in shown] == [
                {k: h[k] for k in keys} for h in mine]
        self._same(observed, f"history {number}")

    @precondition(lambda self: self.files > 0)
    @rule()
    def rebuild_blocks(self) -> None:
        """7. `rebuild-blocks` finds the blocks already right: it changes nothing."""
        for reg in self.regs:
            before = read(reg.url)
            run = run_cli("rebuild-blocks", "--db", reg.url, "--json")
            if before.state[0] is None:
                _exit(run, 2)
                continue
            _exit(run, 0)
            out = run.json()
            assert out["block_rows_before"] == out["block_rows"] == len(before.blocks)
            assert read(reg.url).state == before.state, "rebuild-blocks changed the register"

    # After every step -------------------------------------------------------------

    @invariant()
    def the_register_keeps_its_rules(self) -> None:
        readings = [read(reg.url) for reg in self.regs]
        for seen in readings:
            # 6. The change history, replayed, is every customer as it is.
            current = {n: {k: c[k] for k in (*FIELDS, "locked_by", "invalidated")}
                       for n, c in seen.people.items()}
            replayed = replay(seen.history)
            assert set(replayed) == set(current)
            for number, values in current.items():
                diff = {k: (replayed[number][k], v) for k, v in values.items()
                        if replayed[number][k] != v}
                assert not diff, f"customer {number}: history says / register has {diff}"
            # 7. The stored name blocks are those of the current names (what
            # rebuild-blocks computes).
            assert seen.blocks == expected_blocks(seen.people)
            # Spec section 4: a business id of another customer is a Conflict, so no
            # commit or revert gives two customers one business id.
            ids = Counter(c["business_id"] for c in seen.people.values()
                          if c["business_id"] is not None)
            assert not [i for i, k in ids.items() if k > 1], ids
        self._same([comparable(seen) for seen in readings], "register")


ENGINES = [("sqlite",), ("postgresql",)]
if os.environ.get("REGSYNC_LIFE_LOCKSTEP"):
    ENGINES.append(("sqlite", "postgresql"))


@pytest.mark.parametrize("engines", ENGINES, ids=["+".join(e) for e in ENGINES])
def test_a_registers_life(engines: tuple[str, ...]) -> None:
    if "postgresql" in engines:
        require_postgres()
    machine = type("Lifecycle_" + "_".join(engines), (Lifecycle,), {"engines": engines})
    run_state_machine_as_test(machine, settings=_settings(engines))
