"""subscriber_call_durations: a statistic of the durations of each subscriber's calls."""

from typing import Literal

from pydantic import Field

from flowkit.machine.fields import Direction
from flowkit.machine.library import OneTableSelection, select_events
from flowkit.machine.sampling import Sampled
from flowkit.machine.spec import QuerySpec, register
from flowkit.machine.statistics import Statistic, summarise


@register
class SubscriberCallDurations(QuerySpec, OneTableSelection, Sampled):
    """Statistic of `duration` over the subscriber's call legs in the window (`value`)."""

    query_kind: Literal["subscriber_call_durations"] = "subscriber_call_durations"
    direction: Direction = Field(default="out", description="Call legs: in, out or both.")
    statistic: Statistic = Field(default="sum", description="Statistic over the durations.")
    library_only = True

    def compute(self, inputs):
        calls = select_events(inputs, self, ["duration"], self.direction, event_types=["calls"])
        return summarise(calls, ["subscriber"], "duration", self.statistic)
