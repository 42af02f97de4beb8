"""Which per-subscriber metrics the aggregates accept (FlowKit's JoinableMetrics and HistogrammableMetrics)."""

from typing import Annotated

from pydantic import Field

from flowkit.machine.kinds.displacement import Displacement
from flowkit.machine.kinds.event_count import EventCount
from flowkit.machine.kinds.handset import Handset
from flowkit.machine.kinds.nocturnal_events import NocturnalEvents
from flowkit.machine.kinds.pareto_interactions import ParetoInteractions
from flowkit.machine.kinds.radius_of_gyration import RadiusOfGyration
from flowkit.machine.kinds.subscriber_degree import SubscriberDegree
from flowkit.machine.kinds.topup_amount import TopupAmount
from flowkit.machine.kinds.topup_balance import TopupBalance
from flowkit.machine.kinds.total_active_periods import TotalActivePeriods
from flowkit.machine.kinds.unique_location_counts import UniqueLocationCounts

__all__ = ["CATEGORICAL_METRICS", "HistogrammableMetrics", "JoinableMetrics"]

_NUMERIC = (
    RadiusOfGyration
    | UniqueLocationCounts
    | TopupBalance
    | SubscriberDegree
    | TopupAmount
    | EventCount
    | ParetoInteractions
    | NocturnalEvents
    | Displacement
    | TotalActivePeriods
)
# Metrics with a numeric value per subscriber: what histograms bin.
HistogrammableMetrics = Annotated[_NUMERIC, Field(discriminator="query_kind")]
# What joined_spatial_aggregate summarises per location: the numeric metrics and the handset.
JoinableMetrics = Annotated[_NUMERIC | Handset, Field(discriminator="query_kind")]
# Metrics whose values are labels, not numbers.
CATEGORICAL_METRICS = (Handset,)
