"""Statistical disclosure control: the one place that decides which rows may leave the API.

Each top-level kind names its rule (`QuerySpec.redaction`); results are stored unredacted,
and the rule is applied to the stored table whenever a result is served. Kinds whose rows do
not count subscribers (network objects, DFS amounts, geography) name no rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

# A row describing this many subscribers or fewer is never served (FlowKit's k-anonymity rule).
REDACTION_THRESHOLD = 15


@dataclass(frozen=True)
class Redaction:
    """Keep a row only if each of `columns` counts more than the threshold of subscribers.

    `private` columns exist only for this rule (e.g. the subscribers behind an event count)
    and are dropped before rows leave. With `whole_groups`, a row is kept only if every row of
    its group (same values in those columns) passes — a location with one small label group is
    hidden entirely, so the small group cannot be recovered by subtraction; names a result lacks
    are ignored, so one rule serves results located by `pcod` and by `lon, lat`. With `all_or_nothing`,
    one failing row blanks the whole result (FlowKit's histogram censoring).
    """

    columns: tuple[str, ...] = ("value",)
    private: tuple[str, ...] = ()
    whole_groups: tuple[str, ...] | None = None
    all_or_nothing: bool = False

    def apply(self, table: ir.Table, threshold: int = REDACTION_THRESHOLD) -> ir.Table:
        passes = ibis.and_(*(table[c] > threshold for c in self.columns)).cast("int8")
        if self.all_or_nothing:
            table = table.mutate(_passes=passes.min().over(ibis.window()))
            blank = {c: ibis.null(table[c].type()) for c in table.columns if c not in ("_passes", *self.private)}
            table = table.mutate(**{c: (table._passes == 1).ifelse(table[c], null) for c, null in blank.items()})
            kept = table.drop("_passes")
        elif self.whole_groups is not None:
            groups = [c for c in self.whole_groups if c in table.columns]
            table = table.mutate(_passes=passes.min().over(ibis.window(group_by=groups)))
            kept = table.filter(table._passes == 1).drop("_passes")
        else:
            kept = table.filter(passes == 1)
        return kept.drop(*self.private) if self.private else kept
