"""Origin-destination counting shared by the trips kinds (`trips_od_matrix`, `consecutive_trips_od_matrix`)."""

from __future__ import annotations

from collections.abc import Sequence

import ibis.expr.types as ir


def od_matrix(pairs: ir.Table, columns: Sequence[str]) -> ir.Table:
    """Distinct subscribers per (from, to) pair: `<c>_from…, <c>_to…, value`.

    `pairs` has `subscriber` and the `<c>_from` / `<c>_to` columns; a subscriber making the
    same trip several times counts once.
    """
    keys = [f"{c}_from" for c in columns] + [f"{c}_to" for c in columns]
    return pairs.group_by(keys).aggregate(value=pairs.subscriber.nunique())
