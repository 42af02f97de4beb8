"""inflows: how many subscribers arrived at each location."""

from typing import Literal

from flowkit.machine.kinds.flows import FlowSpec
from flowkit.machine.locations import daily_example
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
        "from_location": daily_example("2016-01-05"),
        "to_location": daily_example("2016-01-06"),
    }

    def compute(self, inputs):
        return self.total(inputs, "to")
