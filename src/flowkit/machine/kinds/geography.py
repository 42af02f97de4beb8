"""geography: every location of an aggregation unit (the GeoJSON output adds the shapes)."""

from typing import Literal

from flowkit.machine.fields import AggregationUnit, GeoTrio
from flowkit.machine.spec import QuerySpec, register


@register
class Geography(QuerySpec, GeoTrio):
    """The unit's location columns, one row per location: every admin unit of the level (with
    or without cells), or every distinct cell position for lon-lat. Holds no subscriber data."""

    query_kind: Literal["geography"] = "geography"
    aggregation_unit: AggregationUnit
    top_level = True
    example = {"query_kind": "geography", "aggregation_unit": "admin3"}

    def compute(self, inputs):
        if self.aggregation_unit == "lon-lat":
            cells = inputs.backend.table("cell_admin_units", database="geography")
            return cells.select("lon", "lat").distinct().order_by(["lon", "lat"])
        admin = inputs.backend.table(self.aggregation_unit, database="geography")
        return admin.select(pcod=admin[f"{self.aggregation_unit}pcod"]).order_by("pcod")
