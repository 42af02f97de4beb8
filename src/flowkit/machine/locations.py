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
            start=self.start_date,
            stop=self.end_date,
            event_types=self.event_types,
            hours=self.hours,
            subscriber_subset=self.subscriber_subset,
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
