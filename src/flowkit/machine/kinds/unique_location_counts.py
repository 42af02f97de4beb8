"""unique_location_counts: how many different places a subscriber was seen at."""

from typing import Literal

from flowkit.machine.fields import AggregationUnit, DateRange, EventFilters, GeoTrio
from flowkit.machine.spec import QuerySpec, register


@register
class UniqueLocationCounts(QuerySpec, DateRange, EventFilters, GeoTrio):
    """Number of distinct locations (at `aggregation_unit`) with at least one of the subscriber's
    located events. FlowKit offers no sampling here."""

    query_kind: Literal["unique_location_counts"] = "unique_location_counts"
    aggregation_unit: AggregationUnit

    def compute(self, inputs):
        events = inputs.located_events(self.aggregation_unit, **self.selection())
        visited = events.select("subscriber", *self.location_columns).distinct()
        return visited.group_by("subscriber").aggregate(value=visited.count())
