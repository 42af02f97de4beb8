"""Which kinds may stand where another kind nests one (FlowKit's schema groups).

Only kinds that nest these groups import this module; the member kinds themselves import
each other directly, so that importing any kind never cycles back here.
"""

from typing import Annotated

from pydantic import Field

from flowkit.machine.kinds.coalesced_location import CoalescedLocation
from flowkit.machine.kinds.daily_location import DailyLocation
from flowkit.machine.kinds.location_visits import LocationVisits, VisitableLocation
from flowkit.machine.kinds.majority_location import MajorityLocation
from flowkit.machine.kinds.modal_location import ModalLocation
from flowkit.machine.kinds.most_frequent_location import MostFrequentLocation
from flowkit.machine.kinds.unique_locations import UniqueLocations
from flowkit.machine.kinds.visited_most_days import VisitedMostDays

__all__ = [
    "InputToFlows",
    "InputToModalLocation",
    "ReferenceLocation",
    "UniqueLocations",
    "VisitableLocation",
    "WeightedLocationQueries",
]

_REFERENCE_KINDS = (
    DailyLocation | ModalLocation | MostFrequentLocation | VisitedMostDays | MajorityLocation | CoalescedLocation
)
# One location per subscriber (majority and coalesced locations may leave it NULL).
ReferenceLocation = Annotated[_REFERENCE_KINDS, Field(discriminator="query_kind")]
# What flows, inflows and outflows join: reference locations, or every location visited.
InputToFlows = Annotated[_REFERENCE_KINDS | UniqueLocations, Field(discriminator="query_kind")]
# What modal_location takes the mode of.
InputToModalLocation = DailyLocation
# What majority_location weighs.
WeightedLocationQueries = LocationVisits
