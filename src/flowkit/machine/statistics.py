"""FlowKit's `statistic` parameter: one definition of each statistic, the same on every backend.

FlowKit hands the name to PostgreSQL: `median` is the interpolated `percentile_cont(0.5)`,
`stddev` and `variance` are the sample versions, and `mode` is `mode() WITHIN GROUP (ORDER BY x)`,
whose ties go to the smallest value. NULLs are ignored as by any SQL aggregate; a group whose
values are all NULL keeps its row with a NULL value (`count` gives 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import ibis
import ibis.expr.types as ir

Statistic = Literal["count", "sum", "avg", "max", "min", "median", "stddev", "variance", "mode"]

_AGGREGATES = {
    "count": lambda x: x.count(),
    "sum": lambda x: x.sum(),
    "avg": lambda x: x.mean(),
    "max": lambda x: x.max(),
    "min": lambda x: x.min(),
    "median": lambda x: x.quantile(0.5),
    "stddev": lambda x: x.std(how="sample"),
    "variance": lambda x: x.var(how="sample"),
}


def summarise(table: ir.Table, by: Sequence[str], column: str, statistic: Statistic) -> ir.Table:
    """Per group of `by`, the statistic of `column`, as the columns `*by, value`."""
    if statistic == "mode":
        return _mode(table, list(by), column)
    return table.group_by(list(by)).aggregate(value=_AGGREGATES[statistic](table[column]))


def _mode(table: ir.Table, by: list[str], column: str) -> ir.Table:
    """Most frequent value per group; ties go to the smallest value (PostgreSQL's `mode()`)."""
    present = table.filter(table[column].notnull())
    counts = present.group_by([*by, column]).aggregate(_n=ibis._.count())
    window = ibis.window(group_by=by, order_by=[ibis.desc(counts._n), counts[column]])
    ranked = counts.mutate(_rank=ibis.row_number().over(window))
    modes = ranked.filter(ranked._rank == 0).select(*by, value=ranked[column])
    groups = table.select(*by).distinct()
    return groups.left_join(modes, by).select(*by, "value")
