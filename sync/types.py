"""The vocabulary of regsync as Literal types; CLI choices are derived from these."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, get_args

# A long task's progress: (step, its number from 1, number of steps).
Progress = Callable[[str, int, int], None]

# A source's first rows as read, header or not: (row number, cells).
HeadRows = list[tuple[int, list[str]]]


class SheetHead(HeadRows):
    """The first rows of a workbook sheet (a list of (row number, cells), as every
    reader's `head`), with the sheet's name and `other_sheets()`: the first rows of the
    workbook's other visible sheets as (name, rows). Those are read when called: only a
    sheet without a header the rules know needs them, to point at the one that has."""

    def __init__(self, rows: HeadRows, *, sheet: str,
                 other_sheets: Callable[[], list[tuple[str, HeadRows]]]) -> None:
        super().__init__(rows)
        self.sheet = sheet
        self.other_sheets = other_sheets

Status = Literal["New", "Modified", "No change", "Conflict", "Rejected"]
STATUSES: tuple[Status, ...] = get_args(Status)

MatchedBy = Literal["customer_number", "business_id", "name"]
MATCH_KEYS: tuple[MatchedBy, ...] = get_args(MatchedBy)

Severity = Literal["error", "warn"]
SEVERITIES: tuple[Severity, ...] = get_args(Severity)

SourceFormat = Literal["csv", "xlsx", "parquet", "arrow"]
SOURCE_FORMATS: tuple[SourceFormat, ...] = get_args(SourceFormat)

HeaderLanguage = Literal["en", "fi", "sv", "cs"]
HEADER_LANGUAGES: tuple[HeaderLanguage, ...] = get_args(HeaderLanguage)

# What `regsync export` writes; `vcf` is vCard 4.0, `labels` a PDF of address labels.
Format = Literal["csv", "xlsx", "parquet", "vcf", "labels"]
FORMATS: tuple[Format, ...] = get_args(Format)

# Address label sheets on A4: rows x columns.
LabelLayout = Literal["8x2", "8x3"]
LABEL_LAYOUTS: tuple[LabelLayout, ...] = get_args(LabelLayout)

CustomerType = Literal["company", "person"]
CUSTOMER_TYPES: tuple[CustomerType, ...] = get_args(CustomerType)

# Canonical register fields of spec section 2, in export order.
FIELDS: tuple[str, ...] = (
    "customer_number",
    "customer_type",
    "name",
    "business_id",
    "vat_id",
    "email",
    "phone",
    "street_address",
    "postal_code",
    "city",
    "country",
    "customer_group",
    "language",
    "einvoice_address",
    "einvoice_operator",
    "invoice_text_before",
    "invoice_text_after",
    "notes",
)

# Keys of the count record printed by every command and by --json.
COUNT_KEYS: dict[Status, str] = {
    "New": "new",
    "Modified": "modified",
    "No change": "unchanged",
    "Conflict": "conflict",
    "Rejected": "rejected",
}
