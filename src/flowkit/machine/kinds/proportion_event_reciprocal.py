"""proportion_event_reciprocal: the share of a subscriber's events with reciprocal contacts."""

from typing import Literal

import ibis
from pydantic import Field

from flowkit.machine.fields import DateRange, Direction, EventFilters
from flowkit.machine.kinds.contact_reciprocal import ContactReciprocal
from flowkit.machine.library import select_events
from flowkit.machine.sampling import Sampled
from flowkit.machine.spec import QuerySpec, register


@register
class ProportionEventReciprocal(QuerySpec, DateRange, EventFilters, Sampled):
    """Of the subscriber's events in the window (after direction and self-call filters), the
    share whose counterpart is a reciprocal contact in `contact_reciprocal` (`value`)."""

    query_kind: Literal["proportion_event_reciprocal"] = "proportion_event_reciprocal"
    contact_reciprocal: ContactReciprocal = Field(description="The contacts, marked reciprocal or not.")
    direction: Direction = Field(default="out", description="Events to look at: in, out or both.")
    exclude_self_calls: bool = Field(default=True, description="Drop events whose counterpart is the subscriber.")
    library_only = True

    def compute(self, inputs):
        keys = ["subscriber", "msisdn_counterpart"]
        events = select_events(inputs, self, ["msisdn_counterpart"], self.direction)
        if self.exclude_self_calls:
            events = events.filter(events.subscriber != events.msisdn_counterpart)
        contacts = inputs.result(self.contact_reciprocal).select(*keys, "reciprocal")
        joined = events.left_join(contacts, keys)
        reciprocal = ibis.coalesce(joined.reciprocal, False).cast("float64")
        return joined.group_by("subscriber").aggregate(value=reciprocal.mean())
