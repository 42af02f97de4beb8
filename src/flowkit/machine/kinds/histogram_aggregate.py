"""histogram_aggregate: how many subscribers have a metric value in each bin."""

from typing import Annotated, Literal

import ibis
from pydantic import BeforeValidator, Field, model_validator

from flowkit.machine.fields import StrictModel
from flowkit.machine.kinds.metric_groups import HistogrammableMetrics
from flowkit.machine.redaction import Redaction
from flowkit.machine.spec import QuerySpec, register


class Bins(StrictModel):
    """Exactly one of `n_bins` (equal bins over the range) and `bin_list` (the edges)."""

    n_bins: int | None = Field(default=None, ge=1, description="Number of equal-width bins.")
    bin_list: list[float] | None = Field(default=None, min_length=2, description="Bin edges, increasing.")

    @model_validator(mode="after")
    def _one_way(self):
        if (self.n_bins is None) == (self.bin_list is None):
            raise ValueError("give exactly one of n_bins and bin_list")
        if self.bin_list is not None and any(b <= a for a, b in zip(self.bin_list, self.bin_list[1:])):
            raise ValueError("bin_list edges must increase")
        return self


class Bounds(StrictModel):
    """The range n_bins divides: [lower_bound, upper_bound]."""

    lower_bound: float
    upper_bound: float

    @model_validator(mode="after")
    def _ordered(self):
        if self.lower_bound >= self.upper_bound:
            raise ValueError("lower_bound should be less than upper_bound")
        return self


def _bounds_from_pair(value: object) -> object:
    """flowclient sends range as [lower, upper]; FlowKit's server expects the object."""
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return {"lower_bound": value[0], "upper_bound": value[1]}
    return value


@register
class HistogramAggregate(QuerySpec):
    """Number of subscribers (`value`) whose metric value falls in each bin [lower_edge, upper_edge),
    in bin order. With n_bins the last bin also holds its upper edge and the edges span `range`, or
    the metric's smallest to largest value; with bin_list every bin is half-open and `range` is
    ignored. Values outside every bin are not counted; an empty bin counts 0. If any bin counts
    15 subscribers or fewer, the whole histogram is served blank."""

    query_kind: Literal["histogram_aggregate"] = "histogram_aggregate"
    metric: HistogrammableMetrics = Field(description="The per-subscriber metric to bin.")
    bins: Bins = Field(description="{n_bins: int} or {bin_list: [edges]}.")
    range: Annotated[Bounds | None, BeforeValidator(_bounds_from_pair)] = Field(
        default=None, description="{lower_bound, upper_bound} (or [lower, upper]) spanned by n_bins."
    )
    top_level = True
    nonspatial = True
    redaction = Redaction(all_or_nothing=True)
    example = {
        "query_kind": "histogram_aggregate",
        "metric": {"query_kind": "radius_of_gyration", "start_date": "2016-01-01", "end_date": "2016-01-08"},
        "bins": {"n_bins": 5},
    }

    def compute(self, inputs):
        values = inputs.result(self.metric)
        values = values.filter(values.value.notnull()).select(_x=values.value.cast("float64"))
        bins = self._bins(values)
        inside = (values._x >= bins.lower_edge) & (
            (values._x < bins.upper_edge) | (bins._closed & (values._x == bins.upper_edge))
        )
        matched = bins.left_join(values, inside)
        counts = matched.group_by(["_bin", "lower_edge", "upper_edge"]).aggregate(value=matched._x.count())
        return counts.order_by("_bin").select("value", "lower_edge", "upper_edge")

    def _bins(self, values):
        """`_bin, lower_edge, upper_edge, _closed`: one row per bin, numbered from 0."""
        extent = values.aggregate(_lo=values._x.min(), _hi=values._x.max())
        if self.bins.bin_list is not None:
            edges = ibis.literal(self.bins.bin_list, type="array<float64>")
            bins = extent.select(_bin=ibis.range(len(self.bins.bin_list) - 1).unnest())
            return bins.mutate(lower_edge=edges[bins._bin], upper_edge=edges[bins._bin + 1], _closed=False)
        n = self.bins.n_bins
        if self.range is not None:
            extent = extent.mutate(_lo=self.range.lower_bound, _hi=self.range.upper_bound)
        bins = extent.select("_lo", "_hi", _bin=ibis.range(n).unnest())
        width = (bins._hi - bins._lo) / n
        last = bins._bin == n - 1
        return bins.select(
            "_bin",
            lower_edge=bins._lo + bins._bin * width,
            upper_edge=last.ifelse(bins._hi, bins._lo + (bins._bin + 1) * width),
            _closed=last,
        )
