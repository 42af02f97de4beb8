"""consecutive_trips_od_matrix: subscribers moving from one location straight to the next."""

from typing import Literal

import ibis

from flowkit.machine.fields import AggregationUnit, DateRange, EventFilters, GeoTrio
from flowkit.machine.redaction import Redaction
from flowkit.machine.spec import QuerySpec, register
from flowkit.machine.trips import od_matrix


@register
class ConsecutiveTripsOdMatrix(QuerySpec, DateRange, EventFilters, GeoTrio):
    """Per (from, to) pair, the subscribers with an event at `to` right after one at `from`
    (from = to included). Events at the same instant are taken in location order, so the
    sequence never depends on the database."""

    query_kind: Literal["consecutive_trips_od_matrix"] = "consecutive_trips_od_matrix"
    aggregation_unit: AggregationUnit
    top_level = True
    redaction = Redaction()
    example = {
        "query_kind": "consecutive_trips_od_matrix",
        "start_date": "2016-01-01",
        "end_date": "2016-01-08",
        "aggregation_unit": "admin3",
    }

    def compute(self, inputs):
        columns = self.location_columns
        events = inputs.located_events(
            self.aggregation_unit,
            **self.selection(),
        )
        order = ibis.window(group_by="subscriber", order_by=["datetime", *columns])
        steps = events.select(
            "subscriber",
            **{f"{c}_from": events[c] for c in columns},
            **{f"{c}_to": events[c].lead().over(order) for c in columns},
        )
        # a subscriber's last event has no next one (located places are never null)
        return od_matrix(steps.filter(steps[f"{columns[0]}_to"].notnull()), columns)
