"""Mobile money (FlowDB's `dfs` schema): transfers, cash-ins and cash-outs, payments.

A share of subscribers hold an account. Each day every holder makes a Poisson number of
transactions (scaled by their activity) with another holder; each party transacts through
the cell version in service at home that day, so the crisis moves the money too. Its own
random streams: generating DFS data never changes the events.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from flowkit.db.flowdb import FlowDB
from flowkit.db.synthetic.activity import HOURS
from flowkit.db.synthetic.config import SyntheticConfig
from flowkit.db.synthetic.network import Network
from flowkit.db.synthetic.population import Population

ACCOUNT_SHARE = 0.4  # subscribers with a mobile-money account
TRANSACTION_TYPES = pa.table(
    {
        "id": pa.array([1, 2, 3, 4], pa.int32()),
        "descr": ["transfer", "cash in", "cash out", "merchant payment"],
        "user_type_a_party": ["subscriber", "agent", "subscriber", "subscriber"],
        "user_type_b_party": ["subscriber", "subscriber", "agent", "merchant"],
    }
)
TYPE_P = np.array([0.5, 0.2, 0.2, 0.1])
FEE, COMMISSION = 0.01, 0.004  # shares of the amount
DISCOUNTED = 0.1  # share of transactions whose fee is halved


def write_transactions(db: FlowDB, config: SyntheticConfig, network: Network, population: Population) -> int:
    """Fill the dfs tables day by day; returns the number of transactions."""
    rng = config.rng(7)
    holders = np.flatnonzero(rng.random(config.subscribers) < ACCOUNT_SHARE)
    subscribers = pa.table({"id": np.arange(1, len(holders) + 1), "msisdn": population.msisdn.take(holders)})
    for name, table in (("transaction_types", TRANSACTION_TYPES), ("subscribers", subscribers)):
        db.insert(f"dfs.{name}", table)
    versions = _version_changes(network)
    written = 0
    for index, day in enumerate(config.days):
        rng = config.rng(7, index)
        phase = int(config.crisis_date is not None and day >= config.crisis_date)
        a = np.repeat(np.arange(len(holders)), rng.poisson(config.dfs_per_day * population.activity[holders]))
        b = (a + 1 + rng.integers(0, len(holders) - 1, len(a))) % len(holders)  # anyone but oneself
        n = len(a)
        seconds = np.sort(rng.choice(24, n, p=HOURS) * 3600 + rng.integers(0, 3600, n))
        amount = np.round(rng.lognormal(np.log(20), 1.0, n), 2)
        fee = np.round(amount * FEE, 2)
        ids = np.arange(written + 1, written + n + 1)
        transactions = {
            "id": ids,
            "amount": amount,
            "discount": np.where(rng.random(n) < DISCOUNTED, np.round(fee / 2, 2), 0.0),
            "fee": fee,
            "commission": np.round(amount * COMMISSION, 2),
            "transtype_id": rng.choice(len(TYPE_P), n, p=TYPE_P) + 1,
            "timestamp": np.datetime64(day, "s") + seconds.astype("timedelta64[s]"),
        }
        cells = population.home[phase][holders[np.concatenate([a, b])]]
        version = (np.datetime64(day, "D") > versions[cells]).astype(np.int32)  # NaT compares False: never re-sited
        metadata = {
            "transaction_id": np.tile(ids, 2),
            "subscriber_id": np.concatenate([a, b]) + 1,
            "cell_id": network.cell_ids[cells],
            "cell_version": version,
            "is_outgoing": np.repeat([True, False], n),
        }
        db.insert("dfs.transactions", pa.table(transactions))
        db.insert("dfs.transactions_metadata", pa.table(metadata))
        written += n
    return written


def _version_changes(network: Network) -> np.ndarray:
    """Per cell, the last day of its first version (NaT if it was never re-sited)."""
    cells = network.cells
    first = cells.column("version").to_numpy() == 0  # rows are ordered by cell, then version
    return cells.column("date_of_last_service").to_numpy(zero_copy_only=False)[first]
