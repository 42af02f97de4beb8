"""flows: subscribers moving between the locations of two reference locations.

`FlowSpec` holds what flows, inflows, outflows and labelled_flows share: the two located
populations, the join type, and the one join of the two on subscriber.
"""

from typing import Literal

import ibis
import ibis.expr.types as ir
from pydantic import Field, model_validator

from flowkit.machine.kinds.groups import InputToFlows
from flowkit.machine.locations import daily_example, require_same_unit
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


class FlowSpec(QuerySpec):
    """Two located populations joined on subscriber."""

    from_location: InputToFlows = Field(description="Where subscribers were first.")
    to_location: InputToFlows = Field(description="Where subscribers were then (same aggregation_unit).")
    join_type: JoinType = Field(default="inner", description="How to join the two; outer joins keep the unmatched.")

    @model_validator(mode="after")
    def _one_unit(self):
        require_same_unit(self, "from_location", "to_location")
        return self

    def joined(self, inputs) -> ir.Table:
        """One row per pairing of a subscriber's from and to rows (every pair, for unique_locations):
        `subscriber`, then `<column>_from` and `<column>_to` for each location column."""
        columns = self.from_location.location_columns
        origin = inputs.result(self.from_location)
        destination = inputs.result(self.to_location)
        origin = origin.select(_who=origin.subscriber, **{f"{c}_from": origin[c] for c in columns})
        destination = destination.select(_whom=destination.subscriber, **{f"{c}_to": destination[c] for c in columns})
        joined = origin.join(destination, origin._who == destination._whom, how=_IBIS_JOIN[self.join_type])
        pairs = [f"{c}_from" for c in columns] + [f"{c}_to" for c in columns]
        return joined.mutate(subscriber=ibis.coalesce(joined._who, joined._whom)).select("subscriber", *pairs)

    def total(self, inputs, end: Literal["from", "to"]) -> ir.Table:
        """Joined rows counted per location at one end: in/outflows summed over unredacted pairs."""
        joined = self.joined(inputs)
        return joined.group_by(**{c: joined[name] for c, name in self.ends(end).items()}).aggregate(
            value=ibis._.count()
        )

    def ends(self, end: Literal["from", "to"]) -> dict[str, str]:
        """Unit column -> its column in `joined` at one end of the flow."""
        return {c: f"{c}_{end}" for c in self.from_location.location_columns}


@register
class Flows(FlowSpec):
    """Per (from, to) pair, the number of subscribers found at both; outer joins keep the unmatched."""

    query_kind: Literal["flows"] = "flows"
    top_level = True
    redaction = Redaction()
    example = {
        "query_kind": "flows",
        "from_location": daily_example("2016-01-05"),
        "to_location": daily_example("2016-01-06"),
    }

    def compute(self, inputs):
        joined = self.joined(inputs)
        return joined.group_by([*self.ends("from").values(), *self.ends("to").values()]).aggregate(value=ibis._.count())
