"""handset: a characteristic of the phone a subscriber uses."""

from typing import Literal

import ibis
from pydantic import Field

from flowkit.machine.fields import DateRange, EventFilters
from flowkit.machine.reference_locations import first_per_subscriber
from flowkit.machine.sampling import Sampled
from flowkit.machine.spec import QuerySpec, register
from flowkit.machine.statistics import summarise

Characteristic = Literal["hnd_type", "brand", "model", "software_os_name", "software_os_vendor"]


@register
class Handset(QuerySpec, DateRange, EventFilters, Sampled):
    """A characteristic of the handset (TAC) on the subscriber's events that carry one: that of
    the latest event's TAC (`last`; ties go to the smallest TAC), or the characteristic most
    events show (`most-common`; ties go to the smallest value). A TAC missing from
    `infrastructure.tacs` has no characteristics: the value is then NULL. Categorical, so
    joined_spatial_aggregate takes only `distr` or `mode` of it, and histograms none."""

    query_kind: Literal["handset"] = "handset"
    characteristic: Characteristic = Field(description="Column of infrastructure.tacs to report.")
    method: Literal["last", "most-common"] = Field(description="Which of the subscriber's handsets.")

    def compute(self, inputs):
        events = inputs.events(columns=("datetime", "tac"), **self.selection())
        events = events.filter(events.tac.notnull())
        if self.method == "last":
            events = first_per_subscriber(events, [ibis.desc(events.datetime)], ["tac"])
        models = inputs.backend.table("tacs", database="infrastructure")
        described = events.left_join(models, events.tac == models.id).select(
            "subscriber", value=models[self.characteristic]
        )
        if self.method == "last":
            return described
        return summarise(described, ["subscriber"], "value", "mode")
