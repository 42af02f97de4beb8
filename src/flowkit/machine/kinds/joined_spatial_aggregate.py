"""joined_spatial_aggregate: a per-subscriber metric summarised over the subscribers of each location."""

from typing import Literal, get_args

import ibis
from pydantic import Field, model_validator

from flowkit.machine.kinds.groups import ReferenceLocation
from flowkit.machine.kinds.metric_groups import CATEGORICAL_METRICS, JoinableMetrics
from flowkit.machine.redaction import Redaction
from flowkit.machine.spec import QuerySpec, register
from flowkit.machine.statistics import Statistic, summarise

_CATEGORICAL_METHODS = ("distr", "mode")


@register
class JoinedSpatialAggregate(QuerySpec):
    """Per location, the `method` statistic of the metric over the subscribers located there who
    also have a metric value; `distr` gives, per location and metric value (`key`, as text), the
    share of those subscribers having it. A location is served only if more than the redaction
    threshold of subscribers are located there, whatever the metric (FlowKit's rule)."""

    query_kind: Literal["joined_spatial_aggregate"] = "joined_spatial_aggregate"
    locations: ReferenceLocation = Field(description="Where each subscriber is.")
    metric: JoinableMetrics = Field(description="The per-subscriber metric to summarise.")
    method: Statistic | Literal["distr"] = Field(
        description="Statistic of the metric per location; categorical metrics (handset) take distr or mode."
    )
    top_level = True
    redaction = Redaction(columns=("subscribers",), private=("subscribers",))
    example = {
        "query_kind": "joined_spatial_aggregate",
        "locations": {
            "query_kind": "daily_location",
            "date": "2016-01-05",
            "aggregation_unit": "admin3",
            "method": "last",
        },
        "metric": {"query_kind": "radius_of_gyration", "start_date": "2016-01-01", "end_date": "2016-01-08"},
        "method": "avg",
    }

    @model_validator(mode="after")
    def _method_fits_metric(self):
        categorical = isinstance(self.metric, CATEGORICAL_METRICS)
        allowed = _CATEGORICAL_METHODS if categorical else get_args(Statistic)
        if self.method not in allowed:
            raise ValueError(
                f"method '{self.method}' does not apply to {self.metric.query_kind}: use one of {', '.join(allowed)}"
            )
        return self

    def compute(self, inputs):
        places = list(self.location_columns)
        located = inputs.result(self.locations)
        # the redaction count: subscribers located at the place, with or without a metric value
        located = located.mutate(subscribers=located.subscriber.count().over(ibis.window(group_by=places)))
        joined = located.join(inputs.result(self.metric).select("subscriber", "value"), "subscriber")
        if self.method != "distr":
            summary = summarise(joined, [*places, "subscribers"], "value", self.method)
            return summary.select(*places, "value", "subscribers")
        counts = joined.group_by([*places, "subscribers", "value"]).aggregate(_n=ibis._.count())
        share = counts._n / counts._n.sum().over(ibis.window(group_by=places))
        return counts.select(
            *places,
            metric=ibis.literal("value"),
            key=counts.value.cast("string"),
            value=share,
            subscribers="subscribers",
        )
