"""Random samples of subscribers (`sampling` on subscriber-level kinds), reproducible everywhere.

FlowKit samples with PostgreSQL's `setseed`/`TABLESAMPLE`, so its samples depend on the
database. Ours rank subscribers by md5(seed, subscriber) and keep the first ones: the same
seed gives the same sample on every backend and every run. All three methods use this rank;
`size` keeps that many subscribers, `fraction` that share of them (rounded down).
"""

from __future__ import annotations

from typing import Literal

import ibis
import ibis.expr.types as ir
from pydantic import Field, model_validator

from flowkit.machine.fields import StrictModel


class RandomSample(StrictModel):
    """Keep a seeded random subset of a subscriber-level result's subscribers."""

    sampling_method: Literal["system", "bernoulli", "random_ids"] = "random_ids"
    seed: float = Field(description="Seed: the same seed gives the same sample.")
    size: int | None = Field(default=None, ge=1, description="Number of subscribers to keep.")
    fraction: float | None = Field(default=None, gt=0, lt=1, description="Share of subscribers to keep.")
    estimate_count: bool = Field(default=True, description="Accepted for FlowKit compatibility; counts are exact.")

    @model_validator(mode="after")
    def _one_amount(self):
        if (self.size is None) == (self.fraction is None):
            raise ValueError("give exactly one of size and fraction")
        if self.sampling_method == "random_ids" and not -1 <= self.seed <= 1:
            raise ValueError("seed must be between -1 and 1 for random_ids")
        return self

    def apply(self, table: ir.Table) -> ir.Table:
        """Rows of the kept subscribers (all rows of a subscriber stay together)."""
        subscribers = table.select("subscriber").distinct()
        ranked = subscribers.mutate(_rank=(ibis.literal(f"{self.seed}:") + subscribers.subscriber).hexdigest("md5"))
        if self.size is not None:
            kept = ranked.order_by(["_rank", "subscriber"]).limit(self.size)
        else:
            position = ibis.row_number().over(order_by=["_rank", "subscriber"])
            total = ranked.count().as_scalar()
            kept = ranked.mutate(_n=position, _total=total)
            kept = kept.filter(kept._n < (kept._total * self.fraction).floor())
        return table.semi_join(kept.select("subscriber"), "subscriber")


class Sampled(StrictModel):
    """The optional `sampling` parameter FlowKit gives every subscriber-level kind."""

    sampling: RandomSample | None = Field(default=None, description="Keep only a random sample of subscribers.")
