"""What a kind's compute function reads: event selections, located events, nested results.

Everything here builds Ibis expressions; nothing executes. The event-selection rules are
FlowKit's (flowmachine-semantics.md §2): half-open windows, hours at hour resolution with
the end excluded and wrap-around when start > end, calls and sms by default, an event is
located by the cell version in service on the event's date.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import ibis
import ibis.expr.types as ir

from flowkit.machine.fields import DEFAULT_EVENT_TYPES, Hours
from flowkit.machine.spec import QuerySpec, location_columns


class QueryInputError(ValueError):
    """A spec that validates but cannot be computed on this FlowDB (e.g. a column a table lacks)."""


class Inputs:
    """The FlowDB as a query kind sees it."""

    def __init__(self, backend: ibis.BaseBackend, result: Callable[[QuerySpec], ir.Table]):
        self.backend = backend
        self._result = result

    def result(self, spec: QuerySpec) -> ir.Table:
        """A nested spec's result: its stored table if there is one, else its expression."""
        return self._result(spec)

    def events(
        self,
        *,
        start: datetime,
        stop: datetime,
        event_types: Sequence[str] | None = None,
        hours: Hours | None = None,
        subscriber_subset: str | None = None,
        columns: Sequence[str] = ("datetime", "location_id"),
    ) -> ir.Table:
        """Events in [start, stop) from the given tables, `msisdn` renamed `subscriber`."""
        if subscriber_subset is not None:
            raise QueryInputError("subscriber_subset: subsetting by query id is not available yet")
        selected = []
        for event_type in event_types or DEFAULT_EVENT_TYPES:
            table = self.backend.table(event_type, database="events")
            missing = [c for c in columns if c not in table.columns and c != "subscriber"]
            if missing:
                raise QueryInputError(f"event_types: {event_type} events have no {', '.join(missing)}")
            table = table.filter((table.datetime >= start) & (table.datetime < stop))
            if hours is not None:
                table = table.filter(hours_filter(table.datetime, hours))
            selected.append(
                table.select(subscriber=table.msisdn, **{c: table[c] for c in columns if c != "subscriber"})
            )
        return ibis.union(*selected, distinct=False) if len(selected) > 1 else selected[0]

    def located_events(self, aggregation_unit: str, *, columns: Sequence[str] = ("datetime",), **selection) -> ir.Table:
        """Events joined to the cell version in service that day, with the unit's location columns.

        Events whose cell is unknown, out of service that day, or outside every admin unit are
        dropped (FlowKit's inner join). Overlapping versions would duplicate an event, as in FlowKit.
        """
        events = self.events(columns=sorted({*columns, "location_id"}), **selection)
        cells = self.backend.table("cell_admin_units", database="geography")
        day = events.datetime.date()
        located = events.join(
            cells,
            [
                events.location_id == cells.location_id,
                cells.date_of_first_service.isnull() | (cells.date_of_first_service <= day),
                cells.date_of_last_service.isnull() | (cells.date_of_last_service >= day),
            ],
        )
        if aggregation_unit == "lon-lat":
            places = {"lon": located.lon, "lat": located.lat}
        else:
            places = {"pcod": located[f"{aggregation_unit}pcod"]}
        located = located.select("subscriber", *[c for c in columns if c != "subscriber"], **places)
        return located.filter(*[located[c].notnull() for c in location_columns(aggregation_unit)])


def hours_filter(timestamp: ir.TimestampValue, hours: Hours) -> ir.BooleanValue:
    """Hour of day in [start_hour, end_hour), wrapping midnight when start_hour > end_hour."""
    hour = timestamp.hour()
    if hours.start_hour < hours.end_hour:
        return (hour >= hours.start_hour) & (hour < hours.end_hour)
    if hours.start_hour > hours.end_hour:
        return (hour >= hours.start_hour) | (hour < hours.end_hour)
    return ibis.literal(False)
