"""A day of CDRs: calls and SMS between contacts, mobile data sessions and top-ups.

An event's cell follows from the subscriber's routine at that hour: at work on weekdays 9-17h
(mostly), at home otherwise, now and then at a random cell in or next to the home area, and all
day at one place on a trip. Calls and SMS are written twice, once per party, each row at that
party's own location. Rows go in in time order so that DuckDB's zone maps prune by datetime.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import duckdb
import numpy as np
import pyarrow as pa

from flowkit.db.flowdb import FlowDB
from flowkit.db.schema import EVENT_TYPES
from flowkit.db.synthetic.config import SyntheticConfig
from flowkit.db.synthetic.country import Country
from flowkit.db.synthetic.network import Handsets, Network
from flowkit.db.synthetic.population import CONTACTS, Population

# Relative event rates by hour of day: quiet at night, a morning rise, midday and evening peaks.
HOURS = np.array(
    [
        1.0,
        0.5,
        0.3,
        0.2,
        0.2,
        0.4,
        1.2,
        2.8,
        4.2,
        5.0,
        5.5,
        6.0,
        6.5,
        6.0,
        5.4,
        5.2,
        5.6,
        6.3,
        7.0,
        7.5,
        7.0,
        5.5,
        3.5,
        2.0,
    ]
)
HOURS /= HOURS.sum()
OFFICE_HOURS = (9, 17)
AT_WORK = 0.85  # share of weekday office-hour events at the work cell
WANDER = 0.08  # share of events at a random cell in or next to the home area
STRANGERS = 0.1  # share of calls and SMS to someone outside one's contacts
CONTACT_WEIGHTS = 1 / np.arange(1, CONTACTS + 1)  # the first contacts are called most
TOPUP_AMOUNTS, TOPUP_AMOUNT_P = np.array([1.0, 2.0, 5.0, 10.0, 20.0]), np.array([0.3, 0.3, 0.2, 0.15, 0.05])
TOPUP_TYPES = pa.array(["voucher", "electronic", "mobile_money"])
AIRTIME_FEE, TAX_AND_FEE = 0.02, 0.1  # shares of a recharge


class Places:
    """Trip destinations and nearby areas, before and from the crisis (crisis areas then excluded)."""

    def __init__(self, country: Country, crisis_areas: np.ndarray):
        self.neighbours, self.trip_p = [], []
        for excluded in (np.empty(0, dtype=np.int64), crisis_areas):
            lists = [np.setdiff1d(n, excluded) for n in country.neighbours]
            self.neighbours.append((np.cumsum([0] + [len(n) for n in lists]), np.concatenate(lists)))
            weights = np.where(np.isin(np.arange(len(country.population)), excluded), 0, country.population)
            self.trip_p.append(weights / weights.sum())

    def trip_areas(self, rng: np.random.Generator, n: int, phase: int) -> np.ndarray:
        return rng.choice(len(self.trip_p[phase]), n, p=self.trip_p[phase])

    def nearby(self, rng: np.random.Generator, areas: np.ndarray, phase: int) -> np.ndarray:
        """The area itself half the time, otherwise a random touching area (if any)."""
        start, flat = self.neighbours[phase]
        count = start[areas + 1] - start[areas]
        move = np.flatnonzero((rng.random(len(areas)) < 0.5) & (count > 0))
        nearby = areas.copy()
        nearby[move] = flat[start[areas[move]] + (rng.random(len(move)) * count[move]).astype(np.int64)]
        return nearby


class Day:
    """Where every subscriber is on one day, and that day's events as sorted column arrays."""

    def __init__(
        self, index: int, day: date, config: SyntheticConfig, places: Places, population: Population, network: Network
    ):
        self.rng = config.rng(6, index)
        self.config, self.places, self.population, self.network = config, places, population, network
        self.phase = int(config.crisis_date is not None and day >= config.crisis_date)
        self.home, self.work = population.home[self.phase], population.work[self.phase]
        self.weekday = day.weekday() < 5
        self.handset = (index >= population.handset_change).astype(np.int64)  # which of their two handsets
        n = config.subscribers
        destination = places.trip_areas(self.rng, n, self.phase)
        trip = (self.rng.random(n) < config.trip_share) & (destination != network.cell_area[self.home])
        self.trip = np.where(trip, network.random_cells(self.rng, destination), -1)

    def locate(self, subscribers: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        """Each subscriber's cell at that second of the day."""
        rng, n = self.rng, len(subscribers)
        hour = seconds // 3600
        office = self.weekday & (hour >= OFFICE_HOURS[0]) & (hour < OFFICE_HOURS[1]) & (rng.random(n) < AT_WORK)
        cells = np.where(office, self.work[subscribers], self.home[subscribers])
        wander = np.flatnonzero(rng.random(n) < WANDER)
        areas = self.places.nearby(rng, self.network.cell_area[self.home[subscribers[wander]]], self.phase)
        cells[wander] = self.network.random_cells(rng, areas)
        trip = self.trip[subscribers]
        return np.where(trip >= 0, trip, cells)

    def seconds(self, n: int) -> np.ndarray:
        return self.rng.choice(24, n, p=HOURS) * 3600 + self.rng.integers(0, 3600, n)

    def subscribers(self, rate: np.ndarray) -> np.ndarray:
        """The subscriber of each event, from a Poisson count per subscriber at `rate`."""
        return np.repeat(np.arange(self.config.subscribers), self.rng.poisson(rate))

    def calls(self) -> dict[str, np.ndarray]:
        caller = self.subscribers(self.config.calls_per_day * self.population.activity)
        duration = np.ceil(self.rng.lognormal(np.log(60), 1.0, len(caller)))
        return self._two_rows(caller, duration=duration)

    def sms(self) -> dict[str, np.ndarray]:
        return self._two_rows(self.subscribers(self.config.sms_per_day * self.population.activity))

    def mds(self, data_use: np.ndarray) -> dict[str, np.ndarray]:
        """Data sessions, at `data_use` (by handset model) times the usual rate."""
        model = self.population.handset[self.handset, np.arange(self.config.subscribers)]
        subscriber = self.subscribers(self.config.mds_per_day * self.population.activity * data_use[model])
        n = len(subscriber)
        download = np.round(self.rng.lognormal(np.log(3), 1.2, n), 3)
        upload = np.round(download * self.rng.uniform(0.05, 0.3, n), 3)
        extra = dict(
            duration=np.ceil(self.rng.lognormal(np.log(300), 1.0, n)),
            volume_total=upload + download,
            volume_upload=upload,
            volume_download=download,
        )
        return self._one_row(subscriber, **extra)

    def topups(self, balance: np.ndarray) -> dict[str, np.ndarray]:
        """At most one top-up per subscriber and day; `balance` carries over between days."""
        rng = self.rng
        chance = self.config.topups_per_day * self.population.activity
        subscriber = np.flatnonzero(rng.random(self.config.subscribers) < chance)
        n = len(subscriber)
        amount = rng.choice(TOPUP_AMOUNTS, n, p=TOPUP_AMOUNT_P)
        airtime_fee, tax_and_fee = np.round(amount * AIRTIME_FEE, 2), np.round(amount * TAX_AND_FEE, 2)
        pre = np.round(balance[subscriber] * rng.uniform(0, 0.4, n), 2)  # most of the balance got spent
        post = np.round(pre + amount - airtime_fee - tax_and_fee, 2)
        balance[subscriber] = post
        extra = dict(
            type=rng.integers(0, len(TOPUP_TYPES), n),
            recharge_amount=amount,
            airtime_fee=airtime_fee,
            tax_and_fee=tax_and_fee,
            pre_event_balance=pre,
            post_event_balance=post,
        )
        return self._one_row(subscriber, **extra)

    def _two_rows(self, caller: np.ndarray, **extra: np.ndarray) -> dict[str, np.ndarray]:
        """The caller's row (outgoing) and the callee's row, with the same id, time and extras."""
        n = len(caller)
        rng = self.rng
        callee = self.population.contacts[caller, rng.choice(CONTACTS, n, p=CONTACT_WEIGHTS / CONTACT_WEIGHTS.sum())]
        stranger = (caller + 1 + rng.integers(0, self.config.subscribers - 1, n)) % self.config.subscribers
        callee = np.where(rng.random(n) < STRANGERS, stranger, callee)
        seconds = self.seconds(n)
        rows = dict(
            n=np.tile(np.arange(n), 2),
            outgoing=np.repeat([True, False], n),
            subscriber=np.concatenate([caller, callee]),
            msisdn_counterpart=np.concatenate([callee, caller]),
            cell=np.concatenate([self.locate(caller, seconds), self.locate(callee, seconds)]),
            seconds=np.tile(seconds, 2),
            **{name: np.tile(values, 2) for name, values in extra.items()},
        )
        return _sorted(rows)

    def _one_row(self, subscriber: np.ndarray, **extra: np.ndarray) -> dict[str, np.ndarray]:
        seconds = self.seconds(len(subscriber))
        cell = self.locate(subscriber, seconds)
        return _sorted(dict(n=np.arange(len(subscriber)), subscriber=subscriber, cell=cell, seconds=seconds, **extra))


def write_events(
    db: FlowDB, config: SyntheticConfig, country: Country, network: Network, handsets: Handsets, population: Population
) -> dict[str, int]:
    """Insert every day's events, day by day; returns the rows written per table."""
    counts = dict.fromkeys(EVENT_TYPES, 0)
    for name, _, table in daily_events(config, country, network, handsets, population):
        db.insert(f"events.{name}", table)
        counts[name] += table.num_rows
    return counts


def daily_events(
    config: SyntheticConfig, country: Country, network: Network, handsets: Handsets, population: Population
) -> Iterator[tuple[str, date, pa.Table]]:
    """Every day's events as (event type, day, FlowDB rows in time order), one day at a time
    (which keeps memory bounded); identifiers are those of `population`."""
    places = Places(country, population.crisis_areas)
    balance = population.balance.copy()
    location = pa.array(network.cell_ids)
    ids = duckdb.connect()  # event ids are made by DuckDB's md5 whatever backend the FlowDB is on
    try:
        for index, day in enumerate(config.days):
            today = Day(index, day, config, places, population, network)
            batches = {"calls": today.calls(), "sms": today.sms()}
            batches |= {"mds": today.mds(handsets.data_use), "topups": today.topups(balance)}
            for name, rows in batches.items():
                ids.register("_synthetic_batch", _arrow(rows, day, today.handset, population, handsets, location))
                with_ids = ids.sql(
                    "SELECT md5(concat(?, n)) AS id, * EXCLUDE (n) FROM _synthetic_batch",
                    params=[f"{config.seed}:{name}:{day.isoformat()}:"],
                ).to_arrow_table()
                ids.unregister("_synthetic_batch")
                yield name, day, with_ids
    finally:
        ids.close()


def _sorted(rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    order = np.lexsort((rows["n"], rows["seconds"]))  # stable: a caller's row before the callee's
    return {name: values[order] for name, values in rows.items()}


def _arrow(
    rows: dict[str, np.ndarray],
    day: date,
    handset: np.ndarray,
    population: Population,
    handsets: Handsets,
    location: pa.Array,
) -> pa.Table:
    """Event rows as an Arrow table; strings as dictionary columns over per-subscriber arrays."""
    rows = dict(rows)
    subscriber = rows.pop("subscriber")
    which = handset[subscriber]
    n = population.handset.shape[1]
    columns = {
        "n": pa.array(rows.pop("n")),
        "datetime": pa.array(np.datetime64(day, "s") + rows.pop("seconds").astype("timedelta64[s]")),
        "msisdn": _dictionary(subscriber, population.msisdn),
        "location_id": _dictionary(rows.pop("cell"), location),
        "imsi": _dictionary(subscriber, population.imsi),
        "imei": _dictionary(which * n + subscriber, population.imei),
        "tac": pa.array(handsets.tac[population.handset[which, subscriber]]),
    }
    if "msisdn_counterpart" in rows:
        columns["msisdn_counterpart"] = _dictionary(rows.pop("msisdn_counterpart"), population.msisdn)
    if "type" in rows:
        columns["type"] = _dictionary(rows.pop("type"), TOPUP_TYPES)
    columns.update({name: pa.array(values) for name, values in rows.items()})
    return pa.table(columns)


def _dictionary(indices: np.ndarray, values: pa.Array) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(indices.astype(np.int32)), values)
