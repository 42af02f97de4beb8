"""The one definition of a query kind: a typed spec that also knows how to compute itself.

A kind is a subclass of `QuerySpec` with a literal `query_kind`, its parameters as fields and a
`compute` method returning an Ibis expression. Everything else — the request union, OpenAPI
schemas, scopes, redaction, client builders — is derived from the registered subclasses.
"""

from __future__ import annotations

import hashlib
import json
import typing
from collections.abc import Iterator
from typing import TYPE_CHECKING, ClassVar

from flowkit.machine.fields import StrictModel

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from flowkit.machine.inputs import Inputs
    from flowkit.machine.redaction import Redaction

# Part of every query id: results computed by an older definition are never mistaken for new ones.
MACHINE_VERSION = "1"

# Columns naming a place at each unit. API units are admin0-3 (`pcod`) and lon-lat; the others
# are used inside kinds (network objects, meaningful locations), as in FlowKit.
LOCATION_COLUMNS = {
    "lon-lat": ("lon", "lat"),
    "cell": ("location_id",),
    "versioned-cell": ("location_id", "version", "lon", "lat"),
    "versioned-site": ("site_id", "version", "lon", "lat"),
}


def location_columns(aggregation_unit: str) -> tuple[str, ...]:
    """Result columns naming a place at this unit: `pcod` for admin units, `lon, lat` for lon-lat."""
    return LOCATION_COLUMNS.get(aggregation_unit, ("pcod",))


class QuerySpec(StrictModel):
    """Base of every query kind."""

    query_kind: str
    # Kinds accepted at the top of POST /run; the rest only appear nested.
    top_level: ClassVar[bool] = False
    # Analytics for operator-side Python only: never in the API's schemas, scopes or client.
    library_only: ClassVar[bool] = False
    # Results not broken down by place (histograms, calendar patterns): scopes say `nonspatial`.
    nonspatial: ClassVar[bool] = False
    # How results leave the API (top-level kinds only).
    redaction: ClassVar[Redaction | None] = None
    # A valid spec of this kind on the demo dataset (top-level kinds): OpenAPI example and tests.
    example: ClassVar[dict | None] = None

    registry: ClassVar[dict[str, type[QuerySpec]]] = {}

    def compute(self, inputs: Inputs) -> ir.Table:
        raise NotImplementedError(f"{type(self).__name__} does not define compute")

    def expression(self, inputs: Inputs) -> ir.Table:
        """The result to store: `compute`, then the random sample if the spec asks for one."""
        result = self.compute(inputs)
        sampling = getattr(self, "sampling", None)
        return sampling.apply(result) if sampling is not None else result

    @property
    def delay(self) -> float:
        """Seconds the runner keeps this spec queued before computing it (a test aid; 0 for analytics)."""
        return 0.0

    @classmethod
    def kind(cls) -> str:
        return cls.model_fields["query_kind"].default

    # -- structure -----------------------------------------------------------------------------

    def children(self) -> list[QuerySpec]:
        """Directly nested specs, in field order."""
        found = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            for item in value if isinstance(value, (list, tuple)) else [value]:
                if isinstance(item, QuerySpec):
                    found.append(item)
        return found

    def walk(self) -> Iterator[QuerySpec]:
        """This spec and every nested one, children before parents."""
        for child in self.children():
            yield from child.walk()
        yield self

    @property
    def unit(self) -> str | None:
        """The aggregation unit of the result: declared, or that of the first nested spec."""
        if self.nonspatial:
            return None
        declared = getattr(self, "aggregation_unit", None)
        if declared is not None:
            return declared
        return next((c.unit for c in self.children() if c.unit is not None), None)

    @property
    def location_columns(self) -> tuple[str, ...]:
        return location_columns(self.unit) if self.unit else ()

    # -- identity ------------------------------------------------------------------------------

    def canonical_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    @property
    def query_id(self) -> str:
        """Deterministic id: same parameters (defaults filled in), same id."""
        text = f"{self.canonical_json()}|{MACHINE_VERSION}"
        return hashlib.md5(text.encode()).hexdigest()

    @classmethod
    def nested_kinds(cls) -> set[str]:
        """Every query kind that may appear inside this kind's spec, itself included."""
        found: set[str] = set()

        def visit(kind: type[QuerySpec]) -> None:
            if kind.kind() in found:
                return
            found.add(kind.kind())
            for field in kind.model_fields.values():
                for spec_type in _spec_types(field.annotation):
                    visit(spec_type)

        visit(cls)
        return found


def _spec_types(annotation: object) -> Iterator[type[QuerySpec]]:
    if isinstance(annotation, type) and issubclass(annotation, QuerySpec):
        yield annotation
        return
    for arg in typing.get_args(annotation):
        yield from _spec_types(arg)


def register(cls: type[QuerySpec]) -> type[QuerySpec]:
    """Class decorator adding a kind to the catalogue."""
    QuerySpec.registry[cls.kind()] = cls
    return cls
