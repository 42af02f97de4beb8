"""contact_reciprocal: which of a subscriber's contacts go both ways."""

from typing import Literal

import ibis
from pydantic import Field

from flowkit.machine.fields import DateRange, EventFilters
from flowkit.machine.library import contact_balance
from flowkit.machine.sampling import Sampled
from flowkit.machine.spec import QuerySpec, register


@register
class ContactReciprocal(QuerySpec, DateRange, EventFilters, Sampled):
    """Per (subscriber, msisdn_counterpart): incoming and outgoing events and their shares of
    the subscriber's incoming and outgoing events (0 when none), and `reciprocal`: whether
    events went both ways."""

    query_kind: Literal["contact_reciprocal"] = "contact_reciprocal"
    exclude_self_calls: bool = Field(default=True, description="Drop events whose counterpart is the subscriber.")
    library_only = True

    def compute(self, inputs):
        keys = ["subscriber", "msisdn_counterpart"]
        incoming = contact_balance(inputs, self, "in").rename(events_in="events", proportion_in="proportion")
        outgoing = contact_balance(inputs, self, "out").rename(events_out="events", proportion_out="proportion")
        joined = incoming.join(outgoing, keys, how="outer", lname="{name}_i", rname="{name}_o")
        return joined.select(
            **{key: ibis.coalesce(joined[f"{key}_i"], joined[f"{key}_o"]) for key in keys},
            events_in=joined.events_in.fill_null(0),
            events_out=joined.events_out.fill_null(0),
            proportion_in=joined.proportion_in.fill_null(0),
            proportion_out=joined.proportion_out.fill_null(0),
            reciprocal=joined.events_in.notnull() & joined.events_out.notnull(),
        )
