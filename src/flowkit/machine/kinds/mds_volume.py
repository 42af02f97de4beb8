"""mds_volume: a statistic of the volumes of each subscriber's data sessions."""

from typing import Literal

from pydantic import Field

from flowkit.machine.library import OneTableSelection, select_events
from flowkit.machine.sampling import Sampled
from flowkit.machine.spec import QuerySpec, register
from flowkit.machine.statistics import Statistic, summarise


@register
class MdsVolume(QuerySpec, OneTableSelection, Sampled):
    """Statistic of `volume_<volume>` over the subscriber's mds sessions in the window (`value`)."""

    query_kind: Literal["mds_volume"] = "mds_volume"
    volume: Literal["total", "upload", "download"] = Field(default="total", description="Which volume column.")
    statistic: Statistic = Field(default="sum", description="Statistic over the volumes.")
    library_only = True

    def compute(self, inputs):
        column = f"volume_{self.volume}"
        sessions = select_events(inputs, self, [column], event_types=["mds"])
        return summarise(sessions, ["subscriber"], column, self.statistic)
