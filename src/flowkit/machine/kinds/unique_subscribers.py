"""unique_subscribers: every subscriber with an event in a window."""

from typing import Literal

from flowkit.machine.fields import DateRange, EventFilters
from flowkit.machine.library import select_events
from flowkit.machine.sampling import Sampled
from flowkit.machine.spec import QuerySpec, register


@register
class UniqueSubscribers(QuerySpec, DateRange, EventFilters, Sampled):
    """The distinct subscribers of the selected events (one column, `subscriber`)."""

    query_kind: Literal["unique_subscribers"] = "unique_subscribers"
    library_only = True

    def compute(self, inputs):
        return select_events(inputs, self, []).select("subscriber").distinct()
