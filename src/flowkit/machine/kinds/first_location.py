"""first_location: when each subscriber was first seen at some locations."""

from typing import Literal

import ibis
from pydantic import Field, model_validator

from flowkit.machine.fields import AggregationUnit, DateRange, EventFilters
from flowkit.machine.sampling import Sampled
from flowkit.machine.spec import QuerySpec, register

# A place: one value of a single-column unit (a pcod, a cell id), or for units with several
# columns a dict of some of them ({"site_id": "s1"} matches every version of site s1).
Place = str | dict[str, str | int | float]


@register
class FirstLocation(QuerySpec, DateRange, EventFilters, Sampled):
    """Earliest event time (`time`) of each subscriber at any of `location` ("any": anywhere
    the unit locates an event)."""

    query_kind: Literal["first_location"] = "first_location"
    location: Literal["any"] | Place | list[Place] = Field(description='Place(s) of interest, or "any".')
    aggregation_unit: AggregationUnit = Field(default="cell", description="Unit of the places (default cell).")
    library_only = True

    @model_validator(mode="after")
    def _places_fit_the_unit(self):
        columns = self.location_columns
        for place in self.places:
            if isinstance(place, dict) and not (place and set(place) <= set(columns)):
                raise ValueError(f"location: a place is a dict of some of {', '.join(columns)}")
            if not isinstance(place, dict) and len(columns) > 1:
                raise ValueError(f"location: at {self.aggregation_unit} a place is a dict of {', '.join(columns)}")
        return self

    @property
    def places(self) -> list:
        if self.location == "any":
            return []
        return self.location if isinstance(self.location, list) else [self.location]

    def _at(self, events, place):
        items = place.items() if isinstance(place, dict) else [(self.location_columns[0], place)]
        return ibis.and_(*(events[column] == value for column, value in items))

    def compute(self, inputs):
        events = inputs.located_events(self.aggregation_unit, **self.selection())
        if self.location != "any":
            events = events.filter(ibis.or_(*(self._at(events, place) for place in self.places)))
        return events.group_by("subscriber").aggregate(time=events.datetime.min())
