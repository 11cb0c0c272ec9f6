"""Normalise a source frame into canonical field values and collect every row issue."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from sync.normalise import normalise_column
from sync.rules import TOO_LONG, HeaderMap, Rules

ISSUE_SCHEMA = {"row": pl.Int64, "field": pl.String, "code": pl.String,
                "severity": pl.String, "detail": pl.String}

# The longest value, in characters, the register keeps in a field it indexes. An index
# entry has a size limit (PostgreSQL's B-tree: 2,704 bytes), so a longer value (a
# paragraph pasted into a name cell) would fail the whole commit on one engine and
# not the other. Worst case 4 bytes a character: a name key with its customer number
# stays under the limit. Always an error, whatever the rules say: it is the register's.
MAX_INDEXED_CHARS = {"customer_number": 200, "name": 400, "customer_group": 200,
                     "business_id": 200}


@dataclass(frozen=True)
class Canonical:
    """Canonical values (`_row` plus one column per mapped field) and the issues found."""

    frame: pl.DataFrame
    issues: pl.DataFrame


def canonicalise(source: pl.DataFrame, header_map: HeaderMap, rules: Rules) -> Canonical:
    """Normalise every mapped column; issue severities come from the rules.

    Country goes first: the other normalisers read the row's country, or the rules'
    default country where the cell is empty.
    """
    columns: dict[str, pl.Series] = {"_row": source["_row"]}
    issues: list[pl.DataFrame] = []
    countries = pl.Series("country", [rules.default_country] * source.height, dtype=pl.String)
    order = sorted(header_map.columns, key=lambda f: f != "country")
    for field_name in order:
        rule = rules.fields[field_name]
        raw = source[header_map.columns[field_name]]
        result = normalise_column(rule.normaliser, raw, countries, rule.options)
        columns[field_name] = result["value"].alias(field_name)
        if field_name in MAX_INDEXED_CHARS:
            issues.append(_too_long(source["_row"], result["value"], field_name))
        if field_name == "country":
            countries = (pl.when(result["code"].is_null()).then(result["value"])
                         .otherwise(None).fill_null(rules.default_country))
            countries = pl.select(countries).to_series()
        found = (pl.DataFrame({"row": source["_row"], "code": result["code"],
                               "detail": result["detail"]})
                 .filter(pl.col("code").is_not_null()))
        if found.height:
            severity = pl.col("code").replace_strict(
                dict(rule.severity), default="warn", return_dtype=pl.String)
            issues.append(found.select(
                "row", pl.lit(field_name).alias("field"), "code", severity.alias("severity"),
                "detail"))
    frame = pl.DataFrame([columns[k] for k in ["_row", *rules.field_names] if k in columns])
    empty = pl.DataFrame(schema=ISSUE_SCHEMA)
    issues_frame = pl.concat([empty, *issues], how="vertical_relaxed") if issues else empty
    return Canonical(frame=frame, issues=issues_frame)


def _too_long(rows: pl.Series, values: pl.Series, field_name: str) -> pl.DataFrame:
    """Error issues for values longer than the register keeps in an indexed field."""
    limit = MAX_INDEXED_CHARS[field_name]
    length = values.str.len_chars()
    return pl.DataFrame({"row": rows, "length": length}).filter(
        pl.col("length") > limit).select(
        "row", pl.lit(field_name).alias("field"), pl.lit(TOO_LONG).alias("code"),
        pl.lit("error").alias("severity"),
        pl.format("{} characters; the register keeps at most {} in this field",
                  pl.col("length"), pl.lit(limit)).alias("detail"))
