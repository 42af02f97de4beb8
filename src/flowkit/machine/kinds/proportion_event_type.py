"""proportion_event_type: the share of a subscriber's events that are of given types."""

from typing import Literal

import ibis
from pydantic import Field

from flowkit.machine.fields import DateRange, Direction, EventFilters, EventTypes
from flowkit.machine.library import select_events
from flowkit.machine.sampling import Sampled
from flowkit.machine.spec import QuerySpec, register


@register
class ProportionEventType(QuerySpec, DateRange, EventFilters, Sampled):
    """Events in the `numerator` tables (with `numerator_direction`) divided by events in
    `event_types` (with `direction`); subscribers with no numerator event are absent."""

    query_kind: Literal["proportion_event_type"] = "proportion_event_type"
    numerator: EventTypes = Field(description="Event tables counted in the numerator.")
    numerator_direction: Direction = Field(default="both", description="Legs counted in the numerator.")
    direction: Direction = Field(default="both", description="Legs counted in the denominator.")
    library_only = True

    def compute(self, inputs):
        def counted(direction, **overrides):
            events = select_events(inputs, self, [], direction, **overrides)
            return events.group_by("subscriber").aggregate(_events=ibis._.count())

        numerator = counted(self.numerator_direction, event_types=self.numerator)
        denominator = counted(self.direction).rename(_total="_events")
        joined = numerator.join(denominator, "subscriber")
        return joined.select("subscriber", value=joined._events.cast("float64") / joined._total)
