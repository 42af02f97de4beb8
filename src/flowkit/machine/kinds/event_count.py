"""event_count: how many events a subscriber has."""

from typing import Literal

from pydantic import Field

from flowkit.machine.fields import DateRange, Direction, EventFilters
from flowkit.machine.library import select_events
from flowkit.machine.sampling import Sampled
from flowkit.machine.spec import QuerySpec, register


@register
class EventCount(QuerySpec, DateRange, EventFilters, Sampled):
    """Number of the subscriber's events (rows: a call counts once per party's leg)."""

    query_kind: Literal["event_count"] = "event_count"
    direction: Direction = Field(default="both", description="Legs to count: in, out or both.")

    def compute(self, inputs):
        events = select_events(inputs, self, ["datetime"], self.direction)
        return events.group_by("subscriber").aggregate(value=events.count())
