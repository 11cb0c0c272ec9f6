"""Dates and times that pyarrow holds but polars cannot: checked before a table is
handed to polars, which panics on them (in a worker thread that aborts the process).

pyarrow is imported by the caller's path only (the commit of an intact plan never
needs it), so this module imports it inside its functions.
"""

from __future__ import annotations

from typing import Any

_FIRST_DAY, _LAST_DAY = -719_162, 2_932_896  # 0001-01-01, 9999-12-31 in days from 1970
_SECONDS_PER_DAY = 86_400
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def first_out_of_range(table: Any) -> tuple[str, int] | None:
    """(column name, 0-based row) of the first date or time outside the years 1-9999 in
    the pyarrow `table`, looking inside dictionaries, lists, maps and structs; None if
    there is none."""
    for index, name in enumerate(table.schema.names):
        offset = 0
        for chunk in table.column(index).chunks:
            found = _first_bad(chunk)
            if found is not None:
                return name, offset + found
            offset += len(chunk)
    return None


def _bounds(kind: Any) -> tuple[int, int] | None:
    """The integer range of the years 1-9999 for a date or time type (None: any value of
    the type is in range, or it is not a date or time)."""
    import pyarrow as pa

    if pa.types.is_date32(kind):
        return _FIRST_DAY, _LAST_DAY
    if pa.types.is_date64(kind):
        per_day = _SECONDS_PER_DAY * 1_000
        return _FIRST_DAY * per_day, (_LAST_DAY + 1) * per_day - 1
    if pa.types.is_timestamp(kind):
        if kind.unit == "ns":
            return None  # int64 nanoseconds only reach 1677-2262
        per_day = _SECONDS_PER_DAY * _PER_SECOND[kind.unit]
        return _FIRST_DAY * per_day, (_LAST_DAY + 1) * per_day - 1
    if pa.types.is_time(kind):
        return 0, _SECONDS_PER_DAY * _PER_SECOND[kind.unit] - 1
    return None


def _first_bad(array: Any) -> int | None:
    """Index of the first element of `array` holding, anywhere inside it, a date or time
    out of range; None if there is none."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    if pa.types.is_dictionary(kind):
        return _first_bad(array.dictionary_decode())
    bounds = _bounds(kind)
    if bounds is not None:
        values = pc.cast(array, pa.int32() if kind.bit_width == 32 else pa.int64())
        outside = pc.fill_null(pc.or_(pc.less(values, bounds[0]),
                                      pc.greater(values, bounds[1])), False)
        return pc.index(outside, True).as_py() if pc.any(outside).as_py() else None
    if pa.types.is_struct(kind):
        found = [_first_bad(array.field(i)) for i in range(kind.num_fields)]
        hits = [i for i in found if i is not None]
        return min(hits) if hits else None
    if (pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_map(kind)
            or pa.types.is_fixed_size_list(kind)):
        inner = _first_bad(pc.list_flatten(array))
        return None if inner is None else pc.list_parent_indices(array)[inner].as_py()
    return None
