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

    def __init__(
        self,
        backend: ibis.BaseBackend,
        result: Callable[[QuerySpec], ir.Table],
        stored: Callable[[str], ir.Table | None] = lambda query_id: None,
    ):
        self.backend = backend
        self._result = result
        self._stored = stored

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
        """Events in [start, stop) from the given tables, `msisdn` renamed `subscriber`.

        `subscriber_subset` is the id of a stored result with a `subscriber` column: only its
        subscribers' events are kept (each once, whatever duplicates the subset holds).
        """
        subset = self.subscribers_of(subscriber_subset) if subscriber_subset is not None else None
        selected = []
        for event_type in event_types or DEFAULT_EVENT_TYPES:
            table = self.backend.table(event_type, database="events")
            missing = [c for c in columns if c not in table.columns and c != "subscriber"]
            if missing:
                raise QueryInputError(f"event_types: {event_type} events have no {', '.join(missing)}")
            table = table.filter((table.datetime >= start) & (table.datetime < stop))
            if hours is not None:
                table = table.filter(hours_filter(table.datetime, hours))
            if table.datetime.type().timezone is not None:  # FlowKit's own FlowDB: timestamptz, as UTC
                table = table.mutate(datetime=table.datetime.cast("timestamp"))
            selected.append(
                table.select(subscriber=table.msisdn, **{c: table[c] for c in columns if c != "subscriber"})
            )
        events = ibis.union(*selected, distinct=False) if len(selected) > 1 else selected[0]
        return events.semi_join(subset, "subscriber") if subset is not None else events

    def subscribers_of(self, query_id: str) -> ir.Table:
        """The distinct subscribers of a stored result, for `subscriber_subset`."""
        table = self._stored(query_id)
        if table is None:
            raise QueryInputError(f"subscriber_subset: no stored result with id '{query_id}'")
        if "subscriber" not in table.columns:
            raise QueryInputError(f"subscriber_subset: result '{query_id}' has no subscriber column")
        return table.select("subscriber").distinct()

    def located_events(self, aggregation_unit: str, *, columns: Sequence[str] = ("datetime",), **selection) -> ir.Table:
        """Events joined to the cell version in service that day, with the unit's location columns.

        Events whose cell is unknown, out of service that day, or outside every admin unit are
        dropped (FlowKit's inner join). Overlapping versions would duplicate an event, as in FlowKit.
        """
        events = self.events(columns=sorted({*columns, "location_id"}), **selection)
        others = [c for c in columns if c != "subscriber"]
        if aggregation_unit == "cell":  # FlowKit's cell unit: the raw location_id, no version check
            located = events.select("subscriber", *others, "location_id")
            return located.filter(located.location_id.notnull() & (located.location_id != ""))
        places = self.places(aggregation_unit)
        day = events.datetime.date()
        located = events.join(
            places,
            [
                events.location_id == places._cell,
                places.date_of_first_service.isnull() | (places.date_of_first_service <= day),
                places.date_of_last_service.isnull() | (places.date_of_last_service >= day),
            ],
        )
        return located.select("subscriber", *others, *location_columns(aggregation_unit))

    def places(self, aggregation_unit: str) -> ir.Table:
        """Cell id (`_cell`) → the unit's location columns, with the service dates that apply.

        Cell versions give admin units, lon-lat and versioned cells (cell dates); versioned
        sites take the site's position and the site's dates, as in FlowKit. Cells outside
        every polygon of an admin level have no place at that level.
        """
        cells = self.backend.table("cell_admin_units", database="geography")
        dates = {
            "date_of_first_service": cells.date_of_first_service,
            "date_of_last_service": cells.date_of_last_service,
        }
        if aggregation_unit == "versioned-site":
            sites = self.backend.table("site_locations", database="geography")
            joined = (
                cells.select(_cell=cells.location_id, _site=cells.site_id)
                .distinct()
                .join(sites, ibis._._site == sites.site_id)
            )
            return joined.select(
                "_cell", *location_columns("versioned-site"), "date_of_first_service", "date_of_last_service"
            )
        if aggregation_unit in ("lon-lat", "versioned-cell"):
            columns = {c: cells[c] for c in location_columns(aggregation_unit)}
            return cells.select(_cell=cells.location_id, **columns, **dates)
        pcod = cells[f"{aggregation_unit}pcod"]
        return cells.filter(pcod.notnull()).select(_cell=cells.location_id, pcod=pcod, **dates)


def hours_filter(timestamp: ir.TimestampValue, hours: Hours) -> ir.BooleanValue:
    """Hour of day in [start_hour, end_hour), wrapping midnight when start_hour > end_hour."""
    hour = timestamp.hour()
    if hours.start_hour < hours.end_hour:
        return (hour >= hours.start_hour) & (hour < hours.end_hour)
    if hours.start_hour > hours.end_hour:
        return (hour >= hours.start_hour) | (hour < hours.end_hour)
    return ibis.literal(False)
