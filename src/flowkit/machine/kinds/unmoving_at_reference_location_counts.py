"""unmoving_at_reference_location_counts: residents who never left their reference location."""

from typing import Literal

import ibis
from pydantic import Field, model_validator

from flowkit.machine.kinds.groups import ReferenceLocation, UniqueLocations
from flowkit.machine.locations import daily_example, require_same_unit, unique_locations_example
from flowkit.machine.redaction import Redaction
from flowkit.machine.spec import QuerySpec, register


@register
class UnmovingAtReferenceLocationCounts(QuerySpec):
    """Per reference location, the number of its subscribers seen in the period and only there
    (subscribers not seen, or with a NULL reference location, do not count)."""

    query_kind: Literal["unmoving_at_reference_location_counts"] = "unmoving_at_reference_location_counts"
    locations: UniqueLocations = Field(description="Where subscribers were seen in the period.")
    reference_locations: ReferenceLocation = Field(description="Each subscriber's reference (home) location.")
    top_level = True
    redaction = Redaction()
    example = {
        "query_kind": "unmoving_at_reference_location_counts",
        "locations": unique_locations_example("2016-01-08", "2016-01-15"),
        "reference_locations": {
            "query_kind": "modal_location",
            "locations": [daily_example(f"2016-01-{day:02}") for day in range(1, 8)],
        },
    }

    @model_validator(mode="after")
    def _one_unit(self):
        require_same_unit(self, "locations", "reference_locations")
        return self

    def compute(self, inputs):
        columns = list(self.location_columns)
        residents = inputs.result(self.reference_locations)
        seen = inputs.result(self.locations)
        seen = seen.select(_who=seen.subscriber, **{f"_seen_{c}": seen[c] for c in columns})
        joined = residents.join(seen, residents.subscriber == seen._who)
        away = ibis.or_(*(joined[c] != joined[f"_seen_{c}"] for c in columns))  # NULL for a NULL home
        per_subscriber = joined.group_by(["subscriber", *columns]).aggregate(_away=away.cast("int64").sum())
        unmoving = per_subscriber.filter(per_subscriber._away == 0)
        return unmoving.group_by(columns).aggregate(value=ibis._.count())
