"""pareto_interactions: how few of a subscriber's contacts make up most of their interactions."""

from decimal import Decimal
from typing import Literal

import ibis
from pydantic import Field

from flowkit.machine.fields import DateRange, EventFilters
from flowkit.machine.sampling import Sampled
from flowkit.machine.spec import QuerySpec, register


@register
class ParetoInteractions(QuerySpec, DateRange, EventFilters, Sampled):
    """The share of a subscriber's counterparts (themself included) that account for
    `proportion` of their events: counterparts ranked by events (most first; ties to the larger
    counterpart id, as FlowKit), the fewest whose events reach ceil(proportion × all events)."""

    query_kind: Literal["pareto_interactions"] = "pareto_interactions"
    proportion: float = Field(gt=0, lt=1, description="Share of the subscriber's events, strictly between 0 and 1.")

    def compute(self, inputs):
        events = inputs.events(columns=("msisdn_counterpart",), **self.selection())
        events = events.filter(events.msisdn_counterpart.notnull())
        contacts = events.group_by(["subscriber", "msisdn_counterpart"]).aggregate(events=ibis._.count())
        ranking = ibis.window(
            group_by="subscriber",
            order_by=[ibis.desc(contacts.events), ibis.desc(contacts.msisdn_counterpart)],
            rows=(None, 0),
        )
        everything = ibis.window(group_by="subscriber")
        # exact decimal arithmetic, as PostgreSQL's numeric: 0.8 × 10 events is 8, not 8.000000000000002
        # (38 digits: the product carries the share's 17 decimals)
        share = ibis.literal(Decimal(repr(self.proportion)), type="decimal(38, 17)")
        ranked = contacts.mutate(
            _rank=ibis.row_number().over(ranking) + 1,
            _upto=contacts.events.sum().over(ranking),
            _target=(contacts.events.sum().over(everything).cast("decimal(38, 0)") * share).ceil(),
            _contacts=contacts.count().over(everything),
        )
        enough = ranked.filter(ranked._upto >= ranked._target)
        return enough.group_by("subscriber").aggregate(value=enough._rank.min() / enough._contacts.max())
