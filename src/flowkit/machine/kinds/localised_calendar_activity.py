"""localised_calendar_activity: calendar activity patterns broken down by reference location."""

from typing import Literal

from pydantic import Field

from flowkit.machine.kinds.calendar_activity import CalendarActivity
from flowkit.machine.kinds.groups import ReferenceLocation
from flowkit.machine.redaction import Redaction
from flowkit.machine.spec import register


@register
class LocalisedCalendarActivity(CalendarActivity):
    """Per location of the reference location and activity pattern (`value_label`; NULL for
    subscribers with no event in the periods), the number of subscribers located there with that
    pattern. A location is served only if every pattern there has more than the redaction
    threshold of subscribers, so no small group can be recovered by subtraction."""

    query_kind: Literal["localised_calendar_activity"] = "localised_calendar_activity"
    reference_location: ReferenceLocation = Field(description="Where each subscriber is.")
    nonspatial = False
    redaction = Redaction(whole_groups=("pcod", "lon", "lat"))
    example = {
        "query_kind": "localised_calendar_activity",
        "start_date": "2016-01-01",
        "total_periods": 7,
        "reference_location": {
            "query_kind": "daily_location",
            "date": "2016-01-05",
            "aggregation_unit": "admin3",
            "method": "last",
        },
    }

    def compute(self, inputs):
        located = inputs.result(self.reference_location)
        if self.sampling is not None:
            located = self.sampling.apply(located)
        patterns = self.activity_patterns(inputs)
        labelled = located.left_join(patterns, "subscriber")
        places = list(self.location_columns)
        return labelled.group_by([*places, labelled.value.name("value_label")]).aggregate(value=labelled.count())
