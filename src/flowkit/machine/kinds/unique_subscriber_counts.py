"""unique_subscriber_counts: distinct subscribers seen at each location over a window."""

from typing import Literal

from flowkit.machine.fields import AggregationUnit, DateRange, EventFilters, GeoTrio
from flowkit.machine.redaction import Redaction
from flowkit.machine.spec import QuerySpec, register


@register
class UniqueSubscriberCounts(QuerySpec, DateRange, EventFilters, GeoTrio):
    """Number of distinct subscribers with at least one located event per location."""

    query_kind: Literal["unique_subscriber_counts"] = "unique_subscriber_counts"
    aggregation_unit: AggregationUnit
    top_level = True
    redaction = Redaction()
    example = {
        "query_kind": "unique_subscriber_counts",
        "start_date": "2016-01-01",
        "end_date": "2016-01-08",
        "aggregation_unit": "admin3",
    }

    def compute(self, inputs):
        events = inputs.located_events(
            self.aggregation_unit,
            **self.selection(),
        )
        return events.group_by(list(self.location_columns)).aggregate(value=events.subscriber.nunique())
