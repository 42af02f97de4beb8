"""per_location_event_stats: a statistic of a subscriber's event counts per location."""

from typing import Literal

import ibis
from pydantic import Field

from flowkit.machine.fields import AggregationUnit, DateRange, Direction, EventFilters
from flowkit.machine.library import directed
from flowkit.machine.sampling import Sampled
from flowkit.machine.spec import QuerySpec, register
from flowkit.machine.statistics import Statistic, summarise


@register
class PerLocationEventStats(QuerySpec, DateRange, EventFilters, Sampled):
    """Count the subscriber's located events at each location, then take the statistic of
    those counts (`value`; e.g. avg = mean events per visited location)."""

    query_kind: Literal["per_location_event_stats"] = "per_location_event_stats"
    statistic: Statistic = Field(default="avg", description="Statistic over the per-location counts.")
    aggregation_unit: AggregationUnit = Field(default="cell", description="Unit of the locations (default cell).")
    direction: Direction = Field(default="both", description="Legs to count: in, out or both.")
    library_only = True

    def compute(self, inputs):
        columns = ("datetime", *(("outgoing",) if self.direction != "both" else ()))
        events = directed(
            inputs.located_events(self.aggregation_unit, columns=columns, **self.selection()), self.direction
        )
        counts = events.group_by(["subscriber", *self.location_columns]).aggregate(_events=ibis._.count())
        return summarise(counts, ["subscriber"], "_events", self.statistic)
