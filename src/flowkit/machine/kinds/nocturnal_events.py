"""nocturnal_events: the share of a subscriber's events that happen at night."""

from typing import Literal

from pydantic import Field

from flowkit.machine.fields import DateRange, EventSelection, Hours
from flowkit.machine.inputs import hours_filter
from flowkit.machine.sampling import Sampled
from flowkit.machine.spec import QuerySpec, register


@register
class NocturnalEvents(QuerySpec, DateRange, EventSelection, Sampled):
    """Percentage (0-100) of the subscriber's events, at any hour, whose hour falls in
    `night_hours` (start inclusive, end exclusive, wrapping midnight when start > end)."""

    query_kind: Literal["nocturnal_events"] = "nocturnal_events"
    night_hours: Hours = Field(description="The hours counted as night, e.g. 20 to 4.")

    def compute(self, inputs):
        events = inputs.events(columns=("datetime",), **self.selection())  # night_hours, not hours
        events = events.mutate(_night=hours_filter(events.datetime, self.night_hours).cast("float64"))
        return events.group_by("subscriber").aggregate(value=events._night.mean() * 100)
