"""topup_amount: a statistic of the amounts a subscriber topped up."""

from typing import Literal

from pydantic import Field

from flowkit.machine.library import OneTableSelection, select_events
from flowkit.machine.sampling import Sampled
from flowkit.machine.spec import QuerySpec, register
from flowkit.machine.statistics import Statistic, summarise


@register
class TopupAmount(QuerySpec, OneTableSelection, Sampled):
    """The statistic of `recharge_amount` over the subscriber's top-ups in the window (events.topups
    only: no `event_types`)."""

    query_kind: Literal["topup_amount"] = "topup_amount"
    statistic: Statistic = Field(description="Statistic of the amounts.")

    def compute(self, inputs):
        topups = select_events(inputs, self, ["recharge_amount"], event_types=["topups"])
        return summarise(topups, ["subscriber"], "recharge_amount", self.statistic)
