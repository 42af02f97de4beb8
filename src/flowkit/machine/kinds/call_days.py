"""call_days: on how many days each subscriber was seen at each location."""

from typing import Literal

import ibis

from flowkit.machine.fields import AggregationUnit, DateRange, EventFilters
from flowkit.machine.sampling import Sampled
from flowkit.machine.spec import QuerySpec, register


@register
class CallDays(QuerySpec, DateRange, EventFilters, Sampled):
    """Per (subscriber, location) the number of distinct calendar days with a located event
    (FlowKit's CallDays, the weights of meaningful-location clustering)."""

    query_kind: Literal["call_days"] = "call_days"
    aggregation_unit: AggregationUnit
    library_only = True

    def compute(self, inputs):
        events = inputs.located_events(self.aggregation_unit, **self.selection())
        keys = ["subscriber", *self.location_columns]
        days = events.mutate(_day=events.datetime.date()).select(*keys, "_day").distinct()
        return days.group_by(keys).aggregate(calldays=ibis._.count())
