"""Which kinds may stand where another kind nests one (FlowKit's schema groups)."""

from typing import Annotated

from pydantic import Field

from flowkit.machine.kinds.daily_location import DailyLocation
from flowkit.machine.kinds.modal_location import ModalLocation

# One location per subscriber.
ReferenceLocation = Annotated[DailyLocation | ModalLocation, Field(discriminator="query_kind")]
# What flows may join (FlowKit adds unique_locations here).
InputToFlows = ReferenceLocation
