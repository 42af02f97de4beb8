"""coalesced_location: a preferred majority location, else a well-attested fallback one."""

from typing import Literal

import ibis
from pydantic import Field, model_validator

from flowkit.machine.kinds.location_visits import LocationVisits
from flowkit.machine.kinds.majority_location import MajorityLocation
from flowkit.machine.locations import require_same_unit
from flowkit.machine.sampling import Sampled
from flowkit.machine.spec import QuerySpec, register


@register
class CoalescedLocation(QuerySpec, Sampled):
    """Each subscriber's preferred location if it is not NULL; otherwise their fallback location,
    kept only if its weight in `subscriber_location_weights` is at least `weight_threshold`.
    Subscribers of either input appear; a NULL preferred location with no usable fallback stays NULL."""

    query_kind: Literal["coalesced_location"] = "coalesced_location"
    preferred_location: MajorityLocation = Field(description="Used wherever it locates the subscriber.")
    fallback_location: MajorityLocation = Field(description="Used for the rest, if well attested.")
    subscriber_location_weights: LocationVisits = Field(description="Weights that attest a fallback location.")
    weight_threshold: int = Field(description="Smallest weight (inclusive) for a fallback location to count.")

    @model_validator(mode="after")
    def _one_unit(self):
        require_same_unit(self, "preferred_location", "fallback_location", "subscriber_location_weights")
        return self

    def compute(self, inputs):
        columns = self.location_columns
        weights = inputs.result(self.subscriber_location_weights)
        attested = weights.filter(weights.value >= self.weight_threshold).select("subscriber", *columns)
        fallback = inputs.result(self.fallback_location).semi_join(attested, ["subscriber", *columns])
        preferred = inputs.result(self.preferred_location)
        preferred = preferred.select(_who=preferred.subscriber, **{f"_p_{c}": preferred[c] for c in columns})
        fallback = fallback.select(_whom=fallback.subscriber, **{f"_f_{c}": fallback[c] for c in columns})
        both = preferred.outer_join(fallback, preferred._who == fallback._whom)
        return both.select(
            subscriber=ibis.coalesce(both._who, both._whom),
            **{c: ibis.coalesce(both[f"_p_{c}"], both[f"_f_{c}"]) for c in columns},
        )
