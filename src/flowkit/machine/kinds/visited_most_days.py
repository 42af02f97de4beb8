"""visited_most_days: the location a subscriber was seen at on the most days of a window."""

from typing import Literal

import ibis

from flowkit.machine.locations import LocatedWindow
from flowkit.machine.reference_locations import first_per_subscriber
from flowkit.machine.spec import register


@register
class VisitedMostDays(LocatedWindow):
    """The location seen on the most distinct days in [start_date, end_date); ties go to the one
    with more events, then to the one seen latest, then to the smallest location (FlowKit: random)."""

    query_kind: Literal["visited_most_days"] = "visited_most_days"

    def compute(self, inputs):
        events = self.located_events(inputs)
        columns = self.location_columns
        places = events.group_by(["subscriber", *columns]).aggregate(
            _days=events.datetime.date().nunique(), _events=events.count(), _latest=events.datetime.max()
        )
        order = [ibis.desc(places._days), ibis.desc(places._events), ibis.desc(places._latest)]
        return first_per_subscriber(places, order, columns)
