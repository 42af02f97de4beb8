"""majority_location: the location holding more than half of a subscriber's weight."""

from typing import Literal

import ibis
from pydantic import Field

from flowkit.machine.kinds.location_visits import LocationVisits
from flowkit.machine.sampling import Sampled
from flowkit.machine.spec import QuerySpec, register


@register
class MajorityLocation(QuerySpec, Sampled):
    """The location whose weight (`value` of the location visits) is strictly more than half of the
    subscriber's total; the total is the sum of the non-negative weights, raised to
    `minimum_total_weight`. Subscribers without a majority are left out, or kept with a NULL
    location when `include_unlocatable`."""

    query_kind: Literal["majority_location"] = "majority_location"
    subscriber_location_weights: LocationVisits = Field(description="Weights per subscriber and location.")
    minimum_total_weight: float = Field(default=0.0, ge=0, description="Lower bound of each subscriber's total.")
    include_unlocatable: bool = Field(default=False, description="Keep subscribers without a majority (NULL).")

    def compute(self, inputs):
        columns = self.location_columns
        weights = inputs.result(self.subscriber_location_weights)
        totals = (
            weights.filter(weights.value >= 0)
            .group_by("subscriber")
            .aggregate(_total=ibis.greatest(ibis._.value.sum(), self.minimum_total_weight))
        )
        joined = weights.join(totals, "subscriber")
        majority = joined.filter(joined.value > joined._total / 2).select("subscriber", *columns)
        if not self.include_unlocatable:
            return majority
        everyone = weights.select(_who=weights.subscriber).distinct()
        kept = everyone.left_join(majority, everyone._who == majority.subscriber)
        return kept.select(subscriber=kept._who, **{c: kept[c] for c in columns})
