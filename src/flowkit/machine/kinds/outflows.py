"""outflows: how many subscribers left each location."""

from typing import Literal

import ibis

from flowkit.machine.kinds.flows import FlowSpec
from flowkit.machine.redaction import Redaction
from flowkit.machine.spec import register


@register
class Outflows(FlowSpec):
    """Per from-location, the flows out of it summed over every to-location (unredacted pairs):
    one per joined row, so a NULL destination of an outer join still counts."""

    query_kind: Literal["outflows"] = "outflows"
    top_level = True
    redaction = Redaction()
    example = {
        "query_kind": "outflows",
        "from_location": {
            "query_kind": "daily_location",
            "date": "2016-01-05",
            "aggregation_unit": "admin3",
            "method": "last",
        },
        "to_location": {
            "query_kind": "daily_location",
            "date": "2016-01-06",
            "aggregation_unit": "admin3",
            "method": "last",
        },
    }

    def compute(self, inputs):
        joined = self.joined(inputs)
        return joined.group_by(**{c: joined[end] for c, end in self.ends("from").items()}).aggregate(
            value=ibis._.count()
        )
