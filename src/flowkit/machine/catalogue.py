"""The catalogue of query kinds, derived from the registered specs: parsing, scopes, schemas."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Union

from pydantic import Field, TypeAdapter, ValidationError
from pydantic.json_schema import models_json_schema

import flowkit.machine.kinds  # noqa: F401  (registers every kind)
from flowkit.machine.fields import AGGREGATION_UNITS
from flowkit.machine.spec import QuerySpec

ACTION_SCOPES = ("get_available_dates", "get_qa_checks", "get_result", "run")
NONSPATIAL = "nonspatial"


class SpecError(ValueError):
    """A query spec that fails validation; `msg` names the offending fields."""

    def __init__(self, msg: str, errors: list[dict] | None = None):
        super().__init__(msg)
        self.msg = msg
        self.errors = errors or []


def kinds() -> dict[str, type[QuerySpec]]:
    """Every kind the API knows (top-level and nested)."""
    return {name: kind for name, kind in QuerySpec.registry.items() if not kind.library_only}


def library_kinds() -> dict[str, type[QuerySpec]]:
    """Kinds only the Python machine API offers (FlowKit's library-only analytics)."""
    return {name: kind for name, kind in QuerySpec.registry.items() if kind.library_only}


def top_level_kinds() -> dict[str, type[QuerySpec]]:
    return {name: kind for name, kind in kinds().items() if kind.top_level}


@cache
def _top_level_adapter() -> TypeAdapter:
    members = tuple(top_level_kinds().values())
    return TypeAdapter(Annotated[Union[members], Field(discriminator="query_kind")])  # noqa: UP007


def parse_spec(data: Any) -> QuerySpec:
    """Validate a top-level spec as POSTed to /run."""
    if not isinstance(data, dict):
        raise SpecError("Could not parse query spec.")
    if "query_kind" not in data:
        raise SpecError("Query kind must be specified when running a query.")
    try:
        return _top_level_adapter().validate_python(data)
    except ValidationError as error:
        raise SpecError(
            describe_validation_error(error), error.errors(include_url=False, include_context=False)
        ) from None


def describe_validation_error(error: ValidationError) -> str:
    """One line per problem, each naming the field by its path in the spec."""
    problems = []
    for item in error.errors(include_url=False):
        path = ".".join(str(p) for p in _field_path(item["loc"]))
        problems.append(f"{path or 'spec'}: {item['msg']}")
    return "Parameter validation failed. " + "; ".join(problems)


def _field_path(loc: tuple) -> list:
    """`loc` without the union tags pydantic inserts (kind names). A tag is always followed by a
    field of its kind, so a kind name right after a tag is a field (`total_network_objects`)."""
    path, after_tag = [], False
    for part in loc:
        tag = not after_tag and isinstance(part, str) and part in QuerySpec.registry
        if not tag:
            path.append(part)
        after_tag = tag
    return path


# -- scopes -----------------------------------------------------------------------------------


def units_of(kind: type[QuerySpec]) -> tuple[str, ...]:
    """Aggregation units a top-level kind can produce, or ('nonspatial',)."""
    return (NONSPATIAL,) if kind.nonspatial else AGGREGATION_UNITS


def scope_universe() -> list[str]:
    """Every scope this server understands, as FlowKit publishes them in x-security-scopes."""
    scopes = set(ACTION_SCOPES)
    for name, kind in top_level_kinds().items():
        for unit in units_of(kind):
            scopes.update(f"{unit}:{name}:{nested}" for nested in kind.nested_kinds())
    return sorted(scopes)


def required_scopes(spec: QuerySpec) -> list[str]:
    """The query scopes a role must hold to touch this spec (FlowKit's `<unit>:<top>:<kind>`)."""
    unit = spec.unit or NONSPATIAL
    return sorted({f"{unit}:{spec.query_kind}:{nested.query_kind}" for nested in spec.walk()})


# -- schemas ----------------------------------------------------------------------------------


def openapi_schemas() -> dict[str, Any]:
    """OpenAPI component schemas of every kind plus the top-level union `FlowmachineQuerySchema`."""
    members = list(kinds().values())
    _, definitions = models_json_schema(
        [(kind, "validation") for kind in members], ref_template="#/components/schemas/{model}"
    )
    schemas = definitions.get("$defs", {})
    top = top_level_kinds()
    schemas["FlowmachineQuerySchema"] = {
        "oneOf": [{"$ref": f"#/components/schemas/{kind.__name__}"} for kind in top.values()],
        "discriminator": {
            "propertyName": "query_kind",
            "mapping": {name: f"#/components/schemas/{kind.__name__}" for name, kind in top.items()},
        },
    }
    return schemas
