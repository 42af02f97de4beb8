"""subscriber_degree: how many different people a subscriber interacts with."""

from typing import Literal

from pydantic import Field

from flowkit.machine.fields import DateRange, Direction, EventFilters
from flowkit.machine.library import select_events
from flowkit.machine.sampling import Sampled
from flowkit.machine.spec import QuerySpec, register


@register
class SubscriberDegree(QuerySpec, DateRange, EventFilters, Sampled):
    """Number of distinct counterparts of the subscriber's events; calls to oneself do not count.
    Only calls and sms have counterparts: naming mds or topups fails when computed."""

    query_kind: Literal["subscriber_degree"] = "subscriber_degree"
    direction: Direction = Field(default="both", description="Legs to count: in, out or both.")

    def compute(self, inputs):
        events = select_events(inputs, self, ["msisdn_counterpart"], self.direction)
        others = events.filter(events.msisdn_counterpart != events.subscriber)
        return others.group_by("subscriber").aggregate(value=others.msisdn_counterpart.nunique())
