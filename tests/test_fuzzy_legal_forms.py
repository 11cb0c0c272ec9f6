"""Spec section 4: a possible duplicate is found after legal forms are stripped, and a
form written with dots (s.r.o., a.s., spol. s r.o., v.o.s., k.s.) is stripped however
its dots are written, in a register's name as in a source's.

The forms used to be compared with their dots deleted ("sro") while names lose their
dots to spaces ("s r o"), so no dotted form was ever stripped.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync.matchers import fuzzy
from sync.matchers.fuzzy import _form_tokens, strip_legal_forms
from sync.rules import load_rules
from tests.conftest import load_register, report_rows, run_cli, write_csv
from tests.test_fuzzy_scan import MemoryBlocks

FORMS = load_rules().legal_forms
DOTTED = ["s.r.o.", "a.s.", "spol. s r.o.", "v.o.s.", "k.s."]
# Each dotted form as the rules write it and without its final dot.
WRITTEN = [variant for form in DOTTED for variant in (form, form[:-1])]


def flags(db: str, tmp_path: Path, register: list[str],
          source: list[str]) -> dict[str, tuple[str, str]]:
    """Preview `source` names (a Nimi column) against a register of `register` names
    (numbered from 1): name -> (possible_duplicate, similarity)."""
    load_register(db, "customer_number;name\n" + "".join(
        f"{number};{name}\n" for number, name in enumerate(register, 1)), tmp_path)
    path = write_csv(tmp_path / "source.csv", "Nimi\n" + "".join(f"{n}\n" for n in source))
    report = tmp_path / "report.csv"
    result = run_cli("preview", path, "--db", db, "--plan", tmp_path / "p.plan",
                     "--report", report)
    assert result.exit_code in (0, 1), result.stderr
    rows = report_rows(report)
    assert [r["status"] for r in rows] == ["New"] * len(source)
    return {name: (r["possible_duplicate"], r["similarity"])
            for name, r in zip(source, rows, strict=True)}


@pytest.mark.parametrize("form", WRITTEN)
@pytest.mark.parametrize("side", ["register", "source"])
def test_a_dotted_form_is_stripped_on_either_side(db: Path, tmp_path: Path, side: str,
                                                  form: str) -> None:
    with_form = f"Novak Stroje {form}"
    register, source = (([with_form], ["Novak Stroje"]) if side == "register"
                        else (["Novak Stroje"], [with_form]))
    assert flags(str(db), tmp_path, register, source) == {source[0]: ("1", "100")}


def test_dotted_and_nordic_forms_on_both_engines(register_url: str, tmp_path: Path) -> None:
    register = ["Novak Stroje s.r.o.", "Pekarna Ricany", "Dvořák Stroje s.r.o.",
                "Alfa AB", "Kone Oy", "Tmi Virtanen", "Beta HB", "Kivi Ky",
                "Zelenina Brno spol. s r.o.", "Doprava Kolin v.o.s.", "Sklo Jablonec k.s."]
    source = ["Novak Stroje", "Pekarna Ricany a.s.", "Dvořak Stroje", "Alfa", "Kone",
              "Virtanen", "Beta", "Kivi", "Zelenina Brno", "Doprava Kolin",
              "Sklo Jablonec"]
    got = flags(register_url, tmp_path, register, source)
    assert got == {"Novak Stroje": ("1", "100"), "Pekarna Ricany a.s.": ("2", "100"),
                   "Dvořak Stroje": ("3", "92"), "Alfa": ("4", "100"),
                   "Kone": ("5", "100"), "Virtanen": ("6", "100"), "Beta": ("7", "100"),
                   "Kivi": ("8", "100"), "Zelenina Brno": ("9", "100"),
                   "Doprava Kolin": ("10", "100"), "Sklo Jablonec": ("11", "100")}


def test_a_typo_beside_a_dotted_form_is_flagged(db: Path, tmp_path: Path) -> None:
    got = flags(str(db), tmp_path, ["Dvořák Stroje s.r.o."], ["Dvořák Strojee"])
    assert got == {"Dvořák Strojee": ("1", "96")}


@pytest.mark.parametrize("written", ["Novak Stroje s.r.o.", "Novak Stroje s.r.o",
                                     "Novak Stroje s. r. o.", "Novak Stroje, s.r.o.",
                                     "NOVAK STROJE S.R.O.", "Novak Stroje spol. s r.o.",
                                     "Novak Stroje spol.s r.o.", "Novak Stroje a.s.",
                                     "Novak Stroje v.o.s.", "Novak Stroje k.s.",
                                     "Novak Stroje s.r.o. a.s."])
def test_the_comparison_form_has_no_legal_form(written: str) -> None:
    assert strip_legal_forms(written, _form_tokens(FORMS)) == "novak stroje"


def test_spol_s_r_o_is_stripped_whole_and_a_name_of_forms_only_is_kept() -> None:
    forms = _form_tokens(FORMS)
    # "spol" alone is no form: stripping s.r.o. from "spol. s r.o." would leave it.
    assert strip_legal_forms("Kovo spol. s r.o.", forms) == "kovo"
    assert strip_legal_forms("Kovo spol.", forms) == "kovo spol"
    assert strip_legal_forms("s.r.o.", forms) == "s r o"
    # A dotted form still strips its letters written as one word, as before.
    assert strip_legal_forms("Kovo SRO", _form_tokens(["s.r.o."])) == "kovo"


COMPANY_WORD = st.sampled_from(["novak", "stroje", "pekarna", "ricany", "kahvila",
                                "aurinko", "dvořák", "puutarha", "alfa", "kone", "beta"])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(COMPANY_WORD, min_size=1, max_size=3, unique=True).map(" ".join),
       st.sampled_from(FORMS), st.booleans(), st.sampled_from([" ", ", "]),
       st.booleans())
def test_appending_any_configured_form_keeps_the_name_a_possible_duplicate(
        name: str, form: str, drop_final_dot: bool, separator: str,
        form_in_register: bool) -> None:
    written = form[:-1] if drop_final_dot and form.endswith(".") else form
    with_form = f"{name.title()}{separator}{written.upper()}"
    register, query = (with_form, name) if form_in_register else (name, with_form)
    rows = pl.DataFrame({"_row": [2], "name": [query], "name_key": [query.casefold()],
                         "customer_number": ["N1"]})
    found = fuzzy.possible_duplicates(rows, MemoryBlocks(["1"], [register]), FORMS, 90)
    assert found.select("possible_duplicate", "similarity").rows() == [("1", 100)]
