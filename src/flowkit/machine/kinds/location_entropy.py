"""location_entropy: how evenly a subscriber's events spread over locations."""

from typing import Literal

import ibis
from pydantic import Field

from flowkit.machine.fields import AggregationUnit, DateRange, EventFilters
from flowkit.machine.library import entropy
from flowkit.machine.sampling import Sampled
from flowkit.machine.spec import QuerySpec, register


@register
class LocationEntropy(QuerySpec, DateRange, EventFilters, Sampled):
    """−Σ p ln p, p being the share of the subscriber's located events at each location."""

    query_kind: Literal["location_entropy"] = "location_entropy"
    aggregation_unit: AggregationUnit = Field(default="cell", description="Unit of the locations (default cell).")
    library_only = True

    def compute(self, inputs):
        events = inputs.located_events(self.aggregation_unit, **self.selection())
        counts = events.group_by(["subscriber", *self.location_columns]).aggregate(_events=ibis._.count())
        return entropy(counts, "_events")
