"""location_introversion: how much of a location's traffic stays inside it."""

from typing import Literal

import ibis

from flowkit.machine.fields import DEFAULT_EVENT_TYPES, AggregationUnit, DateRange, Direction, EventFilters, GeoTrio
from flowkit.machine.redaction import Redaction
from flowkit.machine.spec import QuerySpec, register


@register
class LocationIntroversion(QuerySpec, DateRange, EventFilters, GeoTrio):
    """Per location, the share of its call/SMS legs whose other leg (same id, opposite
    `outgoing`) is at the same location. Both legs must be selected and located; `direction`
    picks the legs counted at the location. Served where more than the redaction threshold of
    distinct subscribers made those legs."""

    query_kind: Literal["location_introversion"] = "location_introversion"
    aggregation_unit: AggregationUnit
    direction: Direction = "both"
    top_level = True
    redaction = Redaction(columns=("subscribers",), private=("subscribers",))
    example = {
        "query_kind": "location_introversion",
        "start_date": "2016-01-01",
        "end_date": "2016-01-08",
        "aggregation_unit": "admin3",
        "direction": "both",
    }

    def compute(self, inputs):
        columns = self.location_columns
        # legs are paired within one event table: a call and an SMS never share an id by design
        pairs = [self._pairs(inputs, event_type) for event_type in self.event_types or DEFAULT_EVENT_TYPES]
        legs = ibis.union(*pairs, distinct=False) if len(pairs) > 1 else pairs[0]
        return legs.group_by(list(columns)).aggregate(
            value=legs._introverted.cast("float64").mean(), subscribers=legs.subscriber.nunique()
        )

    def _pairs(self, inputs, event_type: str):
        columns = self.location_columns
        events = inputs.located_events(
            self.aggregation_unit,
            columns=("id", "outgoing", "datetime"),
            **self.selection(event_types=[event_type]),
        )
        leg = events.select("subscriber", "id", "outgoing", *columns)
        if self.direction != "both":
            leg = leg.filter(leg.outgoing == (self.direction == "out"))
        other = events.select(_id=events.id, _outgoing=events.outgoing, **{f"_{c}": events[c] for c in columns})
        joined = leg.join(other, [leg.id == other._id, leg.outgoing != other._outgoing])
        same = ibis.and_(*(joined[c] == joined[f"_{c}"] for c in columns))
        return joined.select("subscriber", *columns, _introverted=same)
