"""dummy_query: a query that computes nothing, for testing clients and servers."""

from typing import Literal

import ibis
from pydantic import Field

from flowkit.machine.fields import AggregationUnit, GeoTrio
from flowkit.machine.spec import QuerySpec, register


@register
class DummyQuery(QuerySpec, GeoTrio):
    """Its result is one row holding `dummy_param`. With `dummy_delay`, the query stays queued
    that many seconds before it runs — without holding a worker, so other queries go on."""

    query_kind: Literal["dummy_query"] = "dummy_query"
    aggregation_unit: AggregationUnit
    dummy_param: str = Field(description="Any text; the result repeats it.")
    dummy_delay: int = Field(default=0, ge=0, description="Seconds to wait before running.")
    top_level = True
    example = {"query_kind": "dummy_query", "aggregation_unit": "admin3", "dummy_param": "hello"}

    @property
    def delay(self) -> float:
        return self.dummy_delay

    def compute(self, inputs):
        return ibis.literal(self.dummy_param).name("dummy_param").as_table()
