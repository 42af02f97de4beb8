"""interevent_interval: a statistic of the time between a subscriber's consecutive events."""

from typing import Literal

from pydantic import Field

from flowkit.machine.fields import DateRange, Direction, EventFilters
from flowkit.machine.library import interevent_seconds
from flowkit.machine.sampling import Sampled
from flowkit.machine.spec import QuerySpec, register
from flowkit.machine.statistics import Statistic, summarise


@register
class IntereventInterval(QuerySpec, DateRange, EventFilters, Sampled):
    """Statistic of the gaps between consecutive events, in seconds (`value`).

    FlowKit returns PostgreSQL intervals; a number of seconds is the same quantity in a form
    every backend and DataFrame holds. A subscriber with a single event has no gap: NULL
    (`count` 0).
    """

    query_kind: Literal["interevent_interval"] = "interevent_interval"
    statistic: Statistic = Field(default="avg", description="Statistic over the gaps.")
    direction: Direction = Field(default="out", description="Events to look at: in, out or both.")
    library_only = True

    def compute(self, inputs):
        return summarise(interevent_seconds(inputs, self), ["subscriber"], "_seconds", self.statistic)
