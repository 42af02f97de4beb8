"""proportion_contact_reciprocal: the share of a subscriber's contacts that are reciprocal."""

from typing import Literal

from pydantic import Field

from flowkit.machine.kinds.contact_reciprocal import ContactReciprocal
from flowkit.machine.spec import QuerySpec, register


@register
class ProportionContactReciprocal(QuerySpec):
    """Reciprocal contacts / all contacts of the subscriber in a contact_reciprocal (`proportion`)."""

    query_kind: Literal["proportion_contact_reciprocal"] = "proportion_contact_reciprocal"
    contact_reciprocal: ContactReciprocal = Field(description="The contacts, marked reciprocal or not.")
    library_only = True

    def compute(self, inputs):
        contacts = inputs.result(self.contact_reciprocal)
        return contacts.group_by("subscriber").aggregate(proportion=contacts.reciprocal.cast("float64").mean())
