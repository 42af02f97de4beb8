"""aggregate_network_objects: a statistic of total_network_objects over longer periods."""

from typing import Literal

from pydantic import Field

from flowkit.machine.kinds.total_network_objects import Period, TotalNetworkObjects, truncate
from flowkit.machine.spec import QuerySpec, register
from flowkit.machine.statistics import Statistic, summarise


@register
class AggregateNetworkObjects(QuerySpec):
    """Per location and period (`aggregate_by`), the statistic of the cell counts of the
    nested total_network_objects; periods in which a location had no events add no zeros."""

    query_kind: Literal["aggregate_network_objects"] = "aggregate_network_objects"
    total_network_objects: TotalNetworkObjects
    statistic: Statistic = Field(description="Statistic of the per-period cell counts.")
    aggregate_by: Literal[Period, "century"] = Field(description="Period to summarise over.")
    top_level = True
    example = {
        "query_kind": "aggregate_network_objects",
        "total_network_objects": TotalNetworkObjects.example | {"total_by": "hour"},
        "statistic": "avg",
        "aggregate_by": "day",
    }

    def compute(self, inputs):
        columns = list(self.location_columns)
        totals = inputs.result(self.total_network_objects)
        periods = totals.mutate(datetime=truncate(totals.datetime, self.aggregate_by))
        return summarise(periods, [*columns, "datetime"], "value", self.statistic).select(*columns, "value", "datetime")
