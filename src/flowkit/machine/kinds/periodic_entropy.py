"""periodic_entropy: how evenly a subscriber's events spread over a recurring period."""

from typing import Literal

import ibis
import ibis.expr.types as ir
from pydantic import Field

from flowkit.machine.fields import DateRange, Direction, EventFilters
from flowkit.machine.library import entropy, select_events
from flowkit.machine.sampling import Sampled
from flowkit.machine.spec import QuerySpec, register

Phase = Literal[
    "century", "day", "decade", "dow", "doy", "epoch", "hour", "isodow", "isoyear", "microseconds",
    "millennium", "milliseconds", "minute", "month", "quarter", "second", "week", "year",
]  # fmt: skip


def _seconds(t: ir.TimestampValue) -> ir.Value:
    """PostgreSQL's second, milliseconds and microseconds all hold the seconds with their fraction."""
    return t.second() * 1_000_000 + t.microsecond()


# Each phase as a value with the same grouping as PostgreSQL's EXTRACT(phase FROM datetime):
# only which events share a phase matters to the entropy, not the values themselves.
_PHASES = {
    "century": lambda t: (t.year() + 99) // 100,
    "day": lambda t: t.day(),
    "decade": lambda t: t.year() // 10,
    "dow": lambda t: t.day_of_week.index(),
    "doy": lambda t: t.day_of_year(),
    "epoch": lambda t: t,
    "hour": lambda t: t.hour(),
    "isodow": lambda t: t.day_of_week.index(),
    "isoyear": lambda t: t.iso_year(),
    "microseconds": _seconds,
    "millennium": lambda t: (t.year() + 999) // 1000,
    "milliseconds": _seconds,
    "minute": lambda t: t.minute(),
    "month": lambda t: t.month(),
    "quarter": lambda t: t.quarter(),
    "second": _seconds,
    "week": lambda t: t.week_of_year(),
    "year": lambda t: t.year(),
}


@register
class PeriodicEntropy(QuerySpec, DateRange, EventFilters, Sampled):
    """−Σ p ln p, p being the share of the subscriber's events falling in each phase value
    (e.g. each hour of the day)."""

    query_kind: Literal["periodic_entropy"] = "periodic_entropy"
    phase: Phase = Field(default="hour", description="Recurring period, as PostgreSQL's EXTRACT field.")
    direction: Direction = Field(default="both", description="Legs to count: in, out or both.")
    library_only = True

    def compute(self, inputs):
        events = select_events(inputs, self, ["datetime"], self.direction)
        counts = events.group_by(["subscriber", _PHASES[self.phase](events.datetime).name("_phase")]).aggregate(
            _events=ibis._.count()
        )
        return entropy(counts, "_events")
