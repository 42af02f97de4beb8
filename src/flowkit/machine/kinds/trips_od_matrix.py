"""trips_od_matrix: subscribers seen at one location and later at another."""

from typing import Literal

import ibis

from flowkit.machine.fields import AggregationUnit, DateRange, EventFilters, GeoTrio
from flowkit.machine.redaction import Redaction
from flowkit.machine.spec import QuerySpec, register
from flowkit.machine.trips import od_matrix


@register
class TripsOdMatrix(QuerySpec, DateRange, EventFilters, GeoTrio):
    """Per ordered pair of different locations (A, B), the subscribers whose first visit to A
    came strictly before their last visit to B in the window."""

    query_kind: Literal["trips_od_matrix"] = "trips_od_matrix"
    aggregation_unit: AggregationUnit
    top_level = True
    redaction = Redaction()
    example = {
        "query_kind": "trips_od_matrix",
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
        visits = events.group_by(["subscriber", *columns]).aggregate(
            _earliest=events.datetime.min(), _latest=events.datetime.max()
        )
        source = visits.select("subscriber", "_earliest", **{f"{c}_from": visits[c] for c in columns})
        sink = visits.select(_whom=visits.subscriber, _until=visits._latest, **{f"{c}_to": visits[c] for c in columns})
        moved = ibis.or_(*(source[f"{c}_from"] != sink[f"{c}_to"] for c in columns))
        pairs = source.join(sink, [source.subscriber == sink._whom, moved, source._earliest < sink._until])
        return od_matrix(pairs, columns)
