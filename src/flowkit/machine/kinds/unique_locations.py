"""unique_locations: every location each subscriber was seen at over a window."""

from typing import Literal

from flowkit.machine.locations import LocatedWindow
from flowkit.machine.spec import register


@register
class UniqueLocations(LocatedWindow):
    """One row per distinct (subscriber, location) with a located event in [start_date, end_date):
    several rows per subscriber, unlike a reference location."""

    query_kind: Literal["unique_locations"] = "unique_locations"

    def compute(self, inputs):
        return self.located_events(inputs).select("subscriber", *self.location_columns).distinct()
