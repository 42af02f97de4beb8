"""spatial_aggregate: how many subscribers each location holds."""

from typing import Literal

import ibis

from flowkit.machine.kinds.groups import ReferenceLocation
from flowkit.machine.redaction import Redaction
from flowkit.machine.spec import QuerySpec, register


@register
class SpatialAggregate(QuerySpec):
    """Count of subscribers per location of a reference location."""

    query_kind: Literal["spatial_aggregate"] = "spatial_aggregate"
    locations: ReferenceLocation
    top_level = True
    redaction = Redaction()
    example = {
        "query_kind": "spatial_aggregate",
        "locations": {
            "query_kind": "daily_location",
            "date": "2016-01-05",
            "aggregation_unit": "admin3",
            "method": "last",
        },
    }

    def compute(self, inputs):
        located = inputs.result(self.locations)
        return located.group_by(list(self.location_columns)).aggregate(value=ibis._.count())
