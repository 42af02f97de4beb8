"""modal_location: the location a subscriber held on most of a set of days."""

from typing import Literal

import ibis
from pydantic import Field, field_validator

from flowkit.machine.kinds.daily_location import DailyLocation
from flowkit.machine.reference_locations import most_common_location
from flowkit.machine.spec import QuerySpec, register


@register
class ModalLocation(QuerySpec):
    """Most frequent daily location; ties go to the location held on the latest day."""

    query_kind: Literal["modal_location"] = "modal_location"
    locations: list[DailyLocation] = Field(min_length=1)

    @field_validator("locations")
    @classmethod
    def _one_unit(cls, locations):
        if len({loc.aggregation_unit for loc in locations}) > 1:
            raise ValueError("all locations must have the same aggregation_unit")
        return locations

    def compute(self, inputs):
        days = [inputs.result(loc).mutate(_day=ibis.literal(loc.date, type="timestamp")) for loc in self.locations]
        return most_common_location(ibis.union(*days, distinct=False), self.location_columns, tag="_day")
