"""meaningful_locations_aggregate: where subscribers' clusters with one label lie."""

from typing import Literal

from pydantic import Field

from flowkit.machine.fields import DateRange
from flowkit.machine.meaningful_locations import MeaningfulLocationsParameters, with_label
from flowkit.machine.redaction import Redaction
from flowkit.machine.spec import QuerySpec, register

# Hour scores: 1 in office hours (9-17), -1 in the evening and at night, 0 at 8 and 17;
# day scores: 1 on weekdays, -1 at weekends. Home is used mostly out of office hours.
EXAMPLE_SCORES = {
    "tower_hour_of_day_scores": [-1] * 8 + [0] + [1] * 8 + [0] + [-1] * 6,
    "tower_day_of_week_scores": {
        **dict.fromkeys(("monday", "tuesday", "wednesday", "thursday", "friday"), 1),
        "saturday": -1,
        "sunday": -1,
    },
    "labels": {
        "home": {"type": "Polygon", "coordinates": [[[-1, -1], [-1, 1], [-0.01, 1], [-0.01, -1], [-1, -1]]]},
        "work": {"type": "Polygon", "coordinates": [[[0.01, 0.01], [0.01, 1], [1, 1], [1, 0.01], [0.01, 0.01]]]},
    },
}


@register
class MeaningfulLocationsAggregate(QuerySpec, DateRange, MeaningfulLocationsParameters):
    """Per admin unit, subscribers' clusters with `label` there: a subscriber with n such clusters
    adds 1/n for each (a centre outside every unit counts at a null pcod)."""

    query_kind: Literal["meaningful_locations_aggregate"] = "meaningful_locations_aggregate"
    label: str = Field(description="The label whose clusters to count: one of `labels`, or 'unknown'.")
    top_level = True
    redaction = Redaction()
    example = {
        "query_kind": "meaningful_locations_aggregate",
        "start_date": "2016-01-01",
        "end_date": "2016-01-15",
        "aggregation_unit": "admin3",
        "label": "home",
        **EXAMPLE_SCORES,
    }

    def compute(self, inputs):
        clusters = with_label(self.clusters(inputs, self.start_date, self.end_date), self.label)
        return clusters.group_by(["label", "pcod"]).aggregate(value=(1.0 / clusters.n_clusters).sum())
