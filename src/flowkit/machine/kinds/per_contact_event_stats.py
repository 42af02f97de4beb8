"""per_contact_event_stats: a statistic of a subscriber's event counts per counterpart."""

from typing import Literal

from pydantic import Field

from flowkit.machine.kinds.contact_balance import ContactBalance
from flowkit.machine.spec import QuerySpec, register
from flowkit.machine.statistics import Statistic, summarise


@register
class PerContactEventStats(QuerySpec):
    """The statistic of `events` over the subscriber's rows of a contact_balance (`value`)."""

    query_kind: Literal["per_contact_event_stats"] = "per_contact_event_stats"
    contact_balance: ContactBalance = Field(description="The contacts and their event counts.")
    statistic: Statistic = Field(default="avg", description="Statistic over the per-contact counts.")
    library_only = True

    def compute(self, inputs):
        return summarise(inputs.result(self.contact_balance), ["subscriber"], "events", self.statistic)
