"""Shared ground of the library-only analytics (FlowKit's features outside the API, §5).

The kinds in `kinds/` that set `library_only` select events through these helpers, so every
one of them reads `start_date`, `end_date`, `event_types`, `hours`, `subscriber_subset` and
`direction` the same way as the API kinds do.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir
from pydantic import Field

from flowkit.machine.fields import DateRange, Direction, EventFilters, HoursParam
from flowkit.machine.inputs import Inputs


class OneTableSelection(DateRange):
    """Kinds reading one fixed event table (call durations, mds volumes): no `event_types`."""

    subscriber_subset: str | None = Field(default=None, description="Id of a query whose subscribers to keep.")
    hours: HoursParam = Field(default=None, description="Hours of the day to keep (end exclusive, may wrap).")


def directed(events: ir.Table, direction: Direction) -> ir.Table:
    """Keep the subscriber's outgoing (`out`) or incoming (`in`) legs; `both` keeps all."""
    return events if direction == "both" else events.filter(events.outgoing == (direction == "out"))


def select_events(
    inputs: Inputs, spec: DateRange, columns: Sequence[str], direction: Direction = "both", **overrides
) -> ir.Table:
    """Events of the spec's selection with `subscriber` and `columns`, after the direction filter."""
    needed = [*columns, "outgoing"] if direction != "both" else list(columns)
    return directed(inputs.events(columns=needed, **spec.selection(**overrides)), direction)


def contact_balance(inputs: Inputs, spec: EventFilters, direction: Direction) -> ir.Table:
    """Events per (subscriber, msisdn_counterpart) and their share of the subscriber's events.

    Self-calls (counterpart = subscriber) are dropped first when `spec.exclude_self_calls`,
    so they count in neither the events nor the total, as in FlowKit's ContactBalance.
    """
    events = select_events(inputs, spec, ["msisdn_counterpart"], direction)
    if spec.exclude_self_calls:
        events = events.filter(events.subscriber != events.msisdn_counterpart)
    counts = events.group_by(["subscriber", "msisdn_counterpart"]).aggregate(events=ibis._.count())
    total = counts.events.sum().over(ibis.window(group_by="subscriber"))
    return counts.mutate(proportion=counts.events.cast("float64") / total)


def entropy(table: ir.Table, column: str, *, normalise: bool = True) -> ir.Table:
    """Per subscriber −Σ p ln p, p being `column` (divided by its subscriber total if `normalise`)."""
    share = table[column].cast("float64")
    if normalise:
        share = share / table[column].sum().over(ibis.window(group_by="subscriber"))
    terms = table.mutate(_term=share * share.ln())
    return terms.group_by("subscriber").aggregate(entropy=0 - terms._term.sum())  # 0.0, not -0.0, for one value


def interevent_seconds(inputs: Inputs, spec: DateRange) -> ir.Table:
    """Per selected event, seconds since the subscriber's previous selected event (`_seconds`).

    The direction filter comes first, so `out` measures between consecutive outgoing events;
    each subscriber's first event has no previous one (NULL), as FlowKit's LAG gives.
    """
    events = select_events(inputs, spec, ["datetime"], spec.direction)
    previous = events.datetime.lag().over(ibis.window(group_by="subscriber", order_by="datetime"))
    return events.select("subscriber", _seconds=events.datetime.delta(previous, unit="microsecond") / 1e6)
