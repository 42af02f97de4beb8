"""What the metrics share beyond event selection (`flowkit.machine.library`): distances, periods.

Distances are great-circle (haversine) distances on a sphere of the mean Earth radius; FlowKit
measures on the WGS84 spheroid (PostGIS geography), which differs by under 0.5 % (see
docs/semantics.md, "Metrics").
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

import ibis
import ibis.expr.types as ir
from pydantic import Field

from flowkit.machine.fields import Instant, StrictModel
from flowkit.machine.inputs import Inputs

# The IUGG mean radius R1 of the WGS84 ellipsoid, in km (PostGIS's sphere for geography too).
EARTH_RADIUS_KM = 6371.0088

PERIOD_SECONDS = {"days": 86_400, "hours": 3_600, "minutes": 60}


def great_circle_km(lon1: ir.NumericValue, lat1: ir.NumericValue, lon2, lat2) -> ir.FloatingValue:
    """Haversine distance in km between two points given in degrees."""
    half_chord = ((lat2 - lat1).radians() / 2).sin() ** 2 + lat1.radians().cos() * lat2.radians().cos() * (
        (lon2 - lon1).radians() / 2
    ).sin() ** 2
    return 2 * EARTH_RADIUS_KM * half_chord.sqrt().clip(upper=1).asin()


class Periods(StrictModel):
    """`total_periods` consecutive periods of `period_length` units from `start_date`.

    Kinds using it also carry `event_types`, `subscriber_subset` and `hours` (EventFilters).
    """

    start_date: Instant = Field(description="Start of the first period.")
    total_periods: int = Field(ge=1, description="Number of periods.")
    period_length: int = Field(default=1, ge=1, description="Length of each period, in period_unit.")
    period_unit: Literal["days", "hours", "minutes"] = Field(default="days", description="Unit of period_length.")

    def active_periods(self, inputs: Inputs) -> ir.Table:
        """`subscriber, period`: the start of every period in which a subscriber has an event, once."""
        seconds = self.period_length * PERIOD_SECONDS[self.period_unit]
        events = inputs.events(
            start=self.start_date,
            stop=self.start_date + timedelta(seconds=seconds * self.total_periods),
            event_types=self.event_types,
            hours=self.hours,
            subscriber_subset=self.subscriber_subset,
        )
        start = ibis.literal(self.start_date, type="timestamp")
        offset = events.datetime.delta(start, unit="second") // seconds * seconds
        return events.select("subscriber", period=start + offset.as_interval("s")).distinct()

    def activity_patterns(self, inputs: Inputs) -> ir.Table:
        """`subscriber, value`: each active subscriber's period starts, as an ascending list."""
        periods = self.active_periods(inputs)
        return periods.group_by("subscriber").aggregate(value=periods.period.collect(order_by=periods.period))
