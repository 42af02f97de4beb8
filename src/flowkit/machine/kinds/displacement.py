"""displacement: how far a subscriber's events lie from their reference location."""

from typing import Literal

from pydantic import Field, model_validator

from flowkit.machine.fields import DateRange, EventFilters
from flowkit.machine.kinds.groups import ReferenceLocation
from flowkit.machine.metrics import great_circle_km
from flowkit.machine.sampling import Sampled
from flowkit.machine.spec import QuerySpec, register
from flowkit.machine.statistics import Statistic, summarise


@register
class Displacement(QuerySpec, DateRange, EventFilters, Sampled):
    """The statistic of the great-circle distances (km) from the subscriber's reference location
    to each of their events in the window, located at the reference location's unit (which must
    have lon/lat: lon-lat). Subscribers with no located reference location or no event are absent."""

    query_kind: Literal["displacement"] = "displacement"
    statistic: Statistic = Field(description="Statistic of the distances.")
    reference_location: ReferenceLocation = Field(description="Each subscriber's reference point (lon-lat).")

    @model_validator(mode="after")
    def _has_coordinates(self):
        if "lon" not in self.reference_location.location_columns:
            raise ValueError("reference_location must have aggregation_unit lon-lat to measure distances")
        return self

    def compute(self, inputs):
        home = inputs.result(self.reference_location)
        home = home.filter(home.lon.notnull()).select("subscriber", _lon=home.lon, _lat=home.lat)
        events = inputs.located_events(self.reference_location.unit, **self.selection())
        joined = events.join(home, "subscriber")
        distances = joined.mutate(_km=great_circle_km(joined._lon, joined._lat, joined.lon, joined.lat))
        return summarise(distances, ["subscriber"], "_km", self.statistic)
