"""Shared ground of the location family: kinds that locate subscribers over a window, and the
rule that specs combined by subscriber must place them at one aggregation unit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import Field

from flowkit.machine.fields import AggregationUnit, DateRange, EventFilters, GeoTrio
from flowkit.machine.sampling import Sampled
from flowkit.machine.spec import QuerySpec

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from flowkit.machine.inputs import Inputs


class LocatedWindow(QuerySpec, DateRange, EventFilters, GeoTrio, Sampled):
    """Parameters of a kind that reads each subscriber's located events in [start_date, end_date)."""

    aggregation_unit: AggregationUnit = Field(description="Where events are located: admin0-3 or lon-lat.")

    def located_events(self, inputs: Inputs, columns: Sequence[str] = ("datetime",)) -> ir.Table:
        return inputs.located_events(
            self.aggregation_unit,
            columns=columns,
            **self.selection(),
        )


def require_one_unit(specs: Sequence[QuerySpec]) -> None:
    """A list of nested specs must all be at one unit (FlowKit: 'same aggregation unit')."""
    if len({spec.unit for spec in specs}) > 1:
        raise ValueError("all locations must have the same aggregation_unit")


def require_same_unit(spec: QuerySpec, first: str, *others: str) -> None:
    """Nested specs in the named fields must be at the unit of the spec in `first`."""
    unit = getattr(spec, first).unit
    differing = [name for name in others if getattr(spec, name).unit != unit]
    if differing:
        raise ValueError(f"{' and '.join(differing)} must have the same aggregation_unit as {first}")


# -- examples on the demo dataset (2016-01-01 … 2016-02-29, admin3) ------------------------------


def daily_example(day: str) -> dict:
    return {"query_kind": "daily_location", "date": day, "aggregation_unit": "admin3", "method": "last"}


def unique_locations_example(start: str, end: str) -> dict:
    return {"query_kind": "unique_locations", "start_date": start, "end_date": end, "aggregation_unit": "admin3"}


def coalesced_example(first_day: int, days: int) -> dict:
    """A period of January from its daily locations: the majority over all its days, else the majority
    over the days a subscriber was seen, if seen there on at least two days (FlowKit's COVID-19 use)."""
    visits = {
        "query_kind": "location_visits",
        "locations": [daily_example(f"2016-01-{day:02}") for day in range(first_day, first_day + days)],
    }
    majority = {"query_kind": "majority_location", "subscriber_location_weights": visits}
    return {
        "query_kind": "coalesced_location",
        "preferred_location": {**majority, "minimum_total_weight": days, "include_unlocatable": True},
        "fallback_location": majority,
        "subscriber_location_weights": visits,
        "weight_threshold": 2,
    }


def mobility_example() -> dict:
    """Three four-day periods of January, classified by their coalesced locations."""
    return {
        "query_kind": "mobility_classification",
        "locations": [coalesced_example(first_day, 4) for first_day in (4, 8, 12)],
        "stay_length_threshold": 2,
    }
