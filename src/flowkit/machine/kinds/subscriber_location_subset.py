"""subscriber_location_subset: where each subscriber made at least a number of calls."""

from typing import Literal

from pydantic import Field

from flowkit.machine.fields import AggregationUnit, Direction
from flowkit.machine.kinds.per_location_subscriber_call_durations import durations_per_location
from flowkit.machine.library import OneTableSelection
from flowkit.machine.sampling import Sampled
from flowkit.machine.spec import QuerySpec, register


@register
class SubscriberLocationSubset(QuerySpec, OneTableSelection, Sampled):
    """(subscriber, location) pairs with at least `min_calls` located call legs there.

    As in FlowKit, calls are counted with per_location_subscriber_call_durations' `count`,
    so legs without a duration do not count.
    """

    query_kind: Literal["subscriber_location_subset"] = "subscriber_location_subset"
    min_calls: int = Field(ge=1, description="Calls needed at a location.")
    direction: Direction = Field(default="both", description="Call legs: in, out or both.")
    aggregation_unit: AggregationUnit = Field(default="admin3", description="Unit of the locations.")
    library_only = True

    def compute(self, inputs):
        counts = durations_per_location(inputs, self, "count")
        return counts.filter(counts.value >= self.min_calls).select("subscriber", *self.location_columns)
