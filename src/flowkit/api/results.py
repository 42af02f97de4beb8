"""Serving a stored result as JSON, CSV or GeoJSON — always through the redaction rule."""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

import shapely

from flowkit.db.geography import unit_shapes
from flowkit.machine.queries import Machine
from flowkit.machine.spec import QuerySpec

MEDIA_TYPES = {"json": "application/json", "csv": "text/csv", "geojson": "application/geo+json"}


def redacted_rows(machine: Machine, query_id: str, spec: QuerySpec) -> tuple[list[str], list[tuple]]:
    """Column names and rows of a completed result as they may leave the API."""
    table = machine.result(query_id)
    if spec.redaction is not None:
        table = spec.redaction.apply(table)
    arrow = table.to_pyarrow()
    return arrow.column_names, list(zip(*(column.to_pylist() for column in arrow.columns)))


def _plain(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, list):  # list columns, e.g. calendar_activity's pattern of datetimes
        return [_plain(item) for item in value]
    return value


def as_json(query_id: str, columns: list[str], rows: list[tuple]) -> str:
    records = [{c: _plain(v) for c, v in zip(columns, row)} for row in rows]
    return json.dumps({"query_id": query_id, "query_result": records})


def as_csv(columns: list[str], rows: list[tuple]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows([[_plain(v) for v in row] for row in rows])
    return out.getvalue()


@lru_cache(maxsize=16)
def _shapes(machine: Machine, aggregation_unit: str) -> dict[tuple, tuple[dict, dict]]:
    """Per location: (GeoJSON geometry, GeoJSON centroid); computed once per unit."""
    return {
        key: (shapely.geometry.mapping(shape), shapely.geometry.mapping(shape.centroid))
        for key, shape in unit_shapes(machine.db, aggregation_unit).items()
    }


def geography(machine: Machine, aggregation_unit: str) -> str:
    names = ("lon", "lat") if aggregation_unit == "lon-lat" else ("pcod",)
    features = [
        {
            "type": "Feature",
            "id": i,
            "geometry": geometry,
            "properties": {**dict(zip(names, key)), "centroid": centroid},
        }
        for i, (key, (geometry, centroid)) in enumerate(_shapes(machine, aggregation_unit).items(), start=1)
    ]
    return json.dumps({"type": "FeatureCollection", "features": features})


def as_geojson(machine: Machine, spec: QuerySpec, columns: list[str], rows: list[tuple]) -> str:
    """One feature per result row; for flows one feature per location with its in/outflows."""
    shapes = _shapes(machine, spec.unit)
    places = spec.location_columns
    records = [{c: _plain(v) for c, v in zip(columns, row)} for row in rows]
    if f"{places[0]}_from" in columns:
        features = _flow_features(records, places, shapes)
    else:
        features = []
        for record in records:  # a row naming no place (dummy_query) gets no geometry
            geometry, centroid = shapes.get(tuple(record.get(c) for c in places), (None, None))
            features.append({"type": "Feature", "geometry": geometry, "properties": {**record, "centroid": centroid}})
    for i, feature in enumerate(features, start=1):
        feature["id"] = i
    return json.dumps({"type": "FeatureCollection", "features": features})


def _flow_features(records: list[dict], places: tuple[str, ...], shapes: dict) -> list[dict]:
    def key(record, side):
        return tuple(record[f"{c}_{side}"] for c in places)

    def label(location):
        return ",".join(str(part) for part in location)

    def put(location, direction, other, record):
        directions = flows.setdefault(location, {"outflows": {}, "inflows": {}})
        if "value_label" in record:  # labelled flows: one value per label for each pair
            directions[direction].setdefault(label(other), {})[record["value_label"]] = record["value"]
        else:
            directions[direction][label(other)] = record["value"]

    flows: dict[tuple, dict] = {}
    for record in records:
        origin, destination = key(record, "from"), key(record, "to")
        if None not in origin and None not in destination:
            put(origin, "outflows", destination, record)
            put(destination, "inflows", origin, record)
    features = []
    for location, directions in sorted(flows.items()):
        geometry, centroid = shapes.get(location, (None, None))
        properties = {**dict(zip(places, location)), **directions, "centroid": centroid}
        features.append({"type": "Feature", "geometry": geometry, "properties": properties})
    return features
