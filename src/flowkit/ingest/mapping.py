"""The mapping file: how an operator's files map onto FlowDB (TOML or YAML; docs/ingestion.md).

timezone = "Africa/Dar_es_Salaam"    # source times are local; FlowDB stores naive UTC
on_existing_date = "append"           # append | replace | refuse
[calls]
files = "calls_*.csv*"
datetime_format = "%Y-%m-%d %H:%M:%S"
[calls.columns]                       # FlowDB column = source column
msisdn = "A_NUMBER"
[calls.values.outgoing]               # source codes of a boolean column
true = ["MO"]
false = ["MT"]
[admin.admin1]                        # boundary files: properties of each feature
files = "adm1*.geojson"
pcod = "ADM1_PCODE"
"""

from __future__ import annotations

import fnmatch
import tomllib
import zoneinfo
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from flowkit.ingest.columns import EVENT_TABLES, POSITION, flowdb_columns
from flowkit.ingest.errors import IngestError

POLICIES = ("append", "replace", "refuse")
ADMIN_KINDS = tuple(f"admin{level}" for level in range(4))
KINDS = (*EVENT_TABLES, "cells", "tacs", *ADMIN_KINDS)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BooleanCodes(_Model):
    """Source codes read as true and as false (compared without regard to case)."""

    true: list[str]
    false: list[str]

    @model_validator(mode="before")
    @classmethod
    def _yaml_keys(cls, data):
        # YAML reads the keys `true:` and `false:` as booleans.
        return {str(k).lower(): v for k, v in data.items()} if isinstance(data, dict) else data


class TableSource(_Model):
    """Files of one kind that fill one FlowDB table (events, cells, TACs)."""

    files: str | None = Field(None, description="Glob matched against file names, to infer a file's kind.")
    columns: dict[str, str] = Field(description="FlowDB column = source column.")
    ignore_columns: list[str] = Field([], description="Source columns present in the files and not loaded.")
    delimiter: str = ","
    encoding: str = "utf-8"
    datetime_format: str | None = Field(None, description="strptime format; default ISO 8601.")
    date_format: str = "%Y-%m-%d"
    timezone: str | None = Field(None, description="The zone of this kind's times, if not the mapping's.")
    values: dict[str, BooleanCodes] = Field({}, description="Codes of boolean columns.")

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str) -> str:
        if len(value) != 1:
            raise ValueError("must be a single character")
        return value


class AdminSource(_Model):
    """Boundary files of one admin level: which feature property holds what."""

    files: str | None = None
    pcod: str = Field(description="Property holding the unit's code.")
    name: str | None = Field(None, description="Property holding the unit's name.")
    parent: str | None = Field(None, description="Property holding the code of the unit one level up.")


class Mapping(_Model):
    timezone: str = "UTC"
    on_existing_date: Literal["append", "replace", "refuse"] = "append"
    calls: TableSource | None = None
    sms: TableSource | None = None
    mds: TableSource | None = None
    topups: TableSource | None = None
    cells: TableSource | None = None
    tacs: TableSource | None = None
    admin: dict[Literal["admin0", "admin1", "admin2", "admin3"], AdminSource] = {}

    @model_validator(mode="after")
    def _known_columns(self) -> Mapping:
        _check_zone(self.timezone, "timezone")
        for kind in (*EVENT_TABLES, "cells", "tacs"):
            source = getattr(self, kind)
            if source is None:
                continue
            if source.timezone:
                _check_zone(source.timezone, f"{kind}.timezone")
            columns = {c.name: c for c in flowdb_columns(kind)}
            known = set(columns) | (set(POSITION) if kind == "cells" else set())
            for name in source.columns:
                if name not in known:
                    raise ValueError(
                        f"{kind}.columns.{name}: not a column of {kind} (known: {', '.join(sorted(known))})"
                    )
            for name in source.values:
                if name not in columns or columns[name].type != "BOOLEAN":
                    raise ValueError(f"{kind}.values.{name}: not a boolean column of {kind}")
            missing = [c.name for c in columns.values() if c.required and c.name not in source.columns]
            if missing:
                raise ValueError(f"{kind}.columns: required column(s) not mapped: {', '.join(missing)}")
        return self

    def source(self, kind: str) -> TableSource | AdminSource:
        """The section for files of `kind`; an IngestError if the mapping has none."""
        section = self.admin.get(kind) if kind in ADMIN_KINDS else getattr(self, kind, None)
        if section is None:
            raise IngestError(f"the mapping has no [{_section_name(kind)}] section")
        return section

    def zone(self, kind: str) -> str:
        section = getattr(self, kind, None)
        return (section.timezone if isinstance(section, TableSource) else None) or self.timezone

    def kind_of(self, path: Path, *, otherwise: str = "give --type") -> str:
        """The kind whose `files` glob matches this file's name; exactly one must (else an
        IngestError ending in `otherwise`: what to do)."""
        matches = [
            kind
            for kind in KINDS
            if (section := self.admin.get(kind) if kind in ADMIN_KINDS else getattr(self, kind)) is not None
            and section.files
            and fnmatch.fnmatch(path.name, section.files)
        ]
        if len(matches) != 1:
            found = f"matches {', '.join(matches)}" if matches else "matches no section's `files` glob"
            raise IngestError(f"cannot tell the file's kind: its name {found}; {otherwise}", file=path)
        return matches[0]


def _section_name(kind: str) -> str:
    return f"admin.{kind}" if kind in ADMIN_KINDS else kind


def _check_zone(name: str, key: str) -> None:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"{key}: unknown time zone {name!r}") from error


def load_mapping(path: str | Path) -> Mapping:
    """Read a mapping file (.toml, .yaml or .yml); errors name the file and the bad key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise IngestError(f"cannot read the mapping: {error}", file=path) from error
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text) or {}
        else:
            raise IngestError("a mapping file is .toml, .yaml or .yml", file=path)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as error:
        raise IngestError(f"not valid {path.suffix[1:].upper()}: {error}", file=path) from error
    try:
        return Mapping.model_validate(data)
    except ValidationError as error:
        raise IngestError(f"bad mapping: {_describe(error)}", file=path) from None


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{key}: {message}" if key else message)
    return "; ".join(problems)


__all__ = ["ADMIN_KINDS", "AdminSource", "BooleanCodes", "KINDS", "Mapping", "POLICIES", "TableSource", "load_mapping"]
