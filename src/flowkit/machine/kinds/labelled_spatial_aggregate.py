"""labelled_spatial_aggregate: subscribers per location, broken down by a label."""

from typing import Literal

import ibis
from pydantic import Field

from flowkit.machine.kinds.coalesced_location import CoalescedLocation
from flowkit.machine.kinds.mobility_classification import MobilityClassification
from flowkit.machine.locations import coalesced_example, mobility_example
from flowkit.machine.redaction import Redaction
from flowkit.machine.spec import QuerySpec, register


@register
class LabelledSpatialAggregate(QuerySpec):
    """Per location and label, the number of subscribers located there with that label
    (`value_label` NULL for subscribers the labels leave out). A location is served only if every
    one of its label groups has more than the redaction threshold."""

    query_kind: Literal["labelled_spatial_aggregate"] = "labelled_spatial_aggregate"
    locations: CoalescedLocation = Field(description="Where each subscriber is.")
    labels: MobilityClassification = Field(description="Each subscriber's label.")
    top_level = True
    redaction = Redaction(whole_groups=("pcod", "lon", "lat"))
    example = {
        "query_kind": "labelled_spatial_aggregate",
        "locations": coalesced_example(12, 4),
        "labels": mobility_example(),
    }

    def compute(self, inputs):
        columns = self.location_columns
        located = inputs.result(self.locations)
        labels = inputs.result(self.labels)
        labels = labels.select(_who=labels.subscriber, value_label=labels.value)
        labelled = located.left_join(labels, located.subscriber == labels._who)
        return labelled.group_by([*columns, "value_label"]).aggregate(value=ibis._.count())
