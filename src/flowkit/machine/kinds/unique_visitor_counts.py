"""unique_visitor_counts: subscribers seen at a location other than the residents active there."""

from typing import Literal

from pydantic import Field, model_validator

from flowkit.machine.kinds.active_at_reference_location_counts import ActiveAtReferenceLocationCounts
from flowkit.machine.kinds.unique_subscriber_counts import UniqueSubscriberCounts
from flowkit.machine.locations import require_same_unit
from flowkit.machine.redaction import Redaction
from flowkit.machine.spec import QuerySpec, register


@register
class UniqueVisitorCounts(QuerySpec):
    """Per location of the active-residents counts, unique subscribers minus active residents
    (NULL where no subscriber was seen). Served only where the difference and both counts
    exceed the redaction threshold, so no count below it can be recovered."""

    query_kind: Literal["unique_visitor_counts"] = "unique_visitor_counts"
    active_at_reference_location_counts: ActiveAtReferenceLocationCounts = Field(
        description="Residents active at their reference location."
    )
    unique_subscriber_counts: UniqueSubscriberCounts = Field(description="Everyone seen at each location.")
    top_level = True
    redaction = Redaction(
        columns=("value", "active_residents", "unique_subscribers"), private=("active_residents", "unique_subscribers")
    )
    example = {
        "query_kind": "unique_visitor_counts",
        "active_at_reference_location_counts": ActiveAtReferenceLocationCounts.example,
        "unique_subscriber_counts": {
            "query_kind": "unique_subscriber_counts",
            "start_date": "2016-01-08",
            "end_date": "2016-01-15",
            "aggregation_unit": "admin3",
        },
    }

    @model_validator(mode="after")
    def _one_unit(self):
        require_same_unit(self, "active_at_reference_location_counts", "unique_subscriber_counts")
        return self

    def compute(self, inputs):
        columns = list(self.location_columns)
        active = inputs.result(self.active_at_reference_location_counts)
        everyone = inputs.result(self.unique_subscriber_counts)
        everyone = everyone.select(**{f"_all_{c}": everyone[c] for c in columns}, _everyone=everyone.value)
        joined = active.left_join(everyone, [active[c] == everyone[f"_all_{c}"] for c in columns])
        return joined.select(
            *columns,
            value=joined._everyone - joined.value,
            active_residents=joined.value,
            unique_subscribers=joined._everyone,
        )
