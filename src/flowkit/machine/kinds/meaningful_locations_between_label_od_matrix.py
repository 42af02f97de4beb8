"""meaningful_locations_between_label_od_matrix: flows between subscribers' clusters of two labels."""

from typing import Literal

from pydantic import Field

from flowkit.machine.fields import DateRange
from flowkit.machine.kinds.meaningful_locations_aggregate import EXAMPLE_SCORES
from flowkit.machine.meaningful_locations import MeaningfulLocationsParameters, od_matrix, with_label
from flowkit.machine.redaction import Redaction
from flowkit.machine.spec import QuerySpec, register


@register
class MeaningfulLocationsBetweenLabelOdMatrix(QuerySpec, DateRange, MeaningfulLocationsParameters):
    """OD matrix from each subscriber's `label_a` clusters to their `label_b` clusters in one period:
    with n_a and n_b such clusters, each of the n_a·n_b pairs adds 1/(n_a·n_b)."""

    query_kind: Literal["meaningful_locations_between_label_od_matrix"] = "meaningful_locations_between_label_od_matrix"
    label_a: str = Field(description="Label of the origins: one of `labels`, or 'unknown'.")
    label_b: str = Field(description="Label of the destinations: one of `labels`, or 'unknown'.")
    top_level = True
    redaction = Redaction()
    example = {
        "query_kind": "meaningful_locations_between_label_od_matrix",
        "start_date": "2016-01-01",
        "end_date": "2016-01-15",
        "aggregation_unit": "admin2",
        "label_a": "home",
        "label_b": "work",
        **EXAMPLE_SCORES,
    }

    def compute(self, inputs):
        clusters = self.clusters(inputs, self.start_date, self.end_date)
        return od_matrix(with_label(clusters, self.label_a), with_label(clusters, self.label_b))
