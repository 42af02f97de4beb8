"""topup_balance: a statistic of the balance a subscriber held, weighted by how long they held it."""

from typing import Literal

import ibis
from pydantic import Field

from flowkit.machine.library import OneTableSelection, select_events
from flowkit.machine.sampling import Sampled
from flowkit.machine.spec import QuerySpec, register
from flowkit.machine.statistics import Statistic, summarise


@register
class TopupBalance(QuerySpec, OneTableSelection, Sampled):
    """FlowKit's time-weighted balance. Only top-ups reveal the balance, so the window is cut into
    segments at each top-up: before top-up i the subscriber is taken to hold the mean of its
    pre-event balance and the previous top-up's post-event balance (before the first: its
    pre-event balance, since the window start); after the last, its post-event balance until
    the window stop. Each segment weighs its length in seconds. Reads events.topups only.

    `count` is the number of top-ups; `max`/`min` range over every pre and post balance; `sum`,
    `avg`, `variance`, `stddev` are FlowKit's weighted formulas; `median` is the weighted median
    and `mode` the balance held longest (both fixed from FlowKit, see docs/semantics.md).
    """

    query_kind: Literal["topup_balance"] = "topup_balance"
    statistic: Statistic = Field(description="Statistic of the time-weighted balance.")

    def compute(self, inputs):
        columns = ["datetime", "pre_event_balance", "post_event_balance"]
        topups = select_events(inputs, self, columns, event_types=["topups"])
        if self.statistic == "count":
            return topups.group_by("subscriber").aggregate(value=topups.count())
        if self.statistic in ("max", "min"):
            balances = ibis.union(
                topups.select("subscriber", balance=topups.pre_event_balance),
                topups.select("subscriber", balance=topups.post_event_balance),
                distinct=False,
            )
            return summarise(balances, ["subscriber"], "balance", self.statistic)
        return _weighted(self._segments(topups), self.statistic)

    def _segments(self, topups):
        """`subscriber, balance, weight`: the balance held over each segment and its seconds.

        Top-ups at the same instant are taken in order of their balances, so results never
        depend on the database's row order.
        """
        order = [topups.datetime, topups.pre_event_balance, topups.post_event_balance]
        forwards = ibis.window(group_by="subscriber", order_by=order)
        backwards = ibis.window(group_by="subscriber", order_by=[ibis.desc(c) for c in order])
        previous_post = topups.post_event_balance.lag(default=topups.pre_event_balance).over(forwards)
        previous_time = topups.datetime.lag(default=ibis.literal(self.start_date, type="timestamp")).over(forwards)
        segments = topups.mutate(
            balance=(topups.pre_event_balance + previous_post) / 2,
            weight=_seconds(previous_time, topups.datetime),
            _from_last=ibis.row_number().over(backwards),
        )
        last = segments.filter(segments._from_last == 0)
        stop = ibis.literal(self.end_date, type="timestamp")
        tail = last.select("subscriber", balance=last.post_event_balance, weight=_seconds(last.datetime, stop))
        return ibis.union(segments.select("subscriber", "balance", "weight"), tail, distinct=False)


def _seconds(start, stop):
    return stop.delta(start, unit="second").cast("float64")


def _weighted(segments, statistic: Statistic):
    """Per subscriber, the weighted statistic of `balance` with weights `weight`."""
    if statistic == "median":
        cumulative = ibis.window(group_by="subscriber", order_by="balance", rows=(None, 0))
        total = ibis.window(group_by="subscriber")
        ranked = segments.mutate(_upto=segments.weight.sum().over(cumulative), _total=segments.weight.sum().over(total))
        reached = ranked.filter(ranked._upto >= ranked._total / 2)
        return reached.group_by("subscriber").aggregate(value=reached.balance.min())
    if statistic == "mode":
        held = segments.group_by(["subscriber", "balance"]).aggregate(_held=segments.weight.sum())
        order = ibis.window(group_by="subscriber", order_by=[ibis.desc(held._held), held.balance])
        ranked = held.mutate(_rank=ibis.row_number().over(order))
        return ranked.filter(ranked._rank == 0).select("subscriber", value=ranked.balance)
    w, b = segments.weight, segments.balance
    sums = segments.group_by("subscriber").aggregate(_w=w.sum(), _wb=(w * b).sum(), _wbb=(w * b * b).sum())
    variance = (sums._wbb - sums._wb**2 / sums._w) / (sums._w - 1)
    value = {"sum": sums._wb, "avg": sums._wb / sums._w, "variance": variance, "stddev": variance.sqrt()}[statistic]
    return sums.select("subscriber", value=value)
