"""mobility_classification: labels subscribers by how their location held over a series of periods."""

from typing import Literal

import ibis
from pydantic import Field, field_validator

from flowkit.machine.kinds.coalesced_location import CoalescedLocation
from flowkit.machine.locations import require_one_unit
from flowkit.machine.sampling import Sampled
from flowkit.machine.spec import QuerySpec, register


@register
class MobilityClassification(QuerySpec, Sampled):
    """For subscribers present in the last period, `value` is the first label that fits:
    `unlocated` (NULL location in the last period), `irregular` (absent from some period),
    `not_always_locatable` (NULL in some period), `mobile` (never at one location for
    `stay_length_threshold` consecutive periods), else `stable`."""

    query_kind: Literal["mobility_classification"] = "mobility_classification"
    locations: list[CoalescedLocation] = Field(min_length=1, description="One location per period, oldest first.")
    stay_length_threshold: int = Field(description="Consecutive periods at one location that make a subscriber stable.")

    @field_validator("locations")
    @classmethod
    def _one_unit(cls, locations):
        require_one_unit(locations)
        return locations

    def compute(self, inputs):
        columns = self.location_columns

        def unlocated(table):
            return ibis.and_(*(table[c].isnull() for c in columns))

        periods = [
            inputs.result(loc).select("subscriber", *columns).mutate(_period=ibis.literal(n))
            for n, loc in enumerate(self.locations)
        ]
        history = ibis.union(*periods, distinct=False)
        history = history.mutate(_unlocated=unlocated(history))
        activity = history.group_by("subscriber").aggregate(
            _periods=history.count(), _ever_unlocated=history._unlocated.any()
        )
        # Runs of consecutive periods at one place share period - rank among that place's periods.
        located = history.filter(~history._unlocated)
        rank = located._period.dense_rank().over(group_by=["subscriber", *columns])
        located = located.mutate(_run=located._period - rank)
        runs = located.group_by(["subscriber", *columns, "_run"]).aggregate(_length=ibis._.count())
        stays = runs.group_by("subscriber").aggregate(_longest=runs._length.max())

        last = inputs.result(self.locations[-1])
        last = last.select(_who=last.subscriber, _now_unlocated=unlocated(last))
        labelled = last.left_join(activity, last._who == activity.subscriber).left_join(
            stays, last._who == stays.subscriber
        )
        value = ibis.cases(
            (labelled._now_unlocated, "unlocated"),
            (labelled._periods < len(self.locations), "irregular"),
            (labelled._ever_unlocated, "not_always_locatable"),
            (labelled._longest < self.stay_length_threshold, "mobile"),
            else_="stable",
        )
        return labelled.select(subscriber=labelled._who, value=value)
