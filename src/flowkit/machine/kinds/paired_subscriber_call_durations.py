"""paired_subscriber_call_durations: call durations per subscriber and counterpart."""

from typing import Literal

from pydantic import Field

from flowkit.machine.library import OneTableSelection, select_events
from flowkit.machine.sampling import Sampled
from flowkit.machine.spec import QuerySpec, register
from flowkit.machine.statistics import Statistic, summarise


@register
class PairedSubscriberCallDurations(QuerySpec, OneTableSelection, Sampled):
    """Statistic of `duration` over the calls each subscriber made to each counterpart
    (outgoing legs only, as in FlowKit)."""

    query_kind: Literal["paired_subscriber_call_durations"] = "paired_subscriber_call_durations"
    statistic: Statistic = Field(default="sum", description="Statistic over the durations.")
    library_only = True

    def compute(self, inputs):
        calls = select_events(inputs, self, ["msisdn_counterpart", "duration"], "out", event_types=["calls"])
        return summarise(calls, ["subscriber", "msisdn_counterpart"], "duration", self.statistic)
