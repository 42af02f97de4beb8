"""A synthetic country in FlowDB: geography, network, subscribers and their CDRs, with a crisis.

`generate(db, SyntheticConfig(...))` fills an empty FlowDB deterministically from the seed. The
parts: `country` (nested admin polygons), `network` (sites, cells, TACs), `population`
(subscribers, homes, workplaces, contacts, crisis moves), `activity` (each day's events) and
`dfs` (mobile-money transactions).
"""

from __future__ import annotations

from flowkit.db.flowdb import FlowDB
from flowkit.db.schema import EVENT_TYPES
from flowkit.db.synthetic.activity import write_events
from flowkit.db.synthetic.config import SyntheticConfig
from flowkit.db.synthetic.country import build_country
from flowkit.db.synthetic.dfs import write_transactions
from flowkit.db.synthetic.network import build_handsets, build_network
from flowkit.db.synthetic.population import build_population

__all__ = ["SyntheticConfig", "generate"]


def generate(db: FlowDB, config: SyntheticConfig = SyntheticConfig()) -> dict:  # noqa: B008 (frozen)
    """Fill an empty FlowDB with the synthetic country; returns a summary of what was made."""
    for table in (
        "geography.admin0",
        "infrastructure.cells",
        "dfs.transactions",
        *(f"events.{t}" for t in EVENT_TYPES),
    ):
        if db.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]:
            raise ValueError(f"{table} is not empty: generate fills an empty FlowDB")
    country = build_country(config)
    network = build_network(country, config)
    handsets = build_handsets(config)
    population = build_population(country, network, handsets, config)
    tables = {f"geography.admin{level}": table for level, table in country.tables().items()}
    tables |= {
        "infrastructure.sites": network.sites,
        "infrastructure.cells": network.cells,
        "infrastructure.tacs": handsets.table,
    }
    for name, table in tables.items():
        db.insert(name, table)
    db.refresh_cell_admin_units()
    rows = write_events(db, config, country, network, handsets, population)
    for event_type in EVENT_TYPES:
        db.mark_ingested(event_type, config.days)
    transactions = write_transactions(db, config, network, population)
    admin3 = country.units[3]["pcod"].to_numpy()
    return {
        "seed": config.seed,
        "start_date": config.start_date.isoformat(),
        "end_date": config.end_date.isoformat(),
        "days": len(config.days),
        "crisis_date": config.crisis_date.isoformat() if config.crisis_date else None,
        "crisis_pcods": admin3[population.crisis_areas].tolist(),
        "crisis_movers": population.movers,
        "cities": admin3[country.cities].tolist(),
        "admin_units": {f"admin{level}": len(units) for level, units in country.units.items()},
        "subscribers": config.subscribers,
        "sites": len(network.sites["id"].unique()),
        "cells": len(network.cell_ids),
        "cell_versions": network.cells.num_rows,
        "tacs": len(handsets.tac),
        "rows": rows,
        "dfs_transactions": transactions,
    }
