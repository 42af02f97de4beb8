"""Arranging a server's scopes for the role editor: one table per top-level query kind.

Scopes read `<aggregation unit>:<top-level kind>:<nested kind>` (flowkit-interfaces.md §2.2);
the picker shows each top-level kind as a grid of nested kinds × aggregation units, so an
administrator can grant "flows at admin1 and admin2" or a whole kind in a few clicks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flowkit.auth.models import Scope

UNIT_ORDER = ["admin0", "admin1", "admin2", "admin3", "lon-lat", "nonspatial"]


@dataclass
class ScopeGroup:
    name: str
    units: list[str] = field(default_factory=list)
    # nested kind → unit → scope
    rows: dict[str, dict[str, Scope]] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(len(cells) for cells in self.rows.values())


def scope_groups(scopes: list[Scope]) -> list[ScopeGroup]:
    """Server-wide actions first, then one group per top-level kind, alphabetically."""
    actions = ScopeGroup("actions", units=["allowed"])
    groups: dict[str, ScopeGroup] = {}
    for scope in scopes:
        parts = scope.name.split(":")
        if len(parts) != 3:
            actions.rows[scope.name] = {"allowed": scope}
            continue
        unit, top_level, kind = parts
        group = groups.setdefault(top_level, ScopeGroup(top_level))
        group.rows.setdefault(kind, {})[unit] = scope
    for group in groups.values():
        found = {unit for cells in group.rows.values() for unit in cells}
        group.units = sorted(found, key=lambda unit: (UNIT_ORDER.index(unit) if unit in UNIT_ORDER else 99, unit))
        # The top-level kind's own row first, then the kinds nested in it.
        group.rows = dict(sorted(group.rows.items(), key=lambda item: (item[0] != group.name, item[0])))
    return ([actions] if actions.rows else []) + [groups[name] for name in sorted(groups)]
