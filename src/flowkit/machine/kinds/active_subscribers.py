"""active_subscribers: subscribers active in enough periods of a regular calendar."""

from datetime import timedelta
from typing import Literal

import ibis
from pydantic import Field

from flowkit.machine.fields import EventFilters, Instant
from flowkit.machine.sampling import Sampled
from flowkit.machine.spec import QuerySpec, register

_UNIT = {"days": timedelta(days=1), "hours": timedelta(hours=1), "minutes": timedelta(minutes=1)}


@register
class ActiveSubscribers(QuerySpec, EventFilters, Sampled):
    """Subscribers seen in at least `minor_period_threshold` minor periods of at least
    `major_period_threshold` major periods (one column, `subscriber`).

    From `start_date`, `total_major_periods` major periods follow each other, each made of
    `minor_periods_per_major_period` minor periods of `minor_period_length` `period_unit`s.
    """

    query_kind: Literal["active_subscribers"] = "active_subscribers"
    start_date: Instant = Field(description="Start of the first period.")
    minor_period_length: int = Field(ge=1, description="Length of a minor period, in period_units.")
    minor_periods_per_major_period: int = Field(ge=1, description="Minor periods in a major period.")
    total_major_periods: int = Field(ge=1, description="Number of major periods.")
    minor_period_threshold: int = Field(ge=1, description="Active minor periods that make a major period active.")
    major_period_threshold: int = Field(ge=1, description="Active major periods a subscriber needs.")
    period_unit: Literal["days", "hours", "minutes"] = Field(default="hours", description="Unit of minor periods.")
    library_only = True

    def compute(self, inputs):
        minor = _UNIT[self.period_unit] * self.minor_period_length
        stop = self.start_date + minor * self.minor_periods_per_major_period * self.total_major_periods
        events = inputs.events(
            start=self.start_date,
            stop=stop,
            event_types=self.event_types,
            hours=self.hours,
            subscriber_subset=self.subscriber_subset,
            columns=["datetime"],
        )
        offset = events.datetime.delta(ibis.literal(self.start_date), unit="microsecond")
        index = offset // int(minor.total_seconds() * 1_000_000)
        seen = events.select("subscriber", _major=index // self.minor_periods_per_major_period, _minor=index).distinct()
        minors = seen.group_by(["subscriber", "_major"]).aggregate(_active=ibis._.count())
        majors = minors.filter(minors._active >= self.minor_period_threshold)
        counted = majors.group_by("subscriber").aggregate(_active=ibis._.count())
        return counted.filter(counted._active >= self.major_period_threshold).select("subscriber")
