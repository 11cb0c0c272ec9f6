"""The same customers in every supported encoding give identical canonical rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

from sync.canonicalise import canonicalise
from sync.readers import read_source
from sync.rules import load_rules, map_headers
from tests.conftest import FIXTURES

FILES = sorted((FIXTURES / "encodings").glob("customers_*"))


def canonical_rows(path: Path):
    rules = load_rules()
    table = read_source(path)
    header_map = map_headers(table.headers, rules, str(path))
    return canonicalise(table.frame, header_map, rules).frame


def test_every_encoding_fixture_is_present() -> None:
    names = {p.name for p in FILES}
    for flavour in ("utf8", "utf8_bom", "cp1252", "iso8859_15", "cp1250", "utf16"):
        assert any(flavour in n for n in names), flavour


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_same_canonical_rows_as_utf8(path: Path) -> None:
    reference = canonical_rows(FIXTURES / "encodings" / "customers_utf8.csv")
    assert reference.height >= 4
    assert_frame_equal(canonical_rows(path), reference)
