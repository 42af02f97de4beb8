"""location_visits: on how many of a set of reference locations each subscriber was at each place."""

from typing import Annotated, Literal

import ibis
from pydantic import Field, field_validator

from flowkit.machine.kinds.daily_location import DailyLocation
from flowkit.machine.kinds.modal_location import ModalLocation
from flowkit.machine.locations import require_one_unit
from flowkit.machine.sampling import Sampled
from flowkit.machine.spec import QuerySpec, register

# What location_visits counts (FlowKit's VisitableLocation).
VisitableLocation = Annotated[DailyLocation | ModalLocation, Field(discriminator="query_kind")]


@register
class LocationVisits(QuerySpec, Sampled):
    """Per subscriber and location, `value` = the number of the given reference locations (usually
    one per day) that placed the subscriber there; a spec listed twice counts twice."""

    query_kind: Literal["location_visits"] = "location_visits"
    locations: list[VisitableLocation] = Field(min_length=1, description="Reference locations, one unit.")

    @field_validator("locations")
    @classmethod
    def _one_unit(cls, locations):
        require_one_unit(locations)
        return locations

    def compute(self, inputs):
        columns = self.location_columns
        visits = ibis.union(
            *(inputs.result(loc).select("subscriber", *columns) for loc in self.locations), distinct=False
        )
        return visits.group_by(["subscriber", *columns]).aggregate(value=ibis._.count())
