"""labelled_flows: flows between locations, broken down by a label."""

from typing import Literal

import ibis
from pydantic import Field

from flowkit.machine.kinds.coalesced_location import CoalescedLocation
from flowkit.machine.kinds.flows import FlowSpec
from flowkit.machine.kinds.mobility_classification import MobilityClassification
from flowkit.machine.locations import coalesced_example, mobility_example
from flowkit.machine.redaction import Redaction
from flowkit.machine.spec import register


@register
class LabelledFlows(FlowSpec):
    """Per (from, to) pair and label, the number of subscribers with that label found at both
    (`value_label` NULL for subscribers the labels leave out). A pair is served only if every one of
    its label groups has more than the redaction threshold."""

    query_kind: Literal["labelled_flows"] = "labelled_flows"
    from_location: CoalescedLocation = Field(description="Where subscribers were first.")
    to_location: CoalescedLocation = Field(description="Where subscribers were then (same aggregation_unit).")
    labels: MobilityClassification = Field(description="Each subscriber's label.")
    top_level = True
    redaction = Redaction(whole_groups=("pcod_from", "pcod_to", "lon_from", "lat_from", "lon_to", "lat_to"))
    example = {
        "query_kind": "labelled_flows",
        "from_location": coalesced_example(8, 4),
        "to_location": coalesced_example(12, 4),
        "labels": mobility_example(),
    }

    def compute(self, inputs):
        joined = self.joined(inputs)
        labels = inputs.result(self.labels)
        labels = labels.select(_who=labels.subscriber, value_label=labels.value)
        labelled = joined.left_join(labels, joined.subscriber == labels._who)
        pairs = [*self.ends("from").values(), *self.ends("to").values()]
        return labelled.group_by([*pairs, "value_label"]).aggregate(value=ibis._.count())
