"""Spec builders and query constructors, generated from the catalogue of query kinds.

For every registered kind K there is `K_spec(**params) -> dict`, which validates the parameters
with K's model and returns the JSON-ready spec, and for every top-level kind `K(*, connection,
**params)`, a query object for that spec. Signatures and docstrings come from the models' fields
and descriptions, so a kind added to `flowkit.machine.kinds` gets builders here with no edit,
and the client cannot disagree with the server about a parameter. Conveniences the models
accept (hours=(22, 4), count_interval="minute") work here too.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel
from pydantic.fields import FieldInfo

from flowkit.client.connection import AsyncConnection, Connection
from flowkit.client.query import APIQuery, ASyncAPIQuery
from flowkit.machine import catalogue
from flowkit.machine.fields import ONE_DAY, DateRange
from flowkit.machine.spec import QuerySpec

_KW = inspect.Parameter.KEYWORD_ONLY


def make_builders(kinds: Mapping[str, type[QuerySpec]]) -> dict[str, Callable[..., Any]]:
    """`K_spec` for every kind and `K` for every top-level kind, by name."""
    builders: dict[str, Callable[..., Any]] = {}
    for name, model in kinds.items():
        spec_builder = builders[f"{name}_spec"] = _spec_builder(model)
        if model.top_level:
            builders[name] = _query_constructor(model, spec_builder)
    return builders


def _spec_builder(model: type[QuerySpec]) -> Callable[..., dict]:
    def build(**params: Any) -> dict:
        return model.model_validate(params).model_dump(mode="json")

    parameters = _parameters(model)
    summary = f"A `{model.kind()}` spec, validated, as a JSON-ready dict."
    return _named(build, f"{model.kind()}_spec", parameters, dict, summary, model, _parameters_doc(model, parameters))


def _query_constructor(model: type[QuerySpec], spec_builder: Callable[..., dict]) -> Callable[..., Any]:
    def construct(*, connection: Connection | AsyncConnection, **params: Any) -> APIQuery | ASyncAPIQuery:
        return connection.make_api_query(spec_builder(**params))

    connection = inspect.Parameter("connection", _KW, annotation=Connection | AsyncConnection)
    parameters = [connection, *_parameters(model)]
    summary = f"A `{model.kind()}` query on `connection` (awaitable methods on an AsyncConnection)."
    docs = "connection : Connection | AsyncConnection\n    Where to run it.\n" + _parameters_doc(model, parameters[1:])
    return _named(construct, model.kind(), parameters, APIQuery | ASyncAPIQuery, summary, model, docs)


def _named(
    function: Callable,
    name: str,
    parameters: list[inspect.Parameter],
    returns: Any,
    summary: str,
    model: type,
    docs: str,
) -> Callable:
    """Give a generated function its public name, signature and numpydoc docstring."""
    function.__name__ = function.__qualname__ = name
    function.__module__ = __name__
    function.__signature__ = inspect.Signature(parameters, return_annotation=returns)
    about = inspect.cleandoc(model.__doc__ or "")
    function.__doc__ = f"{summary}\n\n{about}\n\nParameters\n----------\n{docs}"
    return function


def _parameters(model: type[BaseModel]) -> list[inspect.Parameter]:
    """The model's fields but query_kind, required ones first."""
    fields = [(name, field) for name, field in model.model_fields.items() if name != "query_kind"]
    fields.sort(key=lambda item: not item[1].is_required())
    return [
        inspect.Parameter(
            name,
            _KW,
            default=inspect.Parameter.empty if field.is_required() else field.get_default(call_default_factory=True),
            annotation=field.annotation,
        )
        for name, field in fields
    ]


def _parameters_doc(model: type[BaseModel], parameters: list[inspect.Parameter]) -> str:
    lines = []
    for parameter in parameters:
        field = model.model_fields[parameter.name]
        default = "" if parameter.default is inspect.Parameter.empty else f", default {parameter.default!r}"
        lines.append(f"{parameter.name} : {_type_text(field.annotation)}{default}")
        lines += [f"    {note}" for note in _notes(parameter.name, field)]
    return "\n".join(lines) + "\n"


def _notes(name: str, field: FieldInfo) -> list[str]:
    notes = [field.description] if field.description else []
    alias = field.validation_alias
    others = [choice for choice in alias.choices if choice != name] if isinstance(alias, AliasChoices) else []
    if others:
        notes.append(f"Also accepted as {', '.join(map(str, others))}.")
    return notes


def _type_text(annotation: Any) -> str:
    """A type as a caller writes the value: nested specs as dicts from their builder."""
    if isinstance(annotation, type) and issubclass(annotation, QuerySpec):
        return f"{annotation.kind()} spec"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "{" + ", ".join(annotation.model_fields) + "}"
    if annotation is datetime:
        return "ISO date or datetime"
    if annotation is type(None):
        return "None"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        return "{" + ", ".join(map(repr, args)) + "}"
    if origin in (typing.Union, types.UnionType):
        return " | ".join(map(_type_text, args))
    if args:
        return f"{_type_text(origin)}[{', '.join(map(_type_text, args))}]"
    return getattr(annotation, "__name__", str(annotation))


def _modal_location_from_dates(daily: type[QuerySpec], modal: type[QuerySpec]) -> Callable[..., dict]:
    """flowclient's shortcut: a modal location over consecutive days."""
    daily_spec, modal_spec = _spec_builder(daily), _spec_builder(modal)

    def build(*, start_date: Any, end_date: Any, **per_day: Any) -> dict:
        window = DateRange(start_date=start_date, end_date=end_date)
        days, day = [], window.start_date
        while day < window.end_date:
            days.append(day.date().isoformat())
            day += ONE_DAY
        return modal_spec(locations=[daily_spec(date=date, **per_day) for date in days])

    window = [inspect.Parameter(name, _KW, annotation=datetime) for name in ("start_date", "end_date")]
    per_day = [parameter for parameter in _parameters(daily) if parameter.name != "date"]
    summary = "A `modal_location` spec over one `daily_location` per day in [start_date, end_date)."
    docs = (
        "start_date : ISO date or datetime\n    The first day.\n"
        "end_date : ISO date or datetime\n    The day after the last.\n" + _parameters_doc(daily, per_day)
    )
    return _named(build, "modal_location_from_dates_spec", window + per_day, dict, summary, modal, docs)


_BUILDERS = make_builders(catalogue.kinds())
globals().update(_BUILDERS)
modal_location_from_dates_spec = _modal_location_from_dates(
    catalogue.kinds()["daily_location"], catalogue.kinds()["modal_location"]
)

__all__ = ["make_builders", "modal_location_from_dates_spec", *_BUILDERS]
