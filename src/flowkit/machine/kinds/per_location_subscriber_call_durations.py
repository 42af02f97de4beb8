"""per_location_subscriber_call_durations: call durations per subscriber and location."""

from typing import Literal

import ibis.expr.types as ir
from pydantic import Field

from flowkit.machine.fields import AggregationUnit, Direction
from flowkit.machine.inputs import Inputs
from flowkit.machine.library import OneTableSelection, directed
from flowkit.machine.sampling import Sampled
from flowkit.machine.spec import QuerySpec, register
from flowkit.machine.statistics import Statistic, summarise


@register
class PerLocationSubscriberCallDurations(QuerySpec, OneTableSelection, Sampled):
    """Statistic of `duration` over the subscriber's call legs located at each location."""

    query_kind: Literal["per_location_subscriber_call_durations"] = "per_location_subscriber_call_durations"
    direction: Direction = Field(default="out", description="Call legs: in, out or both.")
    statistic: Statistic = Field(default="sum", description="Statistic over the durations.")
    aggregation_unit: AggregationUnit = Field(default="admin3", description="Unit of the locations.")
    library_only = True

    def compute(self, inputs):
        return durations_per_location(inputs, self, self.statistic)


def durations_per_location(inputs: Inputs, spec, statistic: Statistic) -> ir.Table:
    """Statistic of call `duration` per (subscriber, location) for a spec with a call window,
    `direction` and `aggregation_unit`."""
    columns = ("datetime", "duration", *(("outgoing",) if spec.direction != "both" else ()))
    calls = inputs.located_events(spec.aggregation_unit, columns=columns, **spec.selection(event_types=["calls"]))
    return summarise(directed(calls, spec.direction), ["subscriber", *spec.location_columns], "duration", statistic)
