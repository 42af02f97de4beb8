"""outflows: how many subscribers left each location."""

from typing import Literal

from flowkit.machine.kinds.flows import FlowSpec
from flowkit.machine.locations import daily_example
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
        "from_location": daily_example("2016-01-05"),
        "to_location": daily_example("2016-01-06"),
    }

    def compute(self, inputs):
        return self.total(inputs, "from")
