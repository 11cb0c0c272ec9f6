"""Export behaviour users rely on that mutation testing found unguarded (branch mut-io)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from sync.readers import read_source
from sync.writers.export_csv import write_csv

HEADERS = {"customer_number": "Asiakasnumero", "notes": "Lisätiedot"}


def test_a_guarded_value_holding_a_quote_reads_back_exactly(tmp_path: Path) -> None:
    # The guard ="..." doubles the quotes inside, as a spreadsheet writes them; a lone
    # quote would end the text there (12" putki would come back as 12).
    dest = tmp_path / "out.csv"
    chunk = pl.DataFrame({"customer_number": ["00100", "1002"],
                          "notes": ['12" putki', '5 "kr"']})
    write_csv([chunk], dest, HEADERS, delimiter=";", guard_zeros=True)
    table = read_source(dest)
    assert table.frame.select("c0", "c1").rows() == [("00100", '12" putki'),
                                                      ("1002", '5 "kr"')]


def test_a_csv_export_of_several_chunks_has_one_header_line(tmp_path: Path) -> None:
    # The register is exported chunk by chunk; only the first writes the header.
    dest = tmp_path / "out.csv"
    chunks = [pl.DataFrame({"customer_number": ["1001"], "notes": ["a"]}),
              pl.DataFrame({"customer_number": ["1002", "1003"], "notes": ["b", None]})]
    assert write_csv(chunks, dest, HEADERS, delimiter=";") == 3
    assert dest.read_bytes() == ("\ufeffAsiakasnumero;Lisätiedot\r\n1001;a\r\n1002;b\r\n"
                                 "1003;\r\n").encode()
