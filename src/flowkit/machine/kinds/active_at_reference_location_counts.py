"""active_at_reference_location_counts: residents seen at their reference location in a period."""

from typing import Literal

import ibis
from pydantic import Field, model_validator

from flowkit.machine.kinds.groups import ReferenceLocation, UniqueLocations
from flowkit.machine.locations import daily_example, require_same_unit, unique_locations_example
from flowkit.machine.redaction import Redaction
from flowkit.machine.spec import QuerySpec, register


@register
class ActiveAtReferenceLocationCounts(QuerySpec):
    """Per reference location, how many of the subscribers it locates were seen there among their
    unique locations of the period (0 where none were); served where that count exceeds the threshold."""

    query_kind: Literal["active_at_reference_location_counts"] = "active_at_reference_location_counts"
    unique_locations: UniqueLocations = Field(description="Where subscribers were seen in the period.")
    reference_locations: ReferenceLocation = Field(description="Each subscriber's reference (home) location.")
    top_level = True
    redaction = Redaction()
    example = {
        "query_kind": "active_at_reference_location_counts",
        "unique_locations": unique_locations_example("2016-01-08", "2016-01-15"),
        "reference_locations": {
            "query_kind": "modal_location",
            "locations": [daily_example(f"2016-01-{day:02}") for day in range(1, 8)],
        },
    }

    @model_validator(mode="after")
    def _one_unit(self):
        require_same_unit(self, "unique_locations", "reference_locations")
        return self

    def compute(self, inputs):
        columns = list(self.location_columns)
        residents = inputs.result(self.reference_locations)
        seen = inputs.result(self.unique_locations).select("subscriber", *columns).mutate(_seen=ibis.literal(1))
        joined = residents.left_join(seen, ["subscriber", *columns])
        return joined.group_by(columns).aggregate(value=joined._seen.count())
