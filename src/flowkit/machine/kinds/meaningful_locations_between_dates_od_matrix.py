"""meaningful_locations_between_dates_od_matrix: how subscribers' clusters of one label moved between periods."""

from typing import Literal

from pydantic import Field, model_validator

from flowkit.machine.fields import Instant
from flowkit.machine.kinds.meaningful_locations_aggregate import EXAMPLE_SCORES
from flowkit.machine.meaningful_locations import MeaningfulLocationsParameters, od_matrix, with_label
from flowkit.machine.redaction import Redaction
from flowkit.machine.spec import QuerySpec, register


@register
class MeaningfulLocationsBetweenDatesOdMatrix(QuerySpec, MeaningfulLocationsParameters):
    """OD matrix from each subscriber's `label` clusters in period a, [start_date_a, end_date_a),
    to those in period b, clustered separately: each of the n_a·n_b pairs adds 1/(n_a·n_b)."""

    query_kind: Literal["meaningful_locations_between_dates_od_matrix"] = "meaningful_locations_between_dates_od_matrix"
    start_date_a: Instant = Field(description="Start of the first period.")
    end_date_a: Instant = Field(description="End of the first period (exclusive).")
    start_date_b: Instant = Field(description="Start of the second period.")
    end_date_b: Instant = Field(description="End of the second period (exclusive).")
    label: str = Field(description="The label whose clusters to follow: one of `labels`, or 'unknown'.")
    top_level = True
    # FlowKit 1.34 serves this kind unredacted; we apply the rule of its sibling kinds.
    redaction = Redaction()
    example = {
        "query_kind": "meaningful_locations_between_dates_od_matrix",
        "start_date_a": "2016-01-01",
        "end_date_a": "2016-01-15",
        "start_date_b": "2016-02-01",
        "end_date_b": "2016-02-15",
        "aggregation_unit": "admin2",
        "label": "home",
        **EXAMPLE_SCORES,
    }

    @model_validator(mode="after")
    def _ordered(self):
        for period in ("a", "b"):
            if getattr(self, f"end_date_{period}") <= getattr(self, f"start_date_{period}"):
                raise ValueError(f"end_date_{period} must be after start_date_{period}")
        return self

    def compute(self, inputs):
        before = self.clusters(inputs, self.start_date_a, self.end_date_a)
        after = self.clusters(inputs, self.start_date_b, self.end_date_b)
        return od_matrix(with_label(before, self.label), with_label(after, self.label))
