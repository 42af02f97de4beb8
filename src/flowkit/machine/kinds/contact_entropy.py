"""contact_entropy: how evenly a subscriber's events spread over their counterparts."""

from typing import Literal

from pydantic import Field

from flowkit.machine.fields import DateRange, Direction, EventFilters
from flowkit.machine.library import contact_balance, entropy
from flowkit.machine.sampling import Sampled
from flowkit.machine.spec import QuerySpec, register


@register
class ContactEntropy(QuerySpec, DateRange, EventFilters, Sampled):
    """−Σ p ln p over the subscriber's contact_balance proportions (`entropy`)."""

    query_kind: Literal["contact_entropy"] = "contact_entropy"
    direction: Direction = Field(default="both", description="Legs to count: in, out or both.")
    exclude_self_calls: bool = Field(default=True, description="Drop events whose counterpart is the subscriber.")
    library_only = True

    def compute(self, inputs):
        return entropy(contact_balance(inputs, self, self.direction), "proportion", normalise=False)
