"""calendar_activity: how many subscribers share each pattern of active periods."""

from typing import Literal

from flowkit.machine.fields import EventFilters
from flowkit.machine.metrics import Periods
from flowkit.machine.redaction import Redaction
from flowkit.machine.sampling import Sampled
from flowkit.machine.spec import QuerySpec, register


@register
class CalendarActivity(QuerySpec, Periods, EventFilters, Sampled):
    """Per activity pattern (`grp`: the ascending starts of the periods in which a subscriber had
    an event), the number of subscribers with exactly that pattern (`value`). A pattern is served
    only if more than the redaction threshold of subscribers share it."""

    query_kind: Literal["calendar_activity"] = "calendar_activity"
    top_level = True
    nonspatial = True
    redaction = Redaction()
    example = {"query_kind": "calendar_activity", "start_date": "2016-01-01", "total_periods": 7}

    def expression(self, inputs):
        """The result as computed: `sampling` picks subscribers in `compute`, before they are counted."""
        return self.compute(inputs)

    def compute(self, inputs):
        patterns = self.activity_patterns(inputs)
        if self.sampling is not None:
            patterns = self.sampling.apply(patterns)
        return patterns.group_by(grp=patterns.value).aggregate(value=patterns.count())
