"""contact_balance: how often each subscriber interacts with each counterpart."""

from typing import Literal

from pydantic import Field

from flowkit.machine.fields import DateRange, Direction, EventFilters
from flowkit.machine.library import contact_balance
from flowkit.machine.sampling import Sampled
from flowkit.machine.spec import QuerySpec, register


@register
class ContactBalance(QuerySpec, DateRange, EventFilters, Sampled):
    """Per (subscriber, msisdn_counterpart): `events` between them and `proportion`, their share
    of the subscriber's events (after the direction and self-call filters)."""

    query_kind: Literal["contact_balance"] = "contact_balance"
    direction: Direction = Field(default="both", description="Legs to count: in, out or both.")
    exclude_self_calls: bool = Field(default=True, description="Drop events whose counterpart is the subscriber.")
    library_only = True

    def compute(self, inputs):
        return contact_balance(inputs, self, self.direction)
