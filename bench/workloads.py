"""The benchmark's workloads (issue 7): what each asks through the API, and its hand-written SQL.

Every size covers the same 30 days (2016-01-01 to 2016-01-30, crisis on 2016-01-16; see
`flowkit synth --size`), so the specs are the same at every size. A workload is one or more
top-level specs, run in order as the demo notebook runs them; its SQL (bench/sql/<name>.sql)
answers each of them, in the same order, with the rows the API would serve (redacted).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from flowkit.machine.catalogue import parse_spec
from flowkit.machine.kinds.meaningful_locations_aggregate import EXAMPLE_SCORES
from flowkit.machine.spec import QuerySpec

SQL_DIR = Path(__file__).parent / "sql"

BEFORE = ("2016-01-02", "2016-01-16")  # 14 days before the crisis on 2016-01-16
AFTER = ("2016-01-16", "2016-01-30")  # the 14 days from it


@dataclass(frozen=True)
class Workload:
    name: str
    what: str  # one line for the report
    specs: tuple[dict, ...]  # top-level specs as POSTed to /run

    def parsed(self) -> list[QuerySpec]:
        return [parse_spec(spec) for spec in self.specs]

    def sql(self) -> list[str]:
        """The hand-written statements; each `SELECT` (or `WITH`) one answers a spec, in order."""
        text = (SQL_DIR / f"{self.name}.sql").read_text()
        lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
        return [statement.strip() for statement in "\n".join(lines).split(";") if statement.strip()]


def daily(day: str, method: str = "most-common") -> dict:
    return {"query_kind": "daily_location", "date": day, "aggregation_unit": "admin3", "method": method}


def modal(start: str, stop: str) -> dict:
    """flowclient's modal_location_from_dates_spec: one most-common daily location per day."""
    first, last = date.fromisoformat(start), date.fromisoformat(stop)
    days = [(first + timedelta(days=i)).isoformat() for i in range((last - first).days)]
    return {"query_kind": "modal_location", "locations": [daily(day) for day in days]}


WORKLOADS = (
    Workload(
        "demo",
        "seed demo: spatial_aggregate of the 14-day modal location (most-common daily locations, admin3) "
        f"before [{BEFORE[0]}, {BEFORE[1]}) and after [{AFTER[0]}, {AFTER[1]}) the crisis, then the flows "
        "between them; three queries timed as one",
        (
            {"query_kind": "spatial_aggregate", "locations": modal(*BEFORE)},
            {"query_kind": "spatial_aggregate", "locations": modal(*AFTER)},
            {"query_kind": "flows", "from_location": modal(*BEFORE), "to_location": modal(*AFTER)},
        ),
    ),
    Workload(
        "daily_location",
        "spatial_aggregate of daily_location 2016-01-20 (last, admin3)",
        ({"query_kind": "spatial_aggregate", "locations": daily("2016-01-20", "last")},),
    ),
    Workload(
        "unique_subscriber_counts",
        "unique_subscriber_counts at admin3 over the 30 days [2016-01-01, 2016-01-31)",
        (
            {
                "query_kind": "unique_subscriber_counts",
                "start_date": "2016-01-01",
                "end_date": "2016-01-31",
                "aggregation_unit": "admin3",
            },
        ),
    ),
    Workload(
        "location_event_counts",
        "location_event_counts at admin3 on 2016-01-20, per hour (both directions)",
        (
            {
                "query_kind": "location_event_counts",
                "start_date": "2016-01-20",
                "end_date": "2016-01-21",
                "aggregation_unit": "admin3",
                "count_interval": "hour",
            },
        ),
    ),
    Workload(
        "radius_of_gyration",
        "joined_spatial_aggregate (avg) of radius_of_gyration over the 7 days [2016-01-20, 2016-01-27) "
        "by daily_location 2016-01-26 (last, admin3)",
        (
            {
                "query_kind": "joined_spatial_aggregate",
                "locations": daily("2016-01-26", "last"),
                "metric": {"query_kind": "radius_of_gyration", "start_date": "2016-01-20", "end_date": "2016-01-27"},
                "method": "avg",
            },
        ),
    ),
    Workload(
        "meaningful_locations_aggregate",
        "meaningful_locations_aggregate 'home' at admin3 with the kind's example scores and labels "
        "(radius 1 km, no call threshold) over the example's 14 days [2016-01-01, 2016-01-15)",
        (
            {
                "query_kind": "meaningful_locations_aggregate",
                "start_date": "2016-01-01",
                "end_date": "2016-01-15",
                "aggregation_unit": "admin3",
                "label": "home",
                **EXAMPLE_SCORES,
            },
        ),
    ),
)
