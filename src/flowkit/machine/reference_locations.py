"""Picking one location per subscriber, with deterministic tie-breaks.

FlowKit leaves some ties to PostgreSQL's whim (docs/semantics.md); we break every remaining
tie by the smallest location (pcod, or lon then lat), so a result never changes between runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir


def first_per_subscriber(table: ir.Table, order_by: Sequence[ir.Value], locations: Sequence[str]) -> ir.Table:
    """The first row of each subscriber under `order_by`, keeping `subscriber` and `locations`."""
    window = ibis.window(group_by="subscriber", order_by=[*order_by, *(table[c] for c in locations)])
    ranked = table.mutate(_rank=ibis.row_number().over(window))
    return ranked.filter(ranked._rank == 0).select("subscriber", *locations)


def last_location(events: ir.Table, locations: Sequence[str]) -> ir.Table:
    """Location of each subscriber's latest event."""
    return first_per_subscriber(events, [ibis.desc(events.datetime)], locations)


def most_common_location(events: ir.Table, locations: Sequence[str], *, tag: str = "datetime") -> ir.Table:
    """Location with the most rows per subscriber; ties go to the location seen latest (by `tag`)."""
    counts = events.group_by(["subscriber", *locations]).aggregate(_rows=ibis._.count(), _latest=events[tag].max())
    return first_per_subscriber(counts, [ibis.desc(counts._rows), ibis.desc(counts._latest)], locations)
