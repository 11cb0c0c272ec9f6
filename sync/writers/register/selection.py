"""SQL for an export selection, written once for both engines (`?` placeholders)."""

from __future__ import annotations

from sync.groupkey import group_key
from sync.namekey import name_key_of
from sync.writers.register.base import Selection


def selection_sql(fields: tuple[str, ...], columns: set[str], selection: Selection,
                  prefix: str, numbers_in: str) -> tuple[str, list[object]]:
    """The SELECT (and its parameters) giving `fields` of the selected customers by id.

    `columns` are the customers table's columns (a custom field the register has no
    column for yet reads as empty); `prefix` qualifies table names; `numbers_in` is the
    engine's `IN (...)` form taking one parameter that holds a list of numbers.
    """
    select = ["g.name" if name == "customer_group" else
              (f'c."{name}"' if name in columns else "NULL") for name in fields]
    where, params = _conditions(columns, selection, prefix, numbers_in)
    sql = (f"SELECT {', '.join(select)} FROM {prefix}customers c "
           f"LEFT JOIN {prefix}groups g ON g.id = c.group_id "
           f"WHERE {' AND '.join(where) or '1 = 1'} ORDER BY c.id")
    return sql, params


def _conditions(columns: set[str], selection: Selection, prefix: str,
                numbers_in: str) -> tuple[list[str], list[object]]:
    where: list[str] = []
    params: list[object] = []
    if selection.group is not None:
        where.append("g.name_key = ?")
        params.append(group_key(selection.group))
    if selection.customer_type is not None:
        where.append("c.customer_type = ?")
        params.append(selection.customer_type)
    for name, value in selection.where:
        if name == "customer_group":
            where.append("g.name_key = ?" if value else "c.group_id IS NULL")
            params.extend([group_key(value)] if value else [])
        elif name == "country" and value and value == selection.default_country \
                and name in columns:
            # An empty country is the default one (spec section 2): `country=FI` also
            # finds the customers imported from files without a country column.
            where.append("(c.country = ? OR c.country IS NULL OR c.country = '')")
            params.append(value)
        elif name == "name" and value:
            # As matching compares names (spec section 4): `name=aho oy` finds `Aho Oy`.
            where.append("c.name_key = ?")
            params.append(name_key_of(value))
        elif name not in columns:
            where.append("1 = 1" if not value else "1 = 0")  # no column: every value empty
        elif value:
            where.append(f'c."{name}" = ?')
            params.append(value)
        else:
            where.append(f"(c.\"{name}\" IS NULL OR c.\"{name}\" = '')")
    if selection.changed_since_batch is not None:
        where.append("c.updated_batch >= ?")
        params.append(selection.changed_since_batch)
    if selection.changed_since is not None:
        # updated_batch is the last batch that inserted or changed the customer.
        where.append(f"c.updated_batch IN (SELECT id FROM {prefix}batches "
                     f"WHERE committed_at >= ?)")
        params.append(selection.changed_since)
    if selection.customers is not None:
        where.append(f"c.customer_number {numbers_in}")
        params.append(list(selection.customers))
    if not selection.include_invalidated:
        where.append("c.invalidated IS NULL")
    return where, params
