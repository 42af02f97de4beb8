"""unmoving_counts: subscribers seen at one location only, per location."""

from typing import Literal

import ibis
from pydantic import Field

from flowkit.machine.kinds.groups import UniqueLocations
from flowkit.machine.locations import unique_locations_example
from flowkit.machine.redaction import Redaction
from flowkit.machine.spec import QuerySpec, register


@register
class UnmovingCounts(QuerySpec):
    """Per location, the number of subscribers whose only location in the period was that one."""

    query_kind: Literal["unmoving_counts"] = "unmoving_counts"
    locations: UniqueLocations = Field(description="Where subscribers were seen in the period.")
    top_level = True
    redaction = Redaction()
    example = {"query_kind": "unmoving_counts", "locations": unique_locations_example("2016-01-08", "2016-01-15")}

    def compute(self, inputs):
        seen = inputs.result(self.locations)
        seen = seen.mutate(_places=seen.count().over(group_by="subscriber"))
        unmoving = seen.filter(seen._places == 1)
        return unmoving.group_by(list(self.location_columns)).aggregate(value=ibis._.count())
