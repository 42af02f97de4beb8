"""total_network_objects: how many cells carried traffic per location and period."""

from typing import Literal

import ibis
import ibis.expr.types as ir
from pydantic import Field

from flowkit.machine.fields import AggregationUnit, DateRange, EventFilters, GeoTrio
from flowkit.machine.spec import QuerySpec, register

Period = Literal["second", "minute", "hour", "day", "month", "year"]
_UNITS = {"second": "s", "minute": "m", "hour": "h", "day": "D", "month": "M", "year": "Y"}


def truncate(timestamp: ir.TimestampValue, period: str) -> ir.TimestampValue:
    """Start of the period holding `timestamp`, as PostgreSQL's `date_trunc` (centuries start in year 1)."""
    if period == "century":
        return ibis.timestamp(((timestamp.year() - 1) // 100) * 100 + 1, 1, 1, 0, 0, 0)
    return timestamp.truncate(_UNITS[period])


@register
class TotalNetworkObjects(QuerySpec, DateRange, EventFilters, GeoTrio):
    """Per location and period (`total_by`), the number of distinct cells (raw `location_id`)
    with at least one event there. Counts network equipment, not people: served unredacted."""

    query_kind: Literal["total_network_objects"] = "total_network_objects"
    aggregation_unit: AggregationUnit
    total_by: Period = Field(default="day", description="Period to count cells per.")
    top_level = True
    example = {
        "query_kind": "total_network_objects",
        "start_date": "2016-01-01",
        "end_date": "2016-01-08",
        "aggregation_unit": "admin3",
        "total_by": "day",
    }

    def compute(self, inputs):
        columns = list(self.location_columns)
        events = inputs.located_events(
            self.aggregation_unit,
            columns=("datetime", "location_id"),
            **self.selection(),
        )
        events = events.mutate(datetime=truncate(events.datetime, self.total_by))
        totals = events.group_by([*columns, "datetime"]).aggregate(value=events.location_id.nunique())
        return totals.select(*columns, "value", "datetime")
