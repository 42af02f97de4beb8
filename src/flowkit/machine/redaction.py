"""Statistical disclosure control: the one place that decides which rows may leave the API.

Each top-level kind names its rule (`QuerySpec.redaction`); results are stored unredacted,
and the rule is applied to the stored table whenever a result is served.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis.expr.types as ir

# A row describing this many subscribers or fewer is never served (FlowKit's k-anonymity rule).
REDACTION_THRESHOLD = 15


@dataclass(frozen=True)
class Redaction:
    """Keep a row only if `column` counts more than the threshold of subscribers.

    `private` columns exist only for this rule (e.g. the subscribers behind an event count)
    and are dropped before rows leave.
    """

    column: str = "value"
    private: tuple[str, ...] = ()

    def apply(self, table: ir.Table, threshold: int = REDACTION_THRESHOLD) -> ir.Table:
        kept = table.filter(table[self.column] > threshold)
        return kept.drop(*self.private) if self.private else kept


def public_columns(table: ir.Table, redaction: Redaction | None) -> list[str]:
    """Columns a served result has."""
    hidden = set(redaction.private) if redaction else set()
    return [c for c in table.columns if c not in hidden]
