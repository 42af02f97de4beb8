"""Meaningful locations: clusters of the sites a subscriber uses, labelled by when they are used.

FlowKit's method (after Isaacman et al.), shared by the three `meaningful_locations_*` kinds:
events located at site versions; call days (distinct days with an event) and mean hour-of-day
and day-of-week scores per (subscriber, site version); Hartigan leader clustering of each
subscriber's sites; a cluster's score is the mean of its sites' scores, its label the label
polygon strictly containing (hour score, day score), else "unknown"; its place is the admin
polygon strictly containing its centre.

Why part of it runs in Python: leader clustering is sequential — where a site goes depends on
where earlier sites moved the centres — so no set-based query expresses it (FlowKit uses a
PL/pgSQL aggregate). The per-site table is built and executed with Ibis; numpy then clusters
every subscriber in lockstep (step k places each subscriber's k-th site at once), shapely labels
the clusters and locates their centres, and the clusters go back as an `ibis.memtable`, so the
weighting and aggregation stay Ibis expressions and the Machine stores the result like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import shapely
from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from flowkit.db.geometry import locate_points
from flowkit.machine.fields import AggregationUnit, EventSelection, GeoTrio, StrictModel
from flowkit.machine.inputs import Inputs

UNKNOWN = "unknown"
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

Score = Annotated[float, Field(ge=-1, le=1)]


class DayOfWeekScores(StrictModel):
    """A score in [-1, 1] for each day of the week (all seven required)."""

    monday: Score
    tuesday: Score
    wednesday: Score
    thursday: Score
    friday: Score
    saturday: Score
    sunday: Score


class LabelShape(StrictModel):
    """A GeoJSON (Multi)Polygon in the plane x = hour-of-day score, y = day-of-week score."""

    type: Literal["Polygon", "MultiPolygon"]
    coordinates: list[Any]

    @model_validator(mode="after")
    def _valid(self):
        geometry = self.shape  # raises ValueError for malformed coordinates
        if not geometry.is_valid:
            raise ValueError(f"not a valid {self.type}: {shapely.is_valid_reason(geometry)}")
        return self

    @property
    def shape(self) -> BaseGeometry:
        try:
            return shape(self.model_dump())
        except Exception as error:  # shapely raises several types for malformed rings
            raise ValueError(f"not a valid {self.type}: {error}") from None


def _disjoint(labels: dict[str, LabelShape]) -> dict[str, LabelShape]:
    """FlowKit's rules: 'unknown' is reserved, and no two labels may intersect (touching included)."""
    if UNKNOWN in labels:
        raise ValueError(f"'{UNKNOWN}' is reserved for clusters outside every label")
    named = list(labels.items())
    for i, (name, label) in enumerate(named):
        for other, other_label in named[i + 1 :]:
            if label.shape.intersects(other_label.shape):
                raise ValueError(f"labels '{name}' and '{other}' intersect")
    return labels


Labels = Annotated[dict[str, LabelShape], AfterValidator(_disjoint)]


class MeaningfulLocationsParameters(EventSelection, GeoTrio):
    """The parameters the three kinds share, and the labelled clusters they all start from.

    Kinds declare their label fields (`label`, or `label_a` and `label_b`) after these, so
    that each can be checked against `labels`.
    """

    aggregation_unit: AggregationUnit
    labels: Labels = Field(description="Label name → GeoJSON polygon in (hour score, day score) space.")
    tower_day_of_week_scores: DayOfWeekScores = Field(description="Score of each day of the week, in [-1, 1].")
    tower_hour_of_day_scores: list[Score] = Field(
        min_length=24, max_length=24, description="Score of each hour of the day from midnight, in [-1, 1]."
    )
    tower_cluster_radius: float = Field(default=1.0, gt=0, description="Cluster radius in km.")
    tower_cluster_call_threshold: int = Field(
        default=0, description="Clusters with fewer call days than this are dropped."
    )

    @field_validator("aggregation_unit")
    @classmethod
    def _polygons(cls, value: str) -> str:
        if not value.startswith("admin"):
            raise ValueError(f"meaningful locations are counted in admin polygons (admin0-admin3), not {value}")
        return value

    @field_validator("label", "label_a", "label_b", check_fields=False)
    @classmethod
    def _known(cls, value: str, info: ValidationInfo) -> str:
        labels = info.data.get("labels")
        if labels is not None and value != UNKNOWN and value not in labels:
            raise ValueError(f"'{value}' is not one of the labels nor '{UNKNOWN}'")
        return value

    def clusters(self, inputs: Inputs, start: datetime, stop: datetime) -> ir.Table:
        """Every subscriber's kept clusters in [start, stop): `subscriber, label, pcod` (pcod null outside)."""
        sites = _site_usage(inputs, self, start, stop).to_pyarrow()
        owner = sites["owner"].to_numpy()
        found = hartigan(
            owner,
            sites["position"].to_numpy(),
            sites["lon"].to_numpy(),
            sites["lat"].to_numpy(),
            sites["calldays"].to_numpy(),
            self.tower_cluster_radius,
        )
        kept = found.weight >= self.tower_cluster_call_threshold
        score_hour, score_dow = (found.mean_of(sites[c].to_numpy())[kept] for c in ("score_hour", "score_dow"))
        row_of = np.zeros(owner.max(initial=-1) + 1, dtype=np.int64)
        row_of[owner] = np.arange(len(owner))  # a row of each subscriber
        columns = {
            "subscriber": sites["subscriber"].take(pa.array(row_of[found.owner[kept]])),
            "label": pa.array(label_points(self.labels, score_hour, score_dow), pa.string()),
            "pcod": pa.array(_admin_of(inputs, self.aggregation_unit, found.lon[kept], found.lat[kept]), pa.string()),
        }
        return ibis.memtable(pa.table(columns))


def with_label(clusters: ir.Table, label: str) -> ir.Table:
    """Clusters labelled `label`, each with `n_clusters`: how many such clusters its subscriber has."""
    kept = clusters.filter(clusters.label == label)
    return kept.mutate(n_clusters=kept.subscriber.count().over(group_by="subscriber"))


def od_matrix(origin: ir.Table, destination: ir.Table) -> ir.Table:
    """Every pair of a subscriber's origin and destination clusters weighs 1/(n_from·n_to), summed per
    (label_from, label_to, pcod_from, pcod_to); subscribers lacking either side are left out."""
    ends = [
        side.select(**{f"{c}_{end}": side[c] for c in ("subscriber", "label", "pcod", "n_clusters")})
        for side, end in ((origin, "from"), (destination, "to"))
    ]
    pairs = ends[0].join(ends[1], ends[0].subscriber_from == ends[1].subscriber_to)
    weight = 1.0 / (pairs.n_clusters_from * pairs.n_clusters_to)
    return pairs.group_by(["label_from", "label_to", "pcod_from", "pcod_to"]).aggregate(value=weight.sum())


def _site_usage(inputs: Inputs, params: MeaningfulLocationsParameters, start: datetime, stop: datetime) -> ir.Table:
    """Per (subscriber, site version): call days and mean scores, with the clustering order.

    `position` orders each subscriber's sites by call days, most first; FlowKit leaves ties to
    the database, we break them by site id then version. `owner` numbers the subscribers.
    """
    events = inputs.located_events(
        "versioned-site",
        start=start,
        stop=stop,
        event_types=params.event_types,
        subscriber_subset=params.subscriber_subset,
    )
    hour = events.datetime.hour().substitute(dict(enumerate(params.tower_hour_of_day_scores)))
    day_scores = params.tower_day_of_week_scores
    day = events.datetime.day_of_week.index().substitute({i: getattr(day_scores, d) for i, d in enumerate(DAYS)})
    sites = events.group_by(["subscriber", "site_id", "version", "lon", "lat"]).aggregate(
        calldays=events.datetime.date().nunique(), score_hour=hour.mean(), score_dow=day.mean()
    )
    order = [ibis.desc(sites.calldays), sites.site_id, sites.version]
    return sites.mutate(
        owner=ibis.dense_rank().over(order_by="subscriber"),
        position=ibis.row_number().over(group_by="subscriber", order_by=order),
    )


def _admin_of(inputs: Inputs, aggregation_unit: str, lon: np.ndarray, lat: np.ndarray) -> list[str | None]:
    """pcod of the admin polygon strictly containing each point (FlowKit's ST_Contains), else None."""
    table = inputs.backend.table(aggregation_unit, database="geography")
    geom = table.geom.as_binary() if table.geom.type().is_geospatial() else table.geom  # PostGIS or WKB
    polygons = table.order_by("gid").select(pcod=table[f"{aggregation_unit}pcod"], geom=geom).to_pyarrow()
    return locate_points(lon, lat, polygons["geom"].to_pylist(), polygons["pcod"].to_pylist())


def label_points(labels: dict[str, LabelShape], x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The label whose polygon strictly contains each (x, y), else 'unknown' (labels are disjoint)."""
    found = np.full(len(x), UNKNOWN, dtype=object)
    for name, label in labels.items():
        found[shapely.contains_xy(label.shape, x, y)] = name
    return found


# -- clustering -------------------------------------------------------------------------------

# WGS84, the ellipsoid of PostGIS geography distances.
_A = 6378137.0
_F = 1 / 298.257223563
_B = _A * (1 - _F)


def geodesic_distance(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Metres between points on the WGS84 ellipsoid (Vincenty's inverse formula), element-wise.

    Agrees with PostGIS's ST_Distance on geography to well under a millimetre; for nearly
    antipodal points, where the iteration may not settle, the last estimate (about 20 000 km) stands.
    """
    lon1, lat1, lon2, lat2 = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (lon1, lat1, lon2, lat2)))
    big_l = np.radians(lon2 - lon1)
    u1, u2 = np.arctan((1 - _F) * np.tan(np.radians(lat1))), np.arctan((1 - _F) * np.tan(np.radians(lat2)))
    sin_u1, cos_u1, sin_u2, cos_u2 = np.sin(u1), np.cos(u1), np.sin(u2), np.cos(u2)
    lam = big_l
    for _ in range(200):
        sin_lam, cos_lam = np.sin(lam), np.cos(lam)
        sin_sigma = np.hypot(cos_u2 * sin_lam, cos_u1 * sin_u2 - sin_u1 * cos_u2 * cos_lam)
        cos_sigma = sin_u1 * sin_u2 + cos_u1 * cos_u2 * cos_lam
        sigma = np.arctan2(sin_sigma, cos_sigma)
        coincident = sin_sigma == 0
        sin_alpha = cos_u1 * cos_u2 * sin_lam / np.where(coincident, 1, sin_sigma)
        cos2_alpha = 1 - sin_alpha**2
        equatorial = cos2_alpha == 0
        cos_2sm = np.where(equatorial, 0, cos_sigma - 2 * sin_u1 * sin_u2 / np.where(equatorial, 1, cos2_alpha))
        c = _F / 16 * cos2_alpha * (4 + _F * (4 - 3 * cos2_alpha))
        previous = lam
        lam = big_l + (1 - c) * _F * sin_alpha * (
            sigma + c * sin_sigma * (cos_2sm + c * cos_sigma * (-1 + 2 * cos_2sm**2))
        )
        if np.all(np.abs(lam - previous) < 1e-12):
            break
    u_sq = cos2_alpha * (_A**2 - _B**2) / _B**2
    big_a = 1 + u_sq / 16384 * (4096 + u_sq * (-768 + u_sq * (320 - 175 * u_sq)))
    big_b = u_sq / 1024 * (256 + u_sq * (-128 + u_sq * (74 - 47 * u_sq)))
    delta_sigma = (
        big_b
        * sin_sigma
        * (
            cos_2sm
            + big_b
            / 4
            * (
                cos_sigma * (-1 + 2 * cos_2sm**2)
                - big_b / 6 * cos_2sm * (-3 + 4 * sin_sigma**2) * (-3 + 4 * cos_2sm**2)
            )
        )
    )
    return _B * big_a * (sigma - delta_sigma)


@dataclass(frozen=True)
class Clusters:
    """Clusters of all subscribers, numbered per subscriber in creation order, subscribers in turn.

    `member[i]` is the cluster of input row i; per cluster: its subscriber number (`owner`), its
    centre and its call days (the sum over its sites).
    """

    member: np.ndarray
    owner: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    weight: np.ndarray

    def mean_of(self, values: np.ndarray) -> np.ndarray:
        """Per cluster, the unweighted mean of its sites' `values`."""
        size = len(self.weight)
        return np.bincount(self.member, weights=values, minlength=size) / np.bincount(self.member, minlength=size)


# Subscriber × cluster slots held at once: memory stays bounded however many sites the busiest
# subscriber has (a few hundred MB at most).
SLOTS_AT_ONCE = 1 << 22


def hartigan(
    owner: np.ndarray,
    position: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    weight: np.ndarray,
    radius_km: float,
) -> Clusters:
    """Hartigan leader clustering of every subscriber's sites, as FlowDB's `hartigan` aggregate.

    Rows are sites: `owner` numbers the subscriber (0, 1, ...), `position` the site's turn within
    its subscriber (0, 1, ...). In turn, a site joins the first cluster (in creation order) whose
    centre lies strictly closer than the radius, moving the centre to the weight-weighted mean
    longitude and latitude of its sites; otherwise it starts a new cluster. Subscribers with
    similar numbers of sites are clustered together, in batches of bounded size.
    """
    sites = np.bincount(owner)
    batches = _batches(sites)
    batch_of, local = np.zeros((2, len(sites)), dtype=np.int64)
    for number, members in enumerate(batches):
        batch_of[members], local[members] = number, np.arange(len(members))
    rows = np.argsort(batch_of[owner], kind="stable")
    bounds = np.searchsorted(batch_of[owner][rows], np.arange(1, len(batches)))
    slot = np.zeros(len(owner), dtype=np.int64)
    clusters = [(np.zeros(0, np.int64), np.zeros(0, np.int64), *np.zeros((3, 0)))]  # (owner, slot, lon, lat, weight)
    for members, batch in zip(batches, np.split(rows, bounds)):
        slot[batch], count, centres = _lockstep(
            local[owner[batch]], position[batch], lon[batch], lat[batch], weight[batch], radius_km * 1000, len(members)
        )
        who = np.repeat(np.arange(len(members)), count)
        which = np.arange(len(who)) - (np.cumsum(count) - count)[who]
        clusters.append((members[who], which, *centres[:, who, which]))
    owner_c, slot_c, lon_c, lat_c, weight_c = (np.concatenate(part) for part in zip(*clusters, strict=True))
    order = np.lexsort((slot_c, owner_c))  # clusters numbered by subscriber, then creation
    count = np.bincount(owner_c, minlength=len(sites))
    return Clusters(
        member=(np.cumsum(count) - count)[owner] + slot,
        owner=owner_c[order],
        lon=lon_c[order],
        lat=lat_c[order],
        weight=weight_c[order],
    )


def _batches(sites: np.ndarray) -> list[np.ndarray]:
    """Subscribers (by number) grouped by ascending site count, each group's size × its largest
    site count (the cluster slots it needs) within SLOTS_AT_ONCE, or a single subscriber."""
    by_size = np.argsort(sites, kind="stable")
    sizes = sites[by_size]
    batches, start = [], 0
    while start < len(sizes):
        slots = np.arange(1, len(sizes) - start + 1) * sizes[start:]
        stop = start + max(1, int(np.searchsorted(slots, SLOTS_AT_ONCE, side="right")))
        batches.append(by_size[start:stop])
        start = stop
    return batches


def _lockstep(owner, position, lon, lat, weight, radius_m, subscribers):
    """Cluster a batch: step k places every subscriber's k-th site at once. Returns each row's
    cluster slot, each subscriber's cluster count and the (lon, lat, weight) of every slot."""
    count = np.zeros(subscribers, dtype=np.int64)
    centres = np.zeros((3, subscribers, int(position.max()) + 1))
    slot = np.zeros(len(owner), dtype=np.int64)
    order = np.argsort(position, kind="stable")
    steps = np.searchsorted(position[order], np.arange(int(position.max()) + 2))
    for start, stop in zip(steps[:-1], steps[1:]):
        turn = order[start:stop]
        who, x, y, w = owner[turn], lon[turn], lat[turn], weight[turn].astype(float)
        chosen = np.full(len(turn), -1)
        known = int(count[who].max())
        if known:
            distance = geodesic_distance(centres[0, who, :known], centres[1, who, :known], x[:, None], y[:, None])
            near = (distance < radius_m) & (np.arange(known) < count[who][:, None])
            chosen = np.where(near.any(axis=1), near.argmax(axis=1), -1)
        joins = chosen >= 0
        s, c, add = who[joins], chosen[joins], w[joins]
        total = centres[2, s, c] + add
        centres[0, s, c] = (centres[0, s, c] * centres[2, s, c] + x[joins] * add) / total
        centres[1, s, c] = (centres[1, s, c] * centres[2, s, c] + y[joins] * add) / total
        centres[2, s, c] = total
        s = who[~joins]
        chosen[~joins] = count[s]
        centres[:, s, count[s]] = np.stack([x[~joins], y[~joins], w[~joins]])
        count[s] += 1
        slot[turn] = chosen
    return slot, count, centres
