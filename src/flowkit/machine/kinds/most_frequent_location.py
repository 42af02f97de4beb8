"""most_frequent_location: each subscriber's most common location over a window."""

from typing import Literal

from flowkit.machine.locations import LocatedWindow
from flowkit.machine.reference_locations import most_common_location
from flowkit.machine.spec import register


@register
class MostFrequentLocation(LocatedWindow):
    """The location of most of a subscriber's located events in [start_date, end_date); ties go to
    the location whose latest event is latest, then to the smallest location."""

    query_kind: Literal["most_frequent_location"] = "most_frequent_location"

    def compute(self, inputs):
        return most_common_location(self.located_events(inputs), self.location_columns)
