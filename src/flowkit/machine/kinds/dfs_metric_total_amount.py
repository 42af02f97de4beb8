"""dfs_metric_total_amount: mobile-money totals per admin unit and day."""

from datetime import datetime
from typing import Literal

import ibis
from pydantic import Field, field_validator, model_validator

from flowkit.machine.fields import ONE_DAY, Instant
from flowkit.machine.redaction import Redaction
from flowkit.machine.spec import QuerySpec, register


@register
class DfsMetricTotalAmount(QuerySpec):
    """Per day and admin unit, the sum of `metric` over the DFS transactions with a party
    transacting through a cell of the unit (each transaction once per unit, however many of
    its parties were there). Both dates are whole days, the end date included, as in FlowKit.
    A sum over a few people's transactions discloses them, so unlike FlowKit a row is served
    only where more than the redaction threshold of distinct parties transacted."""

    query_kind: Literal["dfs_metric_total_amount"] = "dfs_metric_total_amount"
    metric: Literal["amount", "commission", "fee", "discount"] = Field(description="Transaction column to sum.")
    start_date: Instant = Field(description="First day.")
    end_date: Instant = Field(description="Last day (included).")
    aggregation_unit: Literal["admin0", "admin1", "admin2", "admin3"]
    top_level = True
    redaction = Redaction(columns=("subscribers",), private=("subscribers",))
    example = {
        "query_kind": "dfs_metric_total_amount",
        "metric": "amount",
        "start_date": "2016-01-01",
        "end_date": "2016-01-07",
        "aggregation_unit": "admin3",
    }

    @field_validator("start_date", "end_date")
    @classmethod
    def _whole_day(cls, value: datetime) -> datetime:
        if value.time() != datetime.min.time():
            raise ValueError("must be a date: DFS totals are per whole day")
        return value

    @model_validator(mode="after")
    def _ordered(self):
        if self.end_date < self.start_date:
            raise ValueError("end_date must not be before start_date")
        return self

    def compute(self, inputs):
        transactions = inputs.backend.table("transactions", database="dfs")
        parties = inputs.backend.table("transactions_metadata", database="dfs")
        cells = inputs.backend.table("cell_admin_units", database="geography")
        pcod = cells[f"{self.aggregation_unit}pcod"]
        # the metadata names the cell version, so no service dates are checked (as in FlowKit)
        places = cells.filter(pcod.notnull()).select(_cell=cells.location_id, _version=cells.version, pcod=pcod)
        window = transactions.filter(
            (transactions.timestamp >= self.start_date) & (transactions.timestamp < self.end_date + ONE_DAY)
        )
        legs = (
            window.join(parties, window.id == parties.transaction_id)
            .join(places, [parties.cell_id == places._cell, parties.cell_version == places._version])
            .select(
                _id=window.id,
                date=window.timestamp.date(),
                pcod=places.pcod,
                _metric=window[self.metric],
                _party=parties.subscriber_id,
            )
        )
        once = ibis.row_number().over(group_by=["_id", "date", "pcod"], order_by="_party") == 0
        legs = legs.mutate(_once=once)
        return legs.group_by(["date", "pcod"]).aggregate(
            value=legs._metric.sum(where=legs._once), subscribers=legs._party.nunique()
        )
