"""daily_location: one location per subscriber for one day."""

from typing import Literal

from pydantic import Field

from flowkit.machine.fields import ONE_DAY, AggregationUnit, EventFilters, GeoTrio, Instant
from flowkit.machine.reference_locations import last_location, most_common_location
from flowkit.machine.spec import QuerySpec, register


@register
class DailyLocation(QuerySpec, EventFilters, GeoTrio):
    """Where each subscriber was on a day: their last location, or their most common one."""

    query_kind: Literal["daily_location"] = "daily_location"
    date: Instant = Field(description="The day (a datetime starts a 24-hour window there).")
    aggregation_unit: AggregationUnit
    method: Literal["last", "most-common"]

    def compute(self, inputs):
        events = inputs.located_events(
            self.aggregation_unit,
            start=self.date,
            stop=self.date + ONE_DAY,
            event_types=self.event_types,
            hours=self.hours,
            subscriber_subset=self.subscriber_subset,
        )
        pick = last_location if self.method == "last" else most_common_location
        return pick(events, self.location_columns)
