"""location_event_counts: events per location per day, hour or minute."""

from typing import Literal

from pydantic import AliasChoices, Field, field_validator

from flowkit.machine.fields import AggregationUnit, DateRange, Direction, EventFilters, GeoTrio
from flowkit.machine.redaction import Redaction
from flowkit.machine.spec import QuerySpec, register

_BUCKETS = {"day": ("date",), "hour": ("date", "hour"), "min": ("date", "hour", "min")}


@register
class LocationEventCounts(QuerySpec, DateRange, EventFilters, GeoTrio):
    """Event counts per location and time bucket; a bucket is served only if more than the
    redaction threshold of distinct subscribers (any direction, no subset) made its events."""

    query_kind: Literal["location_event_counts"] = "location_event_counts"
    aggregation_unit: AggregationUnit
    interval: Literal["day", "hour", "min"] = Field(validation_alias=AliasChoices("interval", "count_interval"))
    direction: Direction = "both"
    top_level = True
    redaction = Redaction(columns=("subscribers",), private=("subscribers",))
    example = {
        "query_kind": "location_event_counts",
        "start_date": "2016-01-01",
        "end_date": "2016-01-03",
        "aggregation_unit": "admin3",
        "interval": "hour",
    }

    @field_validator("interval", mode="before")
    @classmethod
    def _minute(cls, value):
        return "min" if value == "minute" else value  # flowclient documents "minute"

    def compute(self, inputs):
        keys = [*self.location_columns, *_BUCKETS[self.interval]]

        def bucketed(direction: Direction, subscriber_subset: str | None):
            columns = ("datetime", "outgoing") if direction != "both" else ("datetime",)
            events = inputs.located_events(
                self.aggregation_unit, columns=columns, **self.selection(subscriber_subset=subscriber_subset)
            )
            if direction != "both":
                events = events.filter(events.outgoing == (direction == "out"))
            return events.mutate(
                date=events.datetime.strftime("%Y-%m-%d"), hour=events.datetime.hour(), min=events.datetime.minute()
            )

        counted = bucketed(self.direction, self.subscriber_subset)
        if self.direction == "both" and self.subscriber_subset is None:
            return counted.group_by(keys).aggregate(value=counted.count(), subscribers=counted.subscriber.nunique())
        values = counted.group_by(keys).aggregate(value=counted.count())
        everyone = bucketed("both", None)
        subscribers = everyone.group_by(keys).aggregate(subscribers=everyone.subscriber.nunique())
        return values.join(subscribers, keys, how="left").select(*keys, "value", "subscribers")
