"""new_subscribers: subscribers of a focal period not seen in a benchmark period."""

from typing import Literal

from pydantic import Field

from flowkit.machine.kinds.unique_subscribers import UniqueSubscribers
from flowkit.machine.spec import QuerySpec, register


@register
class NewSubscribers(QuerySpec):
    """Subscribers of `unique_subscribers_focal` absent from `unique_subscribers_bench_mark`."""

    query_kind: Literal["new_subscribers"] = "new_subscribers"
    unique_subscribers_bench_mark: UniqueSubscribers = Field(description="Subscribers already known.")
    unique_subscribers_focal: UniqueSubscribers = Field(description="Subscribers of the period of interest.")
    library_only = True

    def compute(self, inputs):
        focal = inputs.result(self.unique_subscribers_focal)
        known = inputs.result(self.unique_subscribers_bench_mark)
        return focal.anti_join(known, "subscriber").select("subscriber")
