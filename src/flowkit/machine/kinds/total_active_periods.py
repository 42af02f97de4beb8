"""total_active_periods: in how many of a run of periods a subscriber was active."""

from typing import Literal

from flowkit.machine.fields import EventFilters
from flowkit.machine.metrics import Periods
from flowkit.machine.spec import QuerySpec, register


@register
class TotalActivePeriods(QuerySpec, Periods, EventFilters):
    """Number of the periods [start + i·length, start + (i+1)·length), i < total_periods, in which
    the subscriber has at least one event. FlowKit offers no sampling here."""

    query_kind: Literal["total_active_periods"] = "total_active_periods"

    def compute(self, inputs):
        periods = self.active_periods(inputs)
        return periods.group_by("subscriber").aggregate(value=periods.count())
