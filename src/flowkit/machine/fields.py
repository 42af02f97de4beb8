"""Parameter types shared by query kinds: one definition each, with FlowKit's names and ranges."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

AGGREGATION_UNITS = ("admin0", "admin1", "admin2", "admin3", "lon-lat")
# Units of FlowKit's library that the API does not offer: raw cells, cell and site versions.
LIBRARY_UNITS = ("cell", "versioned-cell", "versioned-site")


def _aggregation_unit(value: object, info: ValidationInfo) -> str:
    """An API unit; the library units too when validating with context {"library": True}."""
    allowed = AGGREGATION_UNITS + (LIBRARY_UNITS if (info.context or {}).get("library") else ())
    if value not in allowed:
        raise PydanticCustomError("enum", "Input should be {expected}", {"expected": ", ".join(map(repr, allowed))})
    return value


AggregationUnit = Annotated[
    str, PlainValidator(_aggregation_unit), WithJsonSchema({"type": "string", "enum": list(AGGREGATION_UNITS)})
]
EventType = Literal["calls", "sms", "mds", "topups"]
Direction = Literal["in", "out", "both"]

# Event tables used when a spec leaves event_types empty: those with counterparts (FlowKit's "all").
DEFAULT_EVENT_TYPES: tuple[str, ...] = ("calls", "sms")


def _parse_datetime(value: object) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if not isinstance(value, str):
        raise ValueError("must be an ISO date or datetime string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"'{value}' is not an ISO date or datetime") from None
    if parsed.tzinfo is not None:  # event times are stored in UTC
        parsed = parsed.astimezone(UTC)
    return parsed.replace(tzinfo=None)


def _format_datetime(value: datetime) -> str:
    """Dates stay dates ('2016-01-01'); times are kept to the second."""
    if value.time() == datetime.min.time():
        return value.strftime("%Y-%m-%d")
    return value.strftime("%Y-%m-%d %H:%M:%S")


# An instant given as an ISO date or datetime; a bare date means midnight (UTC).
Instant = Annotated[
    datetime,
    BeforeValidator(_parse_datetime),
    PlainSerializer(_format_datetime, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class StrictModel(BaseModel):
    """Unknown fields are errors, as in FlowKit's marshmallow schemas."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Hours(StrictModel):
    """Hours of the day to keep: start inclusive, end exclusive; start > end wraps midnight."""

    start_hour: int = Field(ge=0, le=24)
    end_hour: int = Field(ge=0, le=24)


def _hours_from_pair(value: object) -> object:
    """Our client accepts hours=(a, b) as flowclient does."""
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return {"start_hour": value[0], "end_hour": value[1]}
    return value


HoursParam = Annotated[Hours | None, BeforeValidator(_hours_from_pair)]


def _deduplicated(value: list[str] | None) -> list[str] | None:
    """FlowKit dedupes event_types: naming a table twice must not count its events twice."""
    return None if value is None else list(dict.fromkeys(value))


EventTypes = Annotated[list[EventType] | None, Field(min_length=1), AfterValidator(_deduplicated)]


class DateRange(StrictModel):
    """A half-open window [start_date, end_date)."""

    start_date: Instant
    end_date: Instant

    @model_validator(mode="after")
    def _ordered(self):
        if self.end_date <= self.start_date:
            raise ValueError("end_date must be after start_date")
        return self

    def selection(self, **overrides) -> dict:
        """The arguments of `Inputs.events` / `located_events` this spec asks for, with overrides."""
        chosen = dict(
            start=self.start_date,
            stop=self.end_date,
            event_types=getattr(self, "event_types", None),
            hours=getattr(self, "hours", None),
            subscriber_subset=getattr(self, "subscriber_subset", None),
        )
        return {**chosen, **overrides}


class EventSelection(StrictModel):
    """Which event tables and subscribers a kind reads (kinds without an `hours` parameter use this alone)."""

    event_types: EventTypes = Field(default=None, description="Event tables; default calls and sms.")
    subscriber_subset: str | None = Field(default=None, description="Id of a query whose subscribers to keep.")


class EventFilters(EventSelection):
    """Which events a subscriber-level kind looks at, beyond its time window."""

    hours: HoursParam = Field(default=None, description="Hours of the day to keep (end exclusive, may wrap).")


class GeoTrio(StrictModel):
    """FlowKit's alternative cell → region linkage; only the standard admin linkage is served."""

    mapping_table: None = Field(default=None, description="Not supported: must be null.")
    geom_table: None = Field(default=None, description="Not supported: must be null.")
    geom_table_join_column: None = Field(default=None, description="Not supported: must be null.")


ONE_DAY = timedelta(days=1)
