"""interevent_period: interevent_interval in whole units of time."""

from typing import Literal

from pydantic import Field

from flowkit.machine.fields import DateRange, Direction, EventFilters
from flowkit.machine.library import interevent_seconds
from flowkit.machine.sampling import Sampled
from flowkit.machine.spec import QuerySpec, register
from flowkit.machine.statistics import Statistic, summarise

# FlowKit's unit lengths in seconds (a month is 30 days, a year 365.25).
TIME_RESOLUTIONS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "month": 2592000, "year": 31557600}


@register
class IntereventPeriod(QuerySpec, DateRange, EventFilters, Sampled):
    """The statistic of interevent_interval divided by the unit and rounded down (`value`).

    `variance` is in squared units (divided by the unit twice) and `count` is a number of gaps,
    not a duration (FlowKit divides variance once and fails on count).
    """

    query_kind: Literal["interevent_period"] = "interevent_period"
    statistic: Statistic = Field(default="avg", description="Statistic over the gaps.")
    time_resolution: Literal["second", "minute", "hour", "day", "month", "year"] = Field(
        default="hour", description="Unit of the result."
    )
    direction: Direction = Field(default="out", description="Events to look at: in, out or both.")
    library_only = True

    def compute(self, inputs):
        stats = summarise(interevent_seconds(inputs, self), ["subscriber"], "_seconds", self.statistic)
        if self.statistic == "count":
            return stats
        unit = TIME_RESOLUTIONS[self.time_resolution] ** (2 if self.statistic == "variance" else 1)
        return stats.mutate(value=(stats.value / unit).floor())
