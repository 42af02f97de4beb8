"""radius_of_gyration: how far, typically, a subscriber's events lie from their centre."""

from typing import Literal

import ibis

from flowkit.machine.fields import DateRange, EventFilters
from flowkit.machine.metrics import great_circle_km
from flowkit.machine.sampling import Sampled
from flowkit.machine.spec import QuerySpec, register


@register
class RadiusOfGyration(QuerySpec, DateRange, EventFilters, Sampled):
    """Root mean square great-circle distance (km) of a subscriber's located events from their
    centroid, the plain mean of the events' longitudes and latitudes (every event weighs 1)."""

    query_kind: Literal["radius_of_gyration"] = "radius_of_gyration"

    def compute(self, inputs):
        events = inputs.located_events("lon-lat", **self.selection())
        per_subscriber = ibis.window(group_by="subscriber")
        centred = events.mutate(
            _lon=events.lon.mean().over(per_subscriber), _lat=events.lat.mean().over(per_subscriber)
        )
        squared = great_circle_km(centred.lon, centred.lat, centred._lon, centred._lat) ** 2
        return centred.group_by("subscriber").aggregate(value=squared.mean().sqrt())
