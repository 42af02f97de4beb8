"""inflows: how many subscribers arrived at each location."""

from typing import Literal

import ibis

from flowkit.machine.kinds.flows import FlowSpec
from flowkit.machine.redaction import Redaction
from flowkit.machine.spec import register


@register
class Inflows(FlowSpec):
    """Per to-location, the flows into it summed over every from-location (unredacted pairs):
    one per joined row, so a NULL origin of an outer join still counts."""

    query_kind: Literal["inflows"] = "inflows"
    top_level = True
    redaction = Redaction()
    example = {
        "query_kind": "inflows",
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
        return joined.group_by(**{c: joined[end] for c, end in self.ends("to").items()}).aggregate(value=ibis._.count())
