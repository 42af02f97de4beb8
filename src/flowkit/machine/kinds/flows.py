"""flows: subscribers moving between the locations of two reference locations."""

from typing import Literal

import ibis
from pydantic import model_validator

from flowkit.machine.kinds.groups import InputToFlows
from flowkit.machine.redaction import Redaction
from flowkit.machine.spec import QuerySpec, register

JoinType = Literal["inner", "full outer", "left", "right", "left outer", "right outer"]
_IBIS_JOIN = {
    "inner": "inner",
    "full outer": "outer",
    "left": "left",
    "right": "right",
    "left outer": "left",
    "right outer": "right",
}


@register
class Flows(QuerySpec):
    """Per (from, to) pair, the number of subscribers found at both; outer joins keep the unmatched."""

    query_kind: Literal["flows"] = "flows"
    from_location: InputToFlows
    to_location: InputToFlows
    join_type: JoinType = "inner"
    top_level = True
    redaction = Redaction()
    example = {
        "query_kind": "flows",
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

    @model_validator(mode="after")
    def _one_unit(self):
        if self.from_location.unit != self.to_location.unit:
            raise ValueError("from_location and to_location must have the same aggregation_unit")
        return self

    def compute(self, inputs):
        columns = self.from_location.location_columns
        origin = inputs.result(self.from_location)
        destination = inputs.result(self.to_location)
        origin = origin.select(_who=origin.subscriber, **{f"{c}_from": origin[c] for c in columns})
        destination = destination.select(_whom=destination.subscriber, **{f"{c}_to": destination[c] for c in columns})
        joined = origin.join(destination, origin._who == destination._whom, how=_IBIS_JOIN[self.join_type])
        pairs = [f"{c}_from" for c in columns] + [f"{c}_to" for c in columns]
        return joined.group_by(pairs).aggregate(value=ibis._.count())
